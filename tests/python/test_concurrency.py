"""Threads and fork: concurrent detects agree with sequential ones, and forked children detect correctly."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading

import yolo_ffi


def test_four_threads_agree_with_one_and_really_overlap(model_path, bus, zidane):
    with yolo_ffi.Detector(model_path, pool_size=2, threads_per_session=1) as detector:
        images = [bus, zidane, bus.read_bytes(), zidane.read_bytes()]
        expected = [detector.detect(image, conf=0.05) for image in images]
        failures: list = []
        barrier = threading.Barrier(4)

        def work(index: int) -> None:
            barrier.wait()
            for round_ in range(6):
                image = (index + round_) % len(images)
                got = detector.detect(images[image], conf=0.05)
                if got != expected[image]:
                    failures.append((index, round_, image))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not failures
        stats = detector.stats()
        assert stats.detects == 4 + 4 * 6
        # Four threads on a pool of two: with the GIL released during detect, calls overlap and some find
        # both sessions busy. Had ctypes held the GIL, calls would run one at a time and never wait.
        assert stats.pool_waits > 0, stats


def _child_detect(detector: yolo_ffi.Detector, image, expected) -> int:
    try:
        return 0 if detector.detect(image, conf=0.05) == expected else 3
    except BaseException:  # noqa: BLE001 - any failure is the child's exit status
        return 4


def test_os_fork_children_detect_like_the_parent(model_path, bus):
    detector = yolo_ffi.Detector(model_path, pool_size=2, threads_per_session=1)
    expected = detector.detect(bus, conf=0.05)
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which must never return into pytest
            os._exit(_child_detect(detector, bus, expected))
        children.append(pid)
    for pid in children:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    assert detector.detect(bus, conf=0.05) == expected
    detector.close()


_POOL_DETECTOR = None


def _pool_task(image) -> list:
    return _POOL_DETECTOR.detect(image, conf=0.05)


def test_multiprocessing_fork_pool(model_path, bus, zidane):
    global _POOL_DETECTOR
    _POOL_DETECTOR = yolo_ffi.Detector(model_path, pool_size=1, threads_per_session=2)
    try:
        images = [bus, zidane, bus, zidane]
        expected = [_POOL_DETECTOR.detect(image, conf=0.05) for image in images]
        with multiprocessing.get_context("fork").Pool(2) as pool:
            assert pool.map(_pool_task, images) == expected
    finally:
        _POOL_DETECTOR.close()
        _POOL_DETECTOR = None


def test_fork_during_a_background_load_and_plain_exit(model_path, bus):
    # The gunicorn --preload shape: a background load starts, the process forks at once, and each child
    # ends through a normal interpreter exit (ONNX Runtime's own exit handlers hang in forked children).
    code = textwrap.dedent(
        f"""
        import os, sys, yolo_ffi
        detector = yolo_ffi.Detector({str(model_path)!r}, pool_size=1, threads_per_session=1, async_load=True)
        children = []
        for _ in range(2):
            pid = os.fork()
            if pid == 0:
                assert detector.wait_ready(60)
                sys.exit(0 if detector.detect({str(bus)!r}) else 5)
            children.append(pid)
        assert detector.wait_ready(60)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
        print(codes)
        sys.exit(max(codes))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert out.stdout.strip() == "[0, 0]"
