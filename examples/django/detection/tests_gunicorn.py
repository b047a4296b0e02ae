"""Smoke test of the real deployment shape: gunicorn `--preload` with 2 workers on 127.0.0.1.

The master imports the app (ready() starts the background load) and forks the workers at once; each
worker must answer /healthz and /detect with the same detections; /metrics (prometheus_client's
multiprocess mode) must count every worker's calls; SIGHUP after the model file is replaced must move every
worker to the new model without a failed request; and the whole server must stop cleanly on SIGTERM. Every
wait is bounded. Prints each process's memory (RSS and PSS) for the README.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
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

from .tests import IMAGES, TASK_MODELS

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
    def test_two_preloaded_workers_answer_reload_on_sighup_and_stop_cleanly(self) -> None:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        scratch = Path(tempfile.mkdtemp(prefix="yolo-ffi-gunicorn-"))
        self.addCleanup(shutil.rmtree, scratch, True)
        model = scratch / "model.onnx"
        shutil.copyfile(settings.YOLO_MODEL, model)
        (scratch / "prometheus").mkdir()
        env = dict(os.environ, YOLO_MODEL=str(model), YOLO_POOL_SIZE="1", YOLO_THREADS_PER_SESSION="1",
                   YOLO_LOAD_WAIT="30", GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="2",
                   PROMETHEUS_MULTIPROC_DIR=str(scratch / "prometheus"), YOLO_METRICS_INTERVAL="0.2")  # fmt: skip
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
            calls = self._wait_metric(base, "yolo_ffi_detect_calls_total", self._posted)
            self.assertEqual(calls, self._posted, "/metrics sums every worker's calls")
            workers |= self._reload_on_sighup(base, server, model, expected["bus.jpg"])
            self.assertEqual(self._wait_metric(base, "yolo_ffi_reloads_total", 1, outcome="ok"), 1)
            self.assertEqual(self._wait_metric(base, "yolo_ffi_detect_calls_total", self._posted), self._posted)
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

    _posted = 0

    def _scrape(self, base: str) -> dict:
        """Each sample of /metrics summed over the processes (the `pid` label left out)."""
        from prometheus_client.parser import text_string_to_metric_families

        with urllib.request.urlopen(base + "/metrics", timeout=30) as response:
            text = response.read().decode()
        samples: dict = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, tuple(sorted((k, v) for k, v in sample.labels.items() if k != "pid")))
                samples[key] = samples.get(key, 0) + sample.value
        return samples

    def _wait_metric(self, base: str, name: str, expected: float, **labels: str) -> float:
        """The metric's value once it equals `expected` (each process copies its counts every 0.2 s), or its
        last value after 30 s."""
        key = (name, tuple(sorted({"detector": "default", **labels}.items())))
        value = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            value = self._scrape(base).get(key)
            if value == expected:
                break
            time.sleep(0.2)
        return value

    def _reload_on_sighup(self, base: str, server: subprocess.Popen, model: Path, before: list) -> set:
        """Replaces the model file (by rename, as a deployment does) and sends SIGHUP while a client posts
        without pause: every answer is one model's whole result and none fails, and the workers move to the
        new model. Returns the pids that answered."""
        fresh = model.with_name("fresh.onnx")
        shutil.copyfile(TASK_MODELS / "v8_fixed.onnx", fresh)
        with yolo_ffi.Detector(fresh, pool_size=1) as direct:
            after = [d.to_dict() for d in direct.detect(IMAGES / "bus.jpg")]
        self.assertNotEqual(after, before)
        answers: list = []
        failures: list = []
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                try:
                    status, body, pid = post_image(base + "/detect", IMAGES / "bus.jpg")
                    self._posted += 1
                    answers.append((body["detections"], int(pid)))
                    if status != 200 or body["detections"] not in (before, after):
                        failures.append((status, body))
                except Exception as error:  # noqa: BLE001 - reported below
                    failures.append(repr(error))

        thread = threading.Thread(target=client)
        thread.start()
        try:
            os.replace(fresh, model)
            server.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 120
            # Moved once 10 answers in a row come from the new model.
            while time.monotonic() < deadline and not (len(answers) >= 10 and all(a[0] == after for a in answers[-10:])):
                time.sleep(0.1)
        finally:
            stop.set()
            thread.join(timeout=120)
        self.assertFalse(failures, failures[:3])
        self.assertTrue(any(a[0] == after for a in answers[-10:]) and all(a[0] == after for a in answers[-10:]),
                        "the workers did not move to the new model within 120 s")  # fmt: skip
        return {pid for _, pid in answers}

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
                    self._posted += 1
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
