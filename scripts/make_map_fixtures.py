#!/usr/bin/env python3
"""Makes the semantic-segmentation and depth fixtures of tests/fixtures/maps/: two YOLO26 models trained
briefly on the shapes data, their ONNX exports, test images, and Ultralytics' predictions on them.

Developers only: it needs a scratch virtualenv with Ultralytics and PyTorch from PyPI
(`pip install ultralytics==$ULTRALYTICS_VERSION onnx onnxslim onnxruntime==$ORT_VERSION`, versions.env) and
`../shared/tools/make_shapes.py`, the generator of the shapes data. The committed fixtures are its output;
tests read them and never run this script.

    python scripts/make_map_fixtures.py [--work /tmp/map-fixtures] [--epochs 30] [--stage all|references]

What it makes (in tests/fixtures/maps/):
- `shapes26-sem.onnx`: a YOLO26 semantic model (Ultralytics' yolo26-sem.yaml at a narrower width, so that the
  file is small) trained on the shapes data's polygons, which Ultralytics turns into class maps with a
  background class: 0 circle, 1 triangle, 2 square, 3 background. Ultralytics' ONNX export ends in an ArgMax:
  the output is the [B, H, W] class map.
- `shapes26-sem-logits.onnx`: the same graph with the ArgMax removed, whose output is the [B, 4, H, W]
  logits (what other exports and other tools give).
- `shapes26-depth.onnx`: a YOLO26 depth model (yolo26-depth.yaml, the same narrower width) trained on depths
  synthesised from the shapes: the background a plane from 3 m (bottom) to 8 m (top), each shape nearer the
  larger it is (1 to 5 m).
- `images/`: test images drawn by make_shapes.py with other seeds and sizes (a letterbox with padding and a
  gain other than 1, a wide and a tall image, PNG and JPEG).
- `reference.json`: Ultralytics' predict on each image (imgsz 256, CPU): for the class maps, their size, the
  run lengths of the row-major map as [class, length] pairs and the pixel count of each class; for depth, the
  size, the range and the file of the map (`depth-<image>.f32`, row-major little-endian float32).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/maps"
IMGSZ = 256
# Ultralytics' YAMLs with "n"'s depth and width but at most 256 channels (and a depth head 64 wide instead of
# 256): the same layers with a fraction of the weights, so that the files are small.
SCALE = "t"
SCALE_ROW = "[0.50, 0.25, 256]"
DEPTH_HEAD_WIDTH = 64
# (width, height, format) of the test images.
IMAGES = [(360, 270, "png"), (200, 280, "png"), (420, 150, "jpg")]


def load_make_shapes():
    path = ROOT.parent / "shared/tools/make_shapes.py"
    spec = importlib.util.spec_from_file_location("make_shapes", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def narrow_yaml(name: str, work: Path) -> Path:
    """Ultralytics' `yolo26-<task>.yaml` with only the narrow scale, named so that Ultralytics picks it."""
    import ultralytics

    text = (Path(ultralytics.__file__).parent / f"cfg/models/26/{name}").read_text()
    lines, out, in_scales = text.splitlines(), [], False
    for line in lines:
        if line.startswith("scales:"):
            in_scales = True
            out += [line, f"  {SCALE}: {SCALE_ROW}"]
            continue
        if in_scales and line.startswith("  ") and ":" in line and line.strip()[0].isalpha():
            continue
        in_scales = in_scales and (line.startswith("  ") or not line.strip())
        out.append(line)
    # The depth head's width is an argument, not scaled by the width factor.
    text = "\n".join(out).replace("Depth, [256]]", f"Depth, [{DEPTH_HEAD_WIDTH}]]") + "\n"
    path = work / name.replace("yolo26-", f"yolo26{SCALE}-")
    path.write_text(text)
    return path


def depth_of(labels: list, w: int, h: int) -> np.ndarray:
    """Metres per pixel: a receding background plane, each shape (drawn in label order) nearer the larger it is."""
    yy = np.mgrid[0:h, 0:w][0].astype(np.float32)
    depth = 3.0 + 5.0 * (1.0 - yy / max(h - 1, 1))
    canvas = Image.new("I", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    for index, (_, points) in enumerate(labels, start=1):
        draw.polygon([(x * w, y * h) for x, y in points], fill=index)
    ids = np.asarray(canvas)
    for index, (_, points) in enumerate(labels, start=1):
        xs, ys = np.array([p[0] * w for p in points]), np.array([p[1] * h for p in points])
        area = 0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1)))
        size = min(1.0, math.sqrt(area) / (0.35 * min(w, h)))
        depth[ids == index] = 1.0 + 4.0 * (1.0 - size)
    return depth


def make_depth_data(work: Path) -> Path:
    """The shapes segmentation set with a depth PNG (millimetres) beside each image."""
    source, root = work / "shapes/segment", work / "depth"
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "depth" / split).mkdir(parents=True, exist_ok=True)
        for image in sorted((source / "images" / split).glob("*.png")):
            w, h = Image.open(image).size
            labels = []
            for row in (source / "labels" / split / f"{image.stem}.txt").read_text().split("\n"):
                if row.strip():
                    v = [float(x) for x in row.split()]
                    labels.append((int(v[0]), list(zip(v[1::2], v[2::2]))))
            shutil.copy(image, root / "images" / split / image.name)
            millimetres = np.round(depth_of(labels, w, h) * 1000).astype(np.uint16)
            Image.fromarray(millimetres).save(root / "depth" / split / image.name)
    yaml = work / "depth.yaml"
    yaml.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnc: 1\nnames:\n  0: depth\n"
                    "channels: 3\ndepth_scale: 1000\n")
    return yaml


def train(model_yaml: Path, data: Path, task: str, epochs: int, work: Path) -> Path:
    from ultralytics import YOLO

    model = YOLO(str(model_yaml), task=task)
    model.train(data=str(data), epochs=epochs, imgsz=IMGSZ, batch=16, workers=0, device="cpu", seed=0,
                deterministic=True, project=str(work / "runs"), name=task, exist_ok=True, plots=False,
                amp=False, verbose=False)
    return Path(model.trainer.best)


def export(weights: Path, target: Path) -> None:
    from ultralytics import YOLO

    exported = YOLO(str(weights)).export(format="onnx", imgsz=IMGSZ, dynamic=True, simplify=True)
    shutil.copy(exported, target)


def without_argmax(source: Path, target: Path) -> None:
    """The class-map export with its final ArgMax (and the cast after it) removed: the output is the logits."""
    import onnx

    model = onnx.load(str(source))
    graph = model.graph
    output = graph.output[0]
    producers = {o: n for n in graph.node for o in n.output}
    tail, name = [], output.name
    while producers[name].op_type in ("Cast", "ArgMax"):
        node = producers[name]
        tail.append(node)
        name = node.input[0]
        if node.op_type == "ArgMax":
            break
    assert tail and tail[-1].op_type == "ArgMax", [n.op_type for n in tail]
    for node in tail:
        graph.node.remove(node)
    logits = onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["batch", 4, "height", "width"])
    graph.output.remove(output)
    graph.output.append(logits)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


def make_images(shapes) -> list:
    (OUT / "images").mkdir(parents=True, exist_ok=True)
    names = []
    for i, (w, h, ext) in enumerate(IMAGES, start=1):
        image, _ = shapes.make_seg(np.random.default_rng([2026, 12, i]), w, h)
        name = f"maps_{i}.{ext}"
        image.save(OUT / "images" / name, **({"quality": 92} if ext == "jpg" else {}))
        names.append(name)
    return names


def run_lengths(class_map: np.ndarray) -> list:
    flat = class_map.reshape(-1)
    edges = np.flatnonzero(np.diff(flat)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [flat.size]])
    return [[int(flat[s]), int(e - s)] for s, e in zip(starts, ends)]


def references(names: list) -> None:
    import onnxruntime
    import ultralytics
    from ultralytics import YOLO

    reference = {
        "generator": "scripts/make_map_fixtures.py",
        "versions": {"ultralytics": ultralytics.__version__, "onnxruntime": onnxruntime.__version__},
        "settings": {"imgsz": IMGSZ, "device": "cpu"},
        "notes": "predict(image, imgsz, device) per model; semantic: result.semantic_mask.data as run lengths "
                 "of the row-major H x W map ([class, length] pairs) and the pixel count per class; depth: "
                 "result.depth.data in depth-<model>-<image>.f32 (row-major little-endian float32, H x W).",
        "models": {},
    }
    for model_file, task in (("shapes26-sem.onnx", "semantic"), ("shapes26-sem-logits.onnx", "semantic"),
                             ("shapes26-depth.onnx", "depth")):
        path = OUT / model_file
        entry = {"task": task, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "images": {}}
        model = YOLO(str(path), task=task)
        for name in names:
            result = model.predict(str(OUT / "images" / name), imgsz=IMGSZ, device="cpu", verbose=False)[0]
            h, w = result.orig_shape
            if task == "semantic":
                class_map = result.semantic_mask.data.cpu().numpy()
                counts = np.bincount(class_map.reshape(-1).astype(np.int64), minlength=4)
                entry["images"][name] = {"width": w, "height": h, "dtype": str(class_map.dtype),
                                         "runs": run_lengths(class_map), "counts": counts.tolist()}
            else:
                depth = result.depth.data.cpu().numpy().astype("<f4")
                file = f"depth-{Path(model_file).stem}-{Path(name).stem}.f32"
                (OUT / file).write_bytes(depth.tobytes())
                entry["images"][name] = {"width": w, "height": h, "file": file,
                                         "min": float(depth.min()), "max": float(depth.max())}
        reference["models"][model_file] = entry
    (OUT / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/map-fixtures"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--stage", choices=["all", "semantic", "depth", "references"], default="all")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    shapes = load_make_shapes()
    if not (args.work / "shapes/segment.yaml").exists():
        shapes.make_datasets(str(args.work / "shapes"), 0, 200, 40, 10)
    if args.stage in ("all", "semantic"):
        weights = train(narrow_yaml("yolo26-sem.yaml", args.work), args.work / "shapes/segment.yaml", "semantic",
                        args.epochs, args.work)
        export(weights, OUT / "shapes26-sem.onnx")
        without_argmax(OUT / "shapes26-sem.onnx", OUT / "shapes26-sem-logits.onnx")
    if args.stage in ("all", "depth"):
        weights = train(narrow_yaml("yolo26-depth.yaml", args.work), make_depth_data(args.work), "depth",
                        args.epochs, args.work)
        export(weights, OUT / "shapes26-depth.onnx")
    references(make_images(shapes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
