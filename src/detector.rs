//! The detector handle: loading (synchronous or in the background, with its load gate and callback),
//! freeing, its state and statistics, and what the loaded model says about itself.

use std::ffi::{c_char, c_void, CString};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::error::{Error, Result};
use yolo_ffi_core::{refresh_all_after_fork, Detector, ErrorKind, LoadCallback, LoadState, ReloadCallback, Stage};

use crate::boundary::c_string_lossy;
use crate::boundary::OutParam;
use crate::config::{config_values, yolo_config, ConfigValues, YOLO_WAIT_FOREVER};
use crate::enums::{yolo_load_state, yolo_provider, yolo_task};
use crate::handles::HandleTable;
use crate::status::yolo_status;

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
        let gate = Arc::new(LoadGate::default());
        let notifier = LoadNotifier::from_config(config, &gate);
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
            handle.callback_gate().close();
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
        handle.detector.wait_ready(timeout).map(drop)?;
        Ok(())
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
        let (message, len) = handle.c_load_error();
        // SAFETY: both writable by the caller's contract.
        unsafe {
            out_message.write(message);
            out_len.write(len);
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
    ffi_boundary!(status { Ok(refresh_all_after_fork()?) })
}

/// A stage of a detect call, for `yolo_stats_stage`. Values are stable; 0 is never valid.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum yolo_stage {
    /// Decoding an encoded image (`yolo_detect`, `yolo_detect_batch`; pixel buffers skip it).
    Decode = 1,
    /// The letterbox (a classifier's resize and crop) into the model's input.
    Letterbox = 2,
    /// The ONNX Runtime run.
    Run = 3,
    /// The task's head: the output decoded into detections, masks, keypoints, classes or maps.
    Head = 4,
    /// The whole call, as `yolo_stats`' latency histogram counts it (with its sum, which that frozen struct
    /// lacks).
    Call = 5,
}

/// The time one stage of the successful detect calls took (`yolo_stats_stage`), in microseconds: how many
/// calls went through it, three percentiles, and a histogram in which bucket `i` counts stage times under
/// `2^i` microseconds and at least `2^(i-1)` (the last bucket is open). With cross-caller batching, the run
/// and the head of a shared run are counted by the call that led it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct yolo_stage_stats {
    /// Successful calls that went through the stage.
    pub calls: u64,
    /// Median stage time.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// The sum of the stage times (a Prometheus histogram's `_sum`).
    pub sum_us: u64,
    /// Stage times by power of two.
    pub histogram: [u64; 32],
}

/// Writes the time `stage` (a `yolo_stage`) of this detector's successful calls took: beside `yolo_stats`,
/// whose struct is frozen. Lock-free and cheap. Thread-safe.
///
/// Safety: `out_stats` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn yolo_stats_stage(
    detector: *const yolo_detector,
    stage: u32,
    out_stats: *mut yolo_stage_stats,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out = OutParam::new(out_stats, "out_stats")?;
        let calls = handle.detector.call_stats();
        let times = match stage {
            1 => &calls.stages[Stage::Decode as usize],
            2 => &calls.stages[Stage::Letterbox as usize],
            3 => &calls.stages[Stage::Run as usize],
            4 => &calls.stages[Stage::Head as usize],
            5 => &calls.latency,
            other => return Err(Error::invalid_argument(format!("{other} is not a yolo_stage"))),
        };
        let stats = yolo_stage_stats {
            calls: times.count(),
            p50_us: times.quantile_us(0.5),
            p90_us: times.quantile_us(0.9),
            p99_us: times.quantile_us(0.99),
            sum_us: times.sum_us,
            histogram: times.power_of_two(),
        };
        // SAFETY: writable by the caller's contract.
        unsafe { out.write(stats) };
        Ok(())
    })
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
            LoadState::Ready => detector.model()?.session_stats(),
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

/// Every live detector handle of the process.
static DETECTORS: HandleTable<DetectorHandle> = HandleTable::new(MAX_DETECTORS);

/// At most this many detector handles can be open at once.
const MAX_DETECTORS: usize = 16 * 1024;

/// The detector behind a handle; NULL is an invalid argument, a stale handle an invalid handle.
pub(crate) fn detector_from(detector: *const yolo_detector) -> Result<Arc<DetectorHandle>> {
    if detector.is_null() {
        return Err(Error::invalid_argument("detector is NULL"));
    }
    DETECTORS.get(detector as usize, "detector")
}

/// A C load callback with its user data, called through the gate its detector closes when freed.
pub(crate) struct LoadNotifier {
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
    /// The threads running a callback right now (a load's and reloads' may overlap).
    running_on: Vec<std::thread::ThreadId>,
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
            state.running_on.push(std::thread::current().id());
        }
        callback();
        {
            let mut state = self.lock();
            let me = std::thread::current().id();
            if let Some(at) = state.running_on.iter().position(|thread| *thread == me) {
                state.running_on.swap_remove(at);
            }
        }
        self.finished.notify_all();
    }

    /// Closes the gate; returns once no callback is running, except one running on this very thread (a
    /// callback that frees its own detector), which cannot be waited for.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let me = std::thread::current().id();
        while state.running_on.iter().any(|thread| *thread != me) {
            state = self.finished.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

// SAFETY: the header documents that `on_load` runs on the loading thread; the caller hands `user_data`
// over on that condition, and the library never dereferences it.
unsafe impl Send for LoadNotifier {}

impl LoadNotifier {
    /// The config's `on_load` callback, if it has one, behind `gate`.
    pub(crate) fn from_config(config: &ConfigValues, gate: &Arc<LoadGate>) -> Option<Self> {
        config.on_load.map(|callback| LoadNotifier {
            callback,
            user_data: config.on_load_user_data,
            gate: Arc::clone(gate),
        })
    }

    fn into_callback(self) -> LoadCallback {
        Box::new(move |outcome| self.gate.run(|| self.notify(outcome.map(drop))))
    }

    /// The same notifier for the end of a reload.
    pub(crate) fn into_reload_callback(self) -> ReloadCallback {
        Box::new(move |outcome| self.gate.run(|| self.notify(outcome)))
    }

    fn notify(&self, outcome: std::result::Result<(), &yolo_ffi_core::Error>) {
        let (status, message) = match outcome {
            Ok(()) => (yolo_status::Ok, c_string_lossy("")),
            Err(error) => (yolo_status::from(error.kind()), c_string_lossy(error.message())),
        };
        // SAFETY: a C function pointer the caller registered for exactly this call; the message lives until
        // it returns.
        unsafe { (self.callback)(self.user_data, status, message.as_ptr()) };
    }
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
        // The handle keeps every list of names it handed out until `yolo_free`.
        let names = handle.c_names()?;
        // SAFETY: writable by the caller's contract.
        unsafe { crate::result::write_class_name(&names, class_id, out_name, out_name_len) }
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

/// Writes the SHA-256 of the model file as it was loaded (the `.onnx` file; external data files are not
/// included) into the first 32 bytes of `out_digest`: what monitoring shows to tell which model serves, after
/// a reload too. Computed on the first call per model (a pass over the file), cheap after.
/// `YOLO_STATUS_INVALID_ARGUMENT` when `digest_len` is under 32. Thread-safe.
///
/// Safety: `detector` must be a live detector; `out_digest` must be valid for `digest_len` bytes of writes.
#[no_mangle]
pub unsafe extern "C" fn yolo_model_sha256(
    detector: *const yolo_detector,
    out_digest: *mut u8,
    digest_len: usize,
) -> yolo_status {
    ffi_boundary!(status {
        let handle = detector_from(detector)?;
        let out = OutParam::new(out_digest.cast::<[u8; 32]>(), "out_digest")?;
        if digest_len < 32 {
            return Err(Error::invalid_argument(format!("digest_len is {digest_len}: a SHA-256 takes 32 bytes")));
        }
        let digest = handle.detector.model()?.sha256();
        // SAFETY: `digest_len` >= 32 writable bytes by the caller's contract; a byte array has alignment 1.
        unsafe { out.write(digest) };
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

/// A loaded model and its pool of ONNX Runtime sessions.
///
/// Created by `yolo_init`, released by `yolo_free`. Thread-safe: any number of threads may call
/// `yolo_detect`, `yolo_detect_pixels` and the query functions on one detector at the same time. Freeing it
/// while other threads are inside calls on it is safe: those calls finish normally, and its memory is
/// released when the last returns; calls that start after `yolo_free` get `YOLO_STATUS_INVALID_HANDLE`.
pub struct yolo_detector {
    _private: [u8; 0],
}

/// A model's class names and the same as C strings.
type NamesAsC = (Arc<[String]>, Arc<[CString]>);

/// What a `yolo_detector` handle stands for, in the handle table.
pub(crate) struct DetectorHandle {
    pub(crate) detector: Detector,
    /// The class names of every model this handle has served, as C strings: `yolo_class_name` hands out
    /// pointers valid until `yolo_free`, so a reload must not free the ones it replaces. One entry per
    /// distinct list of names.
    c_names: Mutex<Vec<NamesAsC>>,
    /// Every load error handed out by `yolo_load_error`, kept until `yolo_free` for the same reason.
    c_load_errors: Mutex<Vec<CString>>,
    /// The gate of the `on_load` callbacks of the load and of asynchronous reloads, closed by `yolo_free`.
    callback_gate: Arc<LoadGate>,
}

impl DetectorHandle {
    pub(crate) fn new(detector: Detector, callback_gate: Arc<LoadGate>) -> Self {
        Self { detector, c_names: Mutex::new(Vec::new()), c_load_errors: Mutex::new(Vec::new()), callback_gate }
    }

    /// The gate that `yolo_free` closes so that no `on_load` callback is called after it.
    pub(crate) fn callback_gate(&self) -> &Arc<LoadGate> {
        &self.callback_gate
    }

    /// The class names of the model serving now, as C strings that live as long as the handle.
    pub(crate) fn c_names(&self) -> Result<Arc<[CString]>> {
        let model = self.detector.model()?;
        let names = model.shared_class_names();
        let mut kept = self.c_names.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, c_names)) = kept.iter().find(|(seen, _)| Arc::ptr_eq(seen, names) || **seen == **names) {
            return Ok(Arc::clone(c_names));
        }
        let c_names: Arc<[CString]> = names.iter().map(|name| c_string_lossy(name)).collect();
        kept.push((Arc::clone(names), Arc::clone(&c_names)));
        Ok(c_names)
    }

    /// The reason of a failed load as a C string that lives as long as the handle; "" when the load did not
    /// fail.
    pub(crate) fn c_load_error(&self) -> (*const c_char, usize) {
        let Some(error) = self.detector.load_error() else { return (c"".as_ptr(), 0) };
        let message = c_string_lossy(error.message());
        let mut kept = self.c_load_errors.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = match kept.iter().position(|seen| *seen == message) {
            Some(at) => &kept[at],
            None => {
                kept.push(message);
                kept.last().expect("pushed")
            }
        };
        // The CString's heap buffer never moves while it is kept, whatever the vector does.
        (seen.as_ptr(), seen.to_bytes().len())
    }
}
