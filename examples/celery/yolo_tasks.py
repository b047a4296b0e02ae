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

Run a worker:  celery -A yolo_tasks worker --pool prefork --concurrency 2
Send a task:   yolo_tasks.detect.delay(base64.b64encode(jpeg).decode()).get(timeout=10)
"""

from __future__ import annotations

import base64
import os
from typing import Any, Dict, Optional

from celery import Celery
from celery.signals import worker_init, worker_process_init

import shutdown_guard  # noqa: F401  (arms the warm-shutdown guard in workers)
import yolo_ffi
from worker_settings import WORKER_SETTINGS

BROKER = os.environ.get("YOLO_CELERY_BROKER", "redis://127.0.0.1:6379/0")

app = Celery("yolo_tasks", broker=BROKER, backend=BROKER)
app.conf.update(WORKER_SETTINGS)

_detector: Optional[yolo_ffi.Detector] = None
_load_error: Optional[str] = None


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


@worker_process_init.connect
def build_sessions(**_: Any) -> None:
    """In each pool process, right after the fork: fresh ONNX Runtime sessions on the inherited model."""
    yolo_ffi.after_fork()


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
