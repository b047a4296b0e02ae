"""Execution providers from Python, with PyPI's `onnxruntime` (the CPU build): names are checked, an absent
CUDA provider raises `ProviderUnavailableError` unless fall-back was asked for, and the provider in use is
reported."""

from __future__ import annotations

from pathlib import Path

import pytest

import yolo_ffi


def _has_cuda(model_path: Path) -> bool:
    try:
        yolo_ffi.Detector(model_path, providers=["cuda"]).close()
    except yolo_ffi.ProviderUnavailableError:
        return False
    return True


def test_the_default_provider_is_the_cpu(model_path: Path) -> None:
    with yolo_ffi.Detector(model_path) as detector:
        assert detector.provider == "cpu"
        assert detector.stats().provider == "cpu"
    with yolo_ffi.Detector(model_path, providers=["CPU"]) as detector:
        assert detector.provider == "cpu"


@pytest.mark.parametrize(
    ("names", "fragment"),
    [(["tpu"], "unknown execution provider 'tpu'"), (["cpu:1"], "only cuda and tensorrt take a device"),
     (["cuda:x"], "only cuda and tensorrt take a device")],
)
def test_bad_provider_names_are_value_errors(model_path: Path, names: list, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        yolo_ffi.Detector(model_path, providers=names)


def test_a_duplicate_provider_is_an_invalid_argument(model_path: Path) -> None:
    with pytest.raises(yolo_ffi.InvalidArgumentError, match="in the provider list already"):
        yolo_ffi.Detector(model_path, providers=["cuda:0", "cuda"])


def test_an_absent_cuda_provider_raises_unless_fall_back_was_asked(model_path: Path, bus: Path) -> None:
    if _has_cuda(model_path):
        pytest.skip("this onnxruntime has the CUDA provider")
    with pytest.raises(yolo_ffi.ProviderUnavailableError, match="cuda:1 is not available") as failure:
        yolo_ffi.Detector(model_path, providers=["cuda:1", "cpu"])
    assert failure.value.status == 15 and "onnxruntime-gpu" in str(failure.value)
    with yolo_ffi.Detector(model_path, providers=["cuda:1", "cpu"], provider_fallback=True) as detector:
        assert detector.provider == "cpu"
        assert detector.detect(bus) == yolo_ffi.Detector(model_path).detect(bus)
