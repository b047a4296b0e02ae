"""`yolo_ffi.metrics.DetectorCollector`: a registry scraped and parsed with prometheus_client's own parser,
whose counters follow the calls made (successes, failures by status, the call and stage histograms)."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

import yolo_ffi

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from yolo_ffi.metrics import DetectorCollector  # noqa: E402


def _scrape(registry):
    samples = {}
    for family in text_string_to_metric_families(prometheus_client.generate_latest(registry).decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_the_counters_follow_the_calls(synthetic):
    registry = prometheus_client.CollectorRegistry()
    with yolo_ffi.Detector(synthetic / "v8_fixed.onnx", pool_size=1) as detector:
        registry.register(DetectorCollector({"fixed": detector}))
        frame = np.full((64, 64, 3), 90, np.uint8)
        for _ in range(3):
            detector.detect(frame)
        with pytest.raises(yolo_ffi.ImageDecodeError):
            detector.detect(b"not an image")
        got = _scrape(registry)
        fixed = (("detector", "fixed"),)
        assert got[("yolo_ffi_detect_calls_total", fixed)] == 3
        assert got[("yolo_ffi_errors_total", (("detector", "fixed"), ("status", "IMAGE_DECODE_FAILED")))] == 1
        assert got[("yolo_ffi_call_seconds_count", fixed)] == 3
        assert got[("yolo_ffi_call_seconds_bucket", (("detector", "fixed"), ("le", "+Inf")))] == 3
        assert got[("yolo_ffi_call_seconds_sum", fixed)] > 0
        for stage, count in (("decode", 0), ("letterbox", 3), ("run", 3), ("head", 3)):
            key = (("detector", "fixed"), ("stage", stage))
            assert got[("yolo_ffi_stage_seconds_count", key)] == count, stage
        assert got[("yolo_ffi_sessions", (("detector", "fixed"), ("use", "idle")))] == 1
        assert got[("yolo_ffi_model_state", (("detector", "fixed"), ("state", "ready")))] == 1
        detector.detect((synthetic.parent.parent / "tests/fixtures/images/rgb.png").read_bytes())
        got = _scrape(registry)
        assert got[("yolo_ffi_stage_seconds_count", (("detector", "fixed"), ("stage", "decode")))] == 1
        assert got[("yolo_ffi_detect_calls_total", fixed)] == 4
    # A closed detector leaves the scrape.
    assert ("yolo_ffi_detect_calls_total", fixed) not in _scrape(registry)


def test_reloads_batching_and_the_model_file_are_shown(synthetic, model_path, bus):
    registry = prometheus_client.CollectorRegistry()
    with yolo_ffi.Detector(model_path, pool_size=1) as detector:
        registry.register(DetectorCollector({"m": detector}))
        m = (("detector", "m"),)
        got = _scrape(registry)
        info = [k for k in got if k[0] == "yolo_ffi_model_info"]
        assert info == [
            (
                "yolo_ffi_model_info",
                (
                    ("detector", "m"),
                    ("model", model_path.name),
                    ("provider", "cpu"),
                    ("sha256", hashlib.sha256(model_path.read_bytes()).hexdigest()),
                    ("task", "detect"),
                ),
            )
        ]
        assert got[("yolo_ffi_provider_fallback", m)] == 0 and got[("yolo_ffi_reload_running", m)] == 0
        assert got[("yolo_ffi_batched_runs_total", m)] == 0
        detector.reload(synthetic / "v8_fixed.onnx")
        with pytest.raises(yolo_ffi.ModelLoadError):
            detector.reload(synthetic / "missing.onnx")
        detector.detect(bus)
        got = _scrape(registry)
        assert got[("yolo_ffi_reloads_total", (("detector", "m"), ("outcome", "ok")))] == 1
        assert got[("yolo_ffi_reloads_total", (("detector", "m"), ("outcome", "failed")))] == 1
        assert got[("yolo_ffi_reload_seconds", m)] > 0
        assert got[("yolo_ffi_stage_time_seconds_total", (("detector", "m"), ("stage", "call")))] > 0
        info = dict(next(k for k in got if k[0] == "yolo_ffi_model_info")[1])
        assert info["model"] == "v8_fixed.onnx"
        assert info["sha256"] == hashlib.sha256((synthetic / "v8_fixed.onnx").read_bytes()).hexdigest()


_WORKER = """
import os, sys
import numpy as np
import yolo_ffi
from yolo_ffi.metrics import MultiProcessExporter

detector = yolo_ffi.Detector(sys.argv[1], pool_size=1)
exporter = MultiProcessExporter({"fixed": detector}, interval=60)
exporter.start()
children = []
for calls in (3, 5):
    pid = os.fork()
    if pid == 0:
        # The child's thread was started again by the fork hook; its counts start from the parent's.
        for _ in range(calls):
            detector.detect(np.full((64, 64, 3), 90, np.uint8))
        exporter.sync()
        os._exit(0)
    children.append(pid)
for pid in children:
    assert os.waitpid(pid, 0)[1] == 0
detector.detect(np.full((64, 64, 3), 90, np.uint8))
exporter.stop()
"""


def test_the_multiprocess_exporter_sums_the_processes(synthetic, tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    subprocess.run([sys.executable, "-c", _WORKER, str(synthetic / "v8_fixed.onnx")], env=env, check=True, timeout=300)
    # The endpoint's side, as prometheus_client documents it (a process with the variable set).
    scrape = """
import sys
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
sys.stdout.write(generate_latest(registry).decode())
"""
    text = subprocess.run([sys.executable, "-c", scrape], env=env, check=True, capture_output=True, text=True).stdout
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault((sample.name, tuple(sorted((k, v) for k, v in sample.labels.items() if k != "pid"))), []).append(
                sample.value
            )
    fixed = (("detector", "fixed"),)
    assert samples[("yolo_ffi_detect_calls_total", fixed)] == [9], "3 + 5 in the children, 1 in the parent"
    assert samples[("yolo_ffi_call_seconds_count", fixed)] == [9]
    assert samples[("yolo_ffi_call_seconds_bucket", (("detector", "fixed"), ("le", "+Inf")))] == [9]
    assert samples[("yolo_ffi_stage_seconds_count", (("detector", "fixed"), ("stage", "run")))] == [9]
    assert samples[("yolo_ffi_stage_time_seconds_total", (("detector", "fixed"), ("stage", "call")))][0] > 0
