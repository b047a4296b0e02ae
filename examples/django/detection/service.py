"""The process's detector: started from `AppConfig.ready()`, shared by every request and thread."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Optional, Tuple

import yolo_ffi
from django.conf import settings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_detector: Optional[yolo_ffi.Detector] = None
_start_error: Optional[str] = None
_started_at = 0.0


def start() -> None:
    """Opens (or reuses) the process's detector with the current settings, loading in the background.

    Never raises: settings the library refuses are logged and reported by `health()`.
    """
    global _detector, _start_error, _started_at
    with _lock:
        _started_at = time.monotonic()
        try:
            _detector = yolo_ffi.preload(
                settings.YOLO_MODEL,
                pool_size=settings.YOLO_POOL_SIZE,
                threads_per_session=settings.YOLO_THREADS_PER_SESSION,
                conf=settings.YOLO_CONF,
                iou=settings.YOLO_IOU,
                load_wait=settings.YOLO_LOAD_WAIT,
                async_load=True,
            )
            _start_error = None
        except (yolo_ffi.YoloError, ValueError, OSError) as error:
            logger.error("cannot start the detector for %s: %s", settings.YOLO_MODEL, error)
            _detector, _start_error = None, str(error)


def current() -> Optional[yolo_ffi.Detector]:
    """The detector, after retrying a failed start or load once `YOLO_RETRY_SECONDS` have passed."""
    detector = _detector
    failed = detector is None or detector.state is yolo_ffi.LoadState.FAILED
    if failed and time.monotonic() - _started_at >= settings.YOLO_RETRY_SECONDS:
        start()
        detector = _detector
    return detector


def model_name(detector: yolo_ffi.Detector) -> str:
    """The model's file name: what responses show, rather than where the model lies on the server."""
    return os.path.basename(detector.model_path)


def public_message(detector: yolo_ffi.Detector, message: Optional[str]) -> Optional[str]:
    """`message` with the model's path on the server replaced by its file name."""
    return message.replace(detector.model_path, model_name(detector)) if message else message


def health() -> Tuple[bool, dict]:
    """`(ready, details)` for the health endpoint."""
    detector = current()
    if detector is None:
        return False, {"status": "failed", "error": _start_error}
    state = detector.state
    name = model_name(detector)
    if state is yolo_ffi.LoadState.READY:
        return True, {"status": "ready", "model": name, "classes": len(detector.names)}
    if state is yolo_ffi.LoadState.LOADING:
        return False, {"status": "loading", "model": name}
    return False, {"status": "failed", "model": name, "error": public_message(detector, detector.load_error)}
