"""`yolo_ffi.metrics.DetectorCollector`: a registry scraped and parsed with prometheus_client's own parser,
whose counters follow the calls made (successes, failures by status, the call and stage histograms)."""

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
