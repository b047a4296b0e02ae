#!/usr/bin/env python3
"""Makes the tracking fixtures of tests/fixtures/track/: short synthetic videos of the shapes that the
shared models detect (PNG frames), and Ultralytics' `model.track` on them, frame after frame.

Developers only: the videos need numpy and Pillow; the reference needs the scratch virtualenv of
scripts/make_map_fixtures.py (Ultralytics, PyTorch and `lap` from PyPI) and `../shared/`. The committed
fixtures are its output; tests never run it.

    python scripts/make_track_fixtures.py [--videos-only]

The videos (320 x 240, drawn with ../shared/tools/make_shapes.py's shapes over a smooth textured
background, saved with a 128-colour palette, so that the frames compress well):
- `crossing`: a circle and a triangle crossing (the triangle drawn over it), a square that waits, then
  moves, then stops, and a second circle that leaves the frame and comes back;
- `gaps`: two shapes moving, five empty frames in the middle, and a shape that appears later;
- `pan`: a camera panning over a still scene with one moving shape (what motion compensation is for);
- `bars`: bars and blocks moving and turning, for the oriented-box model.

Each video is tracked from its first frame by a fresh model (`YOLO(model).track(frame, persist=True,
tracker=..., imgsz=320)`, Ultralytics' default conf 0.1 for tracking) with ByteTrack, BoT-SORT without
motion compensation (`gmc_method: none`) and BoT-SORT as Ultralytics ships it (`sparseOptFlow`).
`reference.json` holds, per frame, the rows Ultralytics returns in its order: the tracked box (Kalman
filtered, clipped to the image; for oriented boxes `xywhr`), the track id (-1 when the frame's
detections come back without ids), the score and the class. `lapjv.json` holds `lap.lapjv`'s assignments
of 300 random cost matrices, many with tied costs, for the tracker's assignment to reproduce.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
OUT = ROOT / "tests/fixtures/track"
W, H = 320, 240
TRACKERS = {
    "bytetrack": "bytetrack.yaml",
    "botsort-nogmc": "botsort-nogmc.yaml",
    "botsort": "botsort.yaml",
}
# run: (video, model, task, trackers). The segmentation model detects the shapes best; the YOLO26 detection
# model, weaker, gives the detection task's runs (fewer tracks, more frames without ids).
RUNS = {
    "crossing": ("crossing", "shapes-seg.onnx", "segment", list(TRACKERS)),
    "gaps": ("gaps", "shapes-seg.onnx", "segment", list(TRACKERS)),
    "pan": ("pan", "shapes-seg.onnx", "segment", list(TRACKERS)),
    "bars": ("bars", "shapes-obb.onnx", "obb", ["bytetrack", "botsort-nogmc"]),
    "crossing-det": ("crossing", "shapes26-det.onnx", "detect", list(TRACKERS)),
    "gaps-det": ("gaps", "shapes26-det.onnx", "detect", list(TRACKERS)),
    "pan-det": ("pan", "shapes26-det.onnx", "detect", list(TRACKERS)),
}


def load_shapes():
    spec = importlib.util.spec_from_file_location("make_shapes", SHARED / "tools/make_shapes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def smooth_background(rng, w: int, h: int) -> tuple[Image.Image, float]:
    """A gradient with a few soft blotches and thin lines: texture without per-pixel noise."""
    base = rng.uniform(60, 200, size=3)
    tilt = rng.uniform(-50, 50, size=3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    img = base[None, None, :] + (np.cos(angle) * xx / w + np.sin(angle) * yy / h)[..., None] * tilt[None, None, :]
    for _ in range(4):
        cx, cy, s = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.1, 0.3) * max(w, h)
        img += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))[..., None] * rng.uniform(-30, 30, size=3)
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(12):
        p = [tuple(rng.uniform(0, [w, h])) for _ in range(2)]
        c = tuple(int(v) for v in np.clip(base + rng.uniform(-40, 40, 3), 0, 255))
        draw.line(p, fill=c, width=2)
    luma = 0.299 * base[0] + 0.587 * base[1] + 0.114 * base[2]
    return im, luma


def linear(a: tuple, b: tuple, t: float) -> tuple:
    return tuple(x + (y - x) * t for x, y in zip(a, b))


def crossing(shapes, rng) -> list:
    back, luma = smooth_background(rng, W, H)
    colours = [shapes.shape_color(rng, luma) for _ in range(4)]
    frames = []
    for f in range(40):
        im = back.copy()
        draw = ImageDraw.Draw(im)
        t = f / 39
        # The second circle: out of the frame on the right from frame 22 to 31.
        cx = 200 + 9 * f if f < 22 else 330 - 9 * (f - 31) if f >= 31 else None
        if cx is not None and cx < W + 20:
            shapes.fill(draw, shapes.regular_polygon(cx, 190, 24, 48, 0.0), colours[3])
        # The square waits 12 frames, moves down 14 frames, then stops.
        sy = 40 + 6 * min(max(f - 12, 0), 14)
        shapes.fill(draw, shapes.regular_polygon(260, sy, 30, 4, 0.3), colours[2])
        shapes.fill(draw, shapes.regular_polygon(*linear((40, 90), (240, 110), t), 28, 48, 0.0), colours[0])
        shapes.fill(draw, shapes.regular_polygon(*linear((250, 100), (50, 90), t), 32, 3, 0.2 + 0.02 * f), colours[1])
        frames.append(im)
    return frames


def gaps(shapes, rng) -> list:
    back, luma = smooth_background(rng, W, H)
    colours = [shapes.shape_color(rng, luma) for _ in range(3)]
    frames = []
    for f in range(36):
        im = back.copy()
        draw = ImageDraw.Draw(im)
        if not 14 <= f < 19:
            shapes.fill(draw, shapes.regular_polygon(50 + 5 * f, 70, 26, 4, 0.1), colours[0])
            shapes.fill(draw, shapes.regular_polygon(270 - 4 * f, 160 + math.sin(f / 4) * 20, 26, 48, 0.0), colours[1])
        if f >= 22:
            shapes.fill(draw, shapes.regular_polygon(160, 40 + 3 * (f - 22), 24, 3, 0.5), colours[2])
        frames.append(im)
    return frames


def pan(shapes, rng) -> list:
    world_w, world_h = 520, 360
    back, luma = smooth_background(rng, world_w, world_h)
    draw = ImageDraw.Draw(back)
    colours = [shapes.shape_color(rng, luma) for _ in range(4)]
    shapes.fill(draw, shapes.regular_polygon(150, 120, 30, 48, 0.0), colours[0])
    shapes.fill(draw, shapes.regular_polygon(300, 200, 30, 4, 0.4), colours[1])
    shapes.fill(draw, shapes.regular_polygon(420, 150, 32, 3, 0.1), colours[2])
    frames = []
    for f in range(36):
        im = back.copy()
        moving = ImageDraw.Draw(im)
        shapes.fill(moving, shapes.regular_polygon(200 + 3 * f, 280 - 2 * f, 26, 48, 0.0), colours[3])
        x0, y0 = 5 * f, round(2.5 * f)
        frames.append(im.crop((x0, y0, x0 + W, y0 + H)))
    return frames


def bars(shapes, rng) -> list:
    back, luma = smooth_background(rng, W, H)
    colours = [shapes.shape_color(rng, luma) for _ in range(3)]
    frames = []
    for f in range(30):
        im = back.copy()
        draw = ImageDraw.Draw(im)
        shapes.fill(draw, shapes.rect_corners(60 + 6 * f, 70, 90, 22, 0.2 + 0.04 * f), colours[0])
        shapes.fill(draw, shapes.rect_corners(250 - 4 * f, 170, 56, 44, -0.1 * f), colours[1])
        if f >= 8:
            shapes.fill(draw, shapes.rect_corners(160, 40 + 5 * (f - 8), 80, 18, 1.2), colours[2])
        frames.append(im)
    return frames


def make_videos() -> None:
    shapes = load_shapes()
    for index, (name, make) in enumerate((("crossing", crossing), ("gaps", gaps), ("pan", pan), ("bars", bars))):
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        for f, frame in enumerate(make(shapes, np.random.default_rng(100 + index))):
            # A 128-colour palette: a tenth of the RGB file's size, and palette PNGs are a format to read too.
            frame.quantize(128, dither=Image.Dither.NONE).save(folder / f"{f:03d}.png", optimize=True)


def references() -> None:
    import lap
    import onnxruntime
    import ultralytics
    import yaml
    from ultralytics import YOLO
    from ultralytics.utils import checks

    work = Path("/tmp/track-fixtures")
    work.mkdir(exist_ok=True)
    botsort = yaml.safe_load((Path(ultralytics.__file__).parent / "cfg/trackers/botsort.yaml").read_text())
    (work / "botsort-nogmc.yaml").write_text(yaml.safe_dump({**botsort, "gmc_method": "none"}))
    reference = {
        "generator": "scripts/make_track_fixtures.py",
        "versions": {"ultralytics": ultralytics.__version__, "onnxruntime": onnxruntime.__version__,
                     "lap": lap.__version__, "opencv": checks.cv2.__version__},
        "notes": "runs[RUN][TRACKER] (RUN's frames: videos[RUN], its model: models[RUN]): per frame, the rows of Ultralytics' model.track(frame, persist=True, "
                 "tracker=TRACKER, imgsz=320) in its order: detect [x1, y1, x2, y2, id, score, class] (the Kalman "
                 "box clipped to the image), obb [cx, cy, w, h, angle, id, score, class]; id is -1 when the "
                 "frame's detections come back without ids. Trackers: bytetrack.yaml, botsort.yaml "
                 "(gmc_method sparseOptFlow) and botsort-nogmc (botsort.yaml with gmc_method none). "
                 "warps[VIDEO]: per frame, the 2 x 3 motion sparseOptFlow estimated, as BoT-SORT applied it.",
        "models": {name: model for name, (_, model, _, _) in RUNS.items()},
        "videos": {name: video for name, (video, _, _, _) in RUNS.items()},
        "runs": {},
    }
    # The motion BoT-SORT's sparseOptFlow estimates for each frame, recorded as Ultralytics applies it: the
    # library takes it as an input (its Python package computes it with the same OpenCV calls).
    from ultralytics.trackers.utils.gmc import GMC

    warps = []
    estimate = GMC.apply

    def recording(self, raw_frame, detections=None):
        warp = estimate(self, raw_frame, detections)
        warps.append(np.asarray(warp, dtype=np.float64).tolist())
        return warp

    GMC.apply = recording
    reference["warps"] = {}
    for run, (video, model_file, task, trackers) in RUNS.items():
        frames = sorted((OUT / video).glob("*.png"))
        reference["runs"][run] = {}
        for tracker in trackers:
            config = TRACKERS[tracker] if tracker != "botsort-nogmc" else str(work / "botsort-nogmc.yaml")
            model = YOLO(str(SHARED / "models" / model_file), task=task)
            rows = []
            for frame in frames:
                result = model.track(str(frame), persist=True, tracker=config, imgsz=320, device="cpu",
                                     verbose=False)[0]
                boxes = result.obb if task == "obb" else result.boxes
                coords = (boxes.xywhr if task == "obb" else boxes.xyxy).tolist()
                ids = boxes.id.tolist() if boxes.id is not None else [-1] * len(coords)
                rows.append([[*c, int(i), float(s), int(k)] for c, i, s, k in
                             zip(coords, ids, boxes.conf.tolist(), boxes.cls.tolist())])
            reference["runs"][run][tracker] = rows
            if tracker == "botsort":
                reference["warps"][video] = warps[-len(frames):]
            tracked = sum(1 for frame in rows for r in frame if r[-3] >= 0)
            print(run, tracker, "ids", sorted({r[-3] for frame in rows for r in frame}), tracked, "tracked rows")
    (OUT / "reference.json").write_text(json.dumps(reference, indent=None, separators=(",", ":")) + "\n")


def assignments() -> None:
    """`lap.lapjv(cost, extend_cost=True, cost_limit=limit)` on random matrices, many with tied costs:
    what the tracker's assignment must reproduce, ties included (lapjv.json)."""
    import lap

    rng = np.random.default_rng(7)
    cases = []
    for case in range(300):
        rows, cols = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        if case % 3 == 0:
            cost = rng.integers(0, 5, size=(rows, cols)) * 0.25
        elif case % 3 == 1:
            cost = 1 - rng.uniform(0, 1, size=(rows, cols)).astype(np.float32) * np.float32(0.9)
        else:
            cost = np.where(rng.uniform(size=(rows, cols)) < 0.5, 1.0, rng.uniform(0, 1, size=(rows, cols)))
        cost = cost.astype(np.float32)
        limit = [0.8, 0.5, 0.7][case % 3]
        _, x, y = lap.lapjv(cost.astype(np.float64), extend_cost=True, cost_limit=limit)
        cases.append({"cost": cost.astype(np.float64).tolist(), "limit": limit, "x": x.tolist(), "y": y.tolist()})
    (OUT / "lapjv.json").write_text(json.dumps({"generator": "scripts/make_track_fixtures.py",
                                               "lap": lap.__version__, "cases": cases}) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos-only", action="store_true")
    args = parser.parse_args()
    make_videos()
    if not args.videos_only:
        references()
        assignments()
    return 0


if __name__ == "__main__":
    sys.exit(main())
