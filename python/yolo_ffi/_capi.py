"""Every ctypes declaration of libyolo_ffi's C API, in one place: structs, callbacks, `argtypes` and `restype`.

Mirrors `include/yolo_ffi.h`, which cbindgen generates from the Rust sources. Configs and per-call options
are opaque objects set through functions, so no struct layout is restated for them; the tests check the
layouts of the structs that are read (detections, stats, masks, keypoints, oriented boxes, classes).
Nothing here raises on a status: `_errors.check` does that.

The library is found next to this file (the wheel bundles it); `YOLO_FFI_LIBRARY` names another build,
for developers testing a fresh `cargo build` without reinstalling.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_float,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Any, Dict

LIBRARY_ENV = "YOLO_FFI_LIBRARY"

#: `yolo_config_set_load_wait_ms` value that waits for ever (YOLO_WAIT_FOREVER).
WAIT_FOREVER = 0xFFFF_FFFF
#: `yolo_config_set_batching` delay that keeps the library's default (YOLO_DEFAULT_BATCH_DELAY).
DEFAULT_BATCH_DELAY = 0xFFFF_FFFF
LATENCY_BUCKETS = 32
ERROR_SLOTS = 32

# yolo_io_binding: None (automatic), True, False.
IO_BINDING = {None: 1, True: 2, False: 3}

# yolo_pixel_format
PIXEL_RGB8 = 1
PIXEL_BGR8 = 2
PIXEL_RGBA8 = 3
PIXEL_BGRA8 = 4
PIXEL_GRAY8 = 5

status_t = c_uint32
detector_p = c_void_p  # struct yolo_detector *: opaque, checked by the library
result_p = c_void_p  # struct yolo_result *: opaque, owned until yolo_result_free
config_p = c_void_p  # struct yolo_config *: opaque, owned until yolo_config_free
options_p = c_void_p  # struct yolo_detect_options *: opaque, owned until yolo_detect_options_free
tracker_config_p = c_void_p  # struct yolo_tracker_config *: opaque, owned until yolo_tracker_config_free
tracker_p = c_void_p  # struct yolo_tracker *: opaque, owned until yolo_tracker_free

# yolo_stage: the stages of a call, and the whole call
STAGES = {"decode": 1, "letterbox": 2, "run": 3, "head": 4, "call": 5}
# yolo_reload_flag
RELOAD_KEEP_TASK = 1
RELOAD_KEEP_CLASS_COUNT = 2
# yolo_tracker_kind and yolo_gmc_method
TRACKER_KINDS = {"bytetrack": 1, "botsort": 2}
GMC_METHODS = {"none": 1, "sparseOptFlow": 2}

LOAD_CALLBACK = CFUNCTYPE(None, c_void_p, status_t, c_char_p)
LOG_CALLBACK = CFUNCTYPE(None, c_void_p, c_uint32, c_char_p)


class RawDetection(Structure):
    """`struct yolo_detection`."""

    _fields_ = [
        ("x1", c_float),
        ("y1", c_float),
        ("x2", c_float),
        ("y2", c_float),
        ("score", c_float),
        ("class_id", c_uint32),
    ]


class RawMask(Structure):
    """`struct yolo_mask`."""

    _fields_ = [
        ("left", c_uint32),
        ("top", c_uint32),
        ("width", c_uint32),
        ("height", c_uint32),
        ("data", c_void_p),
        ("data_len", c_size_t),
    ]


class RawKeypoint(Structure):
    """`struct yolo_keypoint`."""

    _fields_ = [("x", c_float), ("y", c_float), ("confidence", c_float)]


class RawOrientedBox(Structure):
    """`struct yolo_oriented_box`."""

    _fields_ = [
        ("cx", c_float),
        ("cy", c_float),
        ("width", c_float),
        ("height", c_float),
        ("angle", c_float),
        ("corners", c_float * 8),
    ]


class RawClassProbability(Structure):
    """`struct yolo_class_probability`."""

    _fields_ = [("class_id", c_uint32), ("probability", c_float)]


class RawClassMap(Structure):
    """`struct yolo_class_map`."""

    _fields_ = [
        ("width", c_uint32),
        ("height", c_uint32),
        ("element_size", c_size_t),
        ("data", c_void_p),
        ("data_len", c_size_t),
        ("pixel_counts", c_void_p),
        ("class_count", c_size_t),
    ]


class RawDepthMap(Structure):
    """`struct yolo_depth_map`."""

    _fields_ = [("width", c_uint32), ("height", c_uint32), ("data", c_void_p), ("data_len", c_size_t)]


class RawTrack(Structure):
    _fields_ = [
        ("id", c_uint64),
        ("detection", c_uint32),
        ("class_id", c_uint32),
        ("score", c_float),
        ("x1", c_float),
        ("y1", c_float),
        ("x2", c_float),
        ("y2", c_float),
        ("angle", c_float),
    ]


class StageStats(Structure):
    _fields_ = [
        ("calls", c_uint64),
        ("p50_us", c_uint64),
        ("p90_us", c_uint64),
        ("p99_us", c_uint64),
        ("sum_us", c_uint64),
        ("histogram", c_uint64 * LATENCY_BUCKETS),
    ]


class ReloadStats(Structure):
    """`struct yolo_reload_stats`."""

    _fields_ = [
        ("reloads", c_uint64),
        ("failures", c_uint64),
        ("last_duration_us", c_uint64),
        ("last_status", c_uint32),
        ("running", c_bool),
    ]


class DetectorStats(Structure):
    """`struct yolo_detector_stats`."""

    _fields_ = [
        ("state", c_uint32),
        ("load_time_us", c_uint64),
        ("detects", c_uint64),
        ("errors_by_status", c_uint64 * ERROR_SLOTS),
        ("sessions", c_uint32),
        ("sessions_idle", c_uint32),
        ("pool_waits", c_uint64),
        ("pool_wait_us", c_uint64),
        ("latency_p50_us", c_uint64),
        ("latency_p90_us", c_uint64),
        ("latency_p99_us", c_uint64),
        ("latency_histogram", c_uint64 * LATENCY_BUCKETS),
    ]


def _library_path() -> str:
    override = os.environ.get(LIBRARY_ENV)
    if override:
        return override
    # The build names the bundled library as it names extension modules: libyolo_ffi.abi3.so in the wheels,
    # libyolo_ffi.cpython-3XY-....so when built from source without the limited-API tag.
    here = Path(__file__).parent
    bundled = sorted(here.glob("libyolo_ffi*.so"))
    if not bundled:
        raise ImportError(
            f"yolo_ffi: no libyolo_ffi*.so in {here}: this install has no native library. Reinstall the wheel, "
            f"or set {LIBRARY_ENV} to a libyolo_ffi.so built with `cargo build --release`."
        )
    return str(bundled[0])


# ctypes.CDLL (not PyDLL) releases the GIL around every call: detect calls from many threads run in parallel.
lib = ctypes.CDLL(_library_path())


def _declare(name: str, restype: Any, *argtypes: Any) -> None:
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)


_declare("yolo_version", c_char_p)
_declare("yolo_status_string", c_char_p, c_uint32)
_declare("yolo_status_name", c_char_p, c_uint32)
_declare("yolo_task_name", c_char_p, c_uint32)
_declare("yolo_provider_name", c_char_p, c_uint32)
_declare("yolo_last_error", c_char_p)
_declare("yolo_config_new", status_t, POINTER(config_p))
_declare("yolo_config_free", status_t, config_p)
_declare("yolo_config_set_model_path", status_t, config_p, c_char_p)
_declare("yolo_config_set_ort_library_path", status_t, config_p, c_char_p)
_declare("yolo_config_set_pool_size", status_t, config_p, c_uint32)
_declare("yolo_config_set_threads_per_session", status_t, config_p, c_uint32)
_declare("yolo_config_set_imgsz", status_t, config_p, c_uint32, c_uint32)
_declare("yolo_config_set_conf_threshold", status_t, config_p, c_float)
_declare("yolo_config_set_iou_threshold", status_t, config_p, c_float)
_declare("yolo_config_set_max_detections", status_t, config_p, c_uint32)
_declare("yolo_config_set_class_agnostic", status_t, config_p, c_bool)
_declare("yolo_config_set_acquire_timeout_ms", status_t, config_p, c_uint32)
_declare("yolo_config_set_max_image_pixels", status_t, config_p, c_uint64)
_declare("yolo_config_set_async_load", status_t, config_p, c_bool)
_declare("yolo_config_set_load_wait_ms", status_t, config_p, c_uint32)
_declare("yolo_config_set_share_weights", status_t, config_p, c_bool)
_declare("yolo_config_set_on_load", status_t, config_p, LOAD_CALLBACK, c_void_p)
_declare("yolo_config_add_provider", status_t, config_p, c_uint32, c_uint32)
_declare("yolo_config_set_provider_fallback", status_t, config_p, c_bool)
_declare("yolo_config_set_provider_library", status_t, config_p, c_uint32, c_char_p)
_declare("yolo_model_provider", status_t, detector_p, POINTER(c_uint32), POINTER(c_uint32))
_declare("yolo_config_set_batching", status_t, config_p, c_uint32, c_uint32)
_declare("yolo_batch_stats", status_t, detector_p, POINTER(c_uint64), POINTER(c_uint64), POINTER(c_uint64))
_declare("yolo_config_set_io_binding", status_t, config_p, c_uint32)
_declare("yolo_model_io_binding", status_t, detector_p, POINTER(c_bool))
_declare("yolo_detect_options_new", status_t, POINTER(options_p))
_declare("yolo_detect_options_free", status_t, options_p)
_declare("yolo_detect_options_set_conf_threshold", status_t, options_p, c_float)
_declare("yolo_detect_options_set_iou_threshold", status_t, options_p, c_float)
_declare("yolo_detect_options_set_max_detections", status_t, options_p, c_uint32)
_declare("yolo_detect_options_set_class_agnostic", status_t, options_p, c_bool)
_declare("yolo_detect_options_set_retina_masks", status_t, options_p, c_bool)
_declare("yolo_detect_options_set_top_k", status_t, options_p, c_uint32)
_declare("yolo_config_set_retina_masks", status_t, config_p, c_bool)
_declare("yolo_config_set_top_k", status_t, config_p, c_uint32)
_declare("yolo_init", status_t, config_p, POINTER(detector_p))
_declare("yolo_free", status_t, detector_p)
_declare("yolo_state", status_t, detector_p, POINTER(c_uint32))
_declare("yolo_wait_ready", status_t, detector_p, c_uint32)
_declare("yolo_load_error", status_t, detector_p, POINTER(c_void_p), POINTER(c_size_t))
_declare("yolo_after_fork", status_t)
_declare("yolo_stats", status_t, detector_p, POINTER(DetectorStats))
_declare("yolo_stats_stage", status_t, detector_p, c_uint32, POINTER(StageStats))
_declare("yolo_stats_reload", status_t, detector_p, POINTER(ReloadStats))
_declare("yolo_reload", status_t, detector_p, config_p, c_uint32)
_declare("yolo_reload_async", status_t, detector_p, config_p, c_uint32)
_declare("yolo_set_log_callback", status_t, LOG_CALLBACK, c_void_p)
_declare("yolo_detect", status_t, detector_p, c_void_p, c_size_t, options_p, POINTER(result_p))
_declare(
    "yolo_detect_pixels",
    status_t,
    detector_p,
    c_void_p,
    c_size_t,
    c_uint32,
    c_uint32,
    c_size_t,
    c_uint32,
    options_p,
    POINTER(result_p),
)
_declare(
    "yolo_detect_batch",
    status_t,
    detector_p,
    POINTER(c_void_p),
    POINTER(c_size_t),
    c_size_t,
    options_p,
    POINTER(result_p),
)
_declare("yolo_result_detections", status_t, result_p, POINTER(POINTER(RawDetection)), POINTER(c_size_t))
_declare("yolo_result_image_size", status_t, result_p, POINTER(c_uint32), POINTER(c_uint32))
_declare("yolo_result_task", status_t, result_p, POINTER(c_uint32))
_declare("yolo_result_class_name", status_t, result_p, c_uint32, POINTER(c_void_p), POINTER(c_size_t))
_declare("yolo_result_free", None, result_p)
_declare("yolo_class_count", status_t, detector_p, POINTER(c_size_t))
_declare("yolo_class_name", status_t, detector_p, c_uint32, POINTER(c_void_p), POINTER(c_size_t))
_declare("yolo_input_size", status_t, detector_p, POINTER(c_uint32), POINTER(c_uint32))
_declare("yolo_model_task", status_t, detector_p, POINTER(c_uint32))
_declare("yolo_model_sha256", status_t, detector_p, POINTER(c_uint8), c_size_t)
_declare("yolo_keypoint_shape", status_t, detector_p, POINTER(c_size_t), POINTER(c_size_t))
_declare("yolo_result_mask", status_t, result_p, c_size_t, POINTER(RawMask))
_declare("yolo_result_mask_polygon", status_t, result_p, c_size_t, POINTER(POINTER(c_float)), POINTER(c_size_t))
_declare("yolo_result_keypoints", status_t, result_p, c_size_t, POINTER(POINTER(RawKeypoint)), POINTER(c_size_t))
_declare("yolo_result_oriented_box", status_t, result_p, c_size_t, POINTER(RawOrientedBox))
_declare(
    "yolo_result_classes", status_t, result_p, POINTER(POINTER(RawClassProbability)), POINTER(c_size_t)
)
_declare("yolo_result_class_map", status_t, result_p, POINTER(RawClassMap))
_declare("yolo_result_depth_map", status_t, result_p, POINTER(RawDepthMap))
_declare("yolo_tracker_config_new", status_t, c_uint32, POINTER(tracker_config_p))
_declare("yolo_tracker_config_free", status_t, tracker_config_p)
for _field in ("track_high_thresh", "track_low_thresh", "new_track_thresh", "match_thresh", "proximity_thresh",
               "appearance_thresh"):
    _declare(f"yolo_tracker_config_set_{_field}", status_t, tracker_config_p, ctypes.c_double)
_declare("yolo_tracker_config_set_track_buffer", status_t, tracker_config_p, c_uint32)
_declare("yolo_tracker_config_set_fuse_score", status_t, tracker_config_p, c_bool)
_declare("yolo_tracker_config_set_with_reid", status_t, tracker_config_p, c_bool)
_declare("yolo_tracker_config_set_gmc_method", status_t, tracker_config_p, c_uint32)
_declare("yolo_tracker_new", status_t, tracker_config_p, POINTER(tracker_p))
_declare("yolo_tracker_free", status_t, tracker_p)
_declare("yolo_tracker_reset", status_t, tracker_p)
_declare("yolo_tracker_update", status_t, tracker_p, result_p, POINTER(ctypes.c_double), c_size_t)
_declare("yolo_result_tracks", status_t, result_p, POINTER(POINTER(RawTrack)), POINTER(c_size_t), POINTER(c_bool))
_declare("yolo_result_track_id", status_t, result_p, c_size_t, POINTER(c_uint64))


def utf8_at(pointer: c_void_p, length: c_size_t) -> str:
    """Copies `length` bytes of library-owned UTF-8 at `pointer` into a Python string."""
    if not pointer.value or length.value == 0:
        return ""
    return ctypes.string_at(pointer.value, length.value).decode("utf-8", errors="replace")


def _names(function: Any, first: int) -> Dict[int, str]:
    """`value: name` of every value the library names, from `first` up to the first it does not."""
    names: Dict[int, str] = {}
    value = first
    while True:
        name = function(value)
        if name is None:
            return names
        names[value] = name.decode("ascii")
        value += 1


# The library states the names of its statuses, tasks and providers; these tables are read from it.
#: `yolo_status` value: name (`"INVALID_ARGUMENT"`).
STATUS_NAMES = _names(lib.yolo_status_name, 0)
#: `yolo_task` value: Ultralytics' name (`"detect"`).
TASKS = _names(lib.yolo_task_name, 1)
#: `yolo_provider` value: name (`"cuda"`).
PROVIDER_NAMES = _names(lib.yolo_provider_name, 1)
#: name: `yolo_provider` value.
PROVIDERS = {name: value for value, name in PROVIDER_NAMES.items()}
