"""`python -m yolo_ffi MODEL IMAGE...`: prints the detections of each image, and can draw them.

Exit status: 0 when every image was processed, 1 when any image failed (the others are still processed),
2 for bad arguments or a model that cannot be loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from . import Detection, Detector, YoloError

# Distinct, readable box colours, cycled by class id.
_PALETTE = [
    (255, 56, 56), (255, 157, 151), (255, 112, 31), (255, 178, 29), (207, 210, 49), (72, 249, 10),
    (146, 204, 23), (61, 219, 134), (26, 147, 52), (0, 212, 187), (44, 153, 168), (0, 194, 255),
    (52, 69, 147), (100, 115, 255), (0, 24, 236), (132, 56, 255), (82, 0, 133), (203, 56, 255),
    (255, 149, 200), (255, 55, 199),
]  # fmt: skip


def draw(image_path: Path, detections: Sequence[Detection], out_path: Path) -> None:
    """Writes `image_path` with boxes and labels drawn to `out_path` (format from its extension).

    The image is turned upright from its EXIF orientation first, as the detector's coordinates are.
    """
    try:
        from PIL import Image, ImageDraw, ImageFont, ImageOps
    except ImportError as error:
        raise SystemExit("--save needs Pillow: pip install pillow") from error
    with Image.open(image_path) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    canvas = ImageDraw.Draw(image)
    line = max(2, round(min(image.size) / 300))
    try:
        font = ImageFont.load_default(size=max(12, line * 6))
    except TypeError:  # Pillow < 10.1 has one bitmap size
        font = ImageFont.load_default()
    for d in detections:
        colour = _PALETTE[d.class_id % len(_PALETTE)]
        canvas.rectangle(d.box, outline=colour, width=line)
        label = f"{d.class_name} {d.score:.2f}"
        left, top, right, bottom = canvas.textbbox((0, 0), label, font=font)
        width, height = right - left + 2 * line, bottom - top + 2 * line
        y = d.y1 - height if d.y1 >= height else d.y1
        canvas.rectangle((d.x1, y, d.x1 + width, y + height), fill=colour)
        canvas.text((d.x1 + line - left, y + line - top), label, fill=(255, 255, 255), font=font)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    image.save(out_path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m yolo_ffi", description="Detect objects in images with a YOLO ONNX model."
    )
    parser.add_argument("model", type=Path, help="the ONNX model")
    parser.add_argument("images", type=Path, nargs="+", help="images to detect in")
    parser.add_argument("--conf", type=float, default=0.25, help="confidence threshold (default 0.25)")
    parser.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold (default 0.7)")
    parser.add_argument("--max-det", type=int, default=300, help="maximum detections per image (default 300)")
    parser.add_argument("--imgsz", type=int, default=None, help="input size for dynamic models")
    parser.add_argument("--agnostic", action="store_true", help="class-agnostic NMS")
    parser.add_argument("--json", action="store_true", help="one JSON object per image and line")
    parser.add_argument(
        "--save",
        type=Path,
        metavar="PATH",
        help="draw the boxes: with one image, PATH is the output file (e.g. out.png); with several, a folder",
    )
    parser.add_argument("--ort-library", type=Path, help="libonnxruntime.so to use instead of onnxruntime's")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        detector = Detector(
            args.model,
            conf=args.conf,
            iou=args.iou,
            max_det=args.max_det,
            imgsz=args.imgsz,
            agnostic=args.agnostic,
            ort_library=args.ort_library,
        )
    except (YoloError, ValueError) as error:
        print(f"yolo_ffi: cannot load {args.model}: {error}", file=sys.stderr)
        return 2
    failed = 0
    with detector:
        for image in args.images:
            try:
                detections = detector.detect(image)
            except (YoloError, OSError) as error:
                failed += 1
                if args.json:
                    print(json.dumps({"image": os.fspath(image), "error": str(error)}))
                else:
                    print(f"{image}: error: {error}", file=sys.stderr)
                continue
            if args.json:
                print(json.dumps({"image": os.fspath(image), "detections": [d.to_dict() for d in detections]}))
            else:
                print(f"{image}: {len(detections)} detection{'s' if len(detections) != 1 else ''}")
                for d in detections:
                    box = ", ".join(f"{v:.1f}" for v in d.box)
                    print(f"  {d.class_name:<24} {d.score:.3f}  [{box}]")
            if args.save is not None:
                out = args.save if len(args.images) == 1 else args.save / f"{image.stem}.png"
                draw(image, detections, out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
