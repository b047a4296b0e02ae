"""Tracking across the frames of a video: ByteTrack and BoT-SORT as Ultralytics runs them (`model.track`).

    from yolo_ffi import Detector
    with Detector("yolo11n.onnx") as detector:
        for frame in frames:                        # paths, bytes, numpy arrays or PIL images
            for d in detector.track(frame, persist=True):
                print(d.track_id, d.class_name, d.box)

`Detector.track` keeps one tracker per detector, as Ultralytics keeps one per model; a server that watches
several streams gives each its own `Tracker` (`detector.track(frame, tracker=stream)`). The library does the
tracking (its ids, boxes and scores are Ultralytics'); BoT-SORT's camera-motion compensation
(`gmc_method: sparseOptFlow`, the default) is estimated here with OpenCV, with the calls Ultralytics makes
(`pip install "yolo-ffi[track]"`).
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import numpy as np

from . import _capi
from ._errors import BusyError, InvalidArgumentError, check

#: The tracker files Ultralytics ships, by the names `model.track(tracker=...)` takes.
TRACKER_FILES = {"bytetrack.yaml": "bytetrack", "botsort.yaml": "botsort"}

#: The settings of Ultralytics' tracker files that the library takes, by their YAML names.
_DOUBLES = (
    "track_high_thresh",
    "track_low_thresh",
    "new_track_thresh",
    "match_thresh",
    "proximity_thresh",
    "appearance_thresh",
)
#: Keys of Ultralytics' files that choose rather than set: the tracker, and the re-identification model.
_CHOOSERS = ("tracker_type", "model")

TrackerSpec = Union[str, "os.PathLike[str]", Mapping[str, Any]]


def _read_spec(tracker: TrackerSpec) -> Dict[str, Any]:
    """The settings a tracker spec names: Ultralytics' file names give only their kind (the library holds
    their values); a YAML file or a mapping gives its keys."""
    if isinstance(tracker, Mapping):
        return dict(tracker)
    name = os.fspath(tracker)
    if name in TRACKER_FILES:
        return {"tracker_type": TRACKER_FILES[name]}
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError as missing:
        raise ImportError(
            f"reading the tracker file {name} needs PyYAML (pip install pyyaml); or pass its settings as a dict"
        ) from missing
    with open(name, encoding="utf-8") as file:
        loaded = yaml.safe_load(file)
    if not isinstance(loaded, dict):
        raise InvalidArgumentError(f"{name} is not a tracker file: its top level is not a mapping")
    return loaded


class Tracker:
    """One stream's tracker: ByteTrack or BoT-SORT, its tracks and its ids (from 1).

    `tracker` is `"botsort.yaml"` or `"bytetrack.yaml"` (Ultralytics' files, whose values the library
    holds), the path of a tracker YAML file in Ultralytics' format (read with PyYAML), or a dict of its
    settings with `tracker_type` `"botsort"` or `"bytetrack"`; keyword arguments override single settings
    (`track_high_thresh`, `track_low_thresh`, `new_track_thresh`, `track_buffer`, `match_thresh`,
    `fuse_score`, `gmc_method`, `proximity_thresh`, `appearance_thresh`, `with_reid`). Only the values given
    are passed on; the rest are Ultralytics' defaults.

    A tracker follows one stream, one frame after another: feed it through `Detector.track(frame,
    tracker=this)`. An update while another thread updates the same tracker raises `BusyError`. Release it
    with `close()` or a `with` block (or let it be collected).
    """

    def __init__(self, tracker: TrackerSpec = "botsort.yaml", **settings: Any) -> None:
        self._handle: Optional[_capi.tracker_p] = None
        values = _read_spec(tracker)
        values.update(settings)
        kind = values.pop("tracker_type", None)
        if kind not in _capi.TRACKER_KINDS:
            raise InvalidArgumentError(
                f"tracker_type is {kind!r}: the library has {sorted(_capi.TRACKER_KINDS)} (Ultralytics' others "
                "are not offered)"
            )
        values.pop("model", None)
        unknown = sorted(set(values) - set(_DOUBLES) - {"track_buffer", "fuse_score", "gmc_method", "with_reid"})
        if unknown:
            raise InvalidArgumentError(f"unknown tracker settings: {', '.join(unknown)}")
        lib = _capi.lib
        config = _capi.tracker_config_p()
        check(lib.yolo_tracker_config_new(_capi.TRACKER_KINDS[kind], ctypes.byref(config)))
        try:
            for key, value in values.items():
                setter = getattr(lib, f"yolo_tracker_config_set_{key}")
                if key in _DOUBLES:
                    check(setter(config, float(value)))
                elif key == "track_buffer":
                    check(setter(config, int(value)))
                elif key == "gmc_method":
                    method = "none" if value in (None, "None") else value
                    if method not in _capi.GMC_METHODS:
                        raise InvalidArgumentError(
                            f"gmc_method is {value!r}: the library has {sorted(_capi.GMC_METHODS)}"
                        )
                    check(setter(config, _capi.GMC_METHODS[method]))
                else:
                    check(setter(config, bool(value)))
            handle = _capi.tracker_p()
            check(lib.yolo_tracker_new(config, ctypes.byref(handle)))
        finally:
            lib.yolo_tracker_config_free(config)
        self._handle = handle
        self._lock = threading.Lock()
        #: `"bytetrack"` or `"botsort"`.
        self.kind: str = kind
        #: The settings given (the others are Ultralytics' defaults, held by the library).
        self.overrides: Dict[str, Any] = values
        compensates = kind == "botsort" and values.get("gmc_method", "sparseOptFlow") not in ("none", None, "None")
        self._motion: Optional[_SparseOptFlow] = _SparseOptFlow() if compensates else None

    def close(self) -> None:
        """Releases the tracker. Idempotent."""
        handle, self._handle = self._handle, None
        if handle:
            _capi.lib.yolo_tracker_free(handle)

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._handle is None

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"Tracker({self.kind!r}, {self.overrides!r}, {state})"

    def _live(self) -> _capi.tracker_p:
        if self._handle is None:
            raise InvalidArgumentError("this tracker is closed")
        return self._handle

    def reset(self) -> None:
        """Forgets every track and restarts the ids from 1, as for a new video."""
        with self._exclusive():
            check(_capi.lib.yolo_tracker_reset(self._live()))
            if self._motion is not None:
                self._motion.reset()

    def _exclusive(self) -> "_Exclusive":
        return _Exclusive(self._lock)

    def _update(self, result: _capi.result_p, frame: Any, channels: str) -> None:
        """Tracks one frame's result; `frame` is what was detected, for the camera-motion estimate."""
        with self._exclusive():
            handle = self._live()
            if self._motion is None:
                check(_capi.lib.yolo_tracker_update(handle, result, None, 0))
                return
            warp = self._motion.estimate(_bgr(frame, channels))
            motion = (ctypes.c_double * 6)(*warp.ravel().tolist())
            check(_capi.lib.yolo_tracker_update(handle, result, motion, 6))


class _Exclusive:
    """Holds a tracker's lock for one call, or raises `BusyError`, as the library does for its own state."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            raise BusyError("the tracker is being updated by another thread: one stream, one caller at a time")

    def __exit__(self, *_exc: object) -> None:
        self._lock.release()


def _bgr(frame: Any, channels: str) -> np.ndarray:
    """The frame as OpenCV reads it (BGR, or grey), for the motion estimate."""
    import cv2  # checked by _SparseOptFlow

    if isinstance(frame, (str, os.PathLike)):
        with open(frame, "rb") as file:
            frame = file.read()
    if isinstance(frame, (bytes, bytearray, memoryview)):
        decoded = cv2.imdecode(np.frombuffer(frame, dtype=np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            raise InvalidArgumentError("OpenCV cannot decode this frame for the motion estimate")
        return np.asarray(decoded)
    array: np.ndarray = frame if isinstance(frame, np.ndarray) else np.asarray(frame.convert("RGB"))  # or PIL
    if not isinstance(frame, np.ndarray):
        channels = "rgb"
    if array.ndim == 2:
        return array
    pixels = array[..., :3]
    return pixels[..., ::-1] if channels == "rgb" else pixels


class _SparseOptFlow:
    """BoT-SORT's camera-motion estimate (Ultralytics' `GMC(method="sparseOptFlow")`, downscale 2): corners
    of the half-size grey frame (`goodFeaturesToTrack`: at most 400, quality 0.01), followed into the next
    frame by pyramidal Lucas-Kanade flow, a partial affine transform fitted to them with RANSAC, its
    translation doubled back to full size. The identity on the first frame, when fewer than five corners are
    followed, or when the fit fails."""

    def __init__(self) -> None:
        try:
            import cv2
        except ImportError as missing:
            raise ImportError(
                "BoT-SORT's camera-motion compensation (gmc_method sparseOptFlow) needs OpenCV: "
                'pip install "yolo-ffi[track]"; or use tracker="bytetrack.yaml", or gmc_method="none"'
            ) from missing
        self._cv2 = cv2
        self._previous: Optional[np.ndarray] = None
        self._corners: Optional[np.ndarray] = None

    def reset(self) -> None:
        self._previous = None
        self._corners = None

    def estimate(self, frame: np.ndarray) -> np.ndarray:
        cv2 = self._cv2
        warp = np.eye(2, 3)
        try:
            height, width = frame.shape[:2]
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
            grey = cv2.resize(grey, (width // 2, height // 2))
            corners = cv2.goodFeaturesToTrack(
                grey, mask=None, maxCorners=400, qualityLevel=0.01, minDistance=0, blockSize=3,
                useHarrisDetector=False, k=0.04,
            )
            if self._previous is None or self._corners is None:
                self._previous, self._corners = grey, corners
                return warp
            followed, status, _ = cv2.calcOpticalFlowPyrLK(self._previous, grey, self._corners, None)
            good = status.ravel().astype(bool)
            before, after = self._corners[good], followed[good]
            if before.shape[0] > 4:
                fitted = cv2.estimateAffinePartial2D(before, after, cv2.RANSAC)[0]
                if fitted is not None:
                    warp = fitted
                    warp[0, 2] *= 2
                    warp[1, 2] *= 2
            self._previous, self._corners = grey, corners
        except cv2.error:
            # As Ultralytics: a failed estimate is no motion, and the previous frame stays the reference.
            return np.eye(2, 3)
        return np.asarray(warp, dtype=np.float64)


def obb_corners(cx: float, cy: float, w: float, h: float, angle: float) -> Tuple[Tuple[float, float], ...]:
    """The four corners of a rotated box, in Ultralytics' order and single precision (`xywhr2xyxyxyxy`)."""
    c = np.array([cx, cy], dtype=np.float32)
    cos, sin = np.cos(np.float32(angle)), np.sin(np.float32(angle))
    along = np.array([w / 2 * cos, w / 2 * sin], dtype=np.float32)
    across = np.array([-h / 2 * sin, h / 2 * cos], dtype=np.float32)
    points = (c + along + across, c + along - across, c - along - across, c - along + across)
    return tuple((float(p[0]), float(p[1])) for p in points)
