"""Smoke test of the real deployment shape: gunicorn `--preload` with 2 workers on 127.0.0.1.

The master imports the app (ready() starts the background load) and forks the workers at once; each
worker must answer /healthz and /detect with the same detections, and the whole server must stop cleanly
on SIGTERM. Every wait is bounded. Prints each process's memory (RSS and PSS) for the README.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import yolo_ffi
from django.conf import settings
from django.test import SimpleTestCase

from .tests import IMAGES

EXAMPLE = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post_image(url: str, path: Path, timeout: float = 60) -> tuple[int, dict, str]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{path.name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, json.loads(response.read()), response.headers["X-Worker-Pid"]


def memory_kib(pid: int) -> dict:
    values = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


class GunicornPreloadSmokeTest(SimpleTestCase):
    def test_two_preloaded_workers_answer_and_stop_cleanly(self) -> None:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, YOLO_MODEL=settings.YOLO_MODEL, YOLO_POOL_SIZE="1", YOLO_THREADS_PER_SESSION="1",
                   YOLO_LOAD_WAIT="30", GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="2")  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--graceful-timeout", "20", "yolosite.wsgi"],
            cwd=EXAMPLE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        log: list[str] = []
        reader = threading.Thread(target=lambda: log.extend(server.stdout), daemon=True)
        reader.start()
        try:
            self._wait_healthy(base, server, log)
            with yolo_ffi.Detector(settings.YOLO_MODEL, pool_size=1) as direct:
                expected = {image: [d.to_dict() for d in direct.detect(IMAGES / image)] for image in ("bus.jpg", "zidane.jpg")}
            workers = self._hit_both_workers(base, expected)
            self.assertEqual(len(workers), 2, f"answers came from {workers}")
            self.assertNotIn(server.pid, workers)
            for pid in [server.pid, *sorted(workers)]:
                print(f"gunicorn {'master' if pid == server.pid else 'worker'} {pid}: {memory_kib(pid)} KiB", file=sys.stderr)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                code = server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
                self.fail("gunicorn did not stop within 60 s of SIGTERM:\n" + "".join(log[-40:]))
            reader.join(timeout=10)
        self.assertEqual(code, 0, "".join(log[-40:]))
        text = "".join(log)
        self.assertNotIn("Traceback", text)
        self.assertNotIn("WORKER TIMEOUT", text)
        for pid in workers:
            self.assertFalse(Path(f"/proc/{pid}").exists(), f"worker {pid} outlived the master")

    def _wait_healthy(self, base: str, server: subprocess.Popen, log: list) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            self.assertIsNone(server.poll(), "gunicorn exited during start-up:\n" + "".join(log[-40:]))
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.fail("no healthy worker within 120 s:\n" + "".join(log[-40:]))

    def _hit_both_workers(self, base: str, expected: dict) -> set:
        """Posts pairs of images at once (a busy worker leaves the next request to the other) until both
        workers have answered, at most 40 rounds; every answer must equal the library's detections."""
        workers: set = set()
        failures: list = []
        for _ in range(40):
            def one(image: str) -> None:
                try:
                    status, body, pid = post_image(base + "/detect", IMAGES / image)
                    if status != 200 or body["detections"] != expected[image]:
                        failures.append((image, status, body))
                    workers.add(int(pid))
                except Exception as error:  # noqa: BLE001 - reported below
                    failures.append((image, repr(error)))

            pair = [threading.Thread(target=one, args=(image,)) for image in ("bus.jpg", "zidane.jpg")]
            for thread in pair:
                thread.start()
            for thread in pair:
                thread.join(timeout=120)
            self.assertFalse(failures, failures[:3])
            if len(workers) == 2:
                break
        return workers
