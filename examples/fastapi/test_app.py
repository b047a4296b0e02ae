"""The FastAPI example served by uvicorn in a child process, against the real library and model.

Files: `YOLO_MODEL` (default: the demo model that `make fixtures` fetched) and `YOLO_FFI_TEST_IMAGES`
(default: the images folder beside it). Run from this folder: `python -m pytest -q test_app.py`.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import yolo_ffi

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _cache() -> Path:
    done = subprocess.run([str(ROOT / "scripts/fetch.sh"), "path"], check=True, capture_output=True, text=True)
    return Path(done.stdout.strip())


MODEL = Path(os.environ.get("YOLO_MODEL") or _cache() / "models" / "nudenet-320n.onnx")
IMAGES = Path(os.environ.get("YOLO_FFI_TEST_IMAGES") or MODEL.parent.parent / "images")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(
    port: int, method: str, path: str, body: bytes = b"", headers: Optional[Dict[str, str]] = None
) -> Tuple[int, Dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


TOKEN = "test-token"
TASK_MODELS = Path(os.environ.get("YOLO_FFI_TEST_MODELS") or ROOT / "build" / "test-models")


def _serve(model: Path, ready: bool = True) -> Iterator[int]:
    port = _free_port()
    env = {**os.environ, "YOLO_MODEL": str(model), "YOLO_ADMIN_TOKEN": TOKEN, "YOLO_MODELS_DIR": str(TASK_MODELS)}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--port", str(port), "--log-level", "warning"],
        cwd=HERE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                status, _ = request(port, "GET", "/healthz")
                if status == 200 or not ready:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            assert server.poll() is None, "the server exited"
            time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    yield from _serve(MODEL)


def test_detect_returns_the_librarys_detections(port: int) -> None:
    image = (IMAGES / "bus.jpg").read_bytes()
    status, body = request(port, "POST", "/detect?conf=0.05", image)
    assert status == 200, body
    with yolo_ffi.Detector(MODEL, pool_size=1, conf=0.05) as direct:
        expected = [d.to_dict() for d in direct.detect(image)]
    assert body["detections"] == json.loads(json.dumps(expected))
    assert body["model"] == MODEL.name and body["task"] == "detect"


def test_bad_bodies_get_400(port: int) -> None:
    assert request(port, "POST", "/detect", b"")[0] == 400
    status, body = request(port, "POST", "/detect", b"not an image at all")
    assert status == 400 and "image format" in body["error"]
    assert request(port, "POST", "/detect?conf=7", (IMAGES / "bus.jpg").read_bytes())[0] == 400


def test_health_is_answered_while_detect_calls_run(port: int) -> None:
    """The event loop is never blocked by a detect call: `/healthz` is answered while a detect call holds a
    session (the body's `sessions_busy`). A loop that ran detect itself could answer only between calls,
    always with `sessions_busy` 0. An order, not a time: how fast it answers is the machine's."""
    image = (IMAGES / "bus.jpg").read_bytes()
    stop = threading.Event()
    served: List[int] = []

    def client() -> None:
        while not stop.is_set():
            status, _ = request(port, "POST", "/detect", image)
            assert status == 200
            served.append(1)

    clients = [threading.Thread(target=client) for _ in range(4)]
    for c in clients:
        c.start()
    answered, during_a_call = 0, 0
    try:
        # Bounded by the work done, not by time: 200 detects served without one such answer is a failure.
        while during_a_call < 5 and len(served) < 200:
            status, body = request(port, "GET", "/healthz")
            assert status == 200
            answered += 1
            during_a_call += body["sessions_busy"] > 0
    finally:
        stop.set()
        for c in clients:
            c.join(60)
    print(f"/healthz: {answered} answers, {during_a_call} while a detect call ran; {len(served)} detects served")
    assert during_a_call >= 5, f"/healthz was answered only between detect calls ({answered} answers)"


def test_a_model_that_fails_to_load_leaves_the_app_up() -> None:
    missing = MODEL.with_name("missing-model.onnx")
    for port in _serve(missing, ready=False):
        deadline = time.monotonic() + 60
        while (health := request(port, "GET", "/healthz"))[1].get("status") == "loading":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert health[0] == 503 and health[1]["status"] == "failed"
        assert "missing-model.onnx" in health[1]["error"] and str(missing.parent) not in health[1]["error"]
        assert request(port, "POST", "/detect", (IMAGES / "bus.jpg").read_bytes())[0] == 503
        assert request(port, "GET", "/")[0] == 200


def test_reload_needs_the_token_swaps_the_model_and_keeps_it_on_failure() -> None:
    image = (IMAGES / "bus.jpg").read_bytes()
    with yolo_ffi.Detector(TASK_MODELS / "v8_fixed.onnx", pool_size=1) as direct:
        fixed = json.loads(json.dumps([d.to_dict() for d in direct.detect(image)]))
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for port in _serve(MODEL):
        assert request(port, "POST", "/admin/reload")[0] == 401
        assert request(port, "POST", "/admin/reload", headers={"Authorization": "Bearer guess"})[0] == 401
        status, body = request(port, "POST", "/admin/reload?model=v8_fixed.onnx", headers=bearer)
        assert status == 200 and body["model"] == "v8_fixed.onnx", body
        status, body = request(port, "POST", "/detect", image)
        assert (status, body["model"], body["detections"]) == (200, "v8_fixed.onnx", fixed)
        status, body = request(port, "POST", "/admin/reload?model=missing.onnx", headers=bearer)
        assert status == 422 and "keeps serving" in body["error"] and str(TASK_MODELS) not in body["error"], body
        assert request(port, "POST", "/admin/reload?model=../v8_fixed.onnx", headers=bearer)[0] == 400
        status, health = request(port, "GET", "/healthz")
        assert status == 200 and health["reloads"] == {"ok": 1, "failed": 1, "running": False}
        assert (health["provider"], health["provider_fallback"]) == ("cpu", False)


def test_metrics_follow_the_calls(port: int) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    def scrape() -> Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request("GET", "/metrics")
            text = connection.getresponse().read().decode()
        finally:
            connection.close()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    calls = ("yolo_ffi_detect_calls_total", (("detector", "default"),))
    before = scrape()
    for _ in range(3):
        assert request(port, "POST", "/detect", (IMAGES / "bus.jpg").read_bytes())[0] == 200
    assert request(port, "POST", "/detect", b"not an image at all")[0] == 400
    after = scrape()
    assert after[calls] - before[calls] == 3
    failed = ("yolo_ffi_errors_total", (("detector", "default"), ("status", "IMAGE_DECODE_FAILED")))
    assert after[failed] - before.get(failed, 0) == 1
