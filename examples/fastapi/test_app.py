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
from typing import Any, Dict, Iterator, List, Tuple

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


def request(port: int, method: str, path: str, body: bytes = b"") -> Tuple[int, Dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body or None)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def _serve(model: Path, ready: bool = True) -> Iterator[int]:
    port = _free_port()
    env = {**os.environ, "YOLO_MODEL": str(model)}
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


def test_health_answers_at_once_while_four_clients_saturate_detect(port: int) -> None:
    """The event loop is never blocked by a detect call: with 4 clients posting images back to back,
    `/healthz` keeps answering within 50 ms at the 99th percentile (a blocked loop makes it wait for whole
    inferences)."""
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
    try:
        time.sleep(1.0)  # let the clients saturate the sessions
        latencies = []
        for _ in range(150):
            started = time.perf_counter()
            status, _ = request(port, "GET", "/healthz")
            latencies.append(time.perf_counter() - started)
            assert status == 200
            time.sleep(0.02)
    finally:
        stop.set()
        for c in clients:
            c.join(60)
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]
    print(f"/healthz under load: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms; {len(served)} detects served")
    assert len(served) > 20, "the clients did not keep the sessions busy"
    assert p99 < 0.050, f"/healthz p99 {p99 * 1000:.1f} ms while detect calls run"


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
