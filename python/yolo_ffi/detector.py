"""`Detector`: a handle on a model loaded (once per process) by libyolo_ffi, and its detections."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import dataclasses
import enum
import functools
import inspect
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union, cast

import numpy as np

from . import _capi
from ._errors import (
    InvalidArgumentError,
    InvalidHandleError,
    NotReadyError,
    OutOfRangeError,
    check,
    error_for,
    last_error_message,
)
from ._runtime import openvino_plugin, preload_gpu_libraries, resolve_runtime
from .tracking import Tracker, TrackerSpec, obb_corners

if TYPE_CHECKING:  # Pillow is optional
    from PIL.Image import Image as PILImage

#: What `Detector.detect` accepts: a path, encoded bytes, a numpy uint8 array or a PIL image.
ImageInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, np.ndarray, "PILImage"]


class LoadState(enum.IntEnum):
    """Where a detector's model load stands (the C `yolo_load_state`)."""

    LOADING = 1
    READY = 2
    FAILED = 3


@dataclass(frozen=True)
class Mask:
    """The instance mask of one detection, cropped to the pixels it covers.

    `bitmap[r, c]` is image pixel `(left + c, top + r)`; every pixel outside the bitmap is outside the object.
    """

    left: int
    top: int
    bitmap: np.ndarray = field(compare=False, repr=False)
    """bool array of shape `(height, width)`; empty when the mask has no pixel at the image's resolution."""
    image_width: int
    image_height: int
    polygon: Optional[np.ndarray] = field(default=None, compare=False, repr=False)
    """With `detect(..., polygons=True)`: float32 array `(N, 2)` of `x, y` image pixels around the outer
    boundary of the mask's largest region (Ultralytics' `masks.xy` for a mask of one region); else None."""

    @property
    def width(self) -> int:
        return int(self.bitmap.shape[1])

    @property
    def height(self) -> int:
        return int(self.bitmap.shape[0])

    @property
    def area(self) -> int:
        """Pixels in the object."""
        return int(np.count_nonzero(self.bitmap))

    def full(self) -> np.ndarray:
        """The mask as a bool array of the whole image, `(image_height, image_width)`, as Ultralytics'
        `masks.data` scaled to the image. Allocates an image-sized array: prefer `bitmap` for many masks."""
        out = np.zeros((self.image_height, self.image_width), dtype=bool)
        out[self.top : self.top + self.height, self.left : self.left + self.width] = self.bitmap
        return out

    def rle(self) -> Dict[str, Any]:
        """The cropped bitmap run-length encoded, JSON-ready: `left`, `top`, `width`, `height` and `counts`,
        the lengths of alternating runs of 0 and 1 over the bitmap row by row, starting with a (possibly
        empty) run of 0."""
        flat = self.bitmap.reshape(-1)
        counts: List[int] = []
        if flat.size:
            changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
            counts = np.diff(np.concatenate(([0], changes, [flat.size]))).tolist()
            if flat[0]:
                counts.insert(0, 0)
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height, "counts": counts}


@dataclass(frozen=True)
class Detection:
    """One detected object, in pixels of the original image (after EXIF orientation for encoded images).

    What the model's task adds is set, the rest None: `mask` (segmentation), `keypoints` (pose), `xywhr`
    and `corners` (oriented boxes, whose axis-aligned bounds, clipped to the image, are `box`).
    """

    class_id: int
    class_name: str
    score: float
    x1: float
    y1: float
    x2: float
    y2: float
    mask: Optional[Mask] = field(default=None, compare=False, repr=False)
    keypoints: Optional[np.ndarray] = field(default=None, compare=False, repr=False)
    """float32 array `(K, 3)` of `x, y, confidence` in image pixels, as Ultralytics' `keypoints.data`."""
    xywhr: Optional[Tuple[float, float, float, float, float]] = None
    """Centre, size and rotation in radians, as Ultralytics' `obb.xywhr`."""
    corners: Optional[Tuple[Tuple[float, float], ...]] = None
    """The four corners `(x, y)`, as Ultralytics' `obb.xyxyxyxy`; not clipped."""
    track_id: Optional[int] = None
    """From `Detector.track`: the track's id (from 1), as Ultralytics' `boxes.id`; None from `detect`, and
    for a frame whose detections come back without ids."""

    @property
    def box(self) -> Tuple[float, float, float, float]:
        """`(x1, y1, x2, y2)`: corners, as Ultralytics' `boxes.xyxy`."""
        return (self.x1, self.y1, self.x2, self.y2)

    @property
    def xywh(self) -> Tuple[float, float, float, float]:
        """`(center x, center y, width, height)`, as Ultralytics' `boxes.xywh`."""
        width, height = self.x2 - self.x1, self.y2 - self.y1
        return (self.x1 + width / 2, self.y1 + height / 2, width, height)

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict: class id and name, score, `box` as `[x1, y1, x2, y2]`, what the task adds:
        `mask` (`Mask.rle()`), `keypoints` (`[[x, y, confidence], ...]`), `xywhr` and `corners`, and a
        tracked detection's `track_id`."""
        out: Dict[str, Any] = {
            "class_id": self.class_id,
            "class_name": self.class_name,
            "score": self.score,
            "box": [self.x1, self.y1, self.x2, self.y2],
        }
        if self.mask is not None:
            out["mask"] = self.mask.rle()
            if self.mask.polygon is not None:
                out["mask"]["polygon"] = self.mask.polygon.tolist()
        if self.keypoints is not None:
            out["keypoints"] = self.keypoints.tolist()
        if self.xywhr is not None:
            out["xywhr"] = list(self.xywhr)
        if self.corners is not None:
            out["corners"] = [list(c) for c in self.corners]
        if self.track_id is not None:
            out["track_id"] = self.track_id
        return out


@dataclass(frozen=True)
class ClassProbability:
    """One class of a classification result."""

    class_id: int
    class_name: str
    probability: float

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict: class id and name, probability."""
        return {"class_id": self.class_id, "class_name": self.class_name, "probability": self.probability}


@dataclass(frozen=True)
class ClassMap:
    """The class of every pixel of an image (semantic segmentation), as Ultralytics' `semantic_mask`."""

    ids: "np.ndarray"
    """H x W class ids: uint8 for models of up to 256 classes, uint16 up to 65,536, else uint32. A read-only
    view of the library's memory, kept alive by the array itself (no copy)."""
    counts: "np.ndarray"
    """uint64, one per class of the model: how many pixels are of that class."""
    names: Dict[int, str]
    """The model's class names by id."""

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict: the map's `width` and `height` and, for each class present, its `class_id`,
        `class_name`, `pixels` and the `[start, length]` runs of its pixels in the row-major map."""
        height, width = self.ids.shape
        flat = self.ids.ravel()
        classes = []
        for class_id in np.flatnonzero(self.counts):
            edges = np.diff(np.concatenate(([0], (flat == class_id).view(np.int8), [0])))
            starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
            classes.append({
                "class_id": int(class_id),
                "class_name": self.names.get(int(class_id), str(class_id)),
                "pixels": int(self.counts[class_id]),
                "runs": [[int(a), int(b - a)] for a, b in zip(starts, ends)],
            })
        return {"width": int(width), "height": int(height), "classes": classes}


class _ResultOwner:
    """Owns a `yolo_result` for the arrays that view its memory: freed when the last of them goes."""

    def __init__(self, result: _capi.result_p) -> None:
        self.result = result

    def __del__(self) -> None:
        _capi.lib.yolo_result_free(self.result)

    def view(self, address: int, ctype: Any, count: int, shape: Tuple[int, ...]) -> "np.ndarray":
        """A read-only numpy array over `count` values of `ctype` at `address`, which keeps this owner alive."""
        if count == 0:
            return np.zeros(shape, dtype=np.dtype(ctype))
        buffer = (ctype * count).from_address(address)
        buffer._owner = self  # the array's base holds the buffer, which holds this owner
        array = np.ctypeslib.as_array(buffer).reshape(shape)
        array.flags.writeable = False
        return array


@dataclass(frozen=True)
class Stats:
    """Counters of one detector (the C `yolo_detector_stats`)."""

    state: LoadState
    load_time: Optional[float]
    """Seconds the model load took; None while loading."""
    detects: int
    errors_by_status: Dict[int, int]
    """Failed detect calls by `yolo_status` value; only statuses that occurred."""
    sessions: int
    sessions_idle: int
    pool_waits: int
    pool_wait_seconds: float
    latency_p50: float
    """Seconds, within 2% of the true value (the middle of a histogram bucket 1/32 of a power of two wide)."""
    latency_p90: float
    latency_p99: float
    provider: Optional[str] = None
    """The execution provider the model runs on (`Detector.provider`); None unless the load succeeded."""


@dataclasses.dataclass(frozen=True)
class ReloadStats:
    """The reloads of one detector (the C `yolo_reload_stats`)."""

    reloads: int
    """Reloads that replaced the model."""
    failures: int
    """Reloads that failed and left the model serving."""
    last_duration: Optional[float]
    """Seconds the last reload that ended took, either way; None if none ended."""
    last_status: int
    """The `yolo_status` of the last reload that ended: 0 if it succeeded or none ended."""
    running: bool
    """Whether a reload runs now."""


class _Unset(enum.Enum):
    """The value of a parameter the caller did not give: the library's default applies (for the parameters
    where None has a meaning of its own)."""

    UNSET = 0

    def __repr__(self) -> str:
        return "<the library's default>"


_UNSET = _Unset.UNSET


def _seconds(seconds: float, what: str, scale: float, limit: int) -> int:
    """Seconds as one of the C API's u32 durations (`scale` units a second), at most `limit`. A value the C
    type cannot hold is refused here; every other rule is the library's."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or math.isnan(seconds) or seconds < 0:
        raise InvalidArgumentError(f"{what} must be a number of seconds >= 0, not {seconds!r}")
    return min(int(math.ceil(seconds * scale)), limit)


def _uint(value: int, what: str, bits: int = 32) -> int:
    """An int for one of the C API's unsigned fields. A value the C type cannot hold is refused here (ctypes
    would wrap it); every other rule, 0 included, is the library's."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**bits:
        raise InvalidArgumentError(f"{what} must be an int in [0, 2**{bits}), not {value!r}")
    return value


def pixel_buffer(array: np.ndarray, channels: str = "rgb") -> Tuple[np.ndarray, int, int, int, int, int]:
    """How a numpy image goes to `yolo_detect_pixels`: `(array, pixels_len, width, height, stride, format)`.

    The returned array is the input itself when each row is contiguous (any row stride, as for a crop),
    else a C-contiguous copy. Exposed for tests and for callers who want to check that no copy is made.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected a numpy array, not {type(array).__name__}")
    if array.dtype != np.uint8:
        raise TypeError(f"pixel arrays must have dtype uint8, not {array.dtype} (scale and cast first)")
    order = channels.lower()
    if order not in ("rgb", "bgr"):
        raise ValueError(f"channels must be 'rgb' or 'bgr', not {channels!r}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        pixel_format, depth = _capi.PIXEL_GRAY8, 1
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        depth = array.shape[2]
        formats = {
            ("rgb", 3): _capi.PIXEL_RGB8,
            ("bgr", 3): _capi.PIXEL_BGR8,
            ("rgb", 4): _capi.PIXEL_RGBA8,
            ("bgr", 4): _capi.PIXEL_BGRA8,
        }
        pixel_format = formats[(order, depth)]
    else:
        raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image array, not shape {array.shape}")
    height, width = array.shape[:2]
    row_is_contiguous = array.strides[-1] == 1 and (array.ndim == 2 or array.strides[1] == depth)
    if not row_is_contiguous or array.strides[0] < width * depth:
        array = np.ascontiguousarray(array)
    stride = array.strides[0]
    pixels_len = (height - 1) * stride + width * depth if height and width else 0
    return array, pixels_len, width, height, stride, pixel_format


def _pil_to_array(image: "PILImage") -> np.ndarray:
    if image.mode not in ("RGB", "RGBA", "L"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    return np.asarray(image)


#: The providers that run on an NVIDIA GPU and take a device id (`"cuda:1"`).
_GPU_PROVIDERS = ("cuda", "tensorrt")


def _provider(name: str) -> Tuple[int, int]:
    """`(yolo_provider value, device id)` of a provider name such as `"cuda:1"`."""
    if not isinstance(name, str):
        raise TypeError(f"a provider is a str such as 'cuda:0', not {type(name).__name__}")
    kind, _, device = name.strip().lower().partition(":")
    if kind not in _capi.PROVIDERS:
        raise ValueError(f"unknown execution provider {name!r}: use one of {', '.join(_capi.PROVIDERS)}")
    if not device:
        return _capi.PROVIDERS[kind], 0
    if kind not in _GPU_PROVIDERS or not device.isdigit():
        raise ValueError(f"bad provider {name!r}: only cuda and tensorrt take a device, as 'cuda:1'")
    return _capi.PROVIDERS[kind], int(device)


def _is_pil_image(value: object) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "getbands")


# The settings where None means something (for ever), so that only _UNSET leaves them out.
_NONE_IS_A_VALUE = ("load_wait", "acquire_timeout")


def _left_out(name: str, value: Any) -> bool:
    """Whether a setting was not given: None, or _UNSET for the settings where None is a value."""
    return value is _UNSET if name in _NONE_IS_A_VALUE else value is None


class _Config:
    """A `yolo_config` holding `settings` (the keyword arguments of `Detector`, only those given) for
    `model`, freed on leaving the `with` block. Only what the caller gave goes to the library: every default
    and every rule is the library's, and each setter refuses a bad value at once, naming it."""

    def __init__(self, model: str, settings: Dict[str, Any]) -> None:
        unknown = set(settings) - set(_SETTINGS)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        get = settings.get
        provider_list = [_provider(name) for name in (get("providers") or [])]
        gpu = any(_capi.PROVIDER_NAMES[kind] in _GPU_PROVIDERS for kind, _ in provider_list)
        runtime = resolve_runtime(get("ort_library"), gpu)
        if gpu:
            preload_gpu_libraries(runtime)
        io_binding = get("io_binding")
        if not isinstance(io_binding, (bool, type(None))):
            raise InvalidArgumentError(f"io_binding must be None, True or False, not {io_binding!r}")
        lib = _capi.lib
        calls: List[Tuple[Any, Tuple[Any, ...]]] = [
            (lib.yolo_config_set_model_path, (os.fsencode(model),)),
            (lib.yolo_config_set_ort_library_path, (os.fsencode(runtime) if runtime else None,)),
        ]
        unsigned = {
            "pool_size": lib.yolo_config_set_pool_size,
            "threads_per_session": lib.yolo_config_set_threads_per_session,
            "max_det": lib.yolo_config_set_max_detections,
            "top_k": lib.yolo_config_set_top_k,
        }
        for name, setter in unsigned.items():
            value = get(name)
            if value is not None:
                calls.append((setter, (_uint(value, name),)))
        imgsz, max_image_pixels, conf, iou = get("imgsz"), get("max_image_pixels"), get("conf"), get("iou")
        if imgsz is not None:
            side = _uint(imgsz, "imgsz")
            calls.append((lib.yolo_config_set_imgsz, (side, side)))
        if max_image_pixels is not None:
            calls.append((lib.yolo_config_set_max_image_pixels, (_uint(max_image_pixels, "max_image_pixels", 64),)))
        if conf is not None:
            calls.append((lib.yolo_config_set_conf_threshold, (float(conf),)))
        if iou is not None:
            calls.append((lib.yolo_config_set_iou_threshold, (float(iou),)))
        flags = {
            "agnostic": lib.yolo_config_set_class_agnostic,
            "async_load": lib.yolo_config_set_async_load,
            "share_weights": lib.yolo_config_set_share_weights,
            "retina_masks": lib.yolo_config_set_retina_masks,
            "provider_fallback": lib.yolo_config_set_provider_fallback,
        }
        for name, setter in flags.items():
            if get(name) is not None:
                calls.append((setter, (bool(get(name)),)))
        if "load_wait" in settings:
            load_wait = settings["load_wait"]
            wait = _capi.WAIT_FOREVER if load_wait is None else _seconds(load_wait, "load_wait", 1e3, _capi.WAIT_FOREVER - 1)
            calls.append((lib.yolo_config_set_load_wait_ms, (wait,)))
        if "acquire_timeout" in settings:
            acquire_timeout = settings["acquire_timeout"]
            # 0 ms is the C API's "for ever": a timeout under a millisecond is one millisecond.
            timeout = 0 if acquire_timeout is None else max(1, _seconds(acquire_timeout, "acquire_timeout", 1e3, 2**32 - 1))
            calls.append((lib.yolo_config_set_acquire_timeout_ms, (timeout,)))
        for kind, device in provider_list:
            calls.append((lib.yolo_config_add_provider, (kind, device)))
        openvino = _capi.PROVIDERS["openvino"]
        plugin = openvino_plugin() if any(kind == openvino for kind, _ in provider_list) else None
        if plugin is not None:
            calls.append((lib.yolo_config_set_provider_library, (openvino, os.fsencode(plugin))))
        max_batch, max_batch_delay = get("max_batch"), get("max_batch_delay")
        if max_batch is not None or max_batch_delay is not None:
            delay = (
                _capi.DEFAULT_BATCH_DELAY
                if max_batch_delay is None
                else _seconds(max_batch_delay, "max_batch_delay", 1e6, _capi.DEFAULT_BATCH_DELAY - 1)
            )
            calls.append((lib.yolo_config_set_batching, (_uint(1 if max_batch is None else max_batch, "max_batch"), delay)))
        if io_binding is not None:
            calls.append((lib.yolo_config_set_io_binding, (_capi.IO_BINDING[io_binding],)))
        self.pointer = _capi.config_p()
        check(lib.yolo_config_new(ctypes.byref(self.pointer)))
        try:
            for setter, arguments in calls:
                check(setter(self.pointer, *arguments))
        except BaseException:
            lib.yolo_config_free(self.pointer)
            raise

    def __enter__(self) -> "_Config":
        return self

    def __exit__(self, *_exc: object) -> None:
        _capi.lib.yolo_config_free(self.pointer)


class Detector:
    """A YOLO detector on an ONNX model, backed by a pool of ONNX Runtime sessions in libyolo_ffi.

    Models are shared per process: another `Detector` on the same file with the same model settings
    (`pool_size`, `threads_per_session`, `imgsz`, `share_weights`, `ort_library`, `providers` and
    `provider_fallback`, `max_batch` and `max_batch_delay`, `io_binding`) reuses the loaded sessions; any
    difference loads a second copy. Thresholds and limits stay per detector. Thread-safe: `detect`
    releases the GIL, so threads run in parallel up to the pool's size. Fork-safe: a forked child builds its own sessions on first use.

    Args:
        model: path of the ONNX model (Ultralytics export of any task: detect, segment, pose, obb,
            classify, semantic or depth; YOLOv5/v8/11 or end-to-end YOLO26/v10).
        pool_size: sessions in the pool; None chooses from the core count (with threads_per_session also
            None: sessions of every width from all the cores down to one thread, each call taking one as
            wide as the cores divided by the calls in flight).
        threads_per_session: intra-op threads per session; None divides the cores by the pool size.
        imgsz: letterbox size for models with a dynamic input; None uses the model's metadata, else 640.
        conf: default confidence threshold, in [0, 1]; boxes must score strictly above it.
        iou: default NMS IoU threshold, in [0, 1].
        max_det: default maximum detections per image, at least 1.
        agnostic: class-agnostic NMS by default.
        async_load: return at once and load in the background; `state`, `wait_ready` and `load_error`
            report the load, and calls before it ends raise `NotReadyError` (after `load_wait`).
        load_wait: seconds a call waits for a loading model before `NotReadyError`; None waits for ever;
            not given, the library's default (0: no wait).
        acquire_timeout: seconds a call waits for a free session before `AcquireTimeoutError`; None waits for
            ever; not given, the library's default (for ever).
        max_image_pixels: larger images are refused before decoding; 0 is the library's default.
        share_weights: one copy of the weights for the whole pool (less memory, slower inference).
        retina_masks: segmentation masks computed at the image's resolution (Ultralytics'
            `retina_masks=True`) instead of the model input's, then scaled (the default).
        top_k: how many classes `classify` returns by default.
        ort_library: path of `libonnxruntime.so`. By default `YOLO_FFI_ORT_LIBRARY` or `ORT_DYLIB_PATH`
            if set, else the library of the installed `onnxruntime` package.
        providers: ONNX Runtime execution providers to try, in order: `"cpu"`, `"cuda"` or `"cuda:1"`,
            `"tensorrt"` or `"tensorrt:0"`, `"openvino"`. None (default) runs on the CPU. `provider` tells
            which one the model got. CUDA and TensorRT need `onnxruntime-gpu` in place of `onnxruntime`
            (docs/python.md, "GPU"); OpenVINO comes with
            `pip install yolo-ffi[openvino]` (its plugin, on Intel CPUs, GPUs and NPUs).
        provider_fallback: when a provider of the list is not there (ONNX Runtime built without it, or it
            fails to start), try the next one instead of raising `ProviderUnavailableError`.
        max_batch: gather up to this many concurrent calls whose input has the same size into one ONNX
            Runtime run (models with a dynamic batch dimension); 1 (default) runs every call alone. Each
            call gets exactly its own result. Pays off on a GPU; `batch_stats()` reports what it did.
        max_batch_delay: seconds a call waits for others to share its run, at most 1.
        io_binding: bind each session's input and outputs once, in host memory the provider reads
            directly: None (default) does on GPU providers (CUDA's pinned memory) and not on the CPU;
            True everywhere (raising `ProviderUnavailableError` where the provider has no such memory);
            False never. Results are the same; `io_binding` tells what the model got.

    A setting left out (None, or not given) is not passed to the library, which applies its own default:
    the library states every default and every limit once (`yolo_ffi.h`), and checks each value given.

    Raises:
        ModelLoadError, InvalidModelError, RuntimeUnavailableError, ProviderUnavailableError: a synchronous
            load failed.
        InvalidArgumentError: a setting is out of range (a ValueError).
        ValueError: a provider name is not one of the above.
    """

    def __init__(
        self,
        model: Union[str, "os.PathLike[str]"],
        *,
        pool_size: Optional[int] = None,
        threads_per_session: Optional[int] = None,
        imgsz: Optional[int] = None,
        conf: Optional[float] = None,
        iou: Optional[float] = None,
        max_det: Optional[int] = None,
        agnostic: Optional[bool] = None,
        async_load: Optional[bool] = None,
        load_wait: Union[float, None, _Unset] = _UNSET,
        acquire_timeout: Union[float, None, _Unset] = _UNSET,
        max_image_pixels: Optional[int] = None,
        share_weights: Optional[bool] = None,
        retina_masks: Optional[bool] = None,
        top_k: Optional[int] = None,
        ort_library: Optional[Union[str, "os.PathLike[str]"]] = None,
        providers: Optional[Sequence[str]] = None,
        provider_fallback: Optional[bool] = None,
        max_batch: Optional[int] = None,
        max_batch_delay: Optional[float] = None,
        io_binding: Optional[bool] = None,
    ) -> None:
        self._handle: Optional[int] = None
        # The names and the task, with the reload count they were read at (a reload changes them).
        self._names: Optional[Tuple[int, Dict[int, str]]] = None
        self._task: Optional[Tuple[int, str]] = None
        self._executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._lock = threading.Lock()
        given = dict(
            pool_size=pool_size,
            threads_per_session=threads_per_session,
            imgsz=imgsz,
            conf=conf,
            iou=iou,
            max_det=max_det,
            agnostic=agnostic,
            async_load=async_load,
            load_wait=load_wait,
            acquire_timeout=acquire_timeout,
            max_image_pixels=max_image_pixels,
            share_weights=share_weights,
            retina_masks=retina_masks,
            top_k=top_k,
            ort_library=ort_library,
            providers=providers,
            provider_fallback=provider_fallback,
            max_batch=max_batch,
            max_batch_delay=max_batch_delay,
            io_binding=io_binding,
        )
        # What the caller set, and only that: a reload starts from it.
        self._settings: Dict[str, Any] = {k: v for k, v in given.items() if not _left_out(k, v)}
        self.model_path = os.fspath(model)
        handle = _capi.detector_p()
        with _Config(self.model_path, self._settings) as config:
            check(_capi.lib.yolo_init(config.pointer, ctypes.byref(handle)))
        self._handle = handle.value
        # The tracker `track` keeps for the detector's own stream, and the spec it was made from.
        self._tracker: Optional[Tracker] = None
        self._tracker_spec: Any = None

    # -- lifetime -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Releases this handle; the model goes when its last detector does. Idempotent. Calls of
        `detect_async` still running finish first (their threads hold no reference to the handle after)."""
        with self._lock:
            handle, self._handle = self._handle, None
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        tracker, self._tracker = getattr(self, "_tracker", None), None
        if tracker is not None:
            tracker.close()
        if handle is not None:
            _capi.lib.yolo_free(handle)

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._handle is None

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A safety net only: during interpreter shutdown the module globals may already be gone.
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.state.name.lower()
        return f"<yolo_ffi.Detector {self.model_path!r} {state}>"

    def _live(self) -> int:
        handle = self._handle
        if handle is None:
            raise InvalidHandleError("the detector is closed", InvalidHandleError.status_code)
        return handle

    # -- load state ---------------------------------------------------------------------------------------

    @property
    def state(self) -> LoadState:
        """Where the model load stands. Never blocks."""
        out = ctypes.c_uint32()
        check(_capi.lib.yolo_state(self._live(), ctypes.byref(out)))
        return LoadState(out.value)

    def wait_ready(self, timeout: Optional[float] = None) -> bool:
        """Waits up to `timeout` seconds (None: for ever) for the load to end.

        Returns True when the model is ready, False if it is still loading. Raises `LoadFailedError` if the
        load failed. Waits in slices, so Ctrl-C still interrupts it.
        """
        deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            slice_ms = 200 if left is None else max(0, min(200, int(math.ceil(left * 1000))))
            status = _capi.lib.yolo_wait_ready(self._live(), slice_ms)
            if status == 0:
                return True
            if status != NotReadyError.status_code:
                raise error_for(status, last_error_message(status))
            if left is not None and left <= slice_ms / 1000:
                return False

    @property
    def load_error(self) -> Optional[str]:
        """Why the load failed, or None (still loading, or loaded)."""
        pointer, length = ctypes.c_void_p(), ctypes.c_size_t()
        check(_capi.lib.yolo_load_error(self._live(), ctypes.byref(pointer), ctypes.byref(length)))
        return _capi.utf8_at(pointer, length) or None

    # -- reload -------------------------------------------------------------------------------------------

    def reload(
        self,
        model: Optional[Union[str, "os.PathLike[str]"]] = None,
        *,
        keep_task: bool = False,
        keep_class_count: bool = False,
        **settings: Any,
    ) -> None:
        """Replaces the model (and settings) while calls go on: `model` (default: the same file, read
        again) with this detector's settings updated by `settings` (the keyword arguments of `Detector`).
        Returns when the new model serves: its sessions are built and warmed beside the current ones, calls
        in flight finish on the model they started with, and the replaced model is freed after the last of
        them. Results name their classes as the model that made them does. `keep_task` and
        `keep_class_count` refuse a model that changes them.

        Raises (the current model then keeps serving; `reload_stats` counts the failure):
            ModelLoadError, InvalidModelError, OutOfMemoryError, ...: the new model did not load, or
                `keep_task`/`keep_class_count` refused it.
            BusyError: another reload of this detector is running.
            InvalidArgumentError, TypeError: a setting is out of range, or unknown.
        """
        path = self.model_path if model is None else os.fspath(model)
        merged = {**self._settings, **settings}
        merged = {k: v for k, v in merged.items() if not _left_out(k, v)}
        flags = (_capi.RELOAD_KEEP_TASK if keep_task else 0) | (_capi.RELOAD_KEEP_CLASS_COUNT if keep_class_count else 0)
        with _Config(path, merged) as config:
            check(_capi.lib.yolo_reload(self._live(), config.pointer, flags))
        self.model_path, self._settings = path, merged

    async def reload_async(
        self,
        model: Optional[Union[str, "os.PathLike[str]"]] = None,
        *,
        keep_task: bool = False,
        keep_class_count: bool = False,
        **settings: Any,
    ) -> None:
        """`reload` on a worker thread, for asyncio code: the event loop keeps serving meanwhile."""
        await self._off_loop(
            lambda: self.reload(model, keep_task=keep_task, keep_class_count=keep_class_count, **settings)
        )

    def reload_stats(self) -> ReloadStats:
        """The reload counters: reloads, failures, the last one's duration and status, and whether one runs."""
        raw = _capi.ReloadStats()
        check(_capi.lib.yolo_stats_reload(self._live(), ctypes.byref(raw)))
        ended = raw.reloads + raw.failures > 0
        return ReloadStats(
            reloads=raw.reloads,
            failures=raw.failures,
            last_duration=raw.last_duration_us / 1e6 if ended else None,
            last_status=raw.last_status,
            running=bool(raw.running),
        )

    # -- model facts --------------------------------------------------------------------------------------

    @property
    def names(self) -> Dict[int, str]:
        """Class names by id, as Ultralytics' `model.names`, of the model serving now. Raises
        `NotReadyError` while loading."""
        generation = self.reload_stats().reloads
        cached = self._names
        if cached is not None and cached[0] == generation:
            return dict(cached[1])
        handle = self._live()
        count = ctypes.c_size_t()
        check(_capi.lib.yolo_class_count(handle, ctypes.byref(count)))
        names = {}
        for class_id in range(count.value):
            pointer, length = ctypes.c_void_p(), ctypes.c_size_t()
            check(_capi.lib.yolo_class_name(handle, class_id, ctypes.byref(pointer), ctypes.byref(length)))
            names[class_id] = _capi.utf8_at(pointer, length)
        # Read after the count: a reload in between gives a newer count next time, so these are read again.
        self._names = (generation, names)
        return dict(names)

    @property
    def task(self) -> str:
        """The model's task, Ultralytics' name of it (`detect`, `segment`, `pose`, `obb`, `classify`,
        `semantic`, `depth`): which of `detect`, `classify`, `semantic` and `depth` it answers. Raises
        `NotReadyError` while loading."""
        generation = self.reload_stats().reloads
        cached = self._task
        if cached is not None and cached[0] == generation:
            return cached[1]
        out = ctypes.c_uint32()
        check(_capi.lib.yolo_model_task(self._live(), ctypes.byref(out)))
        task = _capi.TASKS[out.value]
        self._task = (generation, task)
        return task

    @property
    def sha256(self) -> str:
        """The SHA-256 of the model file as it was loaded (hex; the `.onnx` file, not its external data), of
        the model serving now. Raises `NotReadyError` while loading."""
        digest = (ctypes.c_uint8 * 32)()
        check(_capi.lib.yolo_model_sha256(self._live(), digest, 32))
        return bytes(digest).hex()

    @property
    def provider(self) -> str:
        """The execution provider the model runs on: `"cpu"`, `"cuda:0"`, `"tensorrt:0"` or `"openvino"`.
        Raises `NotReadyError` while loading."""
        kind, device = ctypes.c_uint32(), ctypes.c_uint32()
        check(_capi.lib.yolo_model_provider(self._live(), ctypes.byref(kind), ctypes.byref(device)))
        name = _capi.PROVIDER_NAMES.get(kind.value, f"provider {kind.value}")
        return f"{name}:{device.value}" if name in _GPU_PROVIDERS else name

    @property
    def fell_back(self) -> bool:
        """Whether the model runs on another execution provider than the first one asked for (`providers`
        with `provider_fallback=True`: CUDA asked, the CPU used, say). False when none was asked for.
        Raises `NotReadyError` while loading."""
        asked = self._settings.get("providers") or []
        if not asked:
            return False
        kind, device = ctypes.c_uint32(), ctypes.c_uint32()
        check(_capi.lib.yolo_model_provider(self._live(), ctypes.byref(kind), ctypes.byref(device)))
        return _provider(asked[0]) != (kind.value, device.value)

    @property
    def io_binding(self) -> bool:
        """Whether the sessions' input and outputs are bound to them (see `io_binding=`): True on a GPU
        provider by default. Raises `NotReadyError` while loading."""
        bound = ctypes.c_bool()
        check(_capi.lib.yolo_model_io_binding(self._live(), ctypes.byref(bound)))
        return bound.value

    def batch_stats(self) -> Tuple[int, int, float]:
        """What cross-caller batching (`max_batch`) did: `(runs, calls, longest wait in seconds)`; the mean
        batch is `calls / runs`. Zeros when batching is off or the model's batch dimension is fixed."""
        runs, calls, wait = ctypes.c_uint64(), ctypes.c_uint64(), ctypes.c_uint64()
        check(_capi.lib.yolo_batch_stats(self._live(), ctypes.byref(runs), ctypes.byref(calls), ctypes.byref(wait)))
        return runs.value, calls.value, wait.value / 1e6

    @property
    def kpt_shape(self) -> Optional[Tuple[int, int]]:
        """A pose model's `(keypoints, values per keypoint)`, as its `kpt_shape` metadata; None otherwise."""
        keypoints, dims = ctypes.c_size_t(), ctypes.c_size_t()
        check(_capi.lib.yolo_keypoint_shape(self._live(), ctypes.byref(keypoints), ctypes.byref(dims)))
        return (keypoints.value, dims.value) if keypoints.value else None

    @property
    def input_size(self) -> Tuple[int, int]:
        """`(width, height)` of the model's input (the letterbox target). Raises `NotReadyError` while loading."""
        width, height = ctypes.c_uint32(), ctypes.c_uint32()
        check(_capi.lib.yolo_input_size(self._live(), ctypes.byref(width), ctypes.byref(height)))
        return (width.value, height.value)

    def stats(self) -> Stats:
        """Counters: load state and time, detects, errors, pool use and latency percentiles. Lock-free."""
        raw = _capi.DetectorStats()
        check(_capi.lib.yolo_stats(self._live(), ctypes.byref(raw)))
        return Stats(
            state=LoadState(raw.state),
            load_time=raw.load_time_us / 1e6 if raw.state != LoadState.LOADING else None,
            detects=raw.detects,
            errors_by_status={code: n for code, n in enumerate(raw.errors_by_status) if n},
            sessions=raw.sessions,
            sessions_idle=raw.sessions_idle,
            pool_waits=raw.pool_waits,
            pool_wait_seconds=raw.pool_wait_us / 1e6,
            latency_p50=raw.latency_p50_us / 1e6,
            latency_p90=raw.latency_p90_us / 1e6,
            latency_p99=raw.latency_p99_us / 1e6,
            provider=self.provider if raw.state == LoadState.READY else None,
        )

    # -- detection ----------------------------------------------------------------------------------------

    def detect(
        self,
        image: ImageInput,
        *,
        conf: Optional[float] = None,
        iou: Optional[float] = None,
        max_det: Optional[int] = None,
        agnostic: Optional[bool] = None,
        retina_masks: Optional[bool] = None,
        polygons: bool = False,
        channels: str = "rgb",
    ) -> List[Detection]:
        """Detects objects in one image; detections are sorted by score, highest first, each with what the
        model's task adds (`mask`, `keypoints`, or `xywhr` and `corners`). A classification model has no
        detections: use `classify`.

        `image` is a path (str or os.PathLike); `bytes`, `bytearray` or `memoryview` of an encoded image
        (JPEG, PNG, BMP, WebP, GIF, TIFF); a numpy uint8 array HxW (grey), HxWx3 or HxWx4 (RGB/RGBA, or
        BGR/BGRA with `channels='bgr'`, as from OpenCV); or a `PIL.Image`. Arrays whose rows are contiguous
        are read in place, without a copy. `conf`, `iou`, `max_det`, `agnostic` and `retina_masks` override
        the detector's defaults for this call; `polygons=True` also traces each mask's outline
        (`Mask.polygon`). The GIL is released while the library works.

        Raises:
            ImageDecodeError, ImageTooLargeError: the image cannot be used.
            NotReadyError, LoadFailedError: the model is still loading, or failed to load.
            AcquireTimeoutError: every session stayed busy for `acquire_timeout`.
            FileNotFoundError: a path that does not exist. TypeError: an unsupported input type.
        """
        if self.task in ("classify", "semantic", "depth"):
            raise ValueError(f"{self.model_path} is a {self.task} model: use {self.task}(), not detect()")
        with self._options(conf, iou, max_det, agnostic, retina_masks=retina_masks) as options:
            result = self._detect_one(image, channels, options)
        try:
            return self._collect(result, polygons)
        finally:
            _capi.lib.yolo_result_free(result)

    def _threads(self) -> concurrent.futures.ThreadPoolExecutor:
        """The threads `*_async` calls run on: as many as the model has sessions (more would only wait for
        one), made on first use and shut down by `close()`."""
        with self._lock:
            if self._executor is None:
                if self._handle is None:
                    raise InvalidHandleError("the detector is closed", InvalidHandleError.status_code)
                sessions = 0
                with contextlib.suppress(Exception):  # still loading: the core count will do
                    sessions = self.stats().sessions
                workers = max(1, sessions or os.cpu_count() or 1)
                self._executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="yolo_ffi")
            return self._executor

    async def _off_loop(self, call: Any) -> Any:
        """Runs `call` on this detector's threads and awaits it without blocking the event loop. Cancelling
        the await does not stop the call already running, which frees its own result when it ends."""
        return await asyncio.get_running_loop().run_in_executor(self._threads(), call)

    async def detect_async(
        self,
        image: ImageInput,
        *,
        conf: Optional[float] = None,
        iou: Optional[float] = None,
        max_det: Optional[int] = None,
        agnostic: Optional[bool] = None,
        retina_masks: Optional[bool] = None,
        polygons: bool = False,
        channels: str = "rgb",
    ) -> List[Detection]:
        """`detect` for asyncio (FastAPI, aiohttp): the call runs on a thread of this detector's own (as many
        as the pool has sessions), so the event loop keeps serving other requests. Same arguments, results
        and errors as `detect`."""
        call = functools.partial(
            self.detect,
            image,
            conf=conf,
            iou=iou,
            max_det=max_det,
            agnostic=agnostic,
            retina_masks=retina_masks,
            polygons=polygons,
            channels=channels,
        )
        return cast(List[Detection], await self._off_loop(call))

    async def classify_async(
        self, image: ImageInput, *, top_k: Optional[int] = None, channels: str = "rgb"
    ) -> List[ClassProbability]:
        """`classify` for asyncio, as `detect_async` runs `detect`."""
        call = functools.partial(self.classify, image, top_k=top_k, channels=channels)
        return cast(List[ClassProbability], await self._off_loop(call))

    async def wait_ready_async(self, timeout: Optional[float] = None) -> bool:
        """`wait_ready` for asyncio: waits for the load on a thread, not on the event loop."""
        return cast(bool, await asyncio.get_running_loop().run_in_executor(None, self.wait_ready, timeout))

    def classify(
        self, image: ImageInput, *, top_k: Optional[int] = None, channels: str = "rgb"
    ) -> List[ClassProbability]:
        """Classifies one image with a classification model: its `top_k` most probable classes (default
        the detector's, 5), best first, as Ultralytics' `probs.top5`. Takes the images `detect` takes.

        Raises:
            ValueError: the model is not a classification model (use `detect`). The errors of `detect`.
        """
        if self.task != "classify":
            raise ValueError(f"{self.model_path} is a {self.task} model: use detect(), not classify()")
        with self._options(None, None, None, None, top_k=top_k) as options:
            result = self._detect_one(image, channels, options)
        try:
            raw = ctypes.POINTER(_capi.RawClassProbability)()
            count = ctypes.c_size_t()
            check(_capi.lib.yolo_result_classes(result, ctypes.byref(raw), ctypes.byref(count)))
            if _result_task(result) != "classify":
                raise ValueError(f"{self.model_path} was reloaded with a model of another task during the call")
            names = _ResultNames(result)
            return [
                ClassProbability(raw[i].class_id, names.get(raw[i].class_id, str(raw[i].class_id)), raw[i].probability)
                for i in range(count.value)
            ]
        finally:
            _capi.lib.yolo_result_free(result)

    def semantic(self, image: ImageInput, *, channels: str = "rgb") -> ClassMap:
        """The class of every pixel of one image, with a semantic segmentation model, as Ultralytics'
        `semantic_mask`: `ClassMap.ids` is an H x W array at the image's size, a view of the library's
        memory (no copy). Takes the images `detect` takes.

        Raises:
            ValueError: the model is not a semantic segmentation model. The errors of `detect`.
        """
        if self.task != "semantic":
            raise ValueError(f"{self.model_path} is a {self.task} model, not a semantic segmentation model")
        owner = _ResultOwner(self._detect_one(image, channels, None))
        if _result_task(owner.result) != "semantic":
            raise ValueError(f"{self.model_path} was reloaded with a model of another task during the call")
        raw = _capi.RawClassMap()
        check(_capi.lib.yolo_result_class_map(owner.result, ctypes.byref(raw)))
        types = {1: ctypes.c_uint8, 2: ctypes.c_uint16, 4: ctypes.c_uint32}
        ids = owner.view(raw.data or 0, types[raw.element_size], raw.data_len, (raw.height, raw.width))
        counts = owner.view(raw.pixel_counts or 0, ctypes.c_uint64, raw.class_count, (raw.class_count,))
        names = _ResultNames(owner.result)
        return ClassMap(ids, counts, {i: names.get(i, str(i)) for i in range(raw.class_count)})

    def depth(self, image: ImageInput, *, channels: str = "rgb") -> "np.ndarray":
        """The depth of every pixel of one image, with a depth estimation model, as Ultralytics' `depth`: an
        H x W float32 array at the image's size, in the model's unit (metres for Ultralytics' models), a
        view of the library's memory (no copy). Takes the images `detect` takes.

        Raises:
            ValueError: the model is not a depth estimation model. The errors of `detect`.
        """
        if self.task != "depth":
            raise ValueError(f"{self.model_path} is a {self.task} model, not a depth estimation model")
        owner = _ResultOwner(self._detect_one(image, channels, None))
        raw = _capi.RawDepthMap()
        check(_capi.lib.yolo_result_depth_map(owner.result, ctypes.byref(raw)))
        return owner.view(raw.data or 0, ctypes.c_float, raw.data_len, (raw.height, raw.width))

    def track(
        self,
        image: ImageInput,
        *,
        persist: bool = False,
        tracker: Union[TrackerSpec, Tracker] = "botsort.yaml",
        conf: Optional[float] = None,
        iou: Optional[float] = None,
        max_det: Optional[int] = None,
        agnostic: Optional[bool] = None,
        retina_masks: Optional[bool] = None,
        polygons: bool = False,
        channels: str = "rgb",
    ) -> List[Detection]:
        """Detects objects in one video frame and tracks them, as Ultralytics' `model.track(frame,
        persist=..., tracker=...)`: each detection gets a `track_id`, the same from frame to frame for the
        same object, and its box is the track's (Kalman-filtered, clipped to the image; for oriented boxes
        `xywhr` and `corners`); masks and keypoints are the detection's. The list is in Ultralytics' order
        of tracks. When no track comes back, the frame's detections are given without ids, or none while a
        track started in this frame awaits confirmation (as Ultralytics gives them).

        `tracker` is `"botsort.yaml"` (the default) or `"bytetrack.yaml"`, a tracker YAML file or a dict of
        settings (see `Tracker`): the detector keeps one tracker for it, and `persist=False` (Ultralytics'
        default) starts it over, so frame-by-frame calls pass `persist=True`. Or a `Tracker`, one stream's
        own (`persist=False` resets it). `conf` defaults to 0.1, as in Ultralytics' `track`; the other
        arguments are `detect`'s. BoT-SORT's camera-motion compensation needs OpenCV
        (`pip install "yolo-ffi[track]"`).

        Raises:
            BusyError: another thread is updating the same tracker (one stream, one caller at a time).
            ImportError: BoT-SORT with sparseOptFlow without OpenCV, or a tracker file without PyYAML.
            and what `detect` raises.
        """
        if self.task not in ("detect", "segment", "pose", "obb"):
            raise ValueError(f"{self.model_path} is a {self.task} model: tracking needs boxes")
        stream = self._stream(tracker, persist)
        with self._options(0.1 if conf is None else conf, iou, max_det, agnostic, retina_masks=retina_masks) as options:
            result = self._detect_one(image, channels, options)
        try:
            stream._update(result, image, channels)
            return self._collect_tracked(result, polygons)
        finally:
            _capi.lib.yolo_result_free(result)

    def _stream(self, tracker: Union[TrackerSpec, Tracker], persist: bool) -> Tracker:
        """The tracker for this call: the caller's own, or the detector's, made (again) from `tracker`."""
        if isinstance(tracker, Tracker):
            if not persist:
                tracker.reset()
            return tracker
        spec = tuple(sorted(tracker.items())) if isinstance(tracker, dict) else os.fspath(tracker)  # type: ignore[arg-type]
        with self._lock:
            if self._tracker is None or not persist or spec != self._tracker_spec:
                old, self._tracker = self._tracker, Tracker(tracker)
                self._tracker_spec = spec
                if old is not None:
                    old.close()
            return self._tracker

    def _collect_tracked(self, result: _capi.result_p, polygons: bool) -> List[Detection]:
        """The tracked frame, as Ultralytics gives it: the tracks, each with its detection's mask or keypoints."""
        detections = self._collect(result, polygons)
        raw = ctypes.POINTER(_capi.RawTrack)()
        count, shown = ctypes.c_size_t(), ctypes.c_bool()
        check(_capi.lib.yolo_result_tracks(result, ctypes.byref(raw), ctypes.byref(count), ctypes.byref(shown)))
        if not count.value:
            return detections if shown.value else []
        width, height = ctypes.c_uint32(), ctypes.c_uint32()
        check(_capi.lib.yolo_result_image_size(result, ctypes.byref(width), ctypes.byref(height)))
        tracked = []
        for k in range(count.value):
            t = raw[k]
            d = detections[t.detection]
            if d.xywhr is not None:
                corners = obb_corners(t.x1, t.y1, t.x2, t.y2, t.angle)
                xs, ys = [c[0] for c in corners], [c[1] for c in corners]
                box = dict(
                    x1=min(max(min(xs), 0.0), width.value),
                    y1=min(max(min(ys), 0.0), height.value),
                    x2=min(max(max(xs), 0.0), width.value),
                    y2=min(max(max(ys), 0.0), height.value),
                )
                tracked.append(
                    dataclasses.replace(
                        d, **box, xywhr=(t.x1, t.y1, t.x2, t.y2, t.angle), corners=corners, track_id=t.id
                    )
                )
            else:
                tracked.append(dataclasses.replace(d, x1=t.x1, y1=t.y1, x2=t.x2, y2=t.y2, track_id=t.id))
        return tracked

    def _detect_one(self, image: ImageInput, channels: str, options: Optional[_capi.options_p]) -> _capi.result_p:
        """Runs one detect call on `image` and returns its result, which the caller frees."""
        result = _capi.result_p()
        if isinstance(image, (str, os.PathLike)):
            image = Path(image).read_bytes()
        if isinstance(image, (bytes, bytearray, memoryview)):
            try:
                encoded = np.frombuffer(image, dtype=np.uint8)
            except (ValueError, TypeError):  # a non-contiguous memoryview
                encoded = np.frombuffer(bytes(image), dtype=np.uint8)
            status = _capi.lib.yolo_detect(self._live(), encoded.ctypes.data, encoded.size, options, ctypes.byref(result))
        else:
            if _is_pil_image(image):
                image, channels = _pil_to_array(cast("PILImage", image)), "rgb"
            if not isinstance(image, np.ndarray):
                raise TypeError(
                    "image must be a path, bytes, bytearray, memoryview, numpy uint8 array or PIL image, "
                    f"not {type(image).__name__}"
                )
            pixels, pixels_len, width, height, stride, pixel_format = pixel_buffer(image, channels)
            status = _capi.lib.yolo_detect_pixels(
                self._live(),
                pixels.ctypes.data,
                pixels_len,
                width,
                height,
                stride,
                pixel_format,
                options,
                ctypes.byref(result),
            )
        check(status)
        return result

    def detect_batch(
        self,
        images: Sequence[Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]],
        *,
        conf: Optional[float] = None,
        iou: Optional[float] = None,
        max_det: Optional[int] = None,
        agnostic: Optional[bool] = None,
        retina_masks: Optional[bool] = None,
    ) -> List[List[Detection]]:
        """Detects objects in several encoded images (paths or bytes), one list of detections per image.

        On a model with a dynamic batch dimension, up to 8 images share one ONNX Runtime run, letterboxed
        as Ultralytics batches them (to the minimal rectangle only when all have the same size, so results
        can differ slightly from single calls for mixed sizes); other models run them one by one. All or
        nothing: one image that does not decode raises, naming its index. The GIL is released throughout.
        """
        encoded = []
        for image in images:
            if isinstance(image, (str, os.PathLike)):
                image = Path(image).read_bytes()
            if not isinstance(image, (bytes, bytearray, memoryview)):
                raise TypeError(f"detect_batch takes paths or encoded bytes, not {type(image).__name__}; use detect()")
            try:
                encoded.append(np.frombuffer(image, dtype=np.uint8))
            except (ValueError, TypeError):
                encoded.append(np.frombuffer(bytes(image), dtype=np.uint8))
        count = len(encoded)
        if count == 0:
            return []
        pointers = (ctypes.c_void_p * count)(*(e.ctypes.data for e in encoded))
        lengths = (ctypes.c_size_t * count)(*(e.size for e in encoded))
        results = (_capi.result_p * count)()
        with self._options(conf, iou, max_det, agnostic, retina_masks=retina_masks) as options:
            check(_capi.lib.yolo_detect_batch(self._live(), pointers, lengths, count, options, results))
        collected: List[List[Detection]] = []
        try:
            for result in results:
                collected.append(self._collect(_capi.result_p(result)))
        finally:
            for result in results:
                _capi.lib.yolo_result_free(result)
        return collected

    @staticmethod
    @contextlib.contextmanager
    def _options(
        conf: Optional[float],
        iou: Optional[float],
        max_det: Optional[int],
        agnostic: Optional[bool],
        retina_masks: Optional[bool] = None,
        top_k: Optional[int] = None,
    ) -> Iterator[Optional[_capi.options_p]]:
        """The per-call options for the C call in the `with` block: NULL when nothing is overridden. Each value
        given is checked by the library's setter."""
        if all(v is None for v in (conf, iou, max_det, agnostic, retina_masks, top_k)):
            yield None
            return
        lib = _capi.lib
        options = _capi.options_p()
        check(lib.yolo_detect_options_new(ctypes.byref(options)))
        try:
            if conf is not None:
                check(lib.yolo_detect_options_set_conf_threshold(options, float(conf)))
            if iou is not None:
                check(lib.yolo_detect_options_set_iou_threshold(options, float(iou)))
            if max_det is not None:
                check(lib.yolo_detect_options_set_max_detections(options, _uint(max_det, "max_det")))
            if agnostic is not None:
                check(lib.yolo_detect_options_set_class_agnostic(options, bool(agnostic)))
            if retina_masks is not None:
                check(lib.yolo_detect_options_set_retina_masks(options, bool(retina_masks)))
            if top_k is not None:
                check(lib.yolo_detect_options_set_top_k(options, _uint(top_k, "top_k")))
            yield options
        finally:
            lib.yolo_detect_options_free(options)

    def _collect(self, result: _capi.result_p, polygons: bool = False) -> List[Detection]:
        lib = _capi.lib
        raw = ctypes.POINTER(_capi.RawDetection)()
        count = ctypes.c_size_t()
        check(lib.yolo_result_detections(result, ctypes.byref(raw), ctypes.byref(count)))
        width, height = ctypes.c_uint32(), ctypes.c_uint32()
        check(lib.yolo_result_image_size(result, ctypes.byref(width), ctypes.byref(height)))
        task = _result_task(result) if count.value else "detect"
        names = _ResultNames(result)
        detections = []
        for i in range(count.value):
            d = raw[i]
            extra: Dict[str, Any] = {}
            if task == "segment":
                m = _capi.RawMask()
                check(lib.yolo_result_mask(result, i, ctypes.byref(m)))
                bitmap = np.zeros((m.height, m.width), dtype=bool)
                if m.data_len:
                    # One copy out of the result, which is released when this call returns.
                    data = np.ctypeslib.as_array(ctypes.cast(m.data, ctypes.POINTER(ctypes.c_uint8)), (m.data_len,))
                    bitmap = data.reshape(m.height, m.width).astype(bool)
                outline = None
                if polygons:
                    xy, count = ctypes.POINTER(ctypes.c_float)(), ctypes.c_size_t()
                    check(lib.yolo_result_mask_polygon(result, i, ctypes.byref(xy), ctypes.byref(count)))
                    outline = np.zeros((0, 2), np.float32)
                    if count.value:
                        outline = np.ctypeslib.as_array(xy, (count.value, 2)).copy()
                extra["mask"] = Mask(m.left, m.top, bitmap, width.value, height.value, outline)
            elif task == "pose":
                points = ctypes.POINTER(_capi.RawKeypoint)()
                n = ctypes.c_size_t()
                check(lib.yolo_result_keypoints(result, i, ctypes.byref(points), ctypes.byref(n)))
                floats = ctypes.cast(points, ctypes.POINTER(ctypes.c_float))
                extra["keypoints"] = np.ctypeslib.as_array(floats, (n.value, 3)).copy()
            elif task == "obb":
                o = _capi.RawOrientedBox()
                check(lib.yolo_result_oriented_box(result, i, ctypes.byref(o)))
                extra["xywhr"] = (o.cx, o.cy, o.width, o.height, o.angle)
                c = list(o.corners)
                extra["corners"] = tuple((c[2 * k], c[2 * k + 1]) for k in range(4))
            detections.append(
                Detection(
                    class_id=d.class_id,
                    class_name=names.get(d.class_id, str(d.class_id)),
                    score=d.score,
                    x1=d.x1,
                    y1=d.y1,
                    x2=d.x2,
                    y2=d.y2,
                    **extra,
                )
            )
        return detections


#: The settings `Detector` takes (its keyword arguments), which `reload` updates.
_SETTINGS = tuple(inspect.signature(Detector.__init__).parameters)[2:]


def _result_task(result: _capi.result_p) -> str:
    """The task of the model that made `result`."""
    out = ctypes.c_uint32()
    check(_capi.lib.yolo_result_task(result, ctypes.byref(out)))
    return _capi.TASKS[out.value]


class _ResultNames:
    """The class names of the model that made a result (which a reload may have replaced since), each read
    once from the result."""

    def __init__(self, result: _capi.result_p) -> None:
        self._result = result
        self._seen: Dict[int, str] = {}

    def get(self, class_id: int, default: str) -> str:
        name = self._seen.get(class_id)
        if name is None:
            pointer, length = ctypes.c_void_p(), ctypes.c_size_t()
            status = _capi.lib.yolo_result_class_name(self._result, class_id, ctypes.byref(pointer), ctypes.byref(length))
            if status == OutOfRangeError.status_code:
                return default
            check(status)
            name = self._seen[class_id] = _capi.utf8_at(pointer, length)
        return name


_shared: Dict[Tuple[str, Tuple[Tuple[str, Any], ...]], Detector] = {}
_shared_lock = threading.Lock()


def preload(model: Union[str, "os.PathLike[str]"], **options: Any) -> Detector:
    """This process's detector for `model` with `options`, opened on the first call and reused after.

    Meant for start-up hooks that can run more than once, such as Django's `AppConfig.ready()` (the
    autoreloader and test runners call it again): the second call returns the same `Detector`, so the
    model is neither loaded twice nor given a second handle. `async_load` defaults to True here, so
    start-up never waits for the model. A detector whose load failed, or that was closed, is replaced by a
    fresh one (the load is retried); one reloaded since (`Detector.reload`) is still the one returned, serving
    what it was reloaded with. Accepts every keyword of `Detector`. Thread-safe.
    """
    options.setdefault("async_load", True)
    key = (os.path.realpath(os.fspath(model)), tuple(sorted((k, repr(v)) for k, v in options.items())))
    with _shared_lock:
        detector = _shared.get(key)
        if detector is not None and not detector.closed and detector.state != LoadState.FAILED:
            return detector
        if detector is not None:
            detector.close()
        detector = Detector(model, **options)
        _shared[key] = detector
        return detector
