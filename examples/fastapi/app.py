"""A FastAPI service on yolo-ffi: the model preloads in the background at start-up, and detect calls run off
the event loop (`Detector.detect_async`), so health checks and other requests are served while the
sessions work.

    YOLO_MODEL=nudenet-320n.onnx uvicorn app:app --port 8000
    curl --data-binary @bus.jpg localhost:8000/detect

Endpoints: `POST /detect` (the image as the request body; optional `conf`, `iou`, `max_det` query
parameters), `GET /healthz` (200 when the model is ready, 503 with the reason while it loads or after it
failed), `GET /`.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, Optional

import yolo_ffi
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

MODEL = os.environ.get("YOLO_MODEL", "nudenet-320n.onnx")
MAX_UPLOAD_BYTES = int(os.environ.get("YOLO_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Returns at once: the model loads on a background thread, and a load that fails leaves the app up.
    app.state.detector = yolo_ffi.Detector(MODEL, async_load=True)
    yield
    app.state.detector.close()


app = FastAPI(lifespan=lifespan)


def _detector(request: Request) -> yolo_ffi.Detector:
    detector: yolo_ffi.Detector = request.app.state.detector
    return detector


@app.get("/")
async def index() -> Dict[str, Any]:
    return {"service": "yolo-ffi FastAPI example", "endpoints": ["POST /detect", "GET /healthz"]}


@app.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """200 once the model is ready, with how many of its sessions run a call now; 503 with the state (and
    the reason of a failed load) otherwise."""
    detector = _detector(request)
    state = detector.state
    body: Dict[str, Any] = {"status": state.name.lower(), "model": os.path.basename(detector.model_path)}
    if state is yolo_ffi.LoadState.READY:
        stats = detector.stats()
        body["sessions_busy"] = stats.sessions - stats.sessions_idle
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
