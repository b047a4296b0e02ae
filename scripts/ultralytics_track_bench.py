#!/usr/bin/env python3
"""Times Ultralytics' trackers on the detections `cargo bench --bench track` wrote (its `--stream` file):
`BYTETracker` and `BOTSORT` (gmc_method none) of the installed Ultralytics, updated frame after frame with
the same boxes, scores and classes, as `model.track` hands them over (a `Boxes` of numpy data). Prints and
writes the median microseconds of one update.

    python scripts/ultralytics_track_bench.py STREAM.json --json OUT.json

Needs Ultralytics (and `lap`) in the interpreter that runs it: `make bench-track ULTRALYTICS_PYTHON=...`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

ROUNDS = 5


def main() -> int:
    import numpy as np
    import ultralytics
    import yaml
    from ultralytics.engine.results import Boxes
    from ultralytics.trackers import BOTSORT, BYTETracker

    parser = argparse.ArgumentParser()
    parser.add_argument("stream", type=Path)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    stream = json.loads(args.stream.read_text())
    shape = (stream["height"], stream["width"])
    frames = [Boxes(np.asarray(f, dtype=np.float32).reshape(-1, 6), shape) for f in stream["frames"]]
    config_dir = Path(ultralytics.__file__).parent / "cfg/trackers"
    bytetrack = yaml.safe_load((config_dir / "bytetrack.yaml").read_text())
    botsort = {**yaml.safe_load((config_dir / "botsort.yaml").read_text()), "gmc_method": "none"}
    medians = {}
    for name, cls, config in (("bytetrack", BYTETracker, bytetrack), ("botsort", BOTSORT, botsort)):
        times = []
        for _ in range(ROUNDS):
            tracker = cls(args=SimpleNamespace(**config))
            for boxes in frames:
                started = time.perf_counter()
                tracker.update(boxes, None)
                times.append((time.perf_counter() - started) * 1e6)
        medians[name] = statistics.median(times)
        print(f"Ultralytics {name}: {medians[name]:.1f} us per update")
    report = {
        "objects": max(len(f) for f in stream["frames"]),
        "frames": len(frames),
        "rounds": ROUNDS,
        "update_us_median": medians,
        "ultralytics": ultralytics.__version__,
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
