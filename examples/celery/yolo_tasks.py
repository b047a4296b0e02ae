"""A Celery app whose workers detect objects with yolo-ffi.

The main worker process loads the model once (`worker_init`), before the prefork pool forks; each pool
process then builds its own ONNX Runtime sessions on the inherited model at start (`worker_process_init` ->
`yolo_ffi.after_fork()`), so the weights' pages stay shared copy-on-write and no task pays for a load. A
client that only sends tasks never loads anything.

Settings, from the environment:
    YOLO_CELERY_BROKER   broker and result backend URL (default redis://127.0.0.1:6379/0)
    YOLO_MODEL           the ONNX model (required in workers)
    YOLO_IMGSZ           input size for dynamic models (default: the model's own)
    YOLO_POOL_SIZE       sessions per worker process (default 1: the processes are the parallelism)
    YOLO_THREADS         ONNX Runtime threads per session (default 1)
    YOLO_MODELS_DIR      where `yolo_reload` finds a model it is given by name (default: beside YOLO_MODEL)
    YOLO_METRICS_PORT    serve Prometheus metrics of every pool process on 127.0.0.1:PORT from the main
                         process (needs PROMETHEUS_MULTIPROC_DIR and the `metrics` extra; default: off)
    YOLO_METRICS_INTERVAL  seconds between two copies of a process's counters (default 5)

Run a worker:  celery -A yolo_tasks worker --pool prefork --concurrency 2
Send a task:   yolo_tasks.detect.delay(base64.b64encode(jpeg).decode()).get(timeout=10)
Reload every worker's model (the file named, or the configured one read again), without losing a task:
               app.control.broadcast("yolo_reload", arguments={"model": "new.onnx"}, reply=True, timeout=60)
"""

from __future__ import annotations

import base64
import os
from typing import Any, Dict, Optional

from celery import Celery
from celery.signals import worker_init, worker_process_init, worker_process_shutdown
from celery.worker.control import control_command

import shutdown_guard  # noqa: F401  (arms the warm-shutdown guard in workers)
import yolo_ffi
from worker_settings import WORKER_SETTINGS

BROKER = os.environ.get("YOLO_CELERY_BROKER", "redis://127.0.0.1:6379/0")

app = Celery("yolo_tasks", broker=BROKER, backend=BROKER)
app.conf.update(WORKER_SETTINGS)

_detector: Optional[yolo_ffi.Detector] = None
_load_error: Optional[str] = None
_exporter: Optional[Any] = None


@worker_init.connect
def load_model(**_: Any) -> None:
    """In the main worker process, before the pool forks: load the model once for every pool process."""
    global _detector, _load_error
    model = os.environ.get("YOLO_MODEL")
    if not model:
        _load_error = "YOLO_MODEL is not set"
        return
    imgsz = os.environ.get("YOLO_IMGSZ")
    try:
        _detector = yolo_ffi.Detector(
            model,
            imgsz=int(imgsz) if imgsz else None,
            pool_size=int(os.environ.get("YOLO_POOL_SIZE", "1")),
            threads_per_session=int(os.environ.get("YOLO_THREADS", "1")),
        )
    except yolo_ffi.YoloError as error:
        # The worker stays up and every task fails with this reason, instead of a crash loop.
        _load_error = f"yolo-ffi could not load {os.path.basename(model)}: {error}"
    _serve_metrics()


def _serve_metrics() -> None:
    """With YOLO_METRICS_PORT and PROMETHEUS_MULTIPROC_DIR: every process copies its counters into
    prometheus_client's files (the exporter's thread starts again in each forked pool process), and the main
    process serves them all, as prometheus_client documents its multiprocess mode."""
    global _exporter
    port = os.environ.get("YOLO_METRICS_PORT")
    if not port or not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server
    from yolo_ffi.metrics import MultiProcessExporter

    _exporter = MultiProcessExporter(
        lambda: {"default": _detector} if _detector is not None else {},
        interval=float(os.environ.get("YOLO_METRICS_INTERVAL", "5")),
    )
    _exporter.start()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(int(port), addr="127.0.0.1", registry=registry)


@worker_process_init.connect
def build_sessions(**_: Any) -> None:
    """In each pool process, right after the fork: fresh ONNX Runtime sessions on the inherited model."""
    yolo_ffi.after_fork()


@worker_process_shutdown.connect
def copy_last_counts(**_: Any) -> None:
    """A pool process about to end: its last counts, and its live gauges dropped."""
    if _exporter is not None:
        from prometheus_client import multiprocess

        _exporter.sync()
        multiprocess.mark_process_dead(os.getpid())


@control_command(args=[("model", str)], signature="[model]")
def yolo_reload(state: Any, model: Optional[str] = None) -> Dict[str, Any]:
    """Broadcast control command: reloads the model in the worker's main process (the file of
    YOLO_MODELS_DIR named `model`, or the configured file read again), then restarts the pool: each process
    ends after its current task and its replacement forks from the reloaded model. No task is lost. A failed
    reload changes nothing (the reply says why)."""
    if _detector is None:
        return {"error": _load_error or "the model is not loaded in this worker"}
    if model is not None and (os.path.basename(model) != model or model in ("", ".", "..")):
        return {"error": "model must be a file name in YOLO_MODELS_DIR, not a path"}
    configured = os.environ["YOLO_MODEL"]
    folder = os.environ.get("YOLO_MODELS_DIR") or os.path.dirname(configured)
    path = os.path.join(folder, model) if model is not None else configured
    try:
        _detector.reload(path)
    except yolo_ffi.YoloError as error:
        return {"error": error.message.replace(folder + os.sep, "")}
    if _exporter is not None:
        _exporter.sync()  # the new pool processes start from these counts: not counted twice
    state.consumer.controller.reload()
    return {"ok": f"{os.path.basename(path)} serves", "sha256": _detector.sha256}


def detector() -> yolo_ffi.Detector:
    if _detector is None:
        raise RuntimeError(_load_error or "the model is not loaded in this worker")
    return _detector


@app.task(name="yolo.detect")
def detect(image_b64: str) -> Dict[str, Any]:
    """Detects objects in a base64-encoded image; returns the model's name and the detections, best first."""
    found = detector().detect(base64.b64decode(image_b64))
    return {
        "model": os.path.basename(detector().model_path),
        "worker_pid": os.getpid(),
        "detections": [
            {"class_id": d.class_id, "class_name": d.class_name, "score": d.score, "box": list(d.box)} for d in found
        ],
    }
