"""The exception hierarchy, and `check`: the one place where a status code becomes an exception."""

from __future__ import annotations

from typing import Dict, Tuple, Type

from . import _capi


class YoloError(Exception):
    """A call into libyolo_ffi failed. `status` is the C `yolo_status` value, `message` the library's reason."""

    #: The name of the `yolo_status` this class stands for ("" on the base class: any status); the library
    #: gives its value, `status_code`.
    status_name: str = ""
    #: The `yolo_status` value this class stands for (0 on the base class), read from the library.
    status_code: int = 0

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = self.status_code if status is None else status


class InvalidArgumentError(YoloError, ValueError):
    """An argument was out of range, NaN, or inconsistent with another (`YOLO_STATUS_INVALID_ARGUMENT`)."""

    status_name = "INVALID_ARGUMENT"


class RuntimeUnavailableError(YoloError):
    """No usable ONNX Runtime library was found; the message lists every path tried."""

    status_name = "RUNTIME_UNAVAILABLE"


class ModelLoadError(YoloError):
    """The model file is missing, unreadable, or not valid ONNX."""

    status_name = "MODEL_LOAD_FAILED"


class InvalidModelError(YoloError):
    """The model is valid ONNX but not a YOLO detection model this library understands."""

    status_name = "INVALID_MODEL"


class ImageDecodeError(YoloError, ValueError):
    """The encoded image is truncated, corrupt, or in an unsupported format."""

    status_name = "IMAGE_DECODE_FAILED"


class ImageTooLargeError(YoloError, ValueError):
    """The image has more pixels than the detector's `max_image_pixels`."""

    status_name = "IMAGE_TOO_LARGE"


class AcquireTimeoutError(YoloError, TimeoutError):
    """Every session of the pool stayed busy for the detector's `acquire_timeout`."""

    status_name = "TIMEOUT"


class InferenceError(YoloError):
    """ONNX Runtime failed while running the model."""

    status_name = "INFERENCE_FAILED"


class OutOfRangeError(YoloError, IndexError):
    """An index, such as a class id, is out of range."""

    status_name = "OUT_OF_RANGE"


class InternalError(YoloError):
    """A bug in yolo-ffi was caught before it could crash the process; please report the message."""

    status_name = "INTERNAL_ERROR"


class NotReadyError(YoloError):
    """The model is still loading in the background (`async_load=True`) and `load_wait` ran out."""

    status_name = "NOT_READY"


class LoadFailedError(YoloError):
    """The background load failed; the message gives the reason. Every call on the detector says the same."""

    status_name = "LOAD_FAILED"


class InvalidHandleError(YoloError):
    """The detector was closed, or a handle (a detector or a result) never came from the library."""

    status_name = "INVALID_HANDLE"


class OutOfMemoryError(YoloError, MemoryError):
    """Memory ran out loading or running the model: its input size is too large for this machine."""

    status_name = "OUT_OF_MEMORY"


class ProviderUnavailableError(YoloError):
    """An execution provider asked for (`providers=`) is not there: ONNX Runtime was built without it, or
    it failed to start. The message names it and the reason."""

    status_name = "PROVIDER_UNAVAILABLE"


class BusyError(YoloError):
    """Another thread is using the object in a call that must not overlap: a `Tracker` updated by two threads
    at once (one stream, one caller at a time). Nothing was changed."""

    status_name = "BUSY"


_CLASSES: Tuple[Type[YoloError], ...] = (
    InvalidArgumentError,
    RuntimeUnavailableError,
    ModelLoadError,
    InvalidModelError,
    ImageDecodeError,
    ImageTooLargeError,
    AcquireTimeoutError,
    InferenceError,
    OutOfRangeError,
    InternalError,
    NotReadyError,
    LoadFailedError,
    InvalidHandleError,
    OutOfMemoryError,
    ProviderUnavailableError,
    BusyError,
)


def _by_status() -> Dict[int, Type[YoloError]]:
    """Each class under the value the library gives its status's name (the values are not restated here)."""
    values = {name: value for value, name in _capi.STATUS_NAMES.items()}
    table: Dict[int, Type[YoloError]] = {}
    for cls in _CLASSES:
        value = values.get(cls.status_name)
        if value is not None:  # a status this library does not have: the class is never raised
            cls.status_code = value
            table[value] = cls
    return table


_BY_STATUS = _by_status()


def error_for(status: int, message: str) -> YoloError:
    """The exception for `status`; statuses newer than this module become a plain `YoloError`."""
    return _BY_STATUS.get(status, YoloError)(message, status)


def last_error_message(status: int) -> str:
    """This thread's last error message from the library, or the status's description if it has none."""
    message = (_capi.lib.yolo_last_error() or b"").decode("utf-8", errors="replace")
    if not message:
        message = (_capi.lib.yolo_status_string(status) or b"").decode("utf-8", errors="replace")
    return message


def check(status: int) -> None:
    """Raises the exception for a failed status; returns on `YOLO_STATUS_OK`.

    Call it right after the C call, on the same thread: the library's error message is thread-local.
    """
    if status != 0:
        raise error_for(status, last_error_message(status))
