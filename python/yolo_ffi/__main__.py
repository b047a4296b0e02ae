"""`python -m yolo_ffi MODEL IMAGE...`: prints what a model of any task finds in each image, and can draw it.
`python -m yolo_ffi track MODEL VIDEO`: tracks the objects of a video, frame after frame, and can write the
video with their ids and trails.

Exit status: 0 when every image (or frame) was processed, 1 when any failed (the others are still
processed), 2 for bad arguments, a model that cannot be loaded, or a video that cannot be opened.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import ClassMap, ClassProbability, Detection, Detector, YoloError

# Distinct, readable box colours, cycled by class id.
_PALETTE = [
    (255, 56, 56), (255, 157, 151), (255, 112, 31), (255, 178, 29), (207, 210, 49), (72, 249, 10),
    (146, 204, 23), (61, 219, 134), (26, 147, 52), (0, 212, 187), (44, 153, 168), (0, 194, 255),
    (52, 69, 147), (100, 115, 255), (0, 24, 236), (132, 56, 255), (82, 0, 133), (203, 56, 255),
    (255, 149, 200), (255, 55, 199),
]  # fmt: skip


def _label_box(
    size: Tuple[int, int], anchor: Tuple[float, float], text_size: Tuple[float, float]
) -> Tuple[float, float]:
    """Where a label of `text_size` goes for a shape whose top-left is `anchor`: above it when there is room,
    else inside it, and moved so that the whole label stays inside the image."""
    (width, height), (x, y), (w, h) = size, anchor, text_size
    y = y - h if y >= h else y
    return (min(max(0.0, x), max(0.0, width - w)), min(max(0.0, y), max(0.0, height - h)))


def draw(
    image_path: Path,
    detections: Sequence[Detection],
    out_path: Path,
    classes: Sequence[ClassProbability] = (),
) -> None:
    """Writes `image_path` with what was found drawn to `out_path` (format from its extension): boxes and
    labels, masks as translucent fills, keypoints as dots, oriented boxes as rotated outlines, and a
    classification's top classes in the corner. Labels stay inside the image.

    The image is turned upright from its EXIF orientation first, as the detector's coordinates are.
    """
    try:
        from PIL import Image, ImageDraw, ImageFont, ImageOps
    except ImportError as error:
        raise SystemExit("--save needs Pillow: pip install pillow") from error
    import numpy as np

    with Image.open(image_path) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    if any(d.mask is not None for d in detections):
        pixels = np.asarray(image).astype(np.float32)
        for d in detections:
            if d.mask is None or not d.mask.bitmap.size:
                continue
            m = d.mask
            region = pixels[m.top : m.top + m.height, m.left : m.left + m.width]
            fill = np.array(_PALETTE[d.class_id % len(_PALETTE)], dtype=np.float32)
            region[m.bitmap] = region[m.bitmap] * 0.5 + fill * 0.5
        image = Image.fromarray(pixels.astype(np.uint8))
    canvas = ImageDraw.Draw(image)
    line = max(2, round(min(image.size) / 300))
    try:
        font = ImageFont.load_default(size=max(12, line * 6))
    except TypeError:  # Pillow < 10.1 has one bitmap size
        font = ImageFont.load_default()

    def label(text: str, anchor: Tuple[float, float], colour: Tuple[int, int, int]) -> None:
        left, top, right, bottom = canvas.textbbox((0, 0), text, font=font)
        size = (right - left + 2 * line, bottom - top + 2 * line)
        x, y = _label_box(image.size, anchor, size)
        canvas.rectangle((x, y, x + size[0], y + size[1]), fill=colour)
        canvas.text((x + line - left, y + line - top), text, fill=(255, 255, 255), font=font)

    for d in detections:
        colour = _PALETTE[d.class_id % len(_PALETTE)]
        anchor: Tuple[float, float]
        if d.corners is not None:
            points = [(float(x), float(y)) for x, y in d.corners]
            canvas.line(points + points[:1], fill=colour, width=line)
            anchor = min(points, key=lambda p: (p[1], p[0]))
        else:
            canvas.rectangle(d.box, outline=colour, width=line)
            anchor = (d.x1, d.y1)
        if d.keypoints is not None:
            radius = line + 1
            for x, y, confidence in d.keypoints.tolist():
                if confidence >= 0.5:
                    canvas.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour, outline=(255, 255, 255))
        label(f"{d.class_name} {d.score:.2f}", anchor, colour)
    _, top, _, bottom = canvas.textbbox((0, 0), "Ag", font=font)
    row = bottom - top + 2 * line
    for rank, c in enumerate(classes):
        # Anchored at the bottom of its row, so that each label sits in its own row from the top corner.
        label(f"{c.class_name} {c.probability:.2f}", (0, (rank + 1) * row), _PALETTE[c.class_id % len(_PALETTE)])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    image.save(out_path)


def depth_map_dict(depth: Any, npy: Optional[Path]) -> Dict[str, Any]:
    """A depth map as JSON: its size, range and mean, and the `.npy` file it was written to, if any."""
    import numpy as np

    height, width = depth.shape
    out: Dict[str, Any] = {"width": width, "height": height, "min": float(depth.min()), "max": float(depth.max()),
                           "mean": float(depth.mean(dtype=np.float64))}
    if npy is not None:
        npy.parent.mkdir(parents=True, exist_ok=True)
        np.save(npy, depth)
        out["npy"] = os.fspath(npy)
    return out


def draw_map(image_path: Path, out_path: Path, class_map: Optional[ClassMap] = None, depth: Any = None) -> None:
    """Writes a picture of a per-pixel result to `out_path`: the image with each class in its colour over it
    (half and half; the last class, a polygon-trained model's background, left clear when it is named so),
    or the depth map in colours from near (yellow) to far (dark blue)."""
    try:
        from PIL import Image, ImageOps
    except ImportError as error:
        raise SystemExit("--save needs Pillow: pip install pillow") from error
    import numpy as np

    if class_map is not None:
        with Image.open(image_path) as opened:
            pixels = np.asarray(ImageOps.exif_transpose(opened).convert("RGB")).astype(np.float32)
        palette = np.array([_PALETTE[i % len(_PALETTE)] for i in range(len(class_map.counts))], dtype=np.float32)
        colours = palette[class_map.ids]
        shown = np.ones(class_map.ids.shape, dtype=bool)
        for class_id, name in class_map.names.items():
            if name == "background":
                shown &= class_map.ids != class_id
        pixels[shown] = pixels[shown] * 0.5 + colours[shown] * 0.5
        picture = Image.fromarray(pixels.astype(np.uint8))
    else:
        lo, hi = float(depth.min()), float(depth.max())
        t = (depth - lo) / (hi - lo) if hi > lo else np.zeros_like(depth)
        near, middle, far = np.array([253, 231, 37.0]), np.array([33, 145, 140.0]), np.array([68, 1, 84.0])
        t = t[..., None]
        colours = np.where(t < 0.5, near + (middle - near) * (2 * t), middle + (far - middle) * (2 * t - 1))
        picture = Image.fromarray(colours.astype(np.uint8))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(out_path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m yolo_ffi",
        description="Run a YOLO ONNX model (detect, segment, pose, obb, classify, semantic or depth) on images.",
    )
    parser.add_argument("model", type=Path, help="the ONNX model")
    parser.add_argument("images", type=Path, nargs="+", help="images to detect in")
    parser.add_argument("--conf", type=float, help="confidence threshold (default: the library's)")
    parser.add_argument("--iou", type=float, help="NMS IoU threshold (default: the library's)")
    parser.add_argument("--max-det", type=int, help="maximum detections per image (default: the library's)")
    parser.add_argument("--imgsz", type=int, default=None, help="input size for dynamic models")
    parser.add_argument("--agnostic", action="store_true", help="class-agnostic NMS")
    parser.add_argument("--retina-masks", action="store_true", help="segmentation masks at the image's resolution")
    parser.add_argument("--top-k", type=int, help="classes listed for a classification model (default: the library's)")
    parser.add_argument("--json", action="store_true", help="one JSON object per image and line")
    parser.add_argument("--npy", type=Path, metavar="DIR", help="depth models: write each map to DIR/NAME.npy")
    parser.add_argument(
        "--save",
        type=Path,
        metavar="PATH",
        help="draw the results: with one image, PATH is the output file (e.g. out.png); with several, a folder",
    )
    parser.add_argument("--ort-library", type=Path, help="libonnxruntime.so to use instead of onnxruntime's")
    return parser


def _track_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m yolo_ffi track",
        description="Track the objects of a video with a detect, segment, pose or obb model, as Ultralytics' "
        "model.track does. Needs OpenCV for the video: pip install \"yolo-ffi[track]\".",
    )
    parser.add_argument("model", type=Path, help="the ONNX model")
    parser.add_argument("video", type=Path, help="the video (any format OpenCV reads)")
    parser.add_argument(
        "--tracker", default="botsort.yaml", help="botsort.yaml (default), bytetrack.yaml, or a tracker YAML file"
    )
    parser.add_argument("--conf", type=float, help="confidence threshold (default: 0.1, as Ultralytics' track)")
    parser.add_argument("--iou", type=float, help="NMS IoU threshold (default: the library's)")
    parser.add_argument("--max-det", type=int, help="maximum detections per frame (default: the library's)")
    parser.add_argument("--imgsz", type=int, default=None, help="input size for dynamic models")
    parser.add_argument("--json", action="store_true", help="one JSON object per frame and line")
    parser.add_argument("--save", type=Path, metavar="PATH", help="write the video with ids and trails (MP4)")
    parser.add_argument("--ort-library", type=Path, help="libonnxruntime.so to use instead of onnxruntime's")
    return parser


#: How many past centres a trail shows.
TRAIL_LENGTH = 30


def _draw_tracks(frame: Any, tracked: Sequence[Detection], trails: Dict[int, List[Tuple[int, int]]]) -> Any:
    """The frame (BGR) with each track's box, id, class and trail drawn; `trails` is updated."""
    import cv2
    import numpy as np

    canvas = frame.copy()
    seen = set()
    for d in tracked:
        if d.track_id is None:
            continue
        seen.add(d.track_id)
        r, g, b = _PALETTE[d.track_id % len(_PALETTE)]
        colour = (b, g, r)
        if d.corners is not None:
            cv2.polylines(canvas, [np.asarray(d.corners, np.int32)], True, colour, 2)
        else:
            cv2.rectangle(canvas, (round(d.x1), round(d.y1)), (round(d.x2), round(d.y2)), colour, 2)
        centre = (round((d.x1 + d.x2) / 2), round((d.y1 + d.y2) / 2))
        trail = trails.setdefault(d.track_id, [])
        trail.append(centre)
        del trail[:-TRAIL_LENGTH]
        if len(trail) > 1:
            cv2.polylines(canvas, [np.asarray(trail, np.int32)], False, colour, 2)
        label = f"{d.track_id} {d.class_name} {d.score:.2f}"
        (w, h), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        height, width = canvas.shape[:2]
        x = min(max(0, round(d.x1)), max(0, width - w - 4))
        y = round(d.y1) - h - base - 4 if d.y1 >= h + base + 4 else round(d.y1)
        y = min(max(0, y), max(0, height - h - base - 4))
        cv2.rectangle(canvas, (x, y), (x + w + 4, y + h + base + 4), colour, -1)
        cv2.putText(canvas, label, (x + 2, y + h + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    for track_id in [t for t in trails if t not in seen]:
        del trails[track_id][:1]  # a trail not followed fades, a point per frame
        if not trails[track_id]:
            del trails[track_id]
    return canvas


def track_main(argv: List[str]) -> int:
    """`python -m yolo_ffi track MODEL VIDEO`."""
    args = _track_parser().parse_args(argv)
    try:
        import cv2
    except ImportError:
        print('yolo_ffi: track needs OpenCV for the video: pip install "yolo-ffi[track]"', file=sys.stderr)
        return 2
    capture = cv2.VideoCapture(os.fspath(args.video))
    if not capture.isOpened():
        print(f"yolo_ffi: cannot open the video {args.video}", file=sys.stderr)
        return 2
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    try:
        detector = Detector(args.model, iou=args.iou, max_det=args.max_det, imgsz=args.imgsz, ort_library=args.ort_library)
    except (YoloError, ValueError) as error:
        print(f"yolo_ffi: cannot load {args.model}: {error}", file=sys.stderr)
        capture.release()
        return 2
    writer = None
    trails: Dict[int, List[Tuple[int, int]]] = {}
    failed = frame_index = 0
    try:
        with detector:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                try:
                    tracked = detector.track(frame, persist=True, tracker=args.tracker, conf=args.conf, channels="bgr")
                except (YoloError, ValueError) as error:
                    failed += 1
                    print(f"frame {frame_index}: error: {error}", file=sys.stderr)
                    frame_index += 1
                    continue
                if args.json:
                    print(json.dumps({"frame": frame_index, "detections": [d.to_dict() for d in tracked]}))
                else:
                    found = ", ".join(f"{d.track_id if d.track_id is not None else '-'} {d.class_name}" for d in tracked)
                    print(f"frame {frame_index}: {found}")
                if args.save is not None:
                    if writer is None:
                        height, width = frame.shape[:2]
                        fourcc = cv2.VideoWriter.fourcc(*"mp4v")
                        writer = cv2.VideoWriter(os.fspath(args.save), fourcc, fps, (width, height))
                    writer.write(_draw_tracks(frame, tracked, trails))
                frame_index += 1
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    return 1 if failed else 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["track"]:
        return track_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        detector = Detector(
            args.model,
            conf=args.conf,
            iou=args.iou,
            max_det=args.max_det,
            imgsz=args.imgsz,
            agnostic=args.agnostic,
            retina_masks=args.retina_masks,
            top_k=args.top_k,
            ort_library=args.ort_library,
        )
    except (YoloError, ValueError) as error:
        print(f"yolo_ffi: cannot load {args.model}: {error}", file=sys.stderr)
        return 2
    failed = 0
    with detector:
        classify = detector.task == "classify"
        per_pixel = detector.task in ("semantic", "depth")
        for image in args.images:
            detections: List[Detection] = []
            classes: List[ClassProbability] = []
            class_map: Optional[ClassMap] = None
            depth: Any = None
            try:
                if detector.task == "semantic":
                    class_map = detector.semantic(image)
                elif detector.task == "depth":
                    depth = detector.depth(image)
                elif classify:
                    classes = detector.classify(image)
                else:
                    detections = detector.detect(image)
            except (YoloError, OSError) as error:
                failed += 1
                if args.json:
                    print(json.dumps({"image": os.fspath(image), "error": str(error)}))
                else:
                    print(f"{image}: error: {error}", file=sys.stderr)
                continue
            if per_pixel:
                npy = args.npy / f"{image.stem}.npy" if args.npy is not None and depth is not None else None
                summary = class_map.to_dict() if class_map is not None else depth_map_dict(depth, npy)
                if args.json:
                    key = "class_map" if class_map is not None else "depth_map"
                    print(json.dumps({"image": os.fspath(image), "task": detector.task, key: summary}))
                elif class_map is not None:
                    present = ", ".join(f"{c['class_name']} {c['pixels']} px" for c in summary["classes"])
                    print(f"{image}: {summary['width']}x{summary['height']} class map: {present}")
                else:
                    print(f"{image}: {summary['width']}x{summary['height']} depth map: {summary['min']:.3f} to "
                          f"{summary['max']:.3f}, mean {summary['mean']:.3f}" + (f" ({npy})" if npy else ""))
                if args.save is not None:
                    out = args.save if len(args.images) == 1 else args.save / f"{image.stem}.png"
                    draw_map(image, out, class_map, depth)
                continue
            if args.json:
                found = {"classes": [c.to_dict() for c in classes]} if classify else {"detections": [d.to_dict() for d in detections]}
                print(json.dumps({"image": os.fspath(image), "task": detector.task, **found}))
            elif classify:
                print(f"{image}: " + ", ".join(f"{c.class_name} {c.probability:.3f}" for c in classes))
            else:
                print(f"{image}: {len(detections)} detection{'s' if len(detections) != 1 else ''}")
                for d in detections:
                    box = ", ".join(f"{v:.1f}" for v in (d.xywhr if d.xywhr is not None else d.box))
                    extra = f"  mask {d.mask.area} px" if d.mask is not None else ""
                    if d.keypoints is not None:
                        extra = "  keypoints " + " ".join(f"({x:.0f},{y:.0f})" for x, y, _ in d.keypoints.tolist())
                    print(f"  {d.class_name:<24} {d.score:.3f}  [{box}]{extra}")
            if args.save is not None:
                out = args.save if len(args.images) == 1 else args.save / f"{image.stem}.png"
                draw(image, detections, out, classes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
