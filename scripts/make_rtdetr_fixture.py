#!/usr/bin/env python3
"""Makes the RT-DETR fixture of tests/fixtures/rtdetr/: a small RT-DETR built from Ultralytics' own modules
(Ultralytics' RTDETRDecoder over a few convolutions, random weights with a fixed seed), its ONNX export, and
Ultralytics' predictions on the map fixtures' images.

Developers only: it needs the scratch virtualenv of scripts/make_map_fixtures.py (Ultralytics and PyTorch
from PyPI). The committed fixtures are its output; tests read them and never run this script.

    python scripts/make_rtdetr_fixture.py

RT-DETR keeps no box by suppression: each query's score is a fixed function of the image, so random
weights (their score heads scaled up, so that scores spread from 0 to 1) give a reference as stable as a
trained model's (the script checks that two predict runs agree, and counts the scores within 0.02 of the
threshold, which a test may find on either side). The decoder has 300 queries and
one layer, 64 wide; the export is Ultralytics 8.4's ([1, 300, 6]: normalised cx cy w h, score, class,
the top 300 query-class pairs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/rtdetr"
IMAGES = ROOT / "tests/fixtures/maps/images"
IMGSZ = 256
CONFS = (0.25, 0.6, 0.75)
YAML = """# A small RT-DETR for decoding tests: Ultralytics' RTDETRDecoder over a stride 8/16/32 pyramid.
nc: 3
backbone:
  - [-1, 1, Conv, [16, 3, 2]] # 0-P1/2
  - [-1, 1, Conv, [32, 3, 2]] # 1-P2/4
  - [-1, 1, Conv, [32, 3, 2]] # 2-P3/8
  - [-1, 1, Conv, [64, 3, 2]] # 3-P4/16
  - [-1, 1, Conv, [64, 3, 2]] # 4-P5/32
head:
  - [[2, 3, 4], 1, RTDETRDecoder, [nc, 64, 300, 4, 4, 1]] # hidden 64, 300 queries, 4 points, 4 heads, 1 layer
"""
NAMES = {0: "circle", 1: "triangle", 2: "square"}
SCORE_SPREAD = 20.0


def main() -> int:
    import onnxruntime
    import torch
    import ultralytics
    from ultralytics import RTDETR

    OUT.mkdir(parents=True, exist_ok=True)
    yaml = ROOT / "build" / "rtdetr-tiny.yaml"
    yaml.parent.mkdir(parents=True, exist_ok=True)
    yaml.write_text(YAML)
    torch.manual_seed(0)
    model = RTDETR(str(yaml))
    model.model.names = NAMES
    # Random score heads give every query nearly the same score, of one class: larger weights spread the
    # scores out, and each class's logits, centred on a random image, mix the classes.
    decoder = model.model.model[-1]
    model.model.eval()
    with torch.no_grad():
        for layer in [*decoder.dec_score_head, decoder.enc_score_head]:
            layer.weight.mul_(SCORE_SPREAD)
        seen = {}
        hook = decoder.dec_score_head[-1].register_forward_hook(lambda _m, _i, out: seen.update(logits=out))
        model.model(torch.rand(1, 3, IMGSZ, IMGSZ))
        hook.remove()
        decoder.dec_score_head[-1].bias.sub_(seen["logits"].mean(dim=(0, 1)))
    exported = model.export(format="onnx", imgsz=IMGSZ, simplify=True)
    target = OUT / "rtdetr-tiny.onnx"
    Path(exported).replace(target)
    for stray in ROOT.glob("rtdetr-tiny*.pt"):  # Ultralytics may save the weights beside the working directory
        stray.unlink()

    reference = {
        "generator": "scripts/make_rtdetr_fixture.py",
        "versions": {"ultralytics": ultralytics.__version__, "onnxruntime": onnxruntime.__version__},
        "notes": "RTDETR(model).predict(image, imgsz, conf, device='cpu'): detections [class_id, score, x1, y1, x2, "
                 "y2] in image pixels, in Ultralytics' order.",
        "settings": {"imgsz": IMGSZ},
        "runs": {},
    }
    predictor = RTDETR(str(target))
    for conf in CONFS:
        run = {}
        for image in sorted(IMAGES.iterdir()):
            rows = []
            for attempt in range(2):
                result = predictor.predict(str(image), imgsz=IMGSZ, conf=conf, device="cpu", verbose=False)[0]
                boxes = result.boxes
                got = [[int(c), float(s), *map(float, b)] for c, s, b in
                       zip(boxes.cls.tolist(), boxes.conf.tolist(), boxes.xyxy.tolist())]
                assert attempt == 0 or got == rows, f"{image.name}: two runs differ"
                rows = got
            near = [r for r in rows if abs(r[1] - conf) < 0.02]
            print(f"conf {conf} {image.name}: {len(rows)} detections, {len(near)} within 0.02 of the threshold")
            run[image.name] = rows
        reference["runs"][str(conf)] = run
    (OUT / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
