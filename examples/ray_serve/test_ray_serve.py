"""The Ray Serve example on a local Ray cluster started and stopped by the tests: 2 replicas behind Serve's
HTTP proxy on 127.0.0.1, concurrent requests, and a replica killed with SIGKILL.

Ray's own gRPC servers listen on every interface, with no setting to narrow them, so `make test-scale-out`
runs this file inside a private network namespace (`unshare -rn`) whose only interface is loopback; the
first test checks that. Needs YOLO_TEST_MODEL / YOLO_TEST_IMAGE (the demo model at 320 and bus.jpg). Prints
requests per second, each replica's resident and proportional memory, and what the kill cost.
Run: unshare -rn sh -c 'ip link set lo up && exec python -m pytest -q -s test_ray_serve.py'
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

HERE = Path(__file__).resolve().parent
MODEL = os.environ.get("YOLO_TEST_MODEL", "")
IMAGE = os.environ.get("YOLO_TEST_IMAGE", "")

pytestmark = pytest.mark.skipif(not MODEL or not IMAGE, reason="needs YOLO_TEST_MODEL and YOLO_TEST_IMAGE")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def memory(pid: int) -> Dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if parts[0] in ("Rss:", "Pss:"):
            fields[parts[0][:-1].lower()] = int(parts[1]) / 1024
    return fields


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    sys.path.insert(0, str(HERE))
    import ray
    from ray import serve

    import app

    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    started = time.monotonic()
    ray.init(num_cpus=4, include_dashboard=False, _node_ip_address="127.0.0.1", _temp_dir=temp,
             configure_logging=False, log_to_driver=False)
    try:
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(app.build({"model": MODEL, "imgsz": "320", "replicas": "2"}), name="yolo", route_prefix="/detect")
        print(f"\nray serve: cluster and 2 replicas ready in {time.monotonic() - started:.1f} s")
        yield f"http://127.0.0.1:{port}/detect"
    finally:
        serve.shutdown()
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def post(url: str, body: bytes, timeout: float = 30) -> dict:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def image() -> bytes:
    return Path(IMAGE).read_bytes()


@pytest.fixture(scope="module")
def expected(image: bytes) -> list:
    import yolo_ffi

    with yolo_ffi.Detector(MODEL, imgsz=320) as direct:
        return [
            {"class_id": d.class_id, "class_name": d.class_name, "score": d.score, "box": list(d.box)}
            for d in direct.detect(image)
        ]


def test_the_only_network_interface_is_loopback():
    # /proc/net/dev lists this network namespace's interfaces (/sys/class/net may show the host's).
    lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    interfaces = sorted(line.split(":")[0].strip() for line in lines)
    assert interfaces == ["lo"], f"run inside `unshare -rn`: Ray would listen on {interfaces}"


def test_concurrent_requests_give_the_direct_calls_detections(url, image, expected):
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: post(url, image), range(200)))
    elapsed = time.perf_counter() - start
    assert all(r["detections"] == expected for r in replies), "a reply differs from the direct call"
    assert {r["model"] for r in replies} == {os.path.basename(MODEL)}
    pids = sorted({r["replica_pid"] for r in replies})
    assert len(pids) == 2, f"replies came from {pids}, not 2 replicas"
    print(f"ray serve, 2 replicas, 8 clients: {200 / elapsed:.1f} requests/s over 200 requests")
    for pid in pids:
        size = memory(pid)
        print(f"ray serve replica {pid}: RSS {size['rss']:.0f} MiB, PSS {size['pss']:.0f} MiB")


def test_a_killed_replica_is_replaced(url, image, expected):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        before = {r["replica_pid"] for r in pool.map(lambda _: post(url, image), range(40))}
    assert len(before) == 2
    victim = min(before)
    outcomes: List[Tuple[float, bool, int]] = []  # (time since the kill, succeeded, replica pid or 0)
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set() and len(outcomes) < 5000:
            sent = time.monotonic()
            try:
                reply = post(url, image, timeout=10)
                ok, pid = reply["detections"] == expected, reply["replica_pid"]
            except Exception:  # noqa: BLE001 - any failure of the request counts as one
                ok, pid = False, 0
            with lock:
                outcomes.append((sent - killed_at, ok, pid))

    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 90
    replaced_at = None
    while time.monotonic() < deadline:
        with lock:
            fresh = [t for t, ok, pid in outcomes if ok and pid not in before]
        if fresh:
            replaced_at = min(fresh)
            if time.monotonic() - killed_at > replaced_at + 3:
                break
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    failures = [t for t, ok, _ in outcomes if not ok]
    assert replaced_at is not None, f"no new replica answered within 90 s ({len(failures)} failures)"
    window = f" between {min(failures):.2f} s and {max(failures):.2f} s after the kill" if failures else ""
    print(f"ray serve: killed replica {victim}; {len(failures)} of {len(outcomes)} requests failed{window}; "
          f"a new replica answered {replaced_at:.1f} s after the kill")
    # After the replacement, every request succeeds again, from 2 replicas.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        after = list(pool.map(lambda _: post(url, image), range(40)))
    assert all(r["detections"] == expected for r in after)
    assert victim not in {r["replica_pid"] for r in after}
