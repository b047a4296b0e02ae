//! Preloading that survives real servers, through the C ABI: background loads with health, failed loads
//! that leave the host up, one shared model per process, and handles that cannot be misused into a crash.
//! Fork safety is tested in C (`tests/c/fork_test.c`), where no test harness threads are around.

mod common;

use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use yolo_ffi::*;

fn model(name: &str) -> std::path::PathBuf {
    synthetic_dir().join(name)
}

const RGB8: u32 = yolo_pixel_format::Rgb8 as u32;

fn state(detector: &Detector) -> yolo_load_state {
    let mut state = yolo_load_state::Loading;
    // SAFETY: live handle, local out-pointer.
    assert_eq!(unsafe { yolo_state(detector.0, &mut state) }, yolo_status::Ok);
    state
}

/// What the load callback saw: how often it ran, and its last status and message.
#[derive(Default)]
struct Seen {
    calls: AtomicU32,
    last: Mutex<Option<(yolo_status, String)>>,
}

unsafe extern "C" fn record(user_data: *mut c_void, status: yolo_status, message: *const std::ffi::c_char) {
    // SAFETY: the tests pass a `Seen` that outlives the detector; the message is valid during the call.
    let (seen, message) = unsafe { (&*(user_data as *const Seen), std::ffi::CStr::from_ptr(message)) };
    seen.calls.fetch_add(1, Ordering::SeqCst);
    *seen.last.lock().unwrap() = Some((status, message.to_string_lossy().into_owned()));
}

/// The callback runs on the loading thread after waiters are woken (documented), so it may finish a moment
/// after `yolo_wait_ready` returns.
fn wait_for_callback(seen: &Seen) {
    // Bounded by polls, not by time: the callback is the next thing the loading thread does.
    for _ in 0..1_000_000 {
        if seen.calls.load(Ordering::SeqCst) != 0 {
            return;
        }
        std::thread::yield_now();
    }
}

#[test]
fn background_load_becomes_ready_and_calls_back_once() {
    let seen = Arc::new(Seen::default());
    let detector = init_with(&model("v5_fixed.onnx"), |c| {
        c.async_load = Some(true);
        c.imgsz = Some(96); // a key no other test uses, so this detector starts its own load
        c.on_load = Some(record);
        c.on_load_user_data = Arc::as_ptr(&seen) as *mut c_void;
    })
    .unwrap();
    assert!(matches!(state(&detector), yolo_load_state::Loading | yolo_load_state::Ready));
    assert_eq!(yolo_wait_ready(detector.0, YOLO_WAIT_FOREVER), yolo_status::Ok);
    assert_eq!(state(&detector), yolo_load_state::Ready);
    assert_eq!(detect_pixels(&detector, &[1; 64 * 64 * 3], 64, 64, 192, RGB8, None).unwrap().len(), 2);
    let mut message = std::ptr::null();
    let mut len = 99;
    // SAFETY: live handle, local out-pointers.
    assert_eq!(unsafe { yolo_load_error(detector.0, &mut message, &mut len) }, yolo_status::Ok);
    assert_eq!(len, 0);
    // The callback may still be running: freeing the detector now would wait for it, or, if it had not
    // started yet, skip it (it is never called after `yolo_free`). So wait for it first.
    wait_for_callback(&seen);
    drop(detector);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
    assert_eq!(seen.last.lock().unwrap().as_ref().unwrap().0, yolo_status::Ok);
}

#[test]
fn a_failed_background_load_leaves_a_valid_detector_that_reports_why() {
    let seen = Arc::new(Seen::default());
    let missing = model("no-such-model.onnx");
    let detector = init_with(&missing, |c| {
        c.async_load = Some(true);
        c.load_wait_ms = Some(YOLO_WAIT_FOREVER);
        c.on_load = Some(record);
        c.on_load_user_data = Arc::as_ptr(&seen) as *mut c_void;
    })
    .expect("an async init returns a handle even when the load will fail");
    assert_eq!(yolo_wait_ready(detector.0, YOLO_WAIT_FOREVER), yolo_status::LoadFailed);
    assert!(last_error().contains("no-such-model.onnx"), "{}", last_error());
    assert_eq!(state(&detector), yolo_load_state::Failed);
    for _ in 0..3 {
        let (status, message) = detect_pixels(&detector, &[0; 300], 10, 10, 30, RGB8, None).unwrap_err();
        assert_eq!(status, yolo_status::LoadFailed);
        assert!(message.contains("no-such-model.onnx"), "{message}");
    }
    let (mut message, mut len) = (std::ptr::null(), 0usize);
    // SAFETY: live handle, local out-pointers; the message lives until yolo_free.
    let reason = unsafe {
        assert_eq!(yolo_load_error(detector.0, &mut message, &mut len), yolo_status::Ok);
        std::ffi::CStr::from_ptr(message).to_str().unwrap().to_owned()
    };
    assert!(reason.contains("no-such-model.onnx") && reason.len() == len, "{reason}");
    wait_for_callback(&seen);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
    assert_eq!(seen.last.lock().unwrap().as_ref().unwrap().0, yolo_status::ModelLoadFailed);
    let mut count = 0usize;
    // SAFETY: live handle, local out-pointer.
    assert_eq!(unsafe { yolo_class_count(detector.0, &mut count) }, yolo_status::LoadFailed);
}

#[test]
fn while_loading_calls_fail_fast_or_wait_as_configured() {
    // A load cannot be paused from outside, so either outcome of the race is accepted for the fail-fast
    // detector, but never anything else; the waiting detector must always succeed.
    let fast = init_with(&model("v8_fixed.onnx"), |c| {
        c.async_load = Some(true);
        c.imgsz = Some(160);
    })
    .unwrap();
    match detect_pixels(&fast, &[0; 300], 10, 10, 30, RGB8, None) {
        Ok(found) => assert_eq!(found.len(), 4),
        Err((status, message)) => {
            assert_eq!(status, yolo_status::NotReady, "{message}");
            assert!(message.contains("still loading"), "{message}");
        }
    }
    let patient = init_with(&model("v8_fixed.onnx"), |c| {
        c.async_load = Some(true);
        c.imgsz = Some(192);
        c.load_wait_ms = Some(YOLO_WAIT_FOREVER);
    })
    .unwrap();
    assert_eq!(detect_pixels(&patient, &[0; 300], 10, 10, 30, RGB8, None).unwrap().len(), 4);
}

#[test]
fn one_model_per_process_shared_and_reference_counted() {
    let settings = |c: &mut TestConfig| {
        c.imgsz = Some(224);
        c.pool_size = Some(2);
    };
    let first = yolo_ffi_core::Detector::new(&{
        let mut c = yolo_ffi_core::DetectorConfig::new(model("v8_fixed.onnx"));
        c.imgsz = Some((224, 224));
        c.pool_size = 2;
        c
    })
    .unwrap();
    // The same file through another spelling, with other thresholds: still the same sessions.
    let respelled = synthetic_dir().join("../test-models/./v8_fixed.onnx");
    let mut c = yolo_ffi_core::DetectorConfig::new(respelled);
    c.imgsz = Some((224, 224));
    c.pool_size = 2;
    c.nms.conf_threshold = 0.5;
    let second = yolo_ffi_core::Detector::new(&c).unwrap();
    assert!(first.shares_model_with(&second));
    let mut c = yolo_ffi_core::DetectorConfig::new(model("v8_fixed.onnx"));
    c.imgsz = Some((224, 224));
    c.pool_size = 1;
    assert!(!first.shares_model_with(&yolo_ffi_core::Detector::new(&c).unwrap()), "other sessions, other model");

    // Through the C ABI: per-handle thresholds over shared sessions, and the model outlives the first handle.
    let low = init_with(&model("v8_fixed.onnx"), settings).unwrap();
    let high = init_with(&model("v8_fixed.onnx"), |c| {
        settings(c);
        c.conf_threshold = Some(0.65);
    })
    .unwrap();
    assert_eq!(detect_pixels(&low, &[0; 300], 10, 10, 30, RGB8, None).unwrap().len(), 4);
    assert_eq!(detect_pixels(&high, &[0; 300], 10, 10, 30, RGB8, None).unwrap().len(), 2);
    drop(low);
    assert_eq!(detect_pixels(&high, &[0; 300], 10, 10, 30, RGB8, None).unwrap().len(), 2);

    // When the last handle goes, the model goes: nothing of this key stays in the registry.
    drop((first, second, high));
    let live = yolo_ffi_core::registry::live_models();
    assert!(live.iter().all(|m| !format!("{m:?}").contains("224")), "{live:?}");
}

#[test]
fn stale_handles_and_double_frees_are_reported_not_crashes() {
    let detector = init(&model("v8_fixed.onnx"));
    let stale = detector.0;
    std::mem::forget(detector);
    assert_eq!(yolo_free(stale), yolo_status::Ok);
    assert_eq!(yolo_free(stale), yolo_status::InvalidHandle);
    assert!(last_error().contains("not a live handle"));
    let stale_detector = Detector(stale);
    let (status, _) = detect_pixels(&stale_detector, &[0; 300], 10, 10, 30, RGB8, None).unwrap_err();
    assert_eq!(status, yolo_status::InvalidHandle);
    // A new detector may reuse the slot: the old handle stays invalid.
    let fresh = init(&model("v8_fixed.onnx"));
    assert_ne!(fresh.0, stale);
    assert_eq!(
        detect_pixels(&stale_detector, &[0; 300], 10, 10, 30, RGB8, None).unwrap_err().0,
        yolo_status::InvalidHandle
    );
    assert_eq!(yolo_wait_ready(stale, 0), yolo_status::InvalidHandle);
    std::mem::forget(stale_detector);
    assert_eq!(yolo_free(0x1234_5678 as *mut yolo_detector), yolo_status::InvalidHandle, "never a handle");
    assert_eq!(yolo_free(null_mut()), yolo_status::Ok);
}

#[test]
fn freeing_while_other_threads_detect_waits_for_them() {
    for _ in 0..5 {
        let detector = init_with(&model("v8_fixed.onnx"), |c| c.pool_size = Some(2)).unwrap();
        let handle = detector.0 as usize;
        std::mem::forget(detector);
        let image = Arc::new(vec![50u8; 800 * 800 * 3]);
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let image = Arc::clone(&image);
                std::thread::spawn(move || {
                    let detector = Detector(handle as *mut yolo_detector);
                    let mut ok = 0;
                    let outcome = loop {
                        match detect_pixels(&detector, &image, 800, 800, 2400, RGB8, None) {
                            Ok(found) => {
                                assert_eq!(found.len(), 4);
                                ok += 1;
                            }
                            Err((status, _)) => break status,
                        }
                    };
                    std::mem::forget(detector);
                    (ok, outcome)
                })
            })
            .collect();
        // Free only once a call holds a session: the case under test is a free with a call in flight.
        let mut polls = 0u64;
        loop {
            let mut stats = std::mem::MaybeUninit::<yolo_detector_stats>::zeroed();
            // SAFETY: a live handle (not freed yet), a local out-pointer.
            assert_eq!(unsafe { yolo_stats(handle as *mut yolo_detector, stats.as_mut_ptr()) }, yolo_status::Ok);
            // SAFETY: written on success.
            let stats = unsafe { stats.assume_init() };
            if stats.sessions > 0 && stats.sessions_idle < stats.sessions {
                break;
            }
            polls += 1;
            assert!(polls < 100_000_000, "no call ever held a session");
            std::thread::yield_now();
        }
        assert_eq!(yolo_free(handle as *mut yolo_detector), yolo_status::Ok);
        for worker in workers {
            let (_, outcome) = worker.join().unwrap();
            assert_eq!(outcome, yolo_status::InvalidHandle, "after free every call reports a stale handle");
        }
    }
}

#[test]
fn stats_count_calls_errors_sessions_and_latency() {
    let detector = init_with(&model("v8_fixed.onnx"), |c| {
        c.pool_size = Some(2);
        c.imgsz = Some(256);
    })
    .unwrap();
    for _ in 0..5 {
        detect_pixels(&detector, &[0; 300], 10, 10, 30, RGB8, None).unwrap();
    }
    let _ = detect_pixels(&detector, &[0; 300], 10, 10, 29, RGB8, None).unwrap_err();
    let _ = detect(&detector, b"garbage", None).unwrap_err();
    let _ = detect(&detector, b"garbage again", None).unwrap_err();
    let mut stats = std::mem::MaybeUninit::<yolo_detector_stats>::zeroed();
    // SAFETY: live handle, local out-pointer.
    assert_eq!(unsafe { yolo_stats(detector.0, stats.as_mut_ptr()) }, yolo_status::Ok);
    // SAFETY: written on success.
    let stats = unsafe { stats.assume_init() };
    assert_eq!(stats.state, yolo_load_state::Ready as u32);
    assert!(stats.load_time_us > 0);
    assert_eq!(stats.detects, 5);
    assert_eq!(stats.errors_by_status[yolo_status::InvalidArgument as usize], 1);
    assert_eq!(stats.errors_by_status[yolo_status::ImageDecodeFailed as usize], 2);
    assert_eq!(stats.errors_by_status.iter().sum::<u64>(), 3);
    assert_eq!((stats.sessions, stats.sessions_idle), (2, 2));
    assert_eq!(stats.latency_histogram.iter().sum::<u64>(), 5);
    assert!(stats.latency_p50_us > 0 && stats.latency_p50_us <= stats.latency_p99_us);
    // SAFETY: NULL out-pointer is the case under test.
    assert_eq!(unsafe { yolo_stats(detector.0, null_mut()) }, yolo_status::InvalidArgument);
}

/// `yolo_stats_stage` of one stage.
fn stage(detector: &Detector, stage: yolo_stage) -> yolo_stage_stats {
    let mut out = std::mem::MaybeUninit::<yolo_stage_stats>::zeroed();
    // SAFETY: live handle, local out-pointer.
    assert_eq!(unsafe { yolo_stats_stage(detector.0, stage as u32, out.as_mut_ptr()) }, yolo_status::Ok);
    // SAFETY: written on success.
    unsafe { out.assume_init() }
}

#[test]
fn stage_times_count_each_successful_call_once_per_stage() {
    let detector = init_with(&model("v8_fixed.onnx"), |c| c.pool_size = Some(1)).unwrap();
    for _ in 0..4 {
        detect_pixels(&detector, &[0; 300], 10, 10, 30, RGB8, None).unwrap();
    }
    let encoded =
        std::fs::read(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/rgb.png"))
            .unwrap();
    for _ in 0..3 {
        detect(&detector, &encoded, None).unwrap();
    }
    let _ = detect(&detector, b"garbage", None).unwrap_err();
    // Pixel buffers are not decoded; failed calls are not timed.
    assert_eq!(stage(&detector, yolo_stage::Decode).calls, 3);
    for s in [yolo_stage::Letterbox, yolo_stage::Run, yolo_stage::Head] {
        let times = stage(&detector, s);
        assert_eq!(times.calls, 7, "{s:?}");
        assert_eq!(times.histogram.iter().sum::<u64>(), 7, "{s:?}");
        assert!(times.p50_us <= times.p90_us && times.p90_us <= times.p99_us, "{s:?}: {times:?}");
    }
    assert!(stage(&detector, yolo_stage::Run).p50_us > 0, "a run takes time");
    let call = stage(&detector, yolo_stage::Call);
    assert_eq!(call.calls, 7);
    let parts: u64 = [yolo_stage::Decode, yolo_stage::Letterbox, yolo_stage::Run, yolo_stage::Head]
        .iter()
        .map(|&s| stage(&detector, s).sum_us)
        .sum();
    assert!(parts <= call.sum_us + 8, "the stages fit in the calls: {parts} us of {} us", call.sum_us);
    let mut out = std::mem::MaybeUninit::<yolo_stage_stats>::zeroed();
    for bad in [0, 6] {
        // SAFETY: live handle, local out-pointer.
        assert_eq!(unsafe { yolo_stats_stage(detector.0, bad, out.as_mut_ptr()) }, yolo_status::InvalidArgument);
    }
}

#[test]
fn the_automatic_pool_has_sessions_of_every_width_on_several_cores() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let detector = init_with(&synthetic_dir().join("v8_fixed.onnx"), |c| {
        (c.pool_size, c.threads_per_session) = (Some(0), Some(0))
    })
    .unwrap();
    detect_pixels(&detector, &[0; 300], 10, 10, 30, RGB8, None).unwrap();
    let mut stats = std::mem::MaybeUninit::<yolo_detector_stats>::zeroed();
    // SAFETY: live handle, local out-pointer.
    assert_eq!(unsafe { yolo_stats(detector.0, stats.as_mut_ptr()) }, yolo_status::Ok);
    // SAFETY: written on success.
    let stats = unsafe { stats.assume_init() };
    // Halving widths, each filling the cores: 2 cores 1 x 2 + 2 x 1; 4 cores 1 x 4 + 2 x 2 + 4 x 1.
    let expected: usize = std::iter::successors(Some(cores), |w| (*w > 1).then_some(w / 2)).map(|w| cores / w).sum();
    assert_eq!((stats.sessions, stats.sessions_idle), (expected as u32, expected as u32), "{cores} cores");
}

static EVENTS: Mutex<Vec<(u32, String)>> = Mutex::new(Vec::new());

unsafe extern "C" fn collect(_user_data: *mut c_void, level: u32, message: *const std::ffi::c_char) {
    // SAFETY: the message is valid during the call.
    let message = unsafe { std::ffi::CStr::from_ptr(message) }.to_string_lossy().into_owned();
    EVENTS.lock().unwrap().push((level, message));
}

#[test]
fn log_callback_receives_load_events() {
    assert_eq!(yolo_set_log_callback(Some(collect), null_mut()), yolo_status::Ok);
    let loaded = init_with(&model("v8_fixed.onnx"), |c| c.imgsz = Some(288)).unwrap();
    let _ = init_with(&model("log-test-missing.onnx"), |_| {});
    assert_eq!(yolo_set_log_callback(None, null_mut()), yolo_status::Ok);
    let _ = init_with(&model("log-test-after-reset.onnx"), |_| {});
    drop(loaded);
    let events = EVENTS.lock().unwrap().clone();
    assert!(
        events.iter().any(|(level, m)| *level == 3 && m.starts_with("loaded ") && m.contains("v8_fixed.onnx")),
        "{events:?}"
    );
    assert!(events.iter().any(|(level, m)| *level == 1 && m.contains("log-test-missing.onnx")), "{events:?}");
    assert!(!events.iter().any(|(_, m)| m.contains("log-test-after-reset")), "no events after the reset: {events:?}");
}
