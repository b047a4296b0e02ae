#!/usr/bin/env python3
"""Ultralytics' own post-processing time for a model and an image, for comparison with the library's task
head (the "task head" row of `cargo bench --bench bench -- latency`).

Runs `YOLO(model, task=...).predict(image, imgsz=..., conf=0.25, iou=0.7)` `--rounds` times and reports the
median of Ultralytics' `speed['postprocess']` (NMS, then masks, keypoints or rotated boxes, and the
`Results`), after two warm-up calls; segmentation also with `retina_masks=True`. Needs `ultralytics` and its
torch, in a venv of their own (about 6 GB from PyPI):

    python3 -m venv /tmp/ulenv && /tmp/ulenv/bin/pip install ultralytics==8.4.190 onnxruntime==1.32.0
    /tmp/ulenv/bin/python scripts/ultralytics_postprocess.py --json out.json MODEL:TASK:IMGSZ... IMAGE
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="MODEL.onnx:TASK:IMGSZ, then the image")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    *models, image = args.models
    from ultralytics import YOLO

    rows = []
    for spec in models:
        path, task, imgsz = spec.rsplit(":", 2)
        model = YOLO(path, task=task)
        for retina in [False, True] if task == "segment" else [False]:
            times = []
            for i in range(args.rounds + 2):
                result = model.predict(image, imgsz=int(imgsz), conf=0.25, iou=0.7, retina_masks=retina, verbose=False)[0]
                if i >= 2:
                    times.append(result.speed["postprocess"])
            found = len(result.obb) if result.obb is not None else len(result.boxes) if result.boxes is not None else 0
            row = {"model": path, "task": task, "imgsz": int(imgsz), "image": image, "retina_masks": retina,
                   "postprocess_ms_median": statistics.median(times), "detections": found}
            print(json.dumps(row))
            rows.append(row)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
