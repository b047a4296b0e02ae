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
        assert detector.fell_back, "the fall-back is loud: CUDA asked, the CPU used"
        assert detector.detect(bus) == yolo_ffi.Detector(model_path).detect(bus)
        # ... in the metrics too.
        prometheus_client = pytest.importorskip("prometheus_client")
        from yolo_ffi.metrics import DetectorCollector

        registry = prometheus_client.CollectorRegistry()
        registry.register(DetectorCollector({"m": detector}))
        assert registry.get_sample_value("yolo_ffi_provider_fallback", {"detector": "m"}) == 1
    with yolo_ffi.Detector(model_path, providers=["cpu"]) as detector:
        assert not detector.fell_back


def test_openvino_runs_through_its_plugin_or_says_why_not(model_path: Path, bus: Path) -> None:
    # The plugin comes from the installed onnxruntime-ep-openvino, YOLO_FFI_OPENVINO_PLUGIN or the
    # library's cache (`scripts/fetch.sh openvino`); with none of them the load says it found none.
    intel = "GenuineIntel" in Path("/proc/cpuinfo").read_text()
    try:
        detector = yolo_ffi.Detector(model_path, providers=["openvino"])
    except yolo_ffi.ProviderUnavailableError as error:
        assert not intel or "no OpenVINO plugin library was found" in str(error), error
        assert "offers no device" in str(error) or "no OpenVINO plugin library was found" in str(error), error
    else:
        with detector:
            assert detector.provider == "openvino"
            assert len(detector.detect(bus)) == len(yolo_ffi.Detector(model_path).detect(bus))
    with yolo_ffi.Detector(model_path, providers=["openvino", "cpu"], provider_fallback=True) as detector:
        assert detector.provider in ("openvino", "cpu")
        assert detector.detect(bus)


def test_io_binding_is_off_on_the_cpu_by_default_and_gives_the_same_results(model_path: Path, bus: Path) -> None:
    with yolo_ffi.Detector(model_path) as plain, yolo_ffi.Detector(model_path, io_binding=True) as bound:
        assert (plain.io_binding, bound.io_binding) == (False, True)
        assert bound.detect(bus) == plain.detect(bus)
    with yolo_ffi.Detector(model_path, io_binding=False) as off:
        assert off.io_binding is False
    with pytest.raises(ValueError, match="io_binding must be None, True or False"):
        yolo_ffi.Detector(model_path, io_binding=1)  # type: ignore[arg-type]


def test_batched_concurrent_calls_give_each_caller_its_own_result(model_path: Path, bus: Path) -> None:
    import concurrent.futures

    images = [bus.read_bytes()] * 8
    with yolo_ffi.Detector(model_path) as alone:
        expected = alone.detect(images[0])
    with yolo_ffi.Detector(model_path, max_batch=8, max_batch_delay=0.2, pool_size=1) as batched:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(batched.detect, images))
        assert all(r == expected for r in results)
        runs, calls, longest = batched.batch_stats()
        assert calls == 8 and 1 <= runs < 8 and 0 < longest <= 1.0
    with pytest.raises(ValueError, match="max_batch_delay"):
        yolo_ffi.Detector(model_path, max_batch=2, max_batch_delay=-1)
    with pytest.raises(yolo_ffi.InvalidArgumentError, match="max_batch"):
        yolo_ffi.Detector(model_path, max_batch=1000)


def _child_checks(detector: yolo_ffi.Detector, image: bytes, expected: list) -> int:
    """In a forked child: fresh sessions on the same provider, bound afresh, a fresh batcher, the parent's
    results."""
    import concurrent.futures

    try:
        if detector.provider != "cpu" or not detector.io_binding:
            return 2
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(detector.detect, [image] * 4))
        if any(r != expected for r in results):
            return 3
        runs, calls, _ = detector.batch_stats()
        return 0 if calls == 4 and runs >= 1 else 4
    except BaseException:  # noqa: BLE001 - any failure is the child's exit status
        return 5


def test_a_forked_child_gets_its_own_sessions_on_the_same_provider_bound_and_its_own_batcher(
    model_path: Path, bus: Path
) -> None:
    import os

    image = bus.read_bytes()
    detector = yolo_ffi.Detector(
        model_path,
        providers=["cuda", "cpu"],
        provider_fallback=True,
        max_batch=4,
        max_batch_delay=0.05,
        io_binding=True,
    )
    expected = detector.detect(image)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which must never return into pytest
        os._exit(_child_checks(detector, image, expected))
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert detector.detect(image) == expected
    assert detector.batch_stats()[1] == 2, "the child's calls were counted in its own batcher"
    detector.close()
