//! The `#[repr(C)]` types of the ABI and their conversions to the core's types.

use std::ffi::{c_char, CStr, CString};
use std::sync::{Arc, OnceLock};

use yolo_ffi_core::provider::ProviderKind;
use yolo_ffi_core::{Detection, Detections, Detector, Error, ErrorKind, LoadState, Mask, OrientedBox, PixelFormat};
use yolo_ffi_core::{Result, Task};

use crate::api::LoadGate;
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
    /// The model is valid ONNX but not a YOLO model this library understands, or its outputs do not fit
    /// its task; the message names the shapes.
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
    /// An execution provider the config asks for is not there: the loaded ONNX Runtime was built without it,
    /// or it failed to start (a missing CUDA or cuDNN library, no such device). The message names the
    /// provider and the reason. With `yolo_config_set_provider_fallback(config, true)` the next provider of
    /// the list is tried instead, and this status means none was there.
    ProviderUnavailable = 15,
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
            ErrorKind::ProviderUnavailable => Self::ProviderUnavailable,
        }
    }
}

impl yolo_status {
    /// Every status, for `yolo_status_string` and the tests.
    pub const ALL: [yolo_status; 16] = [
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
        Self::ProviderUnavailable,
    ];

    /// The status's name without its prefix (`INVALID_ARGUMENT` for `YOLO_STATUS_INVALID_ARGUMENT`), for
    /// `yolo_status_name`. Derived from the variant's name by the rule cbindgen applies to the header
    /// (cbindgen.toml: `ScreamingSnakeCase`), so that the names are written once, in this enum.
    pub fn name(self) -> &'static CStr {
        static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
        let names =
            NAMES.get_or_init(|| Self::ALL.iter().map(|status| screaming_snake(&format!("{status:?}"))).collect());
        // ALL is in value order from 0 (a test holds it), so a value is its index.
        &names[self as usize]
    }

    /// The status of a raw value, if it is one.
    pub fn from_raw(value: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as u32 == value)
    }

    /// A short, static, NUL-terminated description.
    pub fn description(self) -> &'static CStr {
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
            Self::ProviderUnavailable => c"execution provider unavailable",
        }
    }
}

/// `InvalidArgument` as `INVALID_ARGUMENT`: cbindgen's `ScreamingSnakeCase` for an enum variant.
fn screaming_snake(camel: &str) -> CString {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    CString::new(out).expect("identifiers hold no NUL")
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

/// An ONNX Runtime execution provider, for `yolo_config_add_provider` and `yolo_model_provider`. Values
/// are stable; 0 is never valid.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_provider {
    /// ONNX Runtime's CPU kernels: always there.
    Cpu = 1,
    /// NVIDIA CUDA: needs the `onnxruntime-gpu` build of ONNX Runtime with its CUDA and cuDNN libraries.
    Cuda = 2,
    /// NVIDIA TensorRT: the `onnxruntime-gpu` build with TensorRT's libraries.
    Tensorrt = 3,
    /// Intel OpenVINO: an ONNX Runtime 1.31 or later built with it.
    Openvino = 4,
}

impl yolo_provider {
    /// The provider of a raw value, or `None` for a value that names none.
    pub fn from_raw(value: u32) -> Option<Self> {
        [Self::Cpu, Self::Cuda, Self::Tensorrt, Self::Openvino].into_iter().find(|p| *p as u32 == value)
    }
}

impl From<yolo_provider> for ProviderKind {
    fn from(provider: yolo_provider) -> Self {
        match provider {
            yolo_provider::Cpu => Self::Cpu,
            yolo_provider::Cuda => Self::Cuda,
            yolo_provider::Tensorrt => Self::TensorRt,
            yolo_provider::Openvino => Self::OpenVino,
        }
    }
}

impl From<ProviderKind> for yolo_provider {
    fn from(kind: ProviderKind) -> Self {
        match kind {
            ProviderKind::Cpu => Self::Cpu,
            ProviderKind::Cuda => Self::Cuda,
            ProviderKind::TensorRt => Self::Tensorrt,
            ProviderKind::OpenVino => Self::Openvino,
        }
    }
}

/// Whether each session's input and outputs are bound to it once (ONNX Runtime's IO binding), for
/// `yolo_config_set_io_binding`. Values are stable; 0 is never valid.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_io_binding {
    /// Bound on GPU providers (CUDA, TensorRT), in pinned host memory that the GPU copies from and to
    /// directly; on a provider that offers no pinned memory the model runs unbound, with a warning. Not
    /// bound on the CPU, where a run reads the input where it is.
    Auto = 1,
    /// Bound on every provider, in its host memory; the load fails when that memory is not there.
    On = 2,
    /// Never bound: every run hands ONNX Runtime an ordinary host buffer.
    Off = 3,
}

impl yolo_io_binding {
    /// The setting of a raw value (`None`: automatic, `Some(on)`); an invalid argument for a value that
    /// names none.
    pub fn setting(value: u32) -> Result<Option<bool>> {
        match value {
            v if v == Self::Auto as u32 => Ok(None),
            v if v == Self::On as u32 => Ok(Some(true)),
            v if v == Self::Off as u32 => Ok(Some(false)),
            _ => Err(Error::invalid_argument(format!("{value} is not a yolo_io_binding value"))),
        }
    }
}

/// What a detector's model does, from `yolo_model_task`: Ultralytics' `task`. Values are stable.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_task {
    /// Boxes with a class and a score (`yolo_result_detections`).
    Detect = 1,
    /// Boxes plus one instance mask each (`yolo_result_mask`).
    Segment = 2,
    /// Boxes plus keypoints each (`yolo_result_keypoints`, `yolo_keypoint_shape`).
    Pose = 3,
    /// Oriented boxes (`yolo_result_oriented_box`); the detections hold their axis-aligned bounds.
    Obb = 4,
    /// Class probabilities for the whole image (`yolo_result_classes`); no detections.
    Classify = 5,
}

impl yolo_task {
    /// The core's task of a raw `yolo_task` value, if it is one.
    pub fn task_from_raw(value: u32) -> Option<Task> {
        Task::ALL.into_iter().find(|task| yolo_task::from(*task) as u32 == value)
    }
}

impl From<Task> for yolo_task {
    fn from(task: Task) -> Self {
        match task {
            Task::Detect => Self::Detect,
            Task::Segment => Self::Segment,
            Task::Pose => Self::Pose,
            Task::Obb => Self::Obb,
            Task::Classify => Self::Classify,
        }
    }
}

/// The instance mask of one detection of a segmentation model, from `yolo_result_mask`: a bitmap cropped to
/// the pixels the object covers. Row `r`, column `c` of the bitmap is image pixel (`left + c`, `top + r`);
/// every pixel outside the bitmap is outside the object. `data` points to `width * height` bytes (equal to
/// `data_len`), row after row, each 1 inside the object and 0 outside; it is owned by the result and valid
/// until `yolo_result_free`. A mask with no pixel at the image's resolution has `width`, `height` and
/// `data_len` 0, and `data` must not be dereferenced.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct yolo_mask {
    /// Image column of the bitmap's first column.
    pub left: u32,
    /// Image row of the bitmap's first row.
    pub top: u32,
    /// Columns of the bitmap.
    pub width: u32,
    /// Rows of the bitmap.
    pub height: u32,
    /// The bitmap, `width * height` bytes.
    pub data: *const u8,
    /// Bytes at `data`.
    pub data_len: usize,
}

/// One keypoint of a pose model, in image pixels, clipped to the image. Part of an array owned by a
/// `yolo_result`, valid until `yolo_result_free`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct yolo_keypoint {
    /// Column.
    pub x: f32,
    /// Row.
    pub y: f32,
    /// Visibility confidence in [0, 1]; 1 for models whose keypoints have none (`kpt_shape` `[K, 2]`).
    /// A model's value outside [0, 1] is clamped to it, and one that is not a finite number is 0. A keypoint
    /// the model gave no finite position has position (0, 0) and confidence 0.
    pub confidence: f32,
}

/// A rotated box in image pixels (Ultralytics' `xywhr` and `xyxyxyxy`), from `yolo_result_oriented_box`,
/// copied into the caller's struct. Not clipped: corners may lie outside the image.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct yolo_oriented_box {
    /// Centre column.
    pub cx: f32,
    /// Centre row.
    pub cy: f32,
    /// Width, along the direction of `angle`.
    pub width: f32,
    /// Height, across it.
    pub height: f32,
    /// Rotation in radians, as the model gives it (Ultralytics' heads: from -pi/4 to 3pi/4).
    pub angle: f32,
    /// The four corners `x0, y0, x1, y1, x2, y2, x3, y3`, in Ultralytics' order.
    pub corners: [f32; 8],
}

impl From<&OrientedBox> for yolo_oriented_box {
    fn from(b: &OrientedBox) -> Self {
        let c = b.corners;
        Self {
            cx: b.cx,
            cy: b.cy,
            width: b.width,
            height: b.height,
            angle: b.angle,
            corners: [c[0][0], c[0][1], c[1][0], c[1][1], c[2][0], c[2][1], c[3][0], c[3][1]],
        }
    }
}

/// One class of a classification result, from `yolo_result_classes`. Part of an array owned by a
/// `yolo_result`, valid until `yolo_result_free`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct yolo_class_probability {
    /// Class id; `yolo_class_name` gives its name.
    pub class_id: u32,
    /// The model's probability for the class.
    pub probability: f32,
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
    /// Median latency of successful detect calls, in microseconds, within 2% of the true value (the middle
    /// of a bucket 1/32 of a power of two wide).
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

/// The major version of the library this header was generated for. A program compiled against this header
/// works with a library of the same major version whose minor version is at least
/// `YOLO_FFI_VERSION_MINOR`; before 1.0 (major 0) the minor version must be the same, as the SONAME
/// (`libyolo_ffi.so.0.MINOR`) says. `yolo_version()` gives the version of the library actually loaded.
pub const YOLO_FFI_VERSION_MAJOR: u32 = 0;
/// The minor version of the library this header was generated for.
pub const YOLO_FFI_VERSION_MINOR: u32 = 1;
/// The patch version of the library this header was generated for.
pub const YOLO_FFI_VERSION_PATCH: u32 = 0;

/// `load_wait_ms` value that makes calls on a loading model wait for ever.
pub const YOLO_WAIT_FOREVER: u32 = u32::MAX;

/// `max_delay_us` value of `yolo_config_set_batching` that keeps the library's default delay (2000 us).
pub const YOLO_DEFAULT_BATCH_DELAY: u32 = u32::MAX;

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
    /// Segmentation: one per detection.
    pub(crate) masks: Vec<Mask>,
    /// Segmentation: each mask's outline, `x, y` pairs, traced when first asked for.
    pub(crate) polygons: Box<[OnceLock<Vec<f32>>]>,
    /// Pose: `keypoints_per_detection` per detection.
    pub(crate) keypoints: Vec<yolo_keypoint>,
    pub(crate) keypoints_per_detection: usize,
    /// Oriented boxes: one per detection.
    pub(crate) oriented_boxes: Vec<yolo_oriented_box>,
    /// Classification: best first.
    pub(crate) classes: Vec<yolo_class_probability>,
}

impl From<Detections> for DetectionResult {
    fn from(found: Detections) -> Self {
        Self {
            detections: found.detections.into_iter().map(yolo_detection::from).collect(),
            // Both fit: pixel buffers come in with u32 sizes, and decoders report u32 sizes.
            image_width: found.image_width as u32,
            image_height: found.image_height as u32,
            polygons: found.masks.iter().map(|_| OnceLock::new()).collect(),
            masks: found.masks,
            keypoints: found
                .keypoints
                .iter()
                .map(|k| yolo_keypoint { x: k.x, y: k.y, confidence: k.confidence })
                .collect(),
            keypoints_per_detection: found.keypoints_per_detection,
            oriented_boxes: found.oriented_boxes.iter().map(yolo_oriented_box::from).collect(),
            classes: found
                .classes
                .iter()
                .map(|c| yolo_class_probability { class_id: c.class_id, probability: c.probability })
                .collect(),
        }
    }
}

impl BoxOwned for yolo_result {
    type Rust = DetectionResult;
    const NAME: &'static str = "result";
    /// "yoloRSLT" in ASCII.
    const TAG: u64 = u64::from_be_bytes(*b"yoloRSLT");
}

/// Pins the size and the field offsets of a struct that callers read: a change is an ABI break, caught at
/// compile time. `tests/c/layouts.c` pins the same in C, and the bindings' tests compare theirs with it.
macro_rules! pin_layout {
    ($type:ty, $size:expr, { $($field:ident: $offset:expr),* $(,)? }) => {
        const _: () = {
            assert!(std::mem::size_of::<$type>() == $size);
            $(assert!(std::mem::offset_of!($type, $field) == $offset);)*
        };
    };
}

pin_layout!(yolo_detection, 24, {
    x1: 0,
    y1: 4,
    x2: 8,
    y2: 12,
    score: 16,
    class_id: 20,
});
pin_layout!(yolo_mask, 32, {
    left: 0,
    top: 4,
    width: 8,
    height: 12,
    data: 16,
    data_len: 24,
});
pin_layout!(yolo_keypoint, 12, {
    x: 0,
    y: 4,
    confidence: 8,
});
pin_layout!(yolo_oriented_box, 52, {
    cx: 0,
    cy: 4,
    width: 8,
    height: 12,
    angle: 16,
    corners: 20,
});
pin_layout!(yolo_class_probability, 8, {
    class_id: 0,
    probability: 4,
});
pin_layout!(yolo_detector_stats, 584, {
    state: 0,
    load_time_us: 8,
    detects: 16,
    errors_by_status: 24,
    sessions: 280,
    sessions_idle: 284,
    pool_waits: 288,
    pool_wait_us: 296,
    latency_p50_us: 304,
    latency_p90_us: 312,
    latency_p99_us: 320,
    latency_histogram: 328,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_version_is_the_crate_version() {
        let parse = |v: &str| v.parse::<u32>().unwrap();
        assert_eq!(
            (YOLO_FFI_VERSION_MAJOR, YOLO_FFI_VERSION_MINOR, YOLO_FFI_VERSION_PATCH),
            (
                parse(env!("CARGO_PKG_VERSION_MAJOR")),
                parse(env!("CARGO_PKG_VERSION_MINOR")),
                parse(env!("CARGO_PKG_VERSION_PATCH"))
            ),
            "update the YOLO_FFI_VERSION_* constants with Cargo.toml's version"
        );
    }

    #[test]
    fn every_error_kind_has_its_own_listed_status() {
        // Stats count errors by `kind as usize`, and `yolo_stats` reports them by status: both lists must
        // hold every kind and status once, in order.
        for (index, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, index, "ErrorKind::ALL is in declaration order");
            assert!(yolo_status::ALL.contains(&yolo_status::from(*kind)), "{kind:?} maps to an unlisted status");
        }
        let mut mapped: Vec<u32> = ErrorKind::ALL.iter().map(|k| yolo_status::from(*k) as u32).collect();
        mapped.sort_unstable();
        mapped.dedup();
        assert_eq!(mapped.len(), ErrorKind::ALL.len(), "two kinds share a status");
        assert_eq!(yolo_status::ALL.len(), ErrorKind::ALL.len() + 1, "every status but OK has its kind");
        for status in yolo_status::ALL {
            assert_ne!(status.description().to_bytes(), b"unknown status");
        }
    }

    /// The header's `PREFIX_NAME = VALUE` lines.
    fn header_constants(prefix: &str) -> Vec<(String, u32)> {
        include_str!("../include/yolo_ffi.h")
            .lines()
            .filter_map(|line| {
                let (name, value) = line.trim().trim_end_matches(',').split_once(" = ")?;
                Some((name.strip_prefix(prefix)?.to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    #[test]
    fn the_exported_names_are_the_header_s() {
        let statuses: Vec<(String, u32)> =
            yolo_status::ALL.iter().map(|s| (s.name().to_str().unwrap().to_owned(), *s as u32)).collect();
        assert_eq!(statuses, header_constants("YOLO_STATUS_"));
        let tasks: Vec<(String, u32)> =
            Task::ALL.iter().map(|t| (t.name().to_ascii_uppercase(), yolo_task::from(*t) as u32)).collect();
        assert_eq!(tasks, header_constants("YOLO_TASK_"));
        let providers: Vec<(String, u32)> =
            [yolo_provider::Cpu, yolo_provider::Cuda, yolo_provider::Tensorrt, yolo_provider::Openvino]
                .iter()
                .map(|p| (ProviderKind::from(*p).name().to_ascii_uppercase(), *p as u32))
                .collect();
        assert_eq!(providers, header_constants("YOLO_PROVIDER_"));
        for value in [0, 6, 99] {
            assert_eq!(yolo_task::task_from_raw(value), None);
        }
        assert_eq!(yolo_status::from_raw(16), None);
    }

    #[test]
    fn status_values_are_stable() {
        let values: Vec<u32> = yolo_status::ALL.iter().map(|s| *s as u32).collect();
        assert_eq!(values, (0..=15).collect::<Vec<u32>>());
    }

    #[test]
    fn io_binding_values_are_auto_on_off_and_others_are_rejected() {
        assert_eq!(yolo_io_binding::setting(yolo_io_binding::Auto as u32).unwrap(), None);
        assert_eq!(yolo_io_binding::setting(yolo_io_binding::On as u32).unwrap(), Some(true));
        assert_eq!(yolo_io_binding::setting(yolo_io_binding::Off as u32).unwrap(), Some(false));
        assert!(yolo_io_binding::setting(0).is_err());
        assert!(yolo_io_binding::setting(4).is_err());
    }

    #[test]
    fn every_provider_value_round_trips_and_others_are_rejected() {
        for provider in [yolo_provider::Cpu, yolo_provider::Cuda, yolo_provider::Tensorrt, yolo_provider::Openvino] {
            assert_eq!(yolo_provider::from_raw(provider as u32), Some(provider));
            assert_eq!(yolo_provider::from(ProviderKind::from(provider)), provider);
        }
        assert_eq!((yolo_provider::Cpu as u32, yolo_provider::Openvino as u32), (1, 4), "values are stable");
        for bad in [0, 5, u32::MAX] {
            assert_eq!(yolo_provider::from_raw(bad), None);
        }
    }

    #[test]
    fn every_pixel_format_value_maps_to_its_own_format_and_others_are_rejected() {
        let every = [
            (yolo_pixel_format::Rgb8, PixelFormat::Rgb8),
            (yolo_pixel_format::Bgr8, PixelFormat::Bgr8),
            (yolo_pixel_format::Rgba8, PixelFormat::Rgba8),
            (yolo_pixel_format::Bgra8, PixelFormat::Bgra8),
            (yolo_pixel_format::Gray8, PixelFormat::Gray8),
        ];
        for (raw, format) in every {
            assert_eq!(pixel_format_from_raw(raw as u32).unwrap(), format, "{raw:?}");
        }
        let values: Vec<u32> = every.iter().map(|(raw, _)| *raw as u32).collect();
        assert_eq!(values, (1..=5).collect::<Vec<u32>>(), "values are stable");
        for bad in [0, 6, u32::MAX] {
            assert!(pixel_format_from_raw(bad).is_err());
        }
    }
}
