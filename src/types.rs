//! The `#[repr(C)]` types of the ABI and their conversions to the core's types.

use std::ffi::{c_char, CStr, CString};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use yolo_ffi_core::detector::{Detector, DetectorConfig, DEFAULT_MAX_IMAGE_PIXELS};
use yolo_ffi_core::error::{Error, ErrorKind, Result};
use yolo_ffi_core::image_input::PixelFormat;
use yolo_ffi_core::postprocess::{Detection, NmsSettings};
use yolo_ffi_core::registry::LoadState;

use crate::api::LoadGate;
use crate::boundary::optional_path;
use crate::handles::BoxOwned;

/// The outcome of a call. Values are stable: a value is never reused for another meaning, and new
/// statuses only get new values. On any status but `YOLO_STATUS_OK`, `yolo_last_error()` describes the
/// failure and no out-parameter was written.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum yolo_status {
    /// Success.
    Ok = 0,
    /// An argument was NULL, out of range, NaN, or inconsistent with another argument.
    InvalidArgument = 1,
    /// No usable ONNX Runtime library was found; the message lists every path tried.
    RuntimeUnavailable = 2,
    /// The model file is missing, unreadable, a directory, or not a valid ONNX model.
    ModelLoadFailed = 3,
    /// The model is valid ONNX but not a YOLO detection model this library understands.
    InvalidModel = 4,
    /// The encoded image is truncated, corrupt, or in an unsupported format.
    ImageDecodeFailed = 5,
    /// The image has more pixels than `max_image_pixels` allows.
    ImageTooLarge = 6,
    /// Every session stayed busy for `acquire_timeout_ms`.
    Timeout = 7,
    /// ONNX Runtime failed while running the model.
    InferenceFailed = 8,
    /// An index (such as a class id) is out of range.
    OutOfRange = 9,
    /// A bug in yolo-ffi was caught before it could crash the caller; please report the message.
    InternalError = 10,
    /// The model is still loading in the background (`async_load`), and the detector's `load_wait_ms`
    /// ran out.
    NotReady = 11,
    /// The model failed to load in the background; the message gives the reason. The detector stays valid
    /// (and must still be freed): every call reports the same failure.
    LoadFailed = 12,
    /// The handle was freed already, or never came from this library: a detector after `yolo_free`, or
    /// something that is not a live result passed to a `yolo_result_*` function.
    InvalidHandle = 13,
    /// Memory ran out while loading the model or running it: a buffer for the model's input size, or an
    /// allocation inside ONNX Runtime, could not be made. The model may be valid but too large for this
    /// machine's memory (or the process's limit) at its input size.
    OutOfMemory = 14,
}

impl From<ErrorKind> for yolo_status {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => Self::InvalidArgument,
            ErrorKind::RuntimeUnavailable => Self::RuntimeUnavailable,
            ErrorKind::ModelLoadFailed => Self::ModelLoadFailed,
            ErrorKind::InvalidModel => Self::InvalidModel,
            ErrorKind::ImageDecodeFailed => Self::ImageDecodeFailed,
            ErrorKind::ImageTooLarge => Self::ImageTooLarge,
            ErrorKind::Timeout => Self::Timeout,
            ErrorKind::InferenceFailed => Self::InferenceFailed,
            ErrorKind::OutOfRange => Self::OutOfRange,
            ErrorKind::Internal => Self::InternalError,
            ErrorKind::NotReady => Self::NotReady,
            ErrorKind::LoadFailed => Self::LoadFailed,
            ErrorKind::InvalidHandle => Self::InvalidHandle,
            ErrorKind::OutOfMemory => Self::OutOfMemory,
        }
    }
}

impl yolo_status {
    /// Every status, for `yolo_status_string` and the tests.
    pub const ALL: [yolo_status; 15] = [
        Self::Ok,
        Self::InvalidArgument,
        Self::RuntimeUnavailable,
        Self::ModelLoadFailed,
        Self::InvalidModel,
        Self::ImageDecodeFailed,
        Self::ImageTooLarge,
        Self::Timeout,
        Self::InferenceFailed,
        Self::OutOfRange,
        Self::InternalError,
        Self::NotReady,
        Self::LoadFailed,
        Self::InvalidHandle,
        Self::OutOfMemory,
    ];

    /// A short, static, NUL-terminated description.
    pub fn description(self) -> &'static std::ffi::CStr {
        match self {
            Self::Ok => c"ok",
            Self::InvalidArgument => c"invalid argument",
            Self::RuntimeUnavailable => c"ONNX Runtime unavailable",
            Self::ModelLoadFailed => c"model load failed",
            Self::InvalidModel => c"invalid model",
            Self::ImageDecodeFailed => c"image decode failed",
            Self::ImageTooLarge => c"image too large",
            Self::Timeout => c"timed out waiting for a session",
            Self::InferenceFailed => c"inference failed",
            Self::OutOfRange => c"out of range",
            Self::InternalError => c"internal error",
            Self::NotReady => c"model not ready yet",
            Self::LoadFailed => c"model load failed",
            Self::InvalidHandle => c"invalid handle",
            Self::OutOfMemory => c"out of memory",
        }
    }
}

/// The layout of one pixel in a buffer passed to `yolo_detect_pixels`. Values are stable; 0 is never valid,
/// so a zeroed struct is caught.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_pixel_format {
    /// Red, green, blue: 3 bytes per pixel (PIL, numpy from most decoders).
    Rgb8 = 1,
    /// Blue, green, red: 3 bytes per pixel (OpenCV's `cv::Mat` and `cv2.imread`).
    Bgr8 = 2,
    /// Red, green, blue, alpha: 4 bytes per pixel. Alpha is ignored.
    Rgba8 = 3,
    /// Blue, green, red, alpha: 4 bytes per pixel. Alpha is ignored.
    Bgra8 = 4,
    /// One grey byte per pixel.
    Gray8 = 5,
}

/// Where a detector's model load stands, from `yolo_state`. Values are stable.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_load_state {
    /// Loading on a background thread (`async_load`).
    Loading = 1,
    /// Loaded: detect calls run.
    Ready = 2,
    /// The load failed: every call reports `YOLO_STATUS_LOAD_FAILED`; `yolo_load_error` says why.
    Failed = 3,
}

impl From<LoadState> for yolo_load_state {
    fn from(state: LoadState) -> Self {
        match state {
            LoadState::Loading => Self::Loading,
            LoadState::Ready => Self::Ready,
            LoadState::Failed => Self::Failed,
        }
    }
}

/// Called once when a detector's model load ends: with `YOLO_STATUS_OK` and an empty message, or with the
/// failure's status and message. It runs on the loading thread (for a synchronous load, inside `yolo_init`;
/// for a model that had already loaded, at once inside `yolo_init`). The message is valid only during the
/// call. The callback must not unwind. It runs after the detector's state has changed and waiters were
/// woken: `yolo_wait_ready` may return while the callback is still running on the loading thread. It is
/// never called once `yolo_free` on its detector has returned (`yolo_free` waits for a callback running
/// at that moment), so `user_data` need only live until then.
pub type yolo_load_callback =
    Option<unsafe extern "C" fn(user_data: *mut std::ffi::c_void, status: yolo_status, message: *const c_char)>;

/// Counters of one detector, from `yolo_stats`. Each counter is read atomically, the set is not: under load
/// the numbers may be a few calls apart. Owned by the caller.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct yolo_detector_stats {
    /// A `yolo_load_state` value.
    pub state: u32,
    /// How long the model load took, in microseconds; 0 while loading.
    pub load_time_us: u64,
    /// Successful `yolo_detect` and `yolo_detect_pixels` calls on this detector.
    pub detects: u64,
    /// Failed detect calls on this detector, indexed by `yolo_status` value.
    pub errors_by_status: [u64; 32],
    /// Sessions in the model's pool (shared with the detectors that share the model); 0 unless ready, and 0
    /// in a forked child until its own sessions are built (by its first detect or `yolo_after_fork`).
    pub sessions: u32,
    /// Of those, idle right now.
    pub sessions_idle: u32,
    /// Detect calls (of every detector sharing the model) that found every session busy and waited.
    pub pool_waits: u64,
    /// Their total wait, in microseconds.
    pub pool_wait_us: u64,
    /// Median latency of successful detect calls, in microseconds, as the upper edge of its histogram bucket.
    pub latency_p50_us: u64,
    /// 90th percentile, likewise.
    pub latency_p90_us: u64,
    /// 99th percentile, likewise.
    pub latency_p99_us: u64,
    /// Successful calls by latency: bucket `i` counts calls under `2^i` microseconds (and at least `2^(i-1)`).
    pub latency_histogram: [u64; 32],
}

/// Receives the library's events (loads, load failures, fork rebuilds, warnings) with a level: 1 error,
/// 2 warning, 3 info. Called on the thread where the event happens; the message is valid only during the
/// call. It must not call back into the library, and must not unwind.
pub type yolo_log_callback =
    Option<unsafe extern "C" fn(user_data: *mut std::ffi::c_void, level: u32, message: *const c_char)>;

/// `load_wait_ms` value that makes calls on a loading model wait for ever.
pub const YOLO_WAIT_FOREVER: u32 = u32::MAX;

/// The most images one `yolo_detect_batch` call takes.
pub const YOLO_BATCH_LIMIT: usize = 1024;

/// Converts the raw `uint32_t` a C caller passed, which may be any value.
pub(crate) fn pixel_format_from_raw(raw: u32) -> Result<PixelFormat> {
    const RGB8: u32 = yolo_pixel_format::Rgb8 as u32;
    const BGR8: u32 = yolo_pixel_format::Bgr8 as u32;
    const RGBA8: u32 = yolo_pixel_format::Rgba8 as u32;
    const BGRA8: u32 = yolo_pixel_format::Bgra8 as u32;
    const GRAY8: u32 = yolo_pixel_format::Gray8 as u32;
    match raw {
        RGB8 => Ok(PixelFormat::Rgb8),
        BGR8 => Ok(PixelFormat::Bgr8),
        RGBA8 => Ok(PixelFormat::Rgba8),
        BGRA8 => Ok(PixelFormat::Bgra8),
        GRAY8 => Ok(PixelFormat::Gray8),
        other => {
            Err(Error::invalid_argument(format!("pixel_format {other} is not a yolo_pixel_format value (1 to 5)")))
        }
    }
}

/// How to load a detector. Get one from `yolo_config_default()`, then set the fields you need. The struct
/// is only read during `yolo_init`; the caller keeps ownership of it and of the strings it points to, which
/// may be freed as soon as `yolo_init` returns.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct yolo_config {
    /// Required. NUL-terminated path of the ONNX model, in the operating system's encoding.
    pub model_path: *const c_char,
    /// Optional (NULL or ""). NUL-terminated path of `libonnxruntime.so`; when set, only this file is tried.
    /// Otherwise the library searches `YOLO_FFI_ORT_LIBRARY`, `ORT_DYLIB_PATH`, the folder of
    /// `libyolo_ffi.so`, `~/.cache/yolo-ffi/onnxruntime-1.32.0/`, then the system loader. A process loads
    /// ONNX Runtime once: after the first success, later values are ignored.
    pub ort_library_path: *const c_char,
    /// Sessions in the pool, at most 256. 0 (default): chosen from the core count and
    /// `threads_per_session` so that sessions x threads does not exceed the cores. With both 0 on a
    /// machine with several cores, the pool has sessions of several widths: one with a thread per core,
    /// two with half the cores each, and so on down to one single-threaded session per core (2 cores:
    /// 1 x 2 + 2 x 1; 16 cores: 31 sessions). Each call takes a session as wide as the cores divided by
    /// the calls in flight, so one caller and many are both served at full speed, for fewer than twice
    /// as many sessions' memory as cores. Set `pool_size` or `threads_per_session` for a smaller pool.
    pub pool_size: u32,
    /// Intra-op threads per session. 0 (default): the cores divided by `pool_size`, at least 1.
    pub threads_per_session: u32,
    /// Letterbox size for models with a dynamic input, rounded up to the model's stride. 0 (default): the
    /// model's `imgsz` metadata, else 640. Models with a fixed input size always use that size.
    pub imgsz: u32,
    /// Default confidence threshold in [0, 1]; boxes must score strictly above it. Default 0.25.
    pub conf_threshold: f32,
    /// Default NMS IoU threshold in [0, 1]. Default 0.7.
    pub iou_threshold: f32,
    /// Default maximum number of detections per image, at least 1. Default 300.
    pub max_detections: u32,
    /// Default for class-agnostic NMS. Default false.
    pub class_agnostic: bool,
    /// How long `yolo_detect` waits for a free session, in milliseconds; 0 (default) waits for ever.
    pub acquire_timeout_ms: u32,
    /// Images with more pixels are rejected with `YOLO_STATUS_IMAGE_TOO_LARGE` before being decoded.
    /// 0 means the default, 100000000.
    pub max_image_pixels: u64,
    /// Return from `yolo_init` at once and load the model on a background thread: start-up never blocks
    /// on the model, and a failed load leaves a valid detector that reports `YOLO_STATUS_LOAD_FAILED`.
    /// The first `yolo_init` of a process still loads ONNX Runtime itself before returning (about 50 ms),
    /// so that no background thread is inside the runtime's loading if the process exits; a runtime that
    /// cannot be loaded also gives a detector in the failed state. Default false: `yolo_init` loads, and
    /// fails if the load fails.
    pub async_load: bool,
    /// While the model is loading, how long calls on this detector wait for it before returning
    /// `YOLO_STATUS_NOT_READY`: 0 (default) returns at once, `YOLO_WAIT_FOREVER` waits for ever.
    pub load_wait_ms: u32,
    /// Optional. Called once when the load ends; see `yolo_load_callback`.
    pub on_load: yolo_load_callback,
    /// Passed to `on_load` as is; the library never dereferences it.
    pub on_load_user_data: *mut std::ffi::c_void,
    /// Give every session of the pool one shared copy of the model's weights, so that a pool of N costs
    /// little more memory than one session. Needs graph optimisation Level 2 instead of All, which makes
    /// each inference slower (see the README's measurements). Default false.
    pub share_weights: bool,
}

impl Default for yolo_config {
    fn default() -> Self {
        let nms = NmsSettings::default();
        Self {
            model_path: std::ptr::null(),
            ort_library_path: std::ptr::null(),
            pool_size: 0,
            threads_per_session: 0,
            imgsz: 0,
            conf_threshold: nms.conf_threshold,
            iou_threshold: nms.iou_threshold,
            max_detections: nms.max_detections as u32,
            class_agnostic: nms.class_agnostic,
            acquire_timeout_ms: 0,
            max_image_pixels: DEFAULT_MAX_IMAGE_PIXELS,
            async_load: false,
            load_wait_ms: 0,
            on_load: None,
            on_load_user_data: std::ptr::null_mut(),
            share_weights: false,
        }
    }
}

impl yolo_config {
    /// Converts to the core's config.
    ///
    /// # Safety
    /// The string pointers must be NULL or NUL-terminated strings valid for the call.
    pub(crate) unsafe fn to_core(self) -> Result<DetectorConfig> {
        // SAFETY: forwarded to the caller's contract.
        let model_path = unsafe { optional_path(self.model_path) }
            .ok_or_else(|| Error::invalid_argument("config.model_path is NULL or empty"))?;
        let mut config = DetectorConfig::new(model_path);
        // SAFETY: as above.
        config.ort_library_path = unsafe { optional_path(self.ort_library_path) };
        config.pool_size = self.pool_size as usize;
        config.threads_per_session = self.threads_per_session as usize;
        config.imgsz = (self.imgsz != 0).then_some((self.imgsz, self.imgsz));
        config.nms = NmsSettings {
            conf_threshold: self.conf_threshold,
            iou_threshold: self.iou_threshold,
            max_detections: self.max_detections as usize,
            class_agnostic: self.class_agnostic,
        };
        config.acquire_timeout =
            (self.acquire_timeout_ms != 0).then(|| Duration::from_millis(self.acquire_timeout_ms.into()));
        config.max_image_pixels =
            if self.max_image_pixels == 0 { DEFAULT_MAX_IMAGE_PIXELS } else { self.max_image_pixels };
        config.async_load = self.async_load;
        config.share_weights = self.share_weights;
        config.load_wait = match self.load_wait_ms {
            YOLO_WAIT_FOREVER => None,
            ms => Some(Duration::from_millis(ms.into())),
        };
        Ok(config)
    }
}

/// The value of a `yolo_detect_options` float field that means "use the detector's default".
pub const YOLO_INHERIT_THRESHOLD: f32 = -1.0;
/// The value of `yolo_detect_options.class_agnostic` that means "use the detector's default".
pub const YOLO_INHERIT_FLAG: i32 = -1;

/// Per-call overrides of the detector's defaults. Get one from `yolo_detect_options_default()`, which
/// inherits everything, and change the fields you need. Owned by the caller and only read during the call,
/// so one options value may be shared by many threads.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct yolo_detect_options {
    /// Confidence threshold in [0, 1], or `YOLO_INHERIT_THRESHOLD` (-1).
    pub conf_threshold: f32,
    /// NMS IoU threshold in [0, 1], or `YOLO_INHERIT_THRESHOLD` (-1).
    pub iou_threshold: f32,
    /// Maximum detections, or 0 to inherit.
    pub max_detections: u32,
    /// 1: class-agnostic NMS, 0: per class, `YOLO_INHERIT_FLAG` (-1): inherit.
    pub class_agnostic: i32,
}

impl Default for yolo_detect_options {
    fn default() -> Self {
        Self {
            conf_threshold: YOLO_INHERIT_THRESHOLD,
            iou_threshold: YOLO_INHERIT_THRESHOLD,
            max_detections: 0,
            class_agnostic: YOLO_INHERIT_FLAG,
        }
    }
}

impl yolo_detect_options {
    /// Merges these overrides into `defaults`. Out-of-range values are reported by the core's validation.
    pub(crate) fn apply_to(&self, defaults: NmsSettings) -> Result<NmsSettings> {
        let pick = |value: f32, default: f32| {
            if value == YOLO_INHERIT_THRESHOLD {
                default
            } else {
                value
            }
        };
        Ok(NmsSettings {
            conf_threshold: pick(self.conf_threshold, defaults.conf_threshold),
            iou_threshold: pick(self.iou_threshold, defaults.iou_threshold),
            max_detections: if self.max_detections == 0 {
                defaults.max_detections
            } else {
                self.max_detections as usize
            },
            class_agnostic: match self.class_agnostic {
                YOLO_INHERIT_FLAG => defaults.class_agnostic,
                0 => false,
                1 => true,
                other => {
                    return Err(Error::invalid_argument(format!("options.class_agnostic {other} is not -1, 0 or 1")))
                }
            },
        })
    }
}

/// One detected object. Coordinates are in pixels of the original image (after EXIF orientation for
/// encoded images), clipped to it: `0 <= x1 <= x2 <= width`, `0 <= y1 <= y2 <= height`. Detections live in
/// an array owned by a `yolo_result`, valid until `yolo_result_free`; copy them to keep them longer.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct yolo_detection {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
    /// Confidence, strictly above the threshold used.
    pub score: f32,
    /// Class id; `yolo_class_name` gives its name.
    pub class_id: u32,
}

impl From<Detection> for yolo_detection {
    fn from(d: Detection) -> Self {
        Self { x1: d.x1, y1: d.y1, x2: d.x2, y2: d.y2, score: d.score, class_id: d.class_id }
    }
}

/// A loaded model and its pool of ONNX Runtime sessions.
///
/// Created by `yolo_init`, released by `yolo_free`. Thread-safe: any number of threads may call
/// `yolo_detect`, `yolo_detect_pixels` and the query functions on one detector at the same time. Freeing it
/// while other threads are inside calls on it is safe: those calls finish normally, and its memory is
/// released when the last returns; calls that start after `yolo_free` get `YOLO_STATUS_INVALID_HANDLE`.
pub struct yolo_detector {
    _private: [u8; 0],
}

/// The detections of one image, owned by the caller until `yolo_result_free`. Independent of the detector:
/// it stays valid after `yolo_free`. Not synchronised: share it between threads only read-only.
pub struct yolo_result {
    _private: [u8; 0],
}

/// What a `yolo_detector` handle stands for, in the handle table.
pub(crate) struct DetectorHandle {
    pub(crate) detector: Detector,
    c_names: OnceLock<Vec<CString>>,
    c_load_error: OnceLock<CString>,
    /// The gate of the detector's `on_load` callback, if it has one.
    load_gate: Option<Arc<LoadGate>>,
}

impl DetectorHandle {
    pub(crate) fn new(detector: Detector, load_gate: Option<Arc<LoadGate>>) -> Self {
        Self { detector, c_names: OnceLock::new(), c_load_error: OnceLock::new(), load_gate }
    }

    /// The gate that `yolo_free` closes so that `on_load` is not called after it.
    pub(crate) fn load_gate(&self) -> Option<&LoadGate> {
        self.load_gate.as_deref()
    }

    /// The class names as C strings, once the model is loaded.
    pub(crate) fn c_names(&self) -> Result<&[CString]> {
        let model = self.detector.model()?;
        Ok(self.c_names.get_or_init(|| model.class_names().iter().map(|name| c_string_lossy(name)).collect()))
    }

    /// The reason of a failed load as a C string; "" when the load did not fail.
    pub(crate) fn c_load_error(&self) -> &CStr {
        match self.detector.load_error() {
            Some(error) => self.c_load_error.get_or_init(|| c_string_lossy(error.message())),
            None => c"",
        }
    }
}

/// A C string of `text`, NULs replaced by `?`.
pub(crate) fn c_string_lossy(text: &str) -> CString {
    CString::new(text.replace('\0', "?")).expect("NULs were replaced")
}

/// What `yolo_result` points to.
pub(crate) struct DetectionResult {
    pub(crate) detections: Vec<yolo_detection>,
    pub(crate) image_width: u32,
    pub(crate) image_height: u32,
}

impl BoxOwned for yolo_result {
    type Rust = DetectionResult;
    const NAME: &'static str = "result";
    /// "yoloRSLT" in ASCII.
    const TAG: u64 = u64::from_be_bytes(*b"yoloRSLT");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_values_are_stable() {
        let values: Vec<u32> = yolo_status::ALL.iter().map(|s| *s as u32).collect();
        assert_eq!(values, (0..=14).collect::<Vec<u32>>());
    }

    #[test]
    fn every_pixel_format_value_round_trips_and_others_are_rejected() {
        assert_eq!(pixel_format_from_raw(2).unwrap(), PixelFormat::Bgr8);
        assert_eq!(pixel_format_from_raw(5).unwrap(), PixelFormat::Gray8);
        for bad in [0, 6, u32::MAX] {
            assert!(pixel_format_from_raw(bad).is_err());
        }
    }

    #[test]
    fn options_inherit_and_override() {
        let defaults = NmsSettings::default();
        assert_eq!(yolo_detect_options::default().apply_to(defaults).unwrap(), defaults);
        let custom =
            yolo_detect_options { conf_threshold: 0.5, iou_threshold: 0.0, max_detections: 3, class_agnostic: 1 };
        let merged = custom.apply_to(defaults).unwrap();
        assert_eq!(
            (merged.conf_threshold, merged.iou_threshold, merged.max_detections, merged.class_agnostic),
            (0.5, 0.0, 3, true)
        );
        assert!(yolo_detect_options { class_agnostic: 2, ..Default::default() }.apply_to(defaults).is_err());
        let negative = yolo_detect_options { conf_threshold: -0.5, ..Default::default() }.apply_to(defaults).unwrap();
        assert!(negative.validate().is_err(), "only -1 exactly inherits");
    }
}
