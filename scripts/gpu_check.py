"""The GPU checks, run by scripts/gpu-check.sh in a virtualenv holding yolo-ffi's wheel, PyPI's
onnxruntime-gpu and its CUDA libraries (`onnxruntime-gpu[cuda,cudnn]`).

    gpu_check.py MODEL IMAGE... [--imgsz 640] [--rounds 50] [--seconds 5]

1. Parity: every image's detections on the CUDA provider against the CPU provider's (same library, same
   runtime): the same boxes (IoU >= 0.9, same class), scores within 0.02.
2. Latency: `Detector.detect` on a ready RGB array (`yolo_detect_pixels`) against onnxruntime's
   `InferenceSession.run` with the CUDA provider on a ready input tensor of the shape the letterbox makes,
   interleaved, medians; also with `io_binding=False`. Target: at most 1.10x, or at most 0.5 ms more,
   whichever is larger.
3. Throughput with 1, 4, 16 and 64 calling threads, unbatched and with cross-caller batching
   (`max_batch=16`). Target: batching at least 2x unbatched at 16 callers.
Prints markdown tables for docs/benchmarks.md and exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

import yolo_ffi


ORT_PROVIDERS = {"cuda": "CUDAExecutionProvider", "cpu": "CPUExecutionProvider"}


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def rgb(path: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def throughput(call, threads: int, seconds: float) -> float:
    done = [0] * threads
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        while time.monotonic() < stop:
            call()
            done[i] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done) / seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--provider", default="cuda:0", help="cpu runs the whole script on the CPU, as a dry run")
    args = parser.parse_args()
    failed = False

    cpu = yolo_ffi.Detector(args.model, imgsz=args.imgsz)
    # The automatic pool: on a GPU, a few single-threaded sessions with their input bound in pinned memory.
    gpu = yolo_ffi.Detector(args.model, imgsz=args.imgsz, providers=[args.provider])
    print(f"providers: {cpu.provider} and {gpu.provider} (io_binding {gpu.io_binding}, {gpu.stats().sessions} sessions); "
          f"onnxruntime {ort.__version__} {ort.get_device()}")
    worst_score, matched, total = 0.0, 0, 0
    for image in args.images:
        want, got = cpu.detect(image), gpu.detect(image)
        for d in want:
            total += 1
            best = max(got, key=lambda g: iou(d.box, g.box) if g.class_id == d.class_id else -1, default=None)
            if best is not None and best.class_id == d.class_id and iou(d.box, best.box) >= 0.9:
                matched += 1
                worst_score = max(worst_score, abs(best.score - d.score))
    print(f"parity: {matched}/{total} CPU boxes found on {args.provider}, largest score difference {worst_score:.4f}")
    failed |= matched != total or worst_score > 0.02

    pixels = rgb(args.images[0])
    height, width = pixels.shape[:2]
    session = ort.InferenceSession(args.model, ort.SessionOptions(), providers=[ORT_PROVIDERS[args.provider.split(":")[0]]])
    name = session.get_inputs()[0].name
    # The raw run gets the input our letterbox makes of this image: Ultralytics' minimal rectangle for a
    # dynamic model (stride 32), the model's fixed size otherwise.
    input_h, input_w = gpu.input_size[1], gpu.input_size[0]
    if not all(isinstance(d, int) for d in session.get_inputs()[0].shape[2:]):
        r = min(args.imgsz / height, args.imgsz / width)
        new_h, new_w = round(height * r), round(width * r)
        input_h, input_w = new_h + (args.imgsz - new_h) % 32, new_w + (args.imgsz - new_w) % 32
    ready = np.full((1, 3, input_h, input_w), 114 / 255, np.float32)
    # Bound explicitly, which is the default on a GPU, so that the CPU dry run compares the same two paths.
    single = yolo_ffi.Detector(args.model, imgsz=args.imgsz, providers=[args.provider], pool_size=1, io_binding=True)
    unbound = yolo_ffi.Detector(args.model, imgsz=args.imgsz, providers=[args.provider], pool_size=1, io_binding=False)
    calls = {
        "raw": lambda: session.run(None, {name: ready}),
        "detect_pixels": lambda: single.detect(pixels),
        "unbound": lambda: unbound.detect(pixels),
    }
    for call in calls.values():
        for _ in range(10):
            call()
    times = {key: [] for key in calls}
    for _ in range(args.rounds):
        for key, call in calls.items():
            start = time.perf_counter()
            call()
            times[key].append(time.perf_counter() - start)
    raw, ours, plain = (statistics.median(times[k]) * 1e3 for k in ("raw", "detect_pixels", "unbound"))
    print(f"\n| {Path(args.model).name} {width}x{height} at {args.imgsz} (input {input_w}x{input_h}) | median ms |")
    print("|---|---|")
    print(f"| onnxruntime {args.provider} session.run, ready tensor | {raw:.3f} |")
    print(f"| detect_pixels, io_binding True (the default on a GPU) | {ours:.3f} ({ours / raw:.3f}x) |")
    print(f"| detect_pixels, io_binding False | {plain:.3f} ({plain / raw:.3f}x) |")
    failed |= ours > max(raw * 1.10, raw + 0.5)

    batched = yolo_ffi.Detector(args.model, imgsz=args.imgsz, providers=[args.provider], max_batch=16, max_batch_delay=0.002)
    print("\n| callers | unbatched img/s | batched (max_batch 16) img/s | ratio |\n|---|---|---|---|")
    for callers in (1, 4, 16, 64):
        plain = throughput(lambda: gpu.detect(pixels), callers, args.seconds)
        together = throughput(lambda: batched.detect(pixels), callers, args.seconds)
        print(f"| {callers} | {plain:.1f} | {together:.1f} | {together / plain:.2f} |")
        if callers == 16:
            failed |= together < 2 * plain
    runs, batched_calls, longest = batched.batch_stats()
    print(f"\nbatching: {batched_calls} calls in {runs} runs, longest wait {longest * 1e3:.2f} ms")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
