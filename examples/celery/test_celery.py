"""The Celery example under real failures: a Redis server and Celery workers started by the tests on
127.0.0.1, stopped at the end; every wait is bounded.

Needs Debian's redis-server, and YOLO_TEST_MODEL / YOLO_TEST_IMAGE (the demo model at 320 and bus.jpg);
prints tasks per second and each pool process's resident and proportional memory (docs/scale-out.md).
Run: python -m pytest -q -s test_celery.py
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

HERE = Path(__file__).resolve().parent
MODEL = os.environ.get("YOLO_TEST_MODEL", "")
IMAGE = os.environ.get("YOLO_TEST_IMAGE", "")
IMGSZ = "320"

pytestmark = pytest.mark.skipif(
    not shutil.which("redis-server") or not MODEL or not IMAGE,
    reason="needs redis-server (Debian: redis-server) and YOLO_TEST_MODEL, YOLO_TEST_IMAGE",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    port = free_port()
    folder = tempfile.mkdtemp(prefix="yolo-redis-")
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", folder, "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL,
    )
    try:
        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_for(answers, 20, "redis-server")
        assert listening([server.pid]) == [f"127.0.0.1:{port}"], "redis-server listens beyond 127.0.0.1"
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


class Worker:
    """A `celery worker` process (its main process and prefork pool) serving one queue."""

    def __init__(self, broker: str, queue: str, concurrency: int, model: str = MODEL, **env_vars: str) -> None:
        env = dict(os.environ, YOLO_CELERY_BROKER=broker, YOLO_MODEL=model, YOLO_IMGSZ=IMGSZ, PYTHONPATH=str(HERE),
                   **env_vars)  # fmt: skip
        self.log = tempfile.NamedTemporaryFile(prefix=f"celery-{queue}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "yolo_tasks", "worker", "--pool", "prefork",
             "--concurrency", str(concurrency), "-Q", queue, "-n", f"{queue}@%h", "--include", "probe_tasks",
             "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            cwd=HERE, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.concurrency = concurrency
        wait_for(lambda: len(self.children()) == concurrency and b"ready." in Path(self.log.name).read_bytes(), 60,
                 f"worker {queue} to start {concurrency} processes")

    def children(self) -> List[int]:
        try:
            text = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        except FileNotFoundError:
            return []
        return [int(pid) for pid in text.split()]

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
                raise AssertionError(f"the worker ignored SIGTERM for 60 s:\n{self.output()[-3000:]}")
        return self.process.returncode


def listening(pids: List[int]) -> List[str]:
    """The TCP sockets these processes listen on, as `ss` prints them ("127.0.0.1:6379")."""
    if not shutil.which("ss"):
        pytest.skip("needs ss (Debian: iproute2) to list listening sockets")
    lines = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout.splitlines()
    return [line.split()[3] for line in lines if any(f"pid={pid}," in line for pid in pids)]


def memory(pid: int) -> Dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if parts[0] in ("Rss:", "Pss:"):
            fields[parts[0][:-1].lower()] = int(parts[1]) / 1024
    return fields


@pytest.fixture(scope="module")
def client(broker: str):
    os.environ["YOLO_CELERY_BROKER"] = broker
    sys.path.insert(0, str(HERE))
    import probe_tasks
    import yolo_tasks

    return yolo_tasks, probe_tasks


@pytest.fixture(scope="module")
def image_b64() -> str:
    return base64.b64encode(Path(IMAGE).read_bytes()).decode()


@pytest.fixture(scope="module")
def expected() -> list:
    import yolo_ffi

    with yolo_ffi.Detector(MODEL, imgsz=int(IMGSZ)) as direct:
        return [
            {"class_id": d.class_id, "class_name": d.class_name, "score": d.score, "box": list(d.box)}
            for d in direct.detect(Path(IMAGE).read_bytes())
        ]


def test_200_tasks_over_2_processes_give_the_direct_calls_detections(broker, client, image_b64, expected):
    yolo_tasks, _ = client
    worker = Worker(broker, "two", 2)
    try:
        pids = worker.children()
        start = time.perf_counter()
        results = [yolo_tasks.detect.apply_async((image_b64,), queue="two") for _ in range(200)]
        values = [r.get(timeout=120) for r in results]
        elapsed = time.perf_counter() - start
        assert all(v["detections"] == expected for v in values), "a task's detections differ from a direct call"
        assert {v["model"] for v in values} == {os.path.basename(MODEL)}
        assert {v["worker_pid"] for v in values} == set(pids), "both pool processes served tasks"
        assert listening([worker.process.pid, *pids]) == [], "a Celery worker process listens on a port"
        sizes = {pid: memory(pid) for pid in pids}
        print(f"\ncelery, 2 prefork processes: {200 / elapsed:.1f} tasks/s over 200 tasks")
        for pid, size in sizes.items():
            print(f"celery pool process {pid}: RSS {size['rss']:.0f} MiB, PSS {size['pss']:.0f} MiB")
        main = memory(worker.process.pid)
        print(f"celery main process: RSS {main['rss']:.0f} MiB, PSS {main['pss']:.0f} MiB")
    finally:
        assert worker.stop() == 0


def test_1_process_throughput(broker, client, image_b64, expected):
    yolo_tasks, _ = client
    worker = Worker(broker, "one", 1)
    try:
        start = time.perf_counter()
        results = [yolo_tasks.detect.apply_async((image_b64,), queue="one") for _ in range(100)]
        assert all(r.get(timeout=120)["detections"] == expected for r in results)
        print(f"\ncelery, 1 prefork process: {100 / (time.perf_counter() - start):.1f} tasks/s over 100 tasks")
    finally:
        assert worker.stop() == 0


def test_a_process_killed_mid_task_loses_nothing(broker, client, image_b64, expected, tmp_path):
    yolo_tasks, probe_tasks = client
    worker = Worker(broker, "killed", 2)
    try:
        marker = tmp_path / "starts.txt"
        slow = probe_tasks.slow_detect.apply_async((image_b64, str(marker), 3.0), queue="killed")
        others = [yolo_tasks.detect.apply_async((image_b64,), queue="killed") for _ in range(20)]
        wait_for(lambda: marker.exists() and marker.read_text().strip() != "", 30, "the slow task to start")
        victim = int(marker.read_text().split()[0])
        os.kill(victim, signal.SIGKILL)
        value = slow.get(timeout=90)
        starts = [int(pid) for pid in marker.read_text().split()]
        assert value["detections"] == expected
        assert len(starts) == 2 and starts[0] == victim and value["worker_pid"] != victim, starts
        assert all(r.get(timeout=90)["detections"] == expected for r in others)
        # The pool replaced the killed process.
        wait_for(lambda: len(worker.children()) == 2 and victim not in worker.children(), 30, "a new pool process")
        print(f"\ncelery: killed pool process {victim} mid-task; the task was delivered again and completed "
              f"in {value['worker_pid']} (started {len(starts)} times); 20 other tasks completed")
    finally:
        assert worker.stop() == 0


def test_a_model_that_fails_to_load_fails_the_tasks_with_its_reason(broker, client, image_b64):
    yolo_tasks, _ = client
    worker = Worker(broker, "broken", 1, model="/nonexistent/model.onnx")
    try:
        with pytest.raises(Exception) as failure:
            yolo_tasks.detect.apply_async((image_b64,), queue="broken").get(timeout=30)
        assert "could not load model.onnx" in str(failure.value) and "/nonexistent/model.onnx" in str(failure.value)
    finally:
        assert worker.stop() == 0


def test_sigterm_shuts_the_worker_down_cleanly(broker, client, image_b64):
    yolo_tasks, _ = client
    worker = Worker(broker, "term", 2)
    children = worker.children()
    pending = [yolo_tasks.detect.apply_async((image_b64,), queue="term") for _ in range(10)]
    start = time.monotonic()
    assert worker.stop() == 0, worker.output()[-3000:]
    print(f"\ncelery: SIGTERM -> exit 0 in {time.monotonic() - start:.1f} s")
    assert not any(Path(f"/proc/{pid}").exists() for pid in children), "pool processes left behind"
    log = worker.output()
    assert "Traceback" not in log, log[-3000:]
    # Tasks the worker did not finish stay queued (late acknowledgement): a new worker completes them all.
    successor = Worker(broker, "term", 1)
    try:
        assert all(r.get(timeout=90)["detections"] is not None for r in pending)
    finally:
        assert successor.stop() == 0


def _scrape(port: int) -> Dict[str, float]:
    """Each metric of the endpoint summed over its samples' labels but `le`."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    totals: Dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "le" not in sample.labels:
                totals[sample.name] = totals.get(sample.name, 0) + sample.value
    return totals


def test_a_broadcast_reloads_every_pool_process_without_losing_a_task(broker, client, image_b64, expected, tmp_path):
    import yolo_ffi

    yolo_tasks, _ = client
    models = tmp_path / "models"
    models.mkdir()
    shutil.copyfile(Path(os.environ["YOLO_FFI_TEST_MODELS"]) / "v8_fixed.onnx", models / "fixed.onnx")
    with yolo_ffi.Detector(models / "fixed.onnx", imgsz=int(IMGSZ)) as direct:
        fixed = [
            {"class_id": d.class_id, "class_name": d.class_name, "score": d.score, "box": list(d.box)}
            for d in direct.detect(Path(IMAGE).read_bytes())
        ]
    assert fixed != expected
    (tmp_path / "prometheus").mkdir()
    port = free_port()
    worker = Worker(broker, "reload", 2, YOLO_MODELS_DIR=str(models), PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
                    YOLO_METRICS_PORT=str(port), YOLO_METRICS_INTERVAL="0.2")  # fmt: skip
    try:
        before = set(worker.children())
        destination = [f"reload@{socket.gethostname()}"]

        def broadcast(model: str) -> dict:
            replies = yolo_tasks.app.control.broadcast(
                "yolo_reload", arguments={"model": model}, destination=destination, reply=True, timeout=60, limit=1
            )
            assert len(replies) == 1, replies
            return next(iter(replies[0].values()))

        pending = [yolo_tasks.detect.apply_async((image_b64,), queue="reload") for _ in range(20)]
        reply = broadcast("fixed.onnx")
        assert reply.get("ok") == "fixed.onnx serves", reply
        done = [r.get(timeout=120)["detections"] for r in pending]
        assert all(d in (expected, fixed) for d in done), "every task ran whole on one model"
        # The pool processes end after their task and new ones fork from the reloaded model.
        wait_for(lambda: len(worker.children()) == 2 and not before & set(worker.children()), 60, "a new pool")
        after = [yolo_tasks.detect.apply_async((image_b64,), queue="reload").get(timeout=60) for _ in range(10)]
        assert all(v["detections"] == fixed and v["worker_pid"] not in before for v in after)
        refused = broadcast("missing.onnx")
        assert "keeps serving" in refused["error"] and str(models) not in refused["error"], refused
        assert yolo_tasks.detect.apply_async((image_b64,), queue="reload").get(timeout=60)["detections"] == fixed
        # The main process serves every pool process's counts, ended ones included.
        tasks = len(pending) + len(after) + 1
        wait_for(lambda: _scrape(port).get("yolo_ffi_detect_calls_total") == tasks, 30, f"{tasks} calls in /metrics")
        totals = _scrape(port)
        assert totals["yolo_ffi_reloads_total"] == 2 and totals["yolo_ffi_call_seconds_count"] == tasks, totals
        print(f"\ncelery: yolo_reload broadcast: {len(done)} tasks in flight done, pool {sorted(before)} -> "
              f"{sorted(worker.children())}; /metrics counted {tasks} calls over the processes")
    finally:
        assert worker.stop() == 0, worker.output()[-3000:]
