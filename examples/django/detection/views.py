"""HTTP endpoints: `POST /detect` (multipart field `image`), `GET /healthz`, `GET /metrics` (Prometheus),
`POST /admin/reload` (bearer token), `GET /`."""

from __future__ import annotations

import hmac
import os
from typing import Optional

import yolo_ffi
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from . import service


def _json(payload: dict, status: int = 200, **headers: str) -> JsonResponse:
    response = JsonResponse(payload, status=status)
    # Which worker answered: lets operators (and the gunicorn smoke test) see the load spread.
    response["X-Worker-Pid"] = str(os.getpid())
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


@require_GET
def index(request: HttpRequest) -> JsonResponse:
    """Up whatever the model's state: the app never goes down with its model."""
    return _json(
        {
            "service": "yolo-ffi example",
            "endpoints": ["POST /detect", "GET /healthz", "GET /metrics", "POST /admin/reload"],
        }
    )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 once the model is ready; 503 with the reason while it loads or after it failed to load."""
    ready, details = service.health()
    return _json(details, status=200 if ready else 503)


def _number(request: HttpRequest, name: str, kind: type) -> Optional[float]:
    raw = request.POST.get(name) or request.GET.get(name)
    if raw in (None, ""):
        return None
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None


@csrf_exempt  # an API for programs, not a form in a browser session
@require_POST
def detect(request: HttpRequest) -> JsonResponse:
    """What the model finds in the uploaded image: `{"model", "task", "detections": [...]}` where each
    detection has `class_id`, `class_name`, `score`, `box` and what the task adds (`mask` as cropped run
    lengths, `keypoints`, `xywhr` and `corners`); for a classification model, `"classes"` (the top classes
    with their probabilities) instead of detections; for a semantic segmentation model, `"class_map"` (its
    size and each class's pixels and runs, `ClassMap.to_dict`); for a depth model, `"depth_map"` (its size,
    range and mean).

    Optional form or query fields `conf`, `iou` and `max_det` override the configured thresholds.
    """
    upload = request.FILES.get("image")
    if upload is None:
        return _json({"error": "send the image as a multipart/form-data file field named 'image'"}, 400)
    if upload.size > settings.YOLO_MAX_UPLOAD_BYTES:
        return _json({"error": f"the image is larger than {settings.YOLO_MAX_UPLOAD_BYTES} bytes"}, 413)
    try:
        conf, iou, max_det = _number(request, "conf", float), _number(request, "iou", float), _number(request, "max_det", int)
    except ValueError as error:
        return _json({"error": str(error)}, 400)
    detector = service.current()
    if detector is None:
        _, details = service.health()
        return _json(details, 503, Retry_After="30")
    try:
        if detector.task == "classify":
            found = {"classes": [c.to_dict() for c in detector.classify(upload.read())]}
        elif detector.task == "semantic":
            found = {"class_map": detector.semantic(upload.read()).to_dict()}
        elif detector.task == "depth":
            depth = detector.depth(upload.read())
            found = {"depth_map": {"width": depth.shape[1], "height": depth.shape[0], "min": float(depth.min()),
                                   "max": float(depth.max()), "mean": float(depth.mean(dtype="float64"))}}
        else:
            detections = detector.detect(upload.read(), conf=conf, iou=iou, max_det=max_det)
            found = {"detections": [d.to_dict() for d in detections]}
    except yolo_ffi.NotReadyError as error:
        return _json({"status": "loading", "error": service.public_message(detector, error.message)}, 503, Retry_After="1")
    except yolo_ffi.LoadFailedError as error:
        return _json({"status": "failed", "error": service.public_message(detector, error.message)}, 503, Retry_After="30")
    except yolo_ffi.AcquireTimeoutError as error:
        return _json({"error": error.message}, 503, Retry_After="1")
    except ValueError as error:  # ImageDecodeError, ImageTooLargeError, InvalidArgumentError, bad max_det
        return _json({"error": str(error)}, 400)
    return _json({"model": service.model_name(detector), "task": detector.task, **found})


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The detector's counters in Prometheus' text format (every gunicorn worker's when
    PROMETHEUS_MULTIPROC_DIR is set)."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return HttpResponse(generate_latest(service.metrics_registry()), content_type=CONTENT_TYPE_LATEST)


@csrf_exempt  # an API for programs, authenticated by its token
@require_POST
def admin_reload(request: HttpRequest) -> JsonResponse:
    """Replaces the model of the process that answers while it serves: the configured file read again, or
    the file of `YOLO_MODELS_DIR` named in the form field `model`. Needs `Authorization: Bearer <token>`
    with `YOLO_ADMIN_TOKEN`; off (403) when that setting is empty. 200 with what serves now; 401 without
    the token; 409 while another reload runs; 422 when the new model does not load (the current one keeps
    serving). Under gunicorn with several workers, reload every worker with SIGHUP to the master instead."""
    token = settings.YOLO_ADMIN_TOKEN
    if not token:
        return _json({"error": "reload is off: set YOLO_ADMIN_TOKEN"}, 403)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return _json({"error": "a valid 'Authorization: Bearer <token>' header is required"}, 401, WWW_Authenticate="Bearer")
    try:
        return _json(service.reload(request.POST.get("model") or None))
    except service.ReloadError as error:
        return _json({"error": str(error)}, error.status)
