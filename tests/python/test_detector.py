"""The Python package against the real library: inputs, errors, lifetime, load states, logging, runtime."""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import importlib.metadata
import io
import json
import logging
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import yolo_ffi
from yolo_ffi import _capi

from conftest import LAYOUTS, SHARED, needs_shared


def rgb_of(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


# -- the installed package ----------------------------------------------------------------------------------


def test_package_version_is_the_librarys():
    assert yolo_ffi.__version__ == yolo_ffi.version()
    assert importlib.metadata.version("yolo-ffi") == yolo_ffi.version()


@pytest.mark.skipif(os.environ.get("YOLO_FFI_EXPECT_INSTALLED") != "1", reason="only when testing the installed wheel")
def test_runs_from_the_installed_wheel_with_its_bundled_library():
    package = Path(yolo_ffi.__file__).parent
    assert "site-packages" in package.parts, f"imported from {package}, not from the installed wheel"
    libraries = [p.name for p in package.glob("libyolo_ffi*.so")]
    assert libraries == ["libyolo_ffi.abi3.so"], f"the wheel carries {libraries}, not one libyolo_ffi.abi3.so"
    assert Path(_capi._library_path()) == package / "libyolo_ffi.abi3.so"
    assert (package / "py.typed").is_file()
    assert _capi.LIBRARY_ENV not in os.environ


def test_struct_layouts_are_the_headers():
    """Every struct the package reads has the size and field offsets that a C compiler gives the header's
    (`build/layouts`, from tests/c/layouts.c); configs and options are opaque objects with setters."""
    layouts: dict = {}
    for line in Path(LAYOUTS).read_text().splitlines():
        struct, size, field, offset = line.split()
        layouts.setdefault(struct, (int(size), {}))[1][field] = int(offset)
    ours = {
        "yolo_detection": _capi.RawDetection,
        "yolo_mask": _capi.RawMask,
        "yolo_keypoint": _capi.RawKeypoint,
        "yolo_oriented_box": _capi.RawOrientedBox,
        "yolo_class_probability": _capi.RawClassProbability,
        "yolo_class_map": _capi.RawClassMap,
        "yolo_depth_map": _capi.RawDepthMap,
        "yolo_detector_stats": _capi.DetectorStats,
        "yolo_track": _capi.RawTrack,
        "yolo_stage_stats": _capi.StageStats,
        "yolo_reload_stats": _capi.ReloadStats,
    }
    assert set(ours) == set(layouts)
    for struct, cls in ours.items():
        size, offsets = layouts[struct]
        assert ctypes.sizeof(cls) == size, struct
        assert {name: getattr(cls, name).offset for name, _ in cls._fields_} == offsets, struct


def test_config_and_option_values_are_checked_by_the_library(synthetic, detector, bus):
    with pytest.raises(yolo_ffi.InvalidArgumentError, match="conf_threshold"):
        yolo_ffi.Detector(synthetic / "v8_fixed.onnx", conf=float("nan"))
    with pytest.raises(yolo_ffi.InvalidArgumentError, match="imgsz"):
        yolo_ffi.Detector(synthetic / "v8_fixed.onnx", imgsz=20000)
    with pytest.raises(yolo_ffi.InvalidArgumentError, match="iou_threshold"):
        detector.detect(bus, iou=1.5)
    assert detector.detect(bus, conf=0.9, agnostic=True) == detector.detect(bus, conf=0.9, agnostic=True)


def _record_setters(monkeypatch):
    """Records every `yolo_config_set_*` and `yolo_config_add_*` call (name, arguments after the config),
    passing each on to the library."""
    calls = []
    # ctypes keeps each declared function in the library object's attributes (`_capi._declare`).
    for name in [n for n in vars(_capi.lib) if n.startswith(("yolo_config_set_", "yolo_config_add_"))]:
        function = getattr(_capi.lib, name)

        def recorder(config, *arguments, _name=name, _function=function):
            calls.append((_name, arguments))
            return _function(config, *arguments)

        monkeypatch.setattr(_capi.lib, name, recorder)
    return calls


def test_only_what_the_caller_sets_reaches_the_library(synthetic, monkeypatch):
    calls = _record_setters(monkeypatch)
    with yolo_ffi.Detector(synthetic / "v8_fixed.onnx") as plain:
        assert plain.detect(np.zeros((8, 8, 3), np.uint8)) is not None
    assert [name for name, _ in calls] == ["yolo_config_set_model_path", "yolo_config_set_ort_library_path"], calls
    calls.clear()
    # Zero is a value like any other: a threshold of 0 reaches the library, which accepts it.
    with yolo_ffi.Detector(synthetic / "v8_fixed.onnx", conf=0.0, iou=0.0, agnostic=False, load_wait=None):
        pass
    assert ("yolo_config_set_conf_threshold", (0.0,)) in calls and ("yolo_config_set_iou_threshold", (0.0,)) in calls
    assert ("yolo_config_set_class_agnostic", (False,)) in calls
    assert ("yolo_config_set_load_wait_ms", (_capi.WAIT_FOREVER,)) in calls
    assert not any(name == "yolo_config_set_max_detections" for name, _ in calls)


def test_runtime_is_the_onnxruntime_wheels_found_without_importing_it():
    path = yolo_ffi.onnxruntime_library()
    assert path is not None and os.path.isfile(path)
    assert Path(path).parent.parts[-2:] == ("onnxruntime", "capi")
    assert Path(path).name.startswith("libonnxruntime.so.")
    code = "import sys, yolo_ffi; yolo_ffi.onnxruntime_library(); print('onnxruntime' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize("how", ["argument", "environment"])
def test_an_explicit_runtime_overrides_the_wheels(model_path, tmp_path, how, asynchronous):
    # ONNX Runtime loads once per process, so this runs in a fresh interpreter. Loading in the background,
    # a runtime that cannot be loaded fails the load like any other cause, and the app stays up.
    bogus = tmp_path / "libonnxruntime.so"
    bogus.write_bytes(b"not a library")
    argument = f", ort_library={str(bogus)!r}" if how == "argument" else ""
    code = textwrap.dedent(
        f"""
        import yolo_ffi
        try:
            detector = yolo_ffi.Detector({str(model_path)!r}{argument}, async_load={asynchronous})
            assert detector.state is yolo_ffi.LoadState.FAILED
            detector.wait_ready(10)
        except (yolo_ffi.RuntimeUnavailableError, yolo_ffi.LoadFailedError) as error:
            print(type(error).__name__, error)
        """
    )
    env = dict(os.environ, YOLO_FFI_ORT_LIBRARY=str(bogus)) if how == "environment" else dict(os.environ)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    expected = "LoadFailedError" if asynchronous else "RuntimeUnavailableError"
    assert out.stdout.startswith(expected) and str(bogus) in out.stdout, out.stdout


def test_exiting_during_a_background_load_is_clean(model_path):
    # What `manage.py check` does after AppConfig.ready() started a load: exit at once.
    code = f"import yolo_ffi; yolo_ffi.Detector({str(model_path)!r}, async_load=True)"
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, (out.returncode, out.stderr)


# -- detections ---------------------------------------------------------------------------------------------


def test_model_facts(detector):
    assert detector.state is yolo_ffi.LoadState.READY
    assert detector.input_size == (320, 320)
    names = detector.names
    assert len(names) == 18 and names[12] == "FACE_MALE"
    names[0] = "changed"
    assert detector.names[0] != "changed", "names must be a copy"


@needs_shared(SHARED / "reference/ultralytics.json")
@pytest.mark.parametrize("imgsz", [320, 640])
def test_matches_the_ultralytics_reference(model_path, imgsz):
    reference = json.loads((SHARED / "reference/ultralytics.json").read_text())["nudenet-320n.onnx"]
    compared = 0
    with yolo_ffi.Detector(model_path, imgsz=imgsz, pool_size=1) as detector:
        for image, runs in reference.items():
            for conf in ("0.25", "0.05"):
                expected = runs[f"{imgsz}/{conf}"]
                got = detector.detect(SHARED / "images" / image, conf=float(conf))
                assert len(got) == len(expected), f"{image} {imgsz}/{conf}"
                for d, (class_id, score, *box) in zip(got, expected):
                    assert d.class_id == class_id
                    assert abs(d.score - score) < 1e-4
                    assert max(abs(a - b) for a, b in zip(d.box, box)) < 1e-2
                    compared += 1
    assert compared > 10


def test_every_encoded_input_kind_gives_the_same_detections(detector, bus):
    expected = detector.detect(bus, conf=0.05)
    assert expected, "the test image must give detections"
    data = bus.read_bytes()
    for image in (str(bus), data, bytearray(data), memoryview(data), memoryview(data)[::1]):
        assert detector.detect(image, conf=0.05) == expected, type(image)


def test_pixel_inputs_agree_with_each_other_and_with_lossless_bytes(detector, zidane):
    rgb = rgb_of(zidane)
    expected = detector.detect(rgb, conf=0.05)
    assert expected
    assert detector.detect(png_bytes(rgb), conf=0.05) == expected
    assert detector.detect(np.ascontiguousarray(rgb[:, :, ::-1]), conf=0.05, channels="bgr") == expected
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])
    assert detector.detect(rgba, conf=0.05) == expected
    assert detector.detect(np.ascontiguousarray(rgba[:, :, [2, 1, 0, 3]]), conf=0.05, channels="bgr") == expected
    from PIL import Image

    assert detector.detect(Image.fromarray(rgb), conf=0.05) == expected
    grey = rgb[:, :, 1].copy()
    assert detector.detect(grey, conf=0.05) == detector.detect(np.dstack([grey] * 3), conf=0.05)
    assert detector.detect(grey[:, :, None], conf=0.05) == detector.detect(grey, conf=0.05)


def test_row_strided_views_are_read_in_place_and_others_copied(detector, bus):
    rgb = rgb_of(bus)
    canvas = np.zeros((rgb.shape[0] + 20, rgb.shape[1] + 40, 3), np.uint8)
    canvas[10:-10, 30:-10] = rgb
    crop = canvas[10:-10, 30:-10]
    assert not crop.flags.c_contiguous
    array, pixels_len, width, height, stride, _ = yolo_ffi.pixel_buffer(crop)
    assert array is crop and stride == canvas.strides[0]
    assert pixels_len == (height - 1) * stride + width * 3 and (width, height) == (rgb.shape[1], rgb.shape[0])
    assert detector.detect(crop) == detector.detect(rgb)
    every_other_column = rgb[:, ::2]
    copied = yolo_ffi.pixel_buffer(every_other_column)[0]
    assert copied is not every_other_column and copied.flags.c_contiguous
    assert detector.detect(every_other_column) == detector.detect(np.ascontiguousarray(every_other_column))


def test_per_call_overrides(detector, bus):
    loose = detector.detect(bus, conf=0.05)
    assert len(loose) > len(detector.detect(bus))
    assert detector.detect(bus, conf=0.05, max_det=2) == loose[:2]
    assert all(d.score > 0.2 for d in detector.detect(bus, conf=0.2))
    scores = [d.score for d in loose]
    assert scores == sorted(scores, reverse=True)


def test_detect_batch_matches_single_calls_for_same_size_images(detector, bus, zidane):
    singles = [detector.detect(image, conf=0.05) for image in (bus, bus.read_bytes(), bus)]
    assert detector.detect_batch([bus, bus.read_bytes(), memoryview(bus.read_bytes())], conf=0.05) == singles
    assert detector.detect_batch([]) == []
    mixed = detector.detect_batch([bus, zidane])
    assert len(mixed) == 2 and all(isinstance(d, yolo_ffi.Detection) for d in mixed[0])
    with pytest.raises(yolo_ffi.ImageDecodeError, match="image 1"):
        detector.detect_batch([bus, b"junk"])
    with pytest.raises(TypeError):
        detector.detect_batch([np.zeros((4, 4, 3), np.uint8)])  # type: ignore[list-item]


def test_detection_helpers():
    d = yolo_ffi.Detection(class_id=1, class_name="a", score=0.5, x1=10, y1=20, x2=30, y2=60)
    assert d.box == (10, 20, 30, 60)
    assert d.xywh == (20, 40, 20, 40)
    assert d.to_dict() == {"class_id": 1, "class_name": "a", "score": 0.5, "box": [10, 20, 30, 60]}
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.score = 1.0  # type: ignore[misc]


# -- errors -------------------------------------------------------------------------------------------------


def test_load_errors_raise_their_own_exceptions(synthetic, tmp_path):
    missing = tmp_path / "missing.onnx"
    with pytest.raises(yolo_ffi.ModelLoadError, match="missing.onnx") as caught:
        yolo_ffi.Detector(missing)
    assert caught.value.status == 3 and isinstance(caught.value, yolo_ffi.YoloError)
    with pytest.raises(yolo_ffi.InvalidModelError):
        yolo_ffi.Detector(synthetic / "not_yolo.onnx")
    with pytest.raises(yolo_ffi.InvalidArgumentError, match="conf"):
        yolo_ffi.Detector(synthetic / "v8_fixed.onnx", conf=1.5)
    with pytest.raises(yolo_ffi.InvalidArgumentError):
        yolo_ffi.Detector(synthetic / "v8_fixed.onnx", iou=float("nan"))
    with pytest.raises(ValueError):
        yolo_ffi.Detector(synthetic / "v8_fixed.onnx", max_det=0)
    with pytest.raises(ValueError):
        yolo_ffi.Detector(synthetic / "v8_fixed.onnx", pool_size=-1)
    with pytest.raises(yolo_ffi.InvalidModelError, match="exceeds the maximum of 16384"):
        yolo_ffi.Detector(synthetic / "hostile" / "imgsz_bomb.onnx")


def test_every_status_of_the_library_has_its_own_exception():
    known = [s for s in range(1, 64) if _capi.lib.yolo_status_string(s) != b"unknown status"]
    assert known == list(range(1, len(known) + 1)), "statuses are numbered without gaps"
    assert sorted(_capi.STATUS_NAMES) == [0, *known], "yolo_status_name names every status"
    for status in known:
        error = yolo_ffi._errors.error_for(status, "message")
        assert type(error) is not yolo_ffi.YoloError, f"status {status} has no exception class"
        assert error.status == status == type(error).status_code
        assert type(error).status_name == _capi.STATUS_NAMES[status]
    out_of_memory = [v for v, name in _capi.STATUS_NAMES.items() if name == "OUT_OF_MEMORY"][0]
    assert isinstance(yolo_ffi._errors.error_for(out_of_memory, "m"), (yolo_ffi.OutOfMemoryError, MemoryError))


def test_the_constants_ctypes_restates_are_the_headers():
    """ctypes cannot read the header, so _capi restates a few of its values; they are checked against it."""
    header = (Path(__file__).resolve().parents[2] / "include" / "yolo_ffi.h").read_text()
    values = {name: int(value) for name, value in re.findall(r"^\s*(YOLO_[A-Z0-9_]+) = (\d+),", header, re.M)}
    defines = dict(re.findall(r"^#define (YOLO_[A-Z0-9_]+) (\S+)", header, re.M))
    assert defines["YOLO_WAIT_FOREVER"] == defines["YOLO_DEFAULT_BATCH_DELAY"] == "UINT32_MAX"
    assert _capi.WAIT_FOREVER == _capi.DEFAULT_BATCH_DELAY == 2**32 - 1
    assert _capi.IO_BINDING == {
        None: values["YOLO_IO_BINDING_AUTO"],
        True: values["YOLO_IO_BINDING_ON"],
        False: values["YOLO_IO_BINDING_OFF"],
    }
    for name in ("RGB8", "BGR8", "RGBA8", "BGRA8", "GRAY8"):
        assert getattr(_capi, f"PIXEL_{name}") == values[f"YOLO_PIXEL_FORMAT_{name}"], name
    assert _capi.TRACKER_KINDS == {
        "bytetrack": values["YOLO_TRACKER_KIND_BYTETRACK"],
        "botsort": values["YOLO_TRACKER_KIND_BOTSORT"],
    }
    assert (_capi.RELOAD_KEEP_TASK, _capi.RELOAD_KEEP_CLASS_COUNT) == (
        values["YOLO_RELOAD_FLAG_KEEP_TASK"],
        values["YOLO_RELOAD_FLAG_KEEP_CLASS_COUNT"],
    )
    assert _capi.GMC_METHODS == {
        "none": values["YOLO_GMC_METHOD_NONE"],
        "sparseOptFlow": values["YOLO_GMC_METHOD_SPARSE_OPT_FLOW"],
    }


def test_task_and_provider_names_come_from_the_library():
    assert _capi.TASKS == {1: "detect", 2: "segment", 3: "pose", 4: "obb", 5: "classify", 6: "semantic", 7: "depth"}
    assert set(_capi.PROVIDERS) == {"cpu", "cuda", "tensorrt", "openvino"}
    assert _capi.lib.yolo_task_name(0) is None and _capi.lib.yolo_provider_name(0) is None


def test_boxes_keep_their_promise_on_crafted_outputs(synthetic):
    # Infinite and NaN scores and coordinates, swapped corners, classes beyond the model's: only the boxes
    # that can keep the promise come back, inside the image, corners ordered, of a named class.
    with yolo_ffi.Detector(synthetic / "hostile" / "crafted_e2e.onnx") as detector:
        found = detector.detect(np.full((64, 64, 3), 114, np.uint8))
        assert [(d.class_id, d.box) for d in found] == [(1, (10.0, 10.0, 50.0, 50.0)), (3, (4.0, 4.0, 12.0, 12.0))]
        assert all(d.class_name == "bd"[i] for i, d in enumerate(found))


def test_bad_images_raise_clear_errors(detector, tmp_path):
    with pytest.raises(yolo_ffi.ImageDecodeError) as caught:
        detector.detect(b"definitely not an image")
    assert isinstance(caught.value, ValueError) and caught.value.message
    with pytest.raises(yolo_ffi.YoloError):
        detector.detect(b"")
    with pytest.raises(FileNotFoundError):
        detector.detect(tmp_path / "nope.jpg")
    with pytest.raises(TypeError, match="uint8"):
        detector.detect(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        detector.detect(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ValueError, match="channels"):
        detector.detect(np.zeros((10, 10, 3), np.uint8), channels="hsv")
    with pytest.raises(TypeError):
        detector.detect(12345)  # type: ignore[arg-type]
    with pytest.raises(yolo_ffi.InvalidArgumentError):
        detector.detect(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(yolo_ffi.InvalidArgumentError):
        detector.detect(np.zeros((10, 10, 3), np.uint8), conf=-0.5)


def test_oversized_images_are_refused_before_decoding(model_path):
    # A PNG header claiming 100000 x 100000 pixels, with no data behind it.
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # 30 GB of pixels declared, a few hundred bytes of zeros compressed: what a decompression bomb looks like.
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
    bomb = b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(bytes(1 << 20))) + chunk(b"IEND", b"")
    assert len(bomb) < 2000
    with yolo_ffi.Detector(model_path, pool_size=1, max_image_pixels=1_000_000) as detector:
        with pytest.raises(yolo_ffi.ImageTooLargeError, match="pixels"):
            detector.detect(bomb)


# -- lifetime -----------------------------------------------------------------------------------------------


def test_close_is_idempotent_and_later_calls_raise(model_path, bus):
    detector = yolo_ffi.Detector(model_path, pool_size=1)
    with detector:
        assert detector.detect(bus) is not None
    assert detector.closed
    detector.close()
    with pytest.raises(yolo_ffi.InvalidHandleError):
        detector.detect(bus)
    with pytest.raises(yolo_ffi.InvalidHandleError):
        _ = detector.state
    assert "closed" in repr(detector)


def test_garbage_collection_frees_the_handle(model_path):
    detector = yolo_ffi.Detector(model_path, pool_size=1)
    handle = detector._handle
    del detector
    gc.collect()
    state = _capi.c_uint32() if hasattr(_capi, "c_uint32") else None
    import ctypes

    state = ctypes.c_uint32()
    assert _capi.lib.yolo_state(handle, ctypes.byref(state)) == yolo_ffi.InvalidHandleError.status_code


# -- background loads ---------------------------------------------------------------------------------------


def test_async_load_reports_ready(model_path, bus, detector):
    with yolo_ffi.Detector(model_path, pool_size=1, threads_per_session=2, async_load=True) as loading:
        assert loading.state in (yolo_ffi.LoadState.LOADING, yolo_ffi.LoadState.READY)
        assert loading.wait_ready(timeout=60) is True
        assert loading.state is yolo_ffi.LoadState.READY and loading.load_error is None
        assert loading.stats().load_time > 0
        assert loading.detect(bus) == detector.detect(bus)


def test_a_call_with_load_wait_waits_for_the_load(model_path, bus, detector):
    with yolo_ffi.Detector(model_path, pool_size=3, threads_per_session=1, async_load=True, load_wait=None) as d:
        assert d.detect(bus) == detector.detect(bus)


def test_failed_async_load_leaves_a_usable_handle(tmp_path, bus):
    missing = tmp_path / "gone.onnx"
    with yolo_ffi.Detector(missing, async_load=True) as failed:
        with pytest.raises(yolo_ffi.LoadFailedError, match="gone.onnx"):
            failed.wait_ready(timeout=30)
        assert failed.state is yolo_ffi.LoadState.FAILED
        assert "gone.onnx" in failed.load_error
        with pytest.raises(yolo_ffi.LoadFailedError):
            failed.detect(bus)
        assert failed.stats().state is yolo_ffi.LoadState.FAILED


def test_preload_gives_one_detector_per_process_and_retries_failures(model_path, tmp_path):
    first = yolo_ffi.preload(model_path, pool_size=1, threads_per_session=1)
    assert yolo_ffi.preload(str(model_path), pool_size=1, threads_per_session=1) is first
    assert yolo_ffi.preload(model_path, pool_size=2, threads_per_session=1) is not first
    assert first.wait_ready(60)
    missing = tmp_path / "later.onnx"
    failing = yolo_ffi.preload(missing)
    with pytest.raises(yolo_ffi.LoadFailedError):
        failing.wait_ready(30)
    retried = yolo_ffi.preload(missing)
    assert retried is not failing and failing.closed


def test_log_events_reach_the_logging_module(model_path, caplog):
    caplog.set_level(logging.INFO, logger="yolo_ffi")
    with yolo_ffi.Detector(model_path, pool_size=1, threads_per_session=2, imgsz=416):
        pass
    messages = [r.getMessage() for r in caplog.records if r.name == "yolo_ffi"]
    assert any(m.startswith("loaded ") and "nudenet" in m for m in messages), messages


# -- the command line ---------------------------------------------------------------------------------------


def test_cli_prints_json_and_draws(model_path, bus, zidane, tmp_path, detector):
    out = subprocess.run(
        [sys.executable, "-m", "yolo_ffi", str(model_path), str(bus), str(zidane), "--json", "--conf", "0.05",
         "--save", str(tmp_path / "drawn")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["image"] for line in lines] == [str(bus), str(zidane)]
    expected = [d.to_dict() for d in detector.detect(bus, conf=0.05)]
    assert [d["class_id"] for d in lines[0]["detections"]] == [d["class_id"] for d in expected]
    assert all(abs(a["score"] - b["score"]) < 1e-6 for a, b in zip(lines[0]["detections"], expected))
    from PIL import Image

    for image in (bus, zidane):
        with Image.open(tmp_path / "drawn" / f"{image.stem}.png") as drawn, Image.open(image) as original:
            assert drawn.size == original.size
            assert np.any(np.asarray(drawn.convert("RGB")) != np.asarray(original.convert("RGB")))


def test_cli_reports_bad_images_and_models(model_path, bus, tmp_path):
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"junk")
    out = subprocess.run([sys.executable, "-m", "yolo_ffi", str(model_path), str(junk), str(bus), "--save", str(tmp_path / "one.png")],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 1
    assert "junk.jpg: error:" in out.stderr and f"{bus}:" in out.stdout
    out = subprocess.run([sys.executable, "-m", "yolo_ffi", str(tmp_path / "none.onnx"), str(bus)], capture_output=True, text=True)
    assert out.returncode == 2 and "cannot load" in out.stderr
