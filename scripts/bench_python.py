#!/usr/bin/env python3
"""Python-side comparison, in one process and one run: yolo_ffi's `Detector.detect` against onnxruntime's
`session.run` on a ready input tensor (the raw run), the usual hand-written onnxruntime + numpy pipeline, and
Ultralytics' `predict` when it is installed.

    python scripts/bench_python.py MODEL IMAGE [--imgsz N] [--rounds N] [--seconds S] [--json FILE]

Single-caller latency (medians, interleaved rounds) and throughput with 4 Python threads. The onnxruntime
pipeline is what a user writes without this library: decode with Pillow, letterbox with Pillow's bilinear
resize, numpy normalisation, `InferenceSession.run`, numpy decoding and greedy NMS. Its detections are close
to Ultralytics' but not identical (Pillow resamples differently from OpenCV); it is here for speed only.
Needs numpy, Pillow, onnxruntime and yolo_ffi (the wheel); Ultralytics is optional.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

import yolo_ffi


class NumpyPipeline:
    """A typical hand-written YOLOv8-style pipeline (channels-first output, 640 letterbox)."""

    def __init__(self, model: str, imgsz: int, threads: int) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        shape = self.session.get_inputs()[0].shape
        self.fixed = isinstance(shape[2], int) and isinstance(shape[3], int)
        self.size = (shape[2], shape[3]) if self.fixed else (imgsz, imgsz)

    def ready_tensor(self, width: int, height: int) -> np.ndarray:
        """An input of the shape the library runs for an image of this size: the model's own on a fixed
        model, else the letterbox with the least padding to a multiple of 32 (Ultralytics' rect mode)."""
        th, tw = self.size
        if not self.fixed:
            r = min(th / height, tw / width)
            nh, nw = round(height * r), round(width * r)
            th, tw = nh + (th - nh) % 32, nw + (tw - nw) % 32
        return np.full((1, 3, th, tw), 114 / 255, dtype=np.float32)

    def __call__(self, path: str, conf: float = 0.25, iou: float = 0.7) -> np.ndarray:
        image = Image.open(path).convert("RGB")
        w, h = image.size
        th, tw = self.size
        r = min(th / h, tw / w)
        nw, nh = round(w * r), round(h * r)
        canvas = Image.new("RGB", (tw, th), (114, 114, 114))
        left, top = (tw - nw) // 2, (th - nh) // 2
        canvas.paste(image.resize((nw, nh), Image.BILINEAR), (left, top))
        x = np.asarray(canvas, dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
        out = self.session.run(None, {self.input: x})[0][0]
        if out.shape[-1] == 6:  # end-to-end models: already selected
            keep = out[out[:, 4] > conf]
            boxes, scores, classes = keep[:, :4], keep[:, 4], keep[:, 5]
        else:
            out = out.T  # [anchors, 4 + classes]
            class_scores = out[:, 4:]
            classes = class_scores.argmax(1)
            scores = class_scores[np.arange(len(out)), classes]
            mask = scores > conf
            xywh, scores, classes = out[mask, :4], scores[mask], classes[mask]
            boxes = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], 1)
            order = scores.argsort()[::-1][:30000]
            boxes, scores, classes = boxes[order], scores[order], classes[order]
            offset = boxes + classes[:, None] * 7680.0
            keep = []
            alive = np.ones(len(boxes), bool)
            areas = (offset[:, 2] - offset[:, 0]) * (offset[:, 3] - offset[:, 1])
            for i in range(len(boxes)):
                if not alive[i]:
                    continue
                keep.append(i)
                if len(keep) == 300:
                    break
                xx1 = np.maximum(offset[i, 0], offset[i + 1 :, 0])
                yy1 = np.maximum(offset[i, 1], offset[i + 1 :, 1])
                xx2 = np.minimum(offset[i, 2], offset[i + 1 :, 2])
                yy2 = np.minimum(offset[i, 3], offset[i + 1 :, 3])
                inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
                alive[i + 1 :] &= inter / (areas[i] + areas[i + 1 :] - inter) <= iou
            boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
        boxes = (boxes - [left, top, left, top]) / r
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        return np.concatenate([boxes, scores[:, None], classes[:, None].astype(np.float32)], 1)


def ultralytics_predict(model: str, imgsz: int, speeds: list):
    """Ultralytics' `predict` on the same ONNX file (its onnxruntime backend), or None when it is not
    installed. Each call appends Ultralytics' own stage timings (`Results.speed`, ms) to `speeds`."""
    try:
        from ultralytics import YOLO
    except ImportError:
        return None
    yolo = YOLO(model, task="detect")

    def predict(path: str) -> None:
        speeds.append(yolo.predict(path, imgsz=imgsz, verbose=False)[0].speed)

    return predict


def interleaved_medians(calls: dict, rounds: int) -> dict:
    samples = {name: [] for name in calls}
    for call in calls.values():  # warm-up
        call()
    for _ in range(rounds):
        for name, call in calls.items():
            # onnxruntime's threads spin for a while after a run; without a pause, they slow the next call
            # (measured: detect(path) 10 to 18 ms slower than detect(bytes) when it came right after predict).
            time.sleep(0.05)
            start = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(values) for name, values in samples.items()}


def throughput(call, threads: int, seconds: float) -> float:
    stop = threading.Event()
    counts = [0] * threads

    def loop(i: int) -> None:
        while not stop.is_set():
            call()
            counts[i] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("image")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    encoded = Path(args.image).read_bytes()
    rgb = np.asarray(Image.open(args.image).convert("RGB"))

    single = yolo_ffi.Detector(args.model, pool_size=1, threads_per_session=cores, imgsz=args.imgsz)
    numpy_pipeline = NumpyPipeline(args.model, args.imgsz, cores)
    ready = numpy_pipeline.ready_tensor(rgb.shape[1], rgb.shape[0])
    calls = {
        "onnxruntime run (ready tensor)": lambda: numpy_pipeline.session.run(None, {numpy_pipeline.input: ready}),
        "yolo_ffi detect(path)": lambda: single.detect(args.image),
        "yolo_ffi detect(bytes)": lambda: single.detect(encoded),
        "yolo_ffi detect(numpy RGB)": lambda: single.detect(rgb),
        "onnxruntime + numpy": lambda: numpy_pipeline(args.image),
    }
    ultralytics_speeds: list = []
    predict = ultralytics_predict(args.model, args.imgsz, ultralytics_speeds)
    if predict is not None:
        calls["ultralytics predict"] = lambda: predict(args.image)
    medians = interleaved_medians(calls, args.rounds)
    base = medians["onnxruntime + numpy"]
    raw = medians["onnxruntime run (ready tensor)"]
    print(f"{args.model} on {args.image}, {cores} cores, {args.rounds} interleaved rounds")
    print("| what | median ms | x raw run | x onnxruntime + numpy |\n|---|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:.2f} | {value / raw:.3f} | {value / base:.3f} |")
    stages = {}
    if predict is None:
        print("(Ultralytics is not installed: its column is left out)")
    else:
        # Its pre-processing (letterbox, layout, /255) and post-processing (NMS, box scaling) exclude the
        # image decode, as the library's "letterbox" and "decode + NMS" stages in benches/bench.rs do.
        measured = ultralytics_speeds[1:]  # without the warm-up call
        stages = {key: statistics.median(s[key] for s in measured) for key in ("preprocess", "inference", "postprocess")}
        print("| Ultralytics stage (its own `Results.speed`) | median ms |\n|---|---|")
        for key, value in stages.items():
            print(f"| {key} | {value:.2f} |")
        print(f"| preprocess + postprocess | {stages['preprocess'] + stages['postprocess']:.2f} |")

    pooled = yolo_ffi.Detector(args.model, imgsz=args.imgsz)  # the automatic pool
    rates = {
        f"yolo_ffi, auto pool, {args.threads} threads": throughput(lambda: pooled.detect(encoded), args.threads, args.seconds),
        f"onnxruntime + numpy, one session, {args.threads} threads": throughput(
            lambda: numpy_pipeline(args.image), args.threads, args.seconds
        ),
    }
    print("| throughput | img/s |\n|---|---|")
    for name, value in rates.items():
        print(f"| {name} | {value:.2f} |")
    if args.json:
        report = {
            "model": args.model,
            "image": args.image,
            "cores": cores,
            "latency_ms": medians,
            "ultralytics_stages_ms": stages,
            "throughput": rates,
        }
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
