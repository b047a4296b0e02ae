"""yolo_ffi: Ultralytics YOLO models on ONNX Runtime, through libyolo_ffi's C ABI: detection, segmentation,
pose, oriented boxes and classification.

    from yolo_ffi import Detector
    with Detector("yolov8n.onnx") as detector:
        for d in detector.detect("bus.jpg"):
            print(d.class_name, d.score, d.box)

Results match Ultralytics' `predict` for the same model, image and thresholds. `Detection.mask`,
`.keypoints`, `.xywhr` and `.corners` carry what segmentation, pose and oriented-box models add;
`Detector.classify` gives a classification model's top classes. `Detector.track` follows objects from video
frame to frame (`Detection.track_id`), as Ultralytics' `model.track`. For web servers, use
`preload()` from a start-up hook: it loads once per process, in the background, and survives fork.
Log events go to the `yolo_ffi` logger.
"""

from __future__ import annotations

from ._errors import (
    AcquireTimeoutError,
    BusyError,
    ImageDecodeError,
    ImageTooLargeError,
    InferenceError,
    InternalError,
    InvalidArgumentError,
    InvalidHandleError,
    OutOfMemoryError,
    ProviderUnavailableError,
    InvalidModelError,
    LoadFailedError,
    ModelLoadError,
    NotReadyError,
    OutOfRangeError,
    RuntimeUnavailableError,
    YoloError,
)
from ._runtime import after_fork, onnxruntime_library, version
from .detector import (
    ClassMap,
    ClassProbability,
    Detection,
    Detector,
    ImageInput,
    LoadState,
    Mask,
    ReloadStats,
    Stats,
    pixel_buffer,
    preload,
)
from .tracking import Tracker

#: The version of this package, which is also the bundled library's (`version()`).
__version__ = version()

__all__ = [
    "AcquireTimeoutError",
    "BusyError",
    "ClassMap",
    "ClassProbability",
    "Detection",
    "Detector",
    "ImageDecodeError",
    "ImageInput",
    "ImageTooLargeError",
    "InferenceError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidHandleError",
    "OutOfMemoryError",
    "InvalidModelError",
    "LoadFailedError",
    "LoadState",
    "Mask",
    "ReloadStats",
    "ModelLoadError",
    "NotReadyError",
    "OutOfRangeError",
    "ProviderUnavailableError",
    "RuntimeUnavailableError",
    "Stats",
    "Tracker",
    "YoloError",
    "__version__",
    "after_fork",
    "onnxruntime_library",
    "pixel_buffer",
    "preload",
    "version",
]
