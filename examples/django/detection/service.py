"""The process's detector: started from `AppConfig.ready()`, shared by every request and thread; reloaded
on an admin request or (under gunicorn) on SIGHUP; and its metrics."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Dict, Optional, Tuple

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
    _start_metrics()


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
    """`(ready, details)` for the health endpoint: with the provider, whether it is a fall-back (CUDA asked,
    the CPU used), and the reloads."""
    detector = current()
    if detector is None:
        return False, {"status": "failed", "error": _start_error}
    state = detector.state
    name = model_name(detector)
    if state is yolo_ffi.LoadState.READY:
        reloads = detector.reload_stats()
        return True, {
            "status": "ready",
            "model": name,
            "sha256": detector.sha256,
            "classes": len(detector.names),
            "provider": detector.provider,
            "provider_fallback": detector.fell_back,
            "reloads": {"ok": reloads.reloads, "failed": reloads.failures, "running": reloads.running},
        }
    if state is yolo_ffi.LoadState.LOADING:
        return False, {"status": "loading", "model": name}
    return False, {"status": "failed", "model": name, "error": public_message(detector, detector.load_error)}


class ReloadError(Exception):
    """A reload that did not happen: the HTTP status to answer and why (the current model keeps serving)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def reload(model: Optional[str] = None) -> Dict[str, Any]:
    """Replaces this process's model while requests go on: `model` names a file of `YOLO_MODELS_DIR` (a name,
    not a path); None reads the configured file again (a file replaced on disk is picked up). Returns what
    serves now; raises `ReloadError` when the reload did not happen."""
    detector = current()
    if detector is None:
        raise ReloadError(503, f"no detector to reload: {_start_error}")
    if model is not None and (os.path.basename(model) != model or model in ("", ".", "..")):
        raise ReloadError(400, "model must be a file name in YOLO_MODELS_DIR, not a path")
    path = os.path.join(settings.YOLO_MODELS_DIR, model) if model is not None else settings.YOLO_MODEL
    started = time.monotonic()
    try:
        detector.reload(path)
    except yolo_ffi.BusyError as error:
        raise ReloadError(409, error.message) from None
    except yolo_ffi.YoloError as error:
        # The library has logged why (to the `yolo_ffi` logger); the client gets it without the server's paths.
        message = public_message(detector, error.message.replace(os.path.dirname(path) + os.sep, ""))
        raise ReloadError(422, message) from None
    logger.info("reloaded %s in %.0f ms", path, (time.monotonic() - started) * 1000)
    return {"status": "reloaded", "model": model_name(detector), "sha256": detector.sha256, "task": detector.task}


_exporter: Optional[Any] = None
_registry: Optional[Any] = None


def _detectors() -> Dict[str, yolo_ffi.Detector]:
    detector = _detector
    return {"default": detector} if detector is not None else {}


def _start_metrics() -> None:
    """With `PROMETHEUS_MULTIPROC_DIR` (several processes, as under gunicorn), copies this process's counters
    into prometheus_client's files, from a thread that forked workers start again by themselves."""
    global _exporter
    if _exporter is None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from yolo_ffi.metrics import MultiProcessExporter

        _exporter = MultiProcessExporter(_detectors, interval=settings.YOLO_METRICS_INTERVAL)
        _exporter.start()


def sync_metrics() -> None:
    """Copies this process's counters now (a worker about to exit)."""
    if _exporter is not None:
        _exporter.sync()


def metrics_registry() -> Any:
    """The registry `/metrics` serves: every process's counters in multiprocess mode, else this process's."""
    global _registry
    from prometheus_client import CollectorRegistry

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        sync_metrics()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    if _registry is None:
        from yolo_ffi.metrics import DetectorCollector

        _registry = CollectorRegistry()
        _registry.register(DetectorCollector(_detectors))
    return _registry
