#!/usr/bin/env python3
"""Makes the export-variant fixtures of tests/fixtures/export-variants/: the trained shapes models of
`../shared/models/` exported again by Ultralytics with other options (YOLO26's one-to-many head, `nms=True`,
fp16, a static shape) or as YOLOE models with their classes set, and Ultralytics' predictions on them.

Developers only: it needs the scratch virtualenv of scripts/make_map_fixtures.py (Ultralytics and PyTorch
from PyPI) and `../shared/`. The committed fixtures are its output; tests never run it.

    python scripts/make_export_variants.py [--work /tmp/export-variants]

How a variant is made: Ultralytics builds the model from its YAML (`yolo26n-seg.yaml`, ...), fuses it,
and takes every weight from the shared ONNX file by name. The shared files are exports of fused models, so
each of their initializers is one parameter of the fused model, and every parameter is found. A shared
YOLO26 file holds its one-to-one head only; for the one-to-many head (`end2end` False) the one-to-many
branches get the one-to-one branches' weights. A YOLOE model gets its classes from the stand-in text
encoder of scripts/make_open_vocab_fixtures.py, folded into its class convolution as Ultralytics' export
folds them; the folded head has the YOLO head's parameters, which then replace them. Ultralytics then
exports the model and predicts on the export, with the settings and images of the shared reference of the
source model.

What is committed, per variant: `NAME.graph.onnx.gz`, the export (gzipped) with each initializer whose
bytes are one of the source file's initializers (or that initializer cast to float16 by ONNX Runtime's
converter, for fp16 exports) replaced by a pointer to it (ONNX's external-data fields: `location` the source file,
`initializer` its name, `transform` `float16` where cast), so that a few hundred kilobytes stand for
10 MB; and `reference.json`, with each export's sha256. scripts/assemble_export_variants.py rebuilds the
exports from these and `../shared/models/` and checks the sha256.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import gzip
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
OUT = ROOT / "tests/fixtures/export-variants"

# name: (source file, its shared reference, the reference's task key, YAML, export options)
VARIANTS = {
    "shapes26-det-o2m": ("shapes26-det.onnx", "ultralytics-tasks26.json", "detect", "yolo26n.yaml", {}),
    "shapes26-seg-o2m": ("shapes26-seg.onnx", "ultralytics-tasks26.json", "segment", "yolo26n-seg.yaml", {}),
    "shapes26-pose-o2m": ("shapes26-pose.onnx", "ultralytics-tasks26.json", "pose", "yolo26n-pose.yaml", {}),
    "shapes26-obb-o2m": ("shapes26-obb.onnx", "ultralytics-tasks26.json", "obb", "yolo26n-obb.yaml", {}),
    "shapes26-det-o2m-static": (
        "shapes26-det.onnx", "ultralytics-tasks26.json", "detect", "yolo26n.yaml", {"dynamic": False}),
    "shapes26-det-nms": ("shapes26-det.onnx", "ultralytics-tasks26.json", "detect", "yolo26n.yaml", {"nms": True}),
    "shapes-seg-nms": ("shapes-seg.onnx", "ultralytics-tasks.json", "segment", "yolo11n-seg.yaml", {"nms": True}),
    "shapes-pose-nms": ("shapes-pose.onnx", "ultralytics-tasks.json", "pose", "yolo11n-pose.yaml", {"nms": True}),
    "shapes-obb-nms": ("shapes-obb.onnx", "ultralytics-tasks.json", "obb", "yolo11n-obb.yaml", {"nms": True}),
    "shapes26-seg-fp16": (
        "shapes26-seg.onnx", "ultralytics-tasks26.json", "segment", "yolo26n-seg.yaml", {"nms": False, "quantize": 16}),
    "shapes-pose-fp16": ("shapes-pose.onnx", "ultralytics-tasks.json", "pose", "yolo11n-pose.yaml", {"quantize": 16}),
    # YOLOE with its classes set (prompt-free): the text embeddings folded into the class convolution, as
    # Ultralytics' export does, which leaves the head with the parameters of the YOLO head it extends.
    "yoloe-11n-seg": ("shapes-seg.onnx", "ultralytics-tasks.json", "segment", "yoloe-11n-seg.yaml", {}),
    "yoloe-26n-seg": ("shapes26-seg.onnx", "ultralytics-tasks26.json", "segment", "yoloe-26n-seg.yaml", {"nms": False}),
    "yoloe-26n": ("shapes26-det.onnx", "ultralytics-tasks26.json", "detect", "yoloe-26n.yaml", {"nms": False}),
}

MODEL_CLASSES = {"detect": "DetectionModel", "segment": "SegmentationModel", "pose": "PoseModel", "obb": "OBBModel"}
YOLOE_CLASSES = {"detect": "YOLOEModel", "segment": "YOLOESegModel"}


def source_name(key: str, yoloe: bool) -> str:
    """The shared file's name for a parameter of the rebuilt model: YOLOE's segmentation head calls the
    mask-coefficient branch `cv5` where the YOLO head calls it `cv4` (its `cv4` is the contrastive head,
    folded away with the class embeddings)."""
    if yoloe:
        return key.replace(".cv5.", ".cv4.").replace(".one2one_cv5.", ".one2one_cv4.")
    return key


def rebuild(source: Path, yaml: str, task: str, end2end: bool):
    """The fused PyTorch model of `yaml` with every weight of the exported `source`."""
    import onnx
    import torch
    from onnx import numpy_helper
    from ultralytics.cfg import DEFAULT_CFG_DICT
    from ultralytics.nn import tasks

    graph = onnx.load(str(source))
    meta = {p.key: p.value for p in graph.metadata_props}
    names = ast.literal_eval(meta["names"])
    weights = {i.name: numpy_helper.to_array(i) for i in graph.graph.initializer}
    extra = {"data_kpt_shape": tuple(ast.literal_eval(meta["kpt_shape"]))} if task == "pose" else {}
    yoloe = yaml.startswith("yoloe")
    model = getattr(tasks, (YOLOE_CLASSES if yoloe else MODEL_CLASSES)[task])(yaml, nc=len(names), verbose=False, **extra)
    head = model.model[-1]
    head.end2end = end2end
    model.eval()
    if yoloe:
        # Classes set from the stand-in text encoder; their embeddings are folded into the class convolution,
        # whose weights are then replaced by the shared file's like every other.
        sys.path.insert(0, str(ROOT / "scripts"))
        from make_open_vocab_fixtures import stand_in_text_models

        stand_in_text_models()
        class_names = list(names.values())
        model.set_classes(class_names, model.get_text_pe(class_names))
        head.fuse(model.pe)
    model.fuse(verbose=False)
    state, used = {}, set()
    for key, value in model.state_dict().items():
        if ".savpe." in key:
            # The visual-prompt encoder: not part of a model whose classes are set (not in the export).
            state[key] = value
            continue
        name = source_name(key, yoloe)
        parts = name.split(".")
        # The one-to-many branches take the one-to-one branches' weights (the only ones the file has).
        if not end2end and parts[1] == str(len(model.model) - 1) \
                and f"model.{parts[1]}.one2one_{'.'.join(parts[2:])}" in weights:
            name = f"model.{parts[1]}.one2one_{'.'.join(parts[2:])}"
        if name not in weights:
            raise SystemExit(f"{source.name}: no weight for {key}")
        array = weights[name]
        if tuple(array.shape) != tuple(value.shape):
            raise SystemExit(f"{source.name}: {name} is {array.shape}, {key} is {tuple(value.shape)}")
        state[key] = torch.from_numpy(array.copy())
        used.add(name)
    unused = [n for n in weights if n.startswith("model.") and n not in used]
    if unused:
        raise SystemExit(f"{source.name}: weights not used: {unused}")
    model.load_state_dict(state, strict=True)
    model.names = names
    model.task = task
    model.args = {**DEFAULT_CFG_DICT, "task": task, "imgsz": ast.literal_eval(meta["imgsz"]),
                  "data": f"the weights of {source.name}"}
    return model.eval(), meta


def export(name: str, spec: tuple, work: Path) -> Path:
    from ultralytics import YOLO

    source_file, _, task, yaml, options = spec
    source = SHARED / "models" / source_file
    model, meta = rebuild(source, yaml, task, end2end=options.get("nms") is False)
    args = ast.literal_eval(meta["args"])
    wrapper = YOLO(yaml, task=task)
    wrapper.model = model
    settings = {"format": "onnx", "imgsz": ast.literal_eval(meta["imgsz"]), "dynamic": args["dynamic"],
                "simplify": True, **options}
    made = Path(wrapper.export(**settings)).resolve()
    target = work / f"{name}.onnx"
    made.replace(target)
    return target


def float16_bytes(array) -> bytes:
    """ONNX Runtime's float16 converter applied to one initializer (its clamping, then a cast)."""
    from onnxruntime.transformers.float16 import convert_np_to_float16

    return convert_np_to_float16(array).tobytes()


def strip(export_path: Path, source: Path) -> tuple[bytes, str, int]:
    """The export with the initializers found in `source` replaced by pointers; its sha256; bytes kept."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    data = export_path.read_bytes()
    model = onnx.ModelProto.FromString(data)
    base = onnx.load(str(source))
    by_bytes, by_half = {}, {}
    for init in base.graph.initializer:
        by_bytes.setdefault(hashlib.sha256(init.raw_data).digest(), init.name)
        if init.data_type == onnx.TensorProto.FLOAT and init.dims:
            half = float16_bytes(numpy_helper.to_array(init).astype(np.float32))
            by_half.setdefault(hashlib.sha256(half).digest(), init.name)
    kept = 0
    for init in model.graph.initializer:
        digest = hashlib.sha256(init.raw_data).digest()
        found, transform = by_bytes.get(digest), None
        if found is None and init.data_type == onnx.TensorProto.FLOAT16:
            found, transform = by_half.get(digest), "float16"
        if found is None or not init.raw_data:
            kept += len(init.raw_data)
            continue
        init.ClearField("raw_data")
        init.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", source.name), ("initializer", found)) + (
                (("transform", transform),) if transform else ()):
            entry = init.external_data.add()
            entry.key, entry.value = key, value
    return model.SerializeToString(), hashlib.sha256(data).hexdigest(), kept


def predictions(model_path: Path, task: str, source_runs: list) -> list:
    """Ultralytics' predict on the export, in the shared references' schema, for the runs that keep
    Ultralytics' minimal rectangle (the ones the library reproduces)."""
    from ultralytics import YOLO
    from ultralytics.utils import ops

    sys.path.insert(0, str(ROOT / "scripts"))
    from make_open_vocab_fixtures import run_lengths

    model = YOLO(str(model_path), task=task)
    runs = []
    for source_run in source_runs:
        settings = source_run["settings"]
        if settings.get("rect") is False:
            continue
        images = []
        for source_image in source_run["images"]:
            file = source_image["file"]
            retina = bool(settings.get("retina_masks", False))
            result = model.predict(
                str(SHARED / "images/tasks" / file), imgsz=settings["imgsz"], conf=settings["conf"],
                iou=settings["iou"], max_det=settings["max_det"], agnostic_nms=settings["agnostic_nms"],
                retina_masks=retina, device="cpu", verbose=False)[0]
            item = {"file": file, "width": result.orig_shape[1], "height": result.orig_shape[0]}
            if task == "obb":
                obb = result.obb
                item["detections"] = [[int(c), float(s), *map(float, b)] for c, s, b in
                                      zip(obb.cls.tolist(), obb.conf.tolist(), obb.xywhr.tolist())]
                item["corners"] = obb.xyxyxyxy.tolist()
            else:
                boxes = result.boxes
                item["detections"] = [[int(c), float(s), *map(float, b)] for c, s, b in
                                      zip(boxes.cls.tolist(), boxes.conf.tolist(), boxes.xyxy.tolist())]
            if task == "segment":
                masks = []
                if result.masks is not None:
                    data = result.masks.data
                    full = data > 0.5 if retina else ops.scale_masks(data[None], result.orig_shape)[0] > 0.5
                    for polygon, mask in zip(result.masks.xy, full.cpu()):
                        masks.append({"polygon": polygon.tolist(), "rle": run_lengths(mask.flatten().tolist())})
                item["masks"] = masks
            if task == "pose":
                item["keypoints"] = result.keypoints.data.tolist() if result.keypoints is not None else []
            images.append(item)
        runs.append({"id": source_run["id"], "settings": settings, "images": images})
    return runs


def main() -> int:
    import onnxruntime
    import torch
    import ultralytics

    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/export-variants"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    os.chdir(args.work)  # Ultralytics writes the export beside the working directory's YAML name
    OUT.mkdir(parents=True, exist_ok=True)
    reference = {
        "generator": "scripts/make_export_variants.py",
        "versions": {"ultralytics": ultralytics.__version__, "torch": torch.__version__,
                     "onnxruntime": onnxruntime.__version__},
        "notes": "models[NAME]: the export NAME.onnx (rebuilt by scripts/assemble_export_variants.py from "
                 "NAME.graph.onnx.gz and ../shared/models/SOURCE; its sha256), the options Ultralytics exported it "
                 "with, and Ultralytics' predict on it in the schema of ../shared/reference/ultralytics-tasks.json "
                 "(detections, masks, keypoints, corners; the runs with rect=True).",
        "models": {},
    }
    for name, spec in VARIANTS.items():
        source_file, shared_reference, task, yaml, options = spec
        made = export(name, spec, args.work)
        graph, sha256, kept = strip(made, SHARED / "models" / source_file)
        (OUT / f"{name}.graph.onnx.gz").write_bytes(gzip.compress(graph, mtime=0))
        source_runs = json.loads((SHARED / "reference" / shared_reference).read_text())["models"][task]["runs"]
        reference["models"][name] = {
            "file": f"{name}.onnx", "source": source_file, "task": task, "yaml": yaml, "export": options,
            "sha256": sha256, "runs": predictions(made, task, source_runs),
        }
        print(f"{name}: {made.stat().st_size} bytes, {len(graph)} committed ({kept} of initializers kept)")
    (OUT / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
