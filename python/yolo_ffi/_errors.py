"""The exception hierarchy, and `check`: the one place where a status code becomes an exception."""

from __future__ import annotations

from typing import Dict, Type

from . import _capi


class YoloError(Exception):
    """A call into libyolo_ffi failed. `status` is the C `yolo_status` value, `message` the library's reason."""

    #: The `yolo_status` value this class stands for (0 on the base class: any status).
    status_code: int = 0

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = self.status_code if status is None else status


class InvalidArgumentError(YoloError, ValueError):
    """An argument was out of range, NaN, or inconsistent with another (`YOLO_STATUS_INVALID_ARGUMENT`)."""

    status_code = 1


class RuntimeUnavailableError(YoloError):
    """No usable ONNX Runtime library was found; the message lists every path tried."""

    status_code = 2


class ModelLoadError(YoloError):
    """The model file is missing, unreadable, or not valid ONNX."""

    status_code = 3


class InvalidModelError(YoloError):
    """The model is valid ONNX but not a YOLO detection model this library understands."""

    status_code = 4


class ImageDecodeError(YoloError, ValueError):
    """The encoded image is truncated, corrupt, or in an unsupported format."""

    status_code = 5


class ImageTooLargeError(YoloError, ValueError):
    """The image has more pixels than the detector's `max_image_pixels`."""

    status_code = 6


class AcquireTimeoutError(YoloError, TimeoutError):
    """Every session of the pool stayed busy for the detector's `acquire_timeout`."""

    status_code = 7


class InferenceError(YoloError):
    """ONNX Runtime failed while running the model."""

    status_code = 8


class OutOfRangeError(YoloError, IndexError):
    """An index, such as a class id, is out of range."""

    status_code = 9


class InternalError(YoloError):
    """A bug in yolo-ffi was caught before it could crash the process; please report the message."""

    status_code = 10


class NotReadyError(YoloError):
    """The model is still loading in the background (`async_load=True`) and `load_wait` ran out."""

    status_code = 11


class LoadFailedError(YoloError):
    """The background load failed; the message gives the reason. Every call on the detector says the same."""

    status_code = 12


class InvalidHandleError(YoloError):
    """The detector was closed, or a handle (a detector or a result) never came from the library."""

    status_code = 13


class OutOfMemoryError(YoloError, MemoryError):
    """Memory ran out loading or running the model: its input size is too large for this machine."""

    status_code = 14


class ProviderUnavailableError(YoloError):
    """An execution provider asked for (`providers=`) is not there: ONNX Runtime was built without it, or
    it failed to start. The message names it and the reason."""

    status_code = 15


_BY_STATUS: Dict[int, Type[YoloError]] = {
    cls.status_code: cls
    for cls in (
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
    )
}


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
