//! The exported functions. Each body runs inside `ffi_boundary!`, checks its pointers with the helpers in
//! `boundary` and `handles`, then calls the core.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use crate::boundary::{input_array, input_bytes, last_error_ptr, non_null, OutParam};
use crate::config::{config_values, option_values, yolo_config, yolo_detect_options};
use crate::handles::{borrow_handle, free_handle, into_handle, HandleTable};
use crate::types::*;
use yolo_ffi_core::log::Level;
use yolo_ffi_core::provider::ProviderKind;
use yolo_ffi_core::{
    refresh_all_after_fork, Detections, Detector, Error, ErrorKind, LoadCallback, LoadState, LoadedModel, NmsSettings,
    Result,
};

/// The library's version, `MAJOR.MINOR.PATCH`, as a static NUL-terminated string. Never NULL, never freed.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_version() -> *const c_char {
    ffi_boundary!(value c"?".as_ptr(), { concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast() })
}

/// A static, NUL-terminated description of `status`; unknown values give "unknown status". Never NULL,
/// never freed. Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_status_string(status: u32) -> *const c_char {
    ffi_boundary!(value c"unknown status".as_ptr(), {
        yolo_status::from_raw(status).map_or(c"unknown status".as_ptr(), |s| s.description().as_ptr())
    })
}

/// The name of a `yolo_status` value without its prefix (`"INVALID_ARGUMENT"` for
/// `YOLO_STATUS_INVALID_ARGUMENT`), as a static NUL-terminated string; NULL for a value that is no status.
/// Never freed. Thread-safe. Bindings build their status tables by asking for every value from 0 until
/// NULL, so that no binding restates one.
#[no_mangle]
pub extern "C" fn yolo_status_name(status: u32) -> *const c_char {
    ffi_boundary!(value std::ptr::null(), {
        yolo_status::from_raw(status).map_or(std::ptr::null(), |s| s.name().as_ptr())
    })
}

/// Ultralytics' name of a `yolo_task` value (`"detect"`, `"segment"`, `"pose"`, `"obb"`, `"classify"`), as
/// a static NUL-terminated string; NULL for a value that is no task (0 included). Never freed. Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_task_name(task: u32) -> *const c_char {
    ffi_boundary!(value std::ptr::null(), {
        yolo_task::task_from_raw(task).map_or(std::ptr::null(), |t| t.c_name().as_ptr())
    })
}

/// The short name of a `yolo_provider` value (`"cpu"`, `"cuda"`, `"tensorrt"`, `"openvino"`), as a static
/// NUL-terminated string, the name the Python package and the bindings take; NULL for a value that is no
/// provider (0 included). Never freed. Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_provider_name(provider: u32) -> *const c_char {
    ffi_boundary!(value std::ptr::null(), {
        yolo_provider::from_raw(provider).map_or(std::ptr::null(), |p| ProviderKind::from(p).c_name().as_ptr())
    })
}

/// The message of the last failed call on this thread, as NUL-terminated UTF-8; "" after a successful call,
/// except that the functions that release an object (`yolo_free`, `yolo_result_free`, `yolo_config_free`,
/// `yolo_detect_options_free`) leave it as it was when they succeed.
/// Never NULL. The pointer is owned by the library and valid until the next call into the library on the
/// same thread: copy the message to keep it. Each thread has its own message.
#[no_mangle]
pub extern "C" fn yolo_last_error() -> *const c_char {
    ffi_boundary!(value c"".as_ptr(), { last_error_ptr() })
}

/// Opens a detector on a model. Loads ONNX Runtime (once per process); then, unless another detector of
/// this process already holds the same model file with the same model settings (`pool_size`,
/// `threads_per_session`, the input size, `share_weights`, `ort_library_path`, the providers and their
/// fall-back, batching and IO binding; in which case the new detector shares its sessions, loaded once),
/// reads the model, builds `pool_size` sessions and runs one warm-up inference. Thresholds, timeouts and
/// limits are per detector, even when sessions are shared.
///
/// Synchronous (default): blocks until the model is loaded, and fails with the load's status. With
/// `async_load`: returns at once; `yolo_state`, `yolo_wait_ready` and `on_load` report the outcome, and a
/// failed load leaves a valid detector whose calls return `YOLO_STATUS_LOAD_FAILED`.
///
/// On success, writes a new detector handle to `*out_detector`; the caller owns it and must release it
/// with `yolo_free`. `config` is only read during the call. Thread-safe.
///
/// Safety: `config` must be NULL or a live config from `yolo_config_new`; `out_detector` must be NULL or
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_init(config: *const yolo_config, out_detector: *mut *mut yolo_detector) -> yolo_status {
    ffi_boundary!(status {
        let out = OutParam::new(out_detector, "out_detector")?;
        // SAFETY: NULL or a live config by the caller's contract.
        let config = unsafe { config_values(config) }?;
        let core_config = &config.core;
        let gate = config.on_load.is_some().then(|| Arc::new(LoadGate::default()));
        let notifier = config.on_load.zip(gate.clone()).map(|(callback, gate)| LoadNotifier {
            callback,
            user_data: config.on_load_user_data,
            gate,
        });
        let detector = Detector::open(core_config, notifier.map(LoadNotifier::into_callback))?;
        let handle = DETECTORS.insert(DetectorHandle::new(detector, gate))?;
        // SAFETY: `out` is non-null and writable by the caller's contract.
        unsafe { out.write(handle as *mut yolo_detector) };
        Ok(())
    })
}

/// Releases a detector handle. NULL is a no-op. A handle that was freed already (or never came from
/// `yolo_init`) gives `YOLO_STATUS_INVALID_HANDLE` and changes nothing. Calls still running on the
/// detector in other threads finish normally: the detector's memory is released when the last returns,
/// and the model's sessions when the last detector sharing them is released. Results stay valid.
///
/// The detector's `on_load` callback is never called once `yolo_free` has returned: a load still running
/// then ends without it, and a callback running at that moment on the loading thread is waited for. So its
/// `user_data` may be freed right after `yolo_free`.
///
/// Handles are checked, not dereferenced: a stale handle is detected even after its slot was reused by a
/// new detector. Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_free(detector: *mut yolo_detector) -> yolo_status {
    ffi_boundary!(release {
        if !detector.is_null() {
            let handle = DETECTORS.remove(detector as usize, "detector")?;
            if let Some(gate) = handle.load_gate() {
                gate.close();
            }
        }
        Ok(())
    })
}

/// Writes where the detector's model load stands (a `yolo_load_state` value). Never blocks. Thread-safe.
///
/// Safety: `out_state` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_state(detector: *const yolo_detector, out_state: *mut yolo_load_state) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out = OutParam::new(out_state, "out_state")?;
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(handle.detector.state().into()) };
        Ok(())
    })
}

/// Waits up to `timeout_ms` (`YOLO_WAIT_FOREVER`: for ever; 0: not at all) for the model load to end:
/// `YOLO_STATUS_OK` when ready, `YOLO_STATUS_LOAD_FAILED` with the reason in `yolo_last_error()`, or
/// `YOLO_STATUS_NOT_READY` when still loading at the deadline. Thread-safe.
#[no_mangle]
pub extern "C" fn yolo_wait_ready(detector: *const yolo_detector, timeout_ms: u32) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let timeout = (timeout_ms != YOLO_WAIT_FOREVER).then(|| Duration::from_millis(timeout_ms.into()));
        handle.detector.wait_ready(timeout).map(drop)
    })
}

/// Writes the reason of a failed load as NUL-terminated UTF-8 and its length; "" (length 0) when the load
/// did not fail (or has not ended). The string is owned by the detector and valid until `yolo_free`.
/// Thread-safe.
///
/// Safety: The out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_load_error(
    detector: *const yolo_detector,
    out_message: *mut *const c_char,
    out_message_len: *mut usize,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out_message = OutParam::new(out_message, "out_message")?;
        let out_len = OutParam::new(out_message_len, "out_message_len")?;
        // The handle table keeps the detector, and so the string, alive until `yolo_free`.
        let message = handle.c_load_error();
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_message.write(message.as_ptr());
            out_len.write(message.to_bytes().len());
        }
        Ok(())
    })
}

/// Call in a child process right after `fork()` (gunicorn `post_fork`, uwsgi `postfork`, Celery
/// `worker_process_init`) to build the child's own sessions for every loaded model now. Optional: each
/// model also does it on its first detect in the child. Sessions inherited from the parent are never used
/// or freed in the child (ONNX Runtime's threads do not survive `fork()`); they are leaked on purpose.
/// A no-op in a process that did not fork.
#[no_mangle]
pub extern "C" fn yolo_after_fork() -> yolo_status {
    ffi_boundary!(status { refresh_all_after_fork() })
}

/// Writes the detector's counters: load state and time, detects, errors by status, sessions in use and
/// idle, waits on the pool, and a latency histogram with percentiles. Lock-free and cheap: fit for a health
/// check. Thread-safe.
///
/// Safety: `out_stats` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_stats(
    detector: *const yolo_detector,
    out_stats: *mut yolo_detector_stats,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out = OutParam::new(out_stats, "out_stats")?;
        let detector = &handle.detector;
        let calls = detector.call_stats();
        let mut errors_by_status = [0u64; 32];
        for kind in ErrorKind::ALL {
            errors_by_status[yolo_status::from(kind) as usize] += calls.errors[kind as usize];
        }
        let (sessions, idle, waits, waited) = match detector.state() {
            LoadState::Ready => detector.model()?.pool_stats(),
            LoadState::Loading | LoadState::Failed => (0, 0, 0, Duration::ZERO),
        };
        let stats = yolo_detector_stats {
            state: yolo_load_state::from(detector.state()) as u32,
            load_time_us: detector.load_time().map_or(0, |t| t.as_micros() as u64),
            detects: calls.detects,
            errors_by_status,
            sessions: sessions as u32,
            sessions_idle: idle as u32,
            pool_waits: waits,
            pool_wait_us: waited.as_micros() as u64,
            latency_p50_us: calls.latency_quantile_us(0.5),
            latency_p90_us: calls.latency_quantile_us(0.9),
            latency_p99_us: calls.latency_quantile_us(0.99),
            latency_histogram: calls.power_of_two_histogram(),
        };
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(stats) };
        Ok(())
    })
}

/// Routes the library's events to `callback` (NULL: drop them again, the default), with `user_data`
/// passed back as is. Nothing is ever printed to stdout or stderr. Process-wide; thread-safe. Returns once
/// no thread is still running the previous callback, so its `user_data` may be freed then. The library
/// holds no lock while a callback runs, so a callback that blocks (a Python callback waiting for the GIL)
/// never leaves a lock held in a child forked meanwhile.
#[no_mangle]
pub extern "C" fn yolo_set_log_callback(callback: yolo_log_callback, user_data: *mut c_void) -> yolo_status {
    ffi_boundary!(status {
        let sink = callback.map(|callback| {
            let target = LogTarget { callback, user_data };
            Box::new(move |level: Level, message: &str| target.send(level, message)) as yolo_ffi_core::log::Sink
        });
        yolo_ffi_core::log::set_sink(sink);
        Ok(())
    })
}

/// A C log callback with its user data.
struct LogTarget {
    callback: unsafe extern "C" fn(*mut c_void, u32, *const c_char),
    user_data: *mut c_void,
}

// SAFETY: the header documents that the log callback runs on whichever thread the event happens; the
// caller hands `user_data` over on that condition, and the library never dereferences it.
unsafe impl Send for LogTarget {}
// SAFETY: as above; the library only copies the pointer.
unsafe impl Sync for LogTarget {}

impl LogTarget {
    fn send(&self, level: Level, message: &str) {
        let message = c_string_lossy(message);
        // SAFETY: a C function pointer registered for exactly this; the message lives until it returns.
        unsafe { (self.callback)(self.user_data, level as u32, message.as_ptr()) };
    }
}

/// Every live detector handle of the process.
static DETECTORS: HandleTable<DetectorHandle> = HandleTable::new(MAX_DETECTORS);
/// At most this many detector handles can be open at once.
const MAX_DETECTORS: usize = 16 * 1024;

/// The detector behind a handle; NULL is an invalid argument, a stale handle an invalid handle.
fn detector_from(detector: *const yolo_detector) -> Result<Arc<DetectorHandle>> {
    if detector.is_null() {
        return Err(Error::invalid_argument("detector is NULL"));
    }
    DETECTORS.get(detector as usize, "detector")
}

/// A C load callback with its user data, called through the gate its detector closes when freed.
struct LoadNotifier {
    callback: unsafe extern "C" fn(*mut c_void, yolo_status, *const c_char),
    user_data: *mut c_void,
    gate: Arc<LoadGate>,
}

/// Lets an `on_load` callback run only while its detector is not freed, and makes `yolo_free` wait for one
/// that is running, so that the caller may free the callback's user data as soon as `yolo_free` returns.
#[derive(Default)]
pub(crate) struct LoadGate {
    state: std::sync::Mutex<GateState>,
    finished: std::sync::Condvar,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    /// The thread running the callback right now.
    running_on: Option<std::thread::ThreadId>,
}

impl LoadGate {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `callback` unless the gate is closed. No lock is held while it runs.
    fn run(&self, callback: impl FnOnce()) {
        {
            let mut state = self.lock();
            if state.closed {
                return;
            }
            state.running_on = Some(std::thread::current().id());
        }
        callback();
        self.lock().running_on = None;
        self.finished.notify_all();
    }

    /// Closes the gate; returns once no callback is running, except one running on this very thread (a
    /// callback that frees its own detector), which cannot be waited for.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let me = std::thread::current().id();
        while state.running_on.is_some_and(|thread| thread != me) {
            state = self.finished.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

// SAFETY: the header documents that `on_load` runs on the loading thread; the caller hands `user_data`
// over on that condition, and the library never dereferences it.
unsafe impl Send for LoadNotifier {}

impl LoadNotifier {
    fn into_callback(self) -> LoadCallback {
        Box::new(move |outcome| self.gate.run(|| self.notify(outcome)))
    }

    fn notify(&self, outcome: std::result::Result<&LoadedModel, &Error>) {
        let (status, message) = match outcome {
            Ok(_) => (yolo_status::Ok, c_string_lossy("")),
            Err(error) => (yolo_status::from(error.kind()), c_string_lossy(error.message())),
        };
        // SAFETY: a C function pointer the caller registered for exactly this call; the message lives until
        // it returns.
        unsafe { (self.callback)(self.user_data, status, message.as_ptr()) };
    }
}

/// The per-call settings: the detector's defaults with `options` applied, or `None` for NULL options.
///
/// Safety: `options` must be NULL or live options from `yolo_detect_options_new`.
unsafe fn settings_for(handle: &DetectorHandle, options: *const yolo_detect_options) -> Result<Option<NmsSettings>> {
    // SAFETY: forwarded to the caller's contract.
    let options = unsafe { option_values(options) }?;
    Ok(options.map(|options| options.apply_to(handle.detector.default_settings())))
}

/// Writes detections as a new result.
///
/// Safety: `out` must be valid for a write.
unsafe fn write_result(out: OutParam<*mut yolo_result>, found: Detections) {
    // SAFETY: forwarded to the caller's contract.
    unsafe { out.write(into_handle(DetectionResult::from(found))) };
}

/// Decodes `count` encoded images and detects objects in each: `images[i]` points to `image_lens[i]` bytes.
/// On a model with a dynamic batch dimension, up to 8 images share one ONNX Runtime run (letterboxed as
/// Ultralytics batches them: to the minimal rectangle when all have the same size, else to the full input
/// size); other models run the images one by one. `count` is 1 to `YOLO_BATCH_LIMIT`. `options` may be
/// NULL for the detector's defaults.
///
/// All or nothing: on success, writes `count` new results to `out_results[0..count]`, in the order of
/// `images`, each owned by the caller until `yolo_result_free`; on any failure (one image that does not
/// decode fails the call, and the message names it) nothing is written. The arrays and image bytes are
/// only read during the call. Thread-safe, as `yolo_detect`.
///
/// Safety: `detector` must be a live detector; `images` and `image_lens` must be readable arrays of `count`
/// entries, each `images[i]` readable for `image_lens[i]` bytes; `options` must be NULL or valid;
/// `out_results` must be writable for `count` pointers.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect_batch(
    detector: *const yolo_detector,
    images: *const *const u8,
    image_lens: *const usize,
    count: usize,
    options: *const yolo_detect_options,
    out_results: *mut *mut yolo_result,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        if count == 0 || count > YOLO_BATCH_LIMIT {
            return Err(Error::invalid_argument(format!("count is {count}; it must be 1 to {YOLO_BATCH_LIMIT}")));
        }
        // SAFETY: both arrays hold `count` entries by the caller's contract.
        let (pointers, lengths) = unsafe { (input_array(images, count, "images")?, input_array(image_lens, count, "image_lens")?) };
        let encoded = pointers
            .iter()
            .zip(lengths)
            .enumerate()
            // SAFETY: each image is readable for its length by the caller's contract.
            .map(|(i, (&ptr, &len))| unsafe { input_bytes(ptr, len, &format!("images[{i}]")) })
            .collect::<Result<Vec<&[u8]>>>()?;
        non_null(out_results, "out_results")?;
        // SAFETY: NULL or valid by the caller's contract.
        let settings = unsafe { settings_for(&handle, options) }?;
        let found = handle.detector.detect_encoded_batch(&encoded, settings.as_ref())?;
        for (i, detections) in found.into_iter().enumerate() {
            // SAFETY: `out_results` is non-null and writable for `count` pointers, and `i < count`.
            let slot = OutParam::new(unsafe { out_results.add(i) }, "out_results")?;
            // SAFETY: as above.
            unsafe { write_result(slot, detections) };
        }
        Ok(())
    })
}

/// Decodes an encoded image (JPEG, PNG, BMP, WebP, GIF first frame or TIFF; EXIF orientation applied) and
/// detects objects in it. `options` may be NULL for the detector's defaults.
///
/// On success, writes a new result to `*out_result`, owned by the caller until `yolo_result_free`. The
/// image bytes are only read during the call. Thread-safe: call it from any number of threads on the same
/// detector; when every session is busy it waits up to the config's `acquire_timeout_ms`.
///
/// Safety: `detector` must be a live detector; `encoded` must be readable for `encoded_len` bytes; `options` must be
/// NULL or valid; `out_result` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect(
    detector: *const yolo_detector,
    encoded: *const u8,
    encoded_len: usize,
    options: *const yolo_detect_options,
    out_result: *mut *mut yolo_result,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        // SAFETY: readable for `encoded_len` bytes by the caller's contract.
        let bytes = unsafe { input_bytes(encoded, encoded_len, "encoded") }?;
        let out = OutParam::new(out_result, "out_result")?;
        // SAFETY: NULL or valid by the caller's contract.
        let settings = unsafe { settings_for(&handle, options) }?;
        let detections = handle.detector.detect_encoded(bytes, settings.as_ref())?;
        // SAFETY: `out` is writable by the caller's contract.
        unsafe { write_result(out, detections) };
        Ok(())
    })
}

/// Detects objects in a pixel buffer: `height` rows of `width` pixels in `pixel_format` (a
/// `yolo_pixel_format` value), each row starting `stride_bytes` after the previous one. The buffer is read
/// in place, with no conversion on the caller's side: pass an OpenCV `cv::Mat` as BGR8 with its `step`, or a
/// numpy array with its `strides[0]`. `pixels_len` must cover `(height - 1) * stride_bytes + width * bpp`
/// bytes. `options` may be NULL for the detector's defaults.
///
/// Ownership, lifetime and thread-safety are as for `yolo_detect`.
///
/// Safety: `detector` must be a live detector; `pixels` must be readable for `pixels_len` bytes; `options` must be
/// NULL or valid; `out_result` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_detect_pixels(
    detector: *const yolo_detector,
    pixels: *const u8,
    pixels_len: usize,
    width: u32,
    height: u32,
    stride_bytes: usize,
    pixel_format: u32,
    options: *const yolo_detect_options,
    out_result: *mut *mut yolo_result,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        // SAFETY: readable for `pixels_len` bytes by the caller's contract.
        let bytes = unsafe { input_bytes(pixels, pixels_len, "pixels") }?;
        let out = OutParam::new(out_result, "out_result")?;
        let format = pixel_format_from_raw(pixel_format)?;
        // SAFETY: NULL or valid by the caller's contract.
        let settings = unsafe { settings_for(&handle, options) }?;
        let detections =
            handle.detector.detect_buffer(bytes, width as usize, height as usize, stride_bytes, format, settings.as_ref())?;
        // SAFETY: `out` is writable by the caller's contract.
        unsafe { write_result(out, detections) };
        Ok(())
    })
}

/// Gives the detections of a result: writes a pointer to the first of `*out_count` detections, sorted by
/// descending score (end-to-end models: in the model's order). The array is owned by the result and valid
/// until `yolo_result_free`; with no detections, the count is 0 and the pointer must not be dereferenced.
///
/// Safety: `result` must be a live result; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_detections(
    result: *const yolo_result,
    out_detections: *mut *const yolo_detection,
    out_count: *mut usize,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out_detections = OutParam::new(out_detections, "out_detections")?;
        let out_count = OutParam::new(out_count, "out_count")?;
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_detections.write(result.detections.as_ptr());
            out_count.write(result.detections.len());
        }
        Ok(())
    })
}

/// Writes the size of the image the result's boxes refer to: for encoded images, after EXIF orientation.
///
/// Safety: `result` must be a live result; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_image_size(
    result: *const yolo_result,
    out_width: *mut u32,
    out_height: *mut u32,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out_width = OutParam::new(out_width, "out_width")?;
        let out_height = OutParam::new(out_height, "out_height")?;
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_width.write(result.image_width);
            out_height.write(result.image_height);
        }
        Ok(())
    })
}

/// The entry `index` of a result's per-detection data `items` (`what`), or why there is none.
fn per_detection<'a, T>(
    result: &DetectionResult,
    items: &'a [T],
    per: usize,
    index: usize,
    what: &str,
) -> Result<&'a [T]> {
    if index >= result.detections.len() {
        return Err(Error::new(
            ErrorKind::OutOfRange,
            format!("index {index} is out of range: the result has {} detections", result.detections.len()),
        ));
    }
    items.get(index * per..(index + 1) * per).filter(|_| per > 0).ok_or_else(|| {
        Error::invalid_argument(format!("the result has no {what}: the model's task does not give them"))
    })
}

/// Writes the instance mask of detection `index` of a segmentation model's result (see `yolo_mask`),
/// computed as Ultralytics computes it (by default at the model input's resolution, then scaled to the
/// image; with `retina_masks`, at the image's). `YOLO_STATUS_OUT_OF_RANGE` when `index` is not below the
/// detection count; `YOLO_STATUS_INVALID_ARGUMENT` when the model is not a segmentation model. The bitmap
/// is owned by the result and valid until `yolo_result_free`.
///
/// Safety: `result` must be a live result; `out_mask` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_mask(
    result: *const yolo_result,
    index: usize,
    out_mask: *mut yolo_mask,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out = OutParam::new(out_mask, "out_mask")?;
        let mask = &per_detection(result, &result.masks, 1, index, "masks")?[0];
        let mask = yolo_mask {
            left: mask.left,
            top: mask.top,
            width: mask.width,
            height: mask.height,
            data: mask.data.as_ptr(),
            data_len: mask.data.len(),
        };
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(mask) };
        Ok(())
    })
}

/// Gives the outline of detection `index`'s mask as a polygon: writes a pointer to `2 * *out_count` floats,
/// the `x, y` image pixel coordinates of `*out_count` points, in order around the outer boundary of the
/// mask's largest connected region (through the centres of its boundary pixels, with the points inside
/// straight runs left out, as OpenCV's `findContours` gives it). For a mask of one region that is
/// Ultralytics' `masks.xy`; Ultralytics joins several regions into one polygon with thin bridges. An empty mask has 0
/// points, and the pointer must not be dereferenced. The polygon is traced on the first call for that
/// detection and kept by the result: the array is owned by the result and valid until `yolo_result_free`.
/// Unlike the other accessors this one computes, but it is safe to call from several threads on a shared
/// result. Errors as `yolo_result_mask`.
///
/// Safety: `result` must be a live result; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_mask_polygon(
    result: *const yolo_result,
    index: usize,
    out_points: *mut *const f32,
    out_count: *mut usize,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out_points = OutParam::new(out_points, "out_points")?;
        let out_count = OutParam::new(out_count, "out_count")?;
        let mask = &per_detection(result, &result.masks, 1, index, "masks")?[0];
        let points = result.polygons[index]
            .get_or_init(|| mask.polygon().into_iter().flatten().collect());
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_points.write(points.as_ptr());
            out_count.write(points.len() / 2);
        }
        Ok(())
    })
}

/// Gives the keypoints of detection `index` of a pose model's result: writes a pointer to the first of
/// `*out_count` keypoints (the model's keypoint count, `yolo_keypoint_shape`), in the model's order. The
/// array is owned by the result and valid until `yolo_result_free`. `YOLO_STATUS_OUT_OF_RANGE` when
/// `index` is not below the detection count; `YOLO_STATUS_INVALID_ARGUMENT` when the model is not a pose
/// model.
///
/// Safety: `result` must be a live result; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_keypoints(
    result: *const yolo_result,
    index: usize,
    out_keypoints: *mut *const yolo_keypoint,
    out_count: *mut usize,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out_keypoints = OutParam::new(out_keypoints, "out_keypoints")?;
        let out_count = OutParam::new(out_count, "out_count")?;
        let keypoints = per_detection(result, &result.keypoints, result.keypoints_per_detection, index, "keypoints")?;
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_keypoints.write(keypoints.as_ptr());
            out_count.write(keypoints.len());
        }
        Ok(())
    })
}

/// Copies the rotated box of detection `index` of an oriented-box model's result into `*out_box` (the
/// detection itself holds the box's axis-aligned bounds, clipped to the image). `YOLO_STATUS_OUT_OF_RANGE`
/// when `index` is not below the detection count; `YOLO_STATUS_INVALID_ARGUMENT` when the model is not an
/// oriented-box model.
///
/// Safety: `result` must be a live result; `out_box` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_oriented_box(
    result: *const yolo_result,
    index: usize,
    out_box: *mut yolo_oriented_box,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out = OutParam::new(out_box, "out_box")?;
        let oriented = per_detection(result, &result.oriented_boxes, 1, index, "oriented boxes")?[0];
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(oriented) };
        Ok(())
    })
}

/// Gives a classification result's most probable classes, best first (equal probabilities in class
/// order), at most the call's `top_k` (default 5): writes a pointer to the first of `*out_count`
/// entries. The array is owned by the result and valid until `yolo_result_free`. For models of the
/// other tasks the count is 0 and the pointer must not be dereferenced.
///
/// Safety: `result` must be a live result; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_classes(
    result: *const yolo_result,
    out_classes: *mut *const yolo_class_probability,
    out_count: *mut usize,
) -> yolo_status {
    ffi_boundary!(status {
        // SAFETY: a live result by the caller's contract.
        let result = unsafe { borrow_handle(result) }?;
        let out_classes = OutParam::new(out_classes, "out_classes")?;
        let out_count = OutParam::new(out_count, "out_count")?;
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_classes.write(result.classes.as_ptr());
            out_count.write(result.classes.len());
        }
        Ok(())
    })
}

/// Releases a result. NULL is a no-op. Passing anything else than a result from this library, or the same
/// result twice, is undefined behaviour. The common cases are caught on a best-effort basis: a pointer
/// without a result's tag (a detector handle, a result already freed whose memory is not reused yet) is left
/// alone, and the call sets `yolo_last_error()` and logs a warning instead of freeing it. Do not rely on it.
///
/// Safety: `result` must be NULL or a live result, not used by any other thread.
#[no_mangle]
pub unsafe extern "C" fn yolo_result_free(result: *mut yolo_result) {
    // The status is not returned (the function is void), but a failure sets the last error as usual.
    ffi_boundary!(release {
        // SAFETY: forwarded to the caller's contract.
        unsafe { free_handle(result) }.inspect_err(|error| {
            yolo_ffi_core::log::emit(yolo_ffi_core::log::Level::Warn, || format!("yolo_result_free: {}", error.message()));
        })
    });
}

/// Writes the number of classes the model names. An end-to-end model without `names` metadata reports 999
/// (`class0` to `class998`, the names Ultralytics gives such a model), since its output does not say.
/// Thread-safe.
///
/// Safety: `detector` must be a live detector; `out_count` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_class_count(detector: *const yolo_detector, out_count: *mut usize) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out = OutParam::new(out_count, "out_count")?;
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(handle.c_names()?.len()) };
        Ok(())
    })
}

/// Writes the name of class `class_id` as NUL-terminated UTF-8 and its length in bytes (without the NUL).
/// The string is owned by the detector and valid until `yolo_free`. `YOLO_STATUS_OUT_OF_RANGE` when
/// `class_id >= yolo_class_count`. Thread-safe.
///
/// Safety: `detector` must be a live detector; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_class_name(
    detector: *const yolo_detector,
    class_id: u32,
    out_name: *mut *const c_char,
    out_name_len: *mut usize,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out_name = OutParam::new(out_name, "out_name")?;
        let out_len = OutParam::new(out_name_len, "out_name_len")?;
        let names = handle.c_names()?;
        let name = names.get(class_id as usize).ok_or_else(|| {
            Error::new(ErrorKind::OutOfRange, format!("class_id {class_id} is out of range: the model has {} classes", names.len()))
        })?;
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_name.write(name.as_ptr());
            out_len.write(name.as_bytes().len());
        }
        Ok(())
    })
}

/// Writes the model's task (a `yolo_task` value): the `task` of its metadata, or for a model without one,
/// segmentation when it has a second output of prototypes, else detection. Thread-safe.
///
/// Safety: `detector` must be a live detector; `out_task` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_model_task(detector: *const yolo_detector, out_task: *mut yolo_task) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out = OutParam::new(out_task, "out_task")?;
        let task = handle.detector.model()?.task();
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(task.into()) };
        Ok(())
    })
}

/// Writes the execution provider the model's sessions run on (a `yolo_provider` value) and its device id:
/// the first of the config's providers that was there, `YOLO_PROVIDER_CPU` when none was asked for. The
/// load logs it too. Thread-safe.
///
/// Safety: `detector` must be a live detector; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_model_provider(
    detector: *const yolo_detector,
    out_provider: *mut yolo_provider,
    out_device_id: *mut u32,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out_provider = OutParam::new(out_provider, "out_provider")?;
        let out_device_id = OutParam::new(out_device_id, "out_device_id")?;
        let provider = handle.detector.model()?.provider();
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_provider.write(provider.kind.into());
            out_device_id.write(provider.device_id);
        }
        Ok(())
    })
}

/// Writes whether the model's sessions have their input and outputs bound (`yolo_config_set_io_binding`):
/// `true` on a GPU provider by default, `false` on the CPU by default or when the provider offered no
/// memory to bind in. Thread-safe.
///
/// Safety: `detector` must be a live detector; `out_bound` must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_model_io_binding(detector: *const yolo_detector, out_bound: *mut bool) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out_bound = OutParam::new(out_bound, "out_bound")?;
        let bound = handle.detector.model()?.io_bound();
        // SAFETY: writable by the caller's contract.
        unsafe { out_bound.write(bound) };
        Ok(())
    })
}

/// Writes what cross-caller batching (`yolo_config_set_batching`) has done in this process: the batched
/// runs, the detect calls they carried (their ratio is the mean batch size), and the longest any call
/// waited for others, in microseconds. All 0 when batching is off, the model's batch dimension is fixed,
/// or in a forked child before its first call. Thread-safe; takes the batcher's lock briefly.
///
/// Safety: `detector` must be a live detector; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_batch_stats(
    detector: *const yolo_detector,
    out_runs: *mut u64,
    out_calls: *mut u64,
    out_longest_wait_us: *mut u64,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out_runs = OutParam::new(out_runs, "out_runs")?;
        let out_calls = OutParam::new(out_calls, "out_calls")?;
        let out_wait = OutParam::new(out_longest_wait_us, "out_longest_wait_us")?;
        let counts = handle.detector.model()?.batch_counts().unwrap_or_default();
        // SAFETY: all three writable by the caller's contract.
        unsafe {
            out_runs.write(counts.runs);
            out_calls.write(counts.requests);
            out_wait.write(u64::try_from(counts.longest_gather.as_micros()).unwrap_or(u64::MAX));
        }
        Ok(())
    })
}

/// Writes a pose model's keypoints per detection and values per keypoint (its `kpt_shape`: 3 for `x, y,
/// confidence`, 2 for `x, y`); 0 and 0 for models of the other tasks. Thread-safe.
///
/// Safety: `detector` must be a live detector; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_keypoint_shape(
    detector: *const yolo_detector,
    out_keypoints: *mut usize,
    out_dims: *mut usize,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out_keypoints = OutParam::new(out_keypoints, "out_keypoints")?;
        let out_dims = OutParam::new(out_dims, "out_dims")?;
        let (keypoints, dims) = handle.detector.model()?.keypoint_shape();
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_keypoints.write(keypoints);
            out_dims.write(dims);
        }
        Ok(())
    })
}

/// Writes the model's input size in pixels: the fixed input shape, or for a dynamic model the letterbox
/// target, of which each image uses the minimal stride-aligned rectangle. Thread-safe.
///
/// Safety: `detector` must be a live detector; the out-pointers must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_input_size(
    detector: *const yolo_detector,
    out_width: *mut u32,
    out_height: *mut u32,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out_width = OutParam::new(out_width, "out_width")?;
        let out_height = OutParam::new(out_height, "out_height")?;
        let (height, width) = handle.detector.model()?.input_size();
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_width.write(width);
            out_height.write(height);
        }
        Ok(())
    })
}
