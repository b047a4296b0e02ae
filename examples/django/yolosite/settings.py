"""Settings of the yolo-ffi example project. Every YOLO_* setting can be overridden from the environment."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _cache() -> Path:
    # Where `make fixtures` (scripts/fetch.sh) puts the demo model.
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("YOLO_FFI_CACHE") or Path(base) / "yolo-ffi")


def _optional_int(name: str):
    value = os.environ.get(name, "").strip()
    return int(value) if value else None


def _optional_float(name: str):
    value = os.environ.get(name, "").strip()
    return float(value) if value else None


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver", *filter(None, os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(","))]

INSTALLED_APPS = ["detection"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "yolosite.urls"
WSGI_APPLICATION = "yolosite.wsgi.application"
DATABASES: dict = {}
USE_TZ = True

# The model, loaded once per process in the background by detection.apps.DetectionConfig.ready().
YOLO_MODEL = os.environ.get("YOLO_MODEL", str(_cache() / "models" / "nudenet-320n.onnx"))
# Sessions per process and threads per session; None lets the library pick from the core count. Under
# gunicorn with several workers, divide the cores between them (for example 1 and 1 with 2 workers on 2 cores).
YOLO_POOL_SIZE = _optional_int("YOLO_POOL_SIZE")
YOLO_THREADS_PER_SESSION = _optional_int("YOLO_THREADS_PER_SESSION")
# Thresholds; None keeps the library's defaults.
YOLO_CONF = _optional_float("YOLO_CONF")
YOLO_IOU = _optional_float("YOLO_IOU")
# Seconds a request waits for a model that is still loading before answering 503.
YOLO_LOAD_WAIT = float(os.environ.get("YOLO_LOAD_WAIT", "0"))
# After a failed load, a request retries it at most this often (seconds): a model that appears later is
# picked up without a restart.
YOLO_RETRY_SECONDS = float(os.environ.get("YOLO_RETRY_SECONDS", "30"))
# The bearer token of POST /admin/reload; empty (the default) turns the endpoint off.
YOLO_ADMIN_TOKEN = os.environ.get("YOLO_ADMIN_TOKEN", "")
# Where POST /admin/reload finds a model named in its `model` field (default: beside YOLO_MODEL).
YOLO_MODELS_DIR = os.environ.get("YOLO_MODELS_DIR") or os.path.dirname(YOLO_MODEL)
# How often (seconds) each process copies its counters for /metrics when PROMETHEUS_MULTIPROC_DIR is set.
YOLO_METRICS_INTERVAL = float(os.environ.get("YOLO_METRICS_INTERVAL", "5"))
# Uploads larger than this are refused with 413 before they reach the decoder.
YOLO_MAX_UPLOAD_BYTES = int(os.environ.get("YOLO_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "yolo_ffi": {"handlers": ["console"], "level": os.environ.get("YOLO_LOG_LEVEL", "INFO")},
        "detection": {"handlers": ["console"], "level": os.environ.get("YOLO_LOG_LEVEL", "INFO")},
    },
}
