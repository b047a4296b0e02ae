"""A FastAPI service on yolo-ffi: the model preloads in the background at start-up, and detect calls run off
the event loop (`Detector.detect_async`), so health checks and other requests are served while the
sessions work.

    YOLO_MODEL=nudenet-320n.onnx uvicorn app:app --port 8000
    curl --data-binary @bus.jpg localhost:8000/detect

Endpoints: `POST /detect` (the image as the request body; optional `conf`, `iou`, `max_det` query
parameters), `GET /healthz` (200 when the model is ready, 503 with the reason while it loads or after it
failed), `GET /metrics` (Prometheus), `POST /admin/reload` (bearer token), `GET /`.

Settings, from the environment: `YOLO_MODEL`, `YOLO_MAX_UPLOAD_BYTES`, `YOLO_ADMIN_TOKEN` (the bearer token of
`/admin/reload`; unset, the endpoint is off) and `YOLO_MODELS_DIR` (where `/admin/reload` finds a model it
is given by name; default: beside `YOLO_MODEL`).
"""

from __future__ import annotations

import hmac
import os
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, Optional

import yolo_ffi
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

MODEL = os.environ.get("YOLO_MODEL", "nudenet-320n.onnx")
MAX_UPLOAD_BYTES = int(os.environ.get("YOLO_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))
ADMIN_TOKEN = os.environ.get("YOLO_ADMIN_TOKEN", "")
MODELS_DIR = os.environ.get("YOLO_MODELS_DIR") or os.path.dirname(os.path.abspath(MODEL))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Returns at once: the model loads on a background thread, and a load that fails leaves the app up.
    app.state.detector = yolo_ffi.Detector(MODEL, async_load=True)
    from prometheus_client import CollectorRegistry
    from yolo_ffi.metrics import DetectorCollector

    app.state.metrics = CollectorRegistry()
    app.state.metrics.register(DetectorCollector({"default": app.state.detector}))
    yield
    app.state.detector.close()


app = FastAPI(lifespan=lifespan)


def _detector(request: Request) -> yolo_ffi.Detector:
    detector: yolo_ffi.Detector = request.app.state.detector
    return detector


@app.get("/")
async def index() -> Dict[str, Any]:
    return {
        "service": "yolo-ffi FastAPI example",
        "endpoints": ["POST /detect", "GET /healthz", "GET /metrics", "POST /admin/reload"],
    }


@app.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """200 once the model is ready, with how many of its sessions run a call now; 503 with the state (and
    the reason of a failed load) otherwise."""
    detector = _detector(request)
    state = detector.state
    body: Dict[str, Any] = {"status": state.name.lower(), "model": os.path.basename(detector.model_path)}
    if state is yolo_ffi.LoadState.READY:
        stats = detector.stats()
        reloads = detector.reload_stats()
        body["sessions_busy"] = stats.sessions - stats.sessions_idle
        body["provider"], body["provider_fallback"] = detector.provider, detector.fell_back
        body["sha256"] = detector.sha256
        body["reloads"] = {"ok": reloads.reloads, "failed": reloads.failures, "running": reloads.running}
    elif state is yolo_ffi.LoadState.FAILED:
        body["error"] = (detector.load_error or "").replace(os.path.dirname(os.path.abspath(detector.model_path)), "")
    return JSONResponse(body, status_code=200 if state is yolo_ffi.LoadState.READY else 503)


@app.post("/detect")
async def detect(
    request: Request, conf: Optional[float] = None, iou: Optional[float] = None, max_det: Optional[int] = None
) -> JSONResponse:
    """What the model finds in the image sent as the request body, as the Django example returns it."""
    image = await request.body()
    if not image:
        return JSONResponse({"error": "send the image as the request body"}, status_code=400)
    if len(image) > MAX_UPLOAD_BYTES:
        return JSONResponse({"error": f"the image is larger than {MAX_UPLOAD_BYTES} bytes"}, status_code=413)
    detector = _detector(request)
    try:
        if detector.task == "classify":
            found: Dict[str, Any] = {"classes": [c.to_dict() for c in await detector.classify_async(image)]}
        else:
            detections = await detector.detect_async(image, conf=conf, iou=iou, max_det=max_det)
            found = {"detections": [d.to_dict() for d in detections]}
    except (yolo_ffi.NotReadyError, yolo_ffi.LoadFailedError, yolo_ffi.AcquireTimeoutError) as error:
        return JSONResponse({"error": error.message}, status_code=503, headers={"Retry-After": "1"})
    except ValueError as error:  # ImageDecodeError, ImageTooLargeError, InvalidArgumentError
        return JSONResponse({"error": str(error)}, status_code=400)
    return JSONResponse({"model": os.path.basename(detector.model_path), "task": detector.task, **found})


@app.get("/metrics")
async def metrics(request: Request) -> Response:
    """The detector's counters in Prometheus' text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)


@app.post("/admin/reload")
async def admin_reload(request: Request, model: Optional[str] = None) -> JSONResponse:
    """Replaces the model while requests go on, without blocking the event loop: the configured file read
    again, or the file of `YOLO_MODELS_DIR` named by the `model` query parameter. Needs
    `Authorization: Bearer <YOLO_ADMIN_TOKEN>`; off (403) without that setting. 200 with what serves now;
    401 without the token; 409 while another reload runs; 422 when the new model does not load (the current
    one keeps serving)."""
    if not ADMIN_TOKEN:
        return JSONResponse({"error": "reload is off: set YOLO_ADMIN_TOKEN"}, status_code=403)
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {ADMIN_TOKEN}".encode()):
        return JSONResponse(
            {"error": "a valid 'Authorization: Bearer <token>' header is required"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if model is not None and (os.path.basename(model) != model or model in ("", ".", "..")):
        return JSONResponse({"error": "model must be a file name in YOLO_MODELS_DIR, not a path"}, status_code=400)
    detector = _detector(request)
    path = os.path.join(MODELS_DIR, model) if model is not None else MODEL
    try:
        await detector.reload_async(path)
    except yolo_ffi.BusyError as error:
        return JSONResponse({"error": error.message}, status_code=409)
    except yolo_ffi.YoloError as error:
        message = error.message
        for folder in {os.path.dirname(os.path.abspath(path)), os.path.dirname(os.path.abspath(detector.model_path))}:
            message = message.replace(folder + os.sep, "")  # responses do not show where models lie
        return JSONResponse({"error": message}, status_code=422)
    body = {"status": "reloaded", "model": os.path.basename(detector.model_path), "task": detector.task}
    return JSONResponse({**body, "sha256": detector.sha256})
