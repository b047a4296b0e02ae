#!/usr/bin/env python3
"""Makes the YOLO-World fixture of tests/fixtures/open-vocab/: a model trained briefly on the shapes data
with its classes set, exported prompt-free (the class embeddings baked into the graph), and Ultralytics'
predictions on the map fixtures' images. (YOLOE's fixtures are export variants of the shared trained
models: scripts/make_export_variants.py, which takes the stand-in text encoder from here.)

Developers only: it needs the scratch virtualenv of scripts/make_map_fixtures.py (Ultralytics and PyTorch
from PyPI). The committed fixtures are its output; tests read them and never run this script.

    python scripts/make_open_vocab_fixtures.py [--work /tmp/open-vocab] [--epochs 40]

The text encoders YOLO-World and YOLOE train with (CLIP, MobileCLIP) are downloaded by Ultralytics from outside
the package registries, so this script gives Ultralytics a stand-in: a fixed random unit vector per class
name (seeded by the name), of the encoder's width. The models learn those embeddings as a real encoder's
would be learnt; what the library reads, the exported graph and its metadata, is what a prompt-free export
of a real model has. The architectures are Ultralytics' YAMLs at a narrow width (as in
make_map_fixtures.py), so that the files are small.

The committed model is yolov8-worldv2 at that width, trained 30 epochs (mAP50 0.79 on the shapes
validation set).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/open-vocab"
IMAGES = ROOT / "tests/fixtures/maps/images"
IMGSZ = 256
CONFS = (0.25, 0.05)
NAMES = ["circle", "triangle", "square"]


class StandInText:
    """What Ultralytics' text models offer (`tokenize`, `encode_text`), from seeded random vectors."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.texts: list[str] = []

    def tokenize(self, texts):
        import torch

        ids = []
        for text in texts:
            if text not in self.texts:
                self.texts.append(text)
            ids.append(self.texts.index(text))
        return torch.tensor(ids)[:, None]

    def encode_text(self, tokens, dtype=None):
        import torch

        rows = []
        for token in tokens[:, 0].tolist():
            seed = int.from_bytes(hashlib.sha256(self.texts[token].encode()).digest()[:4], "little")
            rows.append(torch.randn(self.width, generator=torch.Generator().manual_seed(seed)))
        out = torch.nn.functional.normalize(torch.stack(rows), dim=-1)
        return out.to(dtype) if dtype is not None else out


def stand_in_text_models() -> None:
    """Every Ultralytics text model becomes a stand-in of the same width. Ultralytics' text module imports
    OpenAI's `clip` package (not on PyPI) when loaded: an empty module stands in for it too."""
    import types

    sys.modules.setdefault("clip", types.ModuleType("clip"))
    import ultralytics.nn.text_model as text_model

    widths = {"clip": 512, "mobileclip": 512, "mobileclip2": 512}

    def build(variant: str, device=None):
        return StandInText(widths[variant.split(":")[0]])

    text_model.build_text_model = build


def narrow_yaml(source: str, target_stem: str, work: Path, scale_row: str) -> Path:
    """Ultralytics' YAML `source` with one scale `t` of `scale_row`, saved as TARGET_STEM-t... for Ultralytics
    to pick the scale from the name."""
    import ultralytics

    found = list(Path(ultralytics.__file__).parent.glob(f"cfg/models/*/{source}"))
    text = found[0].read_text()
    out, in_scales = [], False
    for line in text.splitlines():
        if line.startswith("scales:"):
            in_scales = True
            out += [line, f"  t: {scale_row}"]
            continue
        if in_scales and line.startswith("  ") and ":" in line and line.strip()[0].isalpha():
            continue
        in_scales = in_scales and (line.startswith("  ") or not line.strip())
        out.append(line)
    path = work / f"{target_stem}.yaml"
    path.write_text("\n".join(out) + "\n")
    return path


def train_and_export(work: Path, epochs: int) -> Path:
    from ultralytics import YOLOWorld

    data = work / "shapes/segment.yaml"
    yaml = narrow_yaml("yolov8-worldv2.yaml", "yolov8t-worldv2", work, "[0.33, 0.25, 256]")
    model = YOLOWorld(str(yaml))
    model.train(data=str(data), epochs=epochs, imgsz=IMGSZ, batch=16, workers=0, device="cpu", seed=0,
                deterministic=True, project=str(work / "runs"), name="world", exist_ok=True, plots=False,
                amp=False, verbose=False)
    trained = YOLOWorld(str(model.trainer.best))
    trained.set_classes(NAMES)
    exported = Path(trained.export(format="onnx", imgsz=IMGSZ, dynamic=True, simplify=True))
    target = OUT / "yolov8t-worldv2.onnx"
    shutil.copy(exported, target)
    return target


def references(models: list) -> None:
    import onnxruntime
    import ultralytics
    from ultralytics import YOLO

    path = OUT / "reference.json"
    reference = json.loads(path.read_text()) if path.exists() else {
        "generator": "scripts/make_open_vocab_fixtures.py",
        "notes": "YOLO(model, task).predict(image, imgsz, conf, iou=0.7, device='cpu'): detections [class_id, "
                 "score, x1, y1, x2, y2] in image pixels, in Ultralytics' order; segment: masks[i] as run lengths "
                 "of the row-major H x W mask at the image's size (0-run first), as ultralytics-tasks.json has them.",
        "settings": {"imgsz": IMGSZ, "iou": 0.7},
        "models": {},
    }
    reference["versions"] = {"ultralytics": ultralytics.__version__, "onnxruntime": onnxruntime.__version__}
    reference["models"] = {k: v for k, v in reference["models"].items() if (OUT / k).exists()}
    for model_path, task in models:
        entry = {"task": task, "runs": {}}
        model = YOLO(str(model_path), task=task)
        for conf in CONFS:
            run = {}
            for image in sorted(IMAGES.iterdir()):
                result = model.predict(str(image), imgsz=IMGSZ, conf=conf, iou=0.7, device="cpu", verbose=False)[0]
                boxes = result.boxes
                rows = [[int(c), float(s), *map(float, b)] for c, s, b in
                        zip(boxes.cls.tolist(), boxes.conf.tolist(), boxes.xyxy.tolist())]
                item = {"width": result.orig_shape[1], "height": result.orig_shape[0], "detections": rows}
                if task == "segment" and result.masks is not None:
                    import torch.nn.functional as F
                    from ultralytics.utils import ops

                    full = ops.scale_masks(result.masks.data[None], result.orig_shape)[0] > 0.5
                    item["masks"] = [run_lengths(m.flatten().tolist()) for m in full.cpu()]
                run[image.name] = item
            entry["runs"][str(conf)] = run
        reference["models"][model_path.name] = entry
    path.write_text(json.dumps(reference, indent=1) + "\n")


def run_lengths(bits: list) -> list:
    runs, value, length = [], False, 0
    for bit in bits:
        if bool(bit) != value:
            runs.append(length)
            value, length = bool(bit), 0
        length += 1
    runs.append(length)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/open-vocab"))
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    stand_in_text_models()
    if not (args.work / "shapes/segment.yaml").exists():
        sys.path.insert(0, str(ROOT / "scripts"))
        from make_map_fixtures import load_make_shapes

        load_make_shapes().make_datasets(str(args.work / "shapes"), 0, 200, 40, 10)
    references([(train_and_export(args.work, args.epochs), "detect")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
