//! Replacing a detector's model while it serves, through the C ABI: clients calling without pause through
//! twenty swaps between two models with different classes, a failed reload in the middle, memory after the
//! last call on the replaced model, the checks a reload can ask for, its asynchronous form, and what the
//! detectors that shared the replaced model see.
//!
//! Uses the nudenet model that `make fixtures` fetches (or `../shared/`) and the synthetic models of
//! `make test-models`.

mod common;

use std::ffi::{c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::*;
use yolo_ffi::*;

/// The tests of this file measure memory or count reloads: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn synthetic(name: &str) -> std::path::PathBuf {
    synthetic_dir().join(name)
}

/// Resident and proportional set sizes of this process, in bytes (`/proc/self/smaps_rollup`).
fn memory() -> (u64, u64) {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap();
    let field = |name: &str| -> u64 {
        let line = rollup.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    };
    (field("Rss:"), field("Pss:"))
}

/// Gives the heap's free pages back to the system, as glibc's allocator does on its own only now and
/// then: without it, what a freed model leaves in the heap's free lists would read as still used.
fn trim() {
    // SAFETY: malloc_trim has no preconditions.
    unsafe { libc::malloc_trim(0) };
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn reload(detector: &Detector, model: &std::path::Path, flags: u32) -> Result<(), (yolo_status, String)> {
    let config = config_with(model, |c| {
        c.pool_size = Some(2);
        c.threads_per_session = Some(1);
    })?;
    // SAFETY: a live detector and config.
    let status = unsafe { yolo_reload(detector.0, config.0, flags) };
    if status == yolo_status::Ok {
        Ok(())
    } else {
        Err((status, last_error()))
    }
}

fn reload_stats(detector: &Detector) -> yolo_reload_stats {
    let mut stats = yolo_reload_stats { reloads: 0, failures: 0, last_duration_us: 0, last_status: 0, running: false };
    // SAFETY: a live detector, a local out-pointer.
    assert_eq!(unsafe { yolo_stats_reload(detector.0, &mut stats) }, yolo_status::Ok);
    stats
}

/// The name the result gives class `id`.
fn result_class_name(result: *const yolo_result, id: u32) -> Result<String, yolo_status> {
    let mut name = std::ptr::null();
    let mut len = 0usize;
    // SAFETY: a live result, local out-pointers.
    let status = unsafe { yolo_result_class_name(result, id, &mut name, &mut len) };
    if status != yolo_status::Ok {
        return Err(status);
    }
    // SAFETY: NUL-terminated, owned by the result.
    let name = unsafe { CStr::from_ptr(name) }.to_str().unwrap().to_owned();
    assert_eq!(name.len(), len);
    Ok(name)
}

/// One call's result: the name its model gives class 0, and its detections.
fn call(detector: &Detector, image: &[u8]) -> Result<(String, Vec<yolo_detection>), (yolo_status, String)> {
    let mut result = std::ptr::null_mut();
    // SAFETY: a live detector, the image outlives the call, a local out-pointer.
    let status = unsafe { yolo_detect(detector.0, image.as_ptr(), image.len(), std::ptr::null(), &mut result) };
    if status != yolo_status::Ok {
        return Err((status, last_error()));
    }
    let name = result_class_name(result, 0).unwrap();
    Ok((name, take_result(result)))
}

fn open(model: &std::path::Path) -> Detector {
    init_with(model, |c| {
        c.pool_size = Some(2);
        c.threads_per_session = Some(1);
    })
    .unwrap()
}

/// What each of two models gives on `image` alone: (name of class 0, detections).
fn references(models: [&std::path::Path; 2], image: &[u8]) -> [(String, Vec<yolo_detection>); 2] {
    models.map(|model| call(&open(model), image).unwrap())
}

#[test]
fn clients_keep_calling_through_twenty_swaps_and_a_failed_reload() {
    let _serial = serial();
    let (a, b) = (demo_model(), synthetic("v8_fixed.onnx"));
    let image = image("bus.jpg");
    let expected = references([&a, &b], &image);
    assert_ne!(expected[0].0, expected[1].0, "the two models name their classes differently");
    assert!(!expected[0].1.is_empty() && !expected[1].1.is_empty(), "both models find something");
    trim();
    let base = memory();
    let detector = Arc::new(open(&a));

    let stop = Arc::new(AtomicBool::new(false));
    let quiet_longest = Arc::new(AtomicU64::new(0));
    // Quiet: the longest of 50 calls with no reload running, 8 clients at once.
    let calls_while = |detector: &Arc<Detector>, rounds: usize| {
        let detector = Arc::clone(detector);
        let image = image.clone();
        let expected = expected.clone();
        move || {
            let mut longest = Duration::ZERO;
            let mut counts = [0u64; 2];
            let mut failures = Vec::new();
            for _ in 0..rounds {
                let started = Instant::now();
                match call(&detector, &image) {
                    Ok(found) => {
                        longest = longest.max(started.elapsed());
                        let from = expected.iter().position(|e| e.0 == found.0).expect("a name of either model");
                        assert_eq!(found.1, expected[from].1, "a result comes whole from one model");
                        counts[from] += 1;
                    }
                    Err(error) => failures.push(error),
                }
            }
            (longest, counts, failures)
        }
    };
    let quiet: Vec<_> = (0..8).map(|_| std::thread::spawn(calls_while(&detector, 6))).collect();
    for client in quiet {
        let (longest, _, failures) = client.join().unwrap();
        assert!(failures.is_empty(), "{failures:?}");
        quiet_longest.fetch_max(longest.as_micros() as u64, Ordering::Relaxed);
    }
    // One model serving 8 clients, their threads' heaps included.
    trim();
    let one_model = memory();

    // Busy: 8 clients without pause while the model is swapped 20 times; a failed reload after the 10th.
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let detector = Arc::clone(&detector);
            let stop = Arc::clone(&stop);
            let one = calls_while(&detector, 1);
            std::thread::spawn(move || {
                let mut longest = Duration::ZERO;
                let mut counts = [0u64; 2];
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let (l, c, f) = one();
                    longest = longest.max(l);
                    counts[0] += c[0];
                    counts[1] += c[1];
                    failures.extend(f);
                }
                (longest, counts, failures)
            })
        })
        .collect();
    let mut peak = one_model;
    let mut reload_times = Vec::new();
    for swap in 0..20 {
        let next = if swap % 2 == 0 { &b } else { &a };
        let started = Instant::now();
        reload(&detector, next, 0).unwrap();
        reload_times.push(started.elapsed());
        let now = memory();
        peak = (peak.0.max(now.0), peak.1.max(now.1));

        if swap == 9 {
            let error = reload(&detector, &synthetic("missing.onnx"), 0).unwrap_err();
            assert_eq!(error.0, yolo_status::ModelLoadFailed, "{error:?}");
            assert!(error.1.contains("keeps serving"), "{}", error.1);
            let mut state = yolo_load_state::Loading;
            // SAFETY: a live detector, a local out-pointer.
            assert_eq!(unsafe { yolo_state(detector.0, &mut state) }, yolo_status::Ok);
            assert_eq!(state, yolo_load_state::Ready, "the current model keeps serving");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let mut busy_longest = Duration::ZERO;
    let mut served = [0u64; 2];
    for client in clients {
        let (longest, counts, failures) = client.join().unwrap();
        assert!(failures.is_empty(), "no call fails during the swaps: {failures:?}");
        busy_longest = busy_longest.max(longest);
        served[0] += counts[0];
        served[1] += counts[1];
    }
    assert!(served[0] > 0 && served[1] > 0, "both models served: {served:?}");
    let stats = reload_stats(&detector);
    assert_eq!((stats.reloads, stats.failures, stats.running), (20, 1, false));
    assert_eq!(stats.last_status, yolo_status::Ok as u32, "the last reload succeeded");
    assert_eq!(call(&detector, &image).unwrap(), expected[0], "20 swaps end on the first model");

    trim();
    let after = memory();
    let model_rss = one_model.0.saturating_sub(base.0);
    reload_times.sort();
    eprintln!(
        "reload: {} calls ({} on {}, {} on {}), 0 failed; longest call quiet {:.1} ms, during swaps {:.1} ms; \
         reload median {:.0} ms; RSS/PSS MiB: before {:.1}/{:.1}, one model {:.1}/{:.1}, peak {:.1}/{:.1}, \
         after {:.1}/{:.1}",
        served[0] + served[1],
        served[0],
        a.file_name().unwrap().to_string_lossy(),
        served[1],
        b.file_name().unwrap().to_string_lossy(),
        quiet_longest.load(Ordering::Relaxed) as f64 / 1000.0,
        busy_longest.as_secs_f64() * 1000.0,
        reload_times[reload_times.len() / 2].as_secs_f64() * 1000.0,
        mib(base.0),
        mib(base.1),
        mib(one_model.0),
        mib(one_model.1),
        mib(peak.0),
        mib(peak.1),
        mib(after.0),
        mib(after.1),
    );
    // Every replaced model was freed after its last call: of the two files, one model is alive, the one serving.
    let alive: Vec<_> = yolo_ffi_core::registry::live_models()
        .into_iter()
        .filter(|m| [&a, &b].iter().any(|f| std::fs::canonicalize(f).ok().as_deref() == Some(m.model_path())))
        .collect();
    assert_eq!(alive.len(), 1, "models alive after the swaps: {alive:?}");
    // And memory is back near one model's: what stays is the clients' heaps, fragmented while two models'
    // buffers lived side by side (30 to 60 MiB here); a replaced model kept alive would add a whole model more.
    assert!(
        after.0 < one_model.0 + model_rss,
        "RSS after the swaps {:.1} MiB, one model {:.1} MiB (a model {:.1} MiB)",
        mib(after.0),
        mib(one_model.0),
        mib(model_rss)
    );
    assert!(after.1 < one_model.1 + model_rss, "PSS after {:.1} MiB", mib(after.1));
}

#[test]
fn a_reload_can_keep_the_task_and_the_class_count() {
    let _serial = serial();
    let detector = open(&demo_model());
    let error = reload(&detector, &synthetic("seg_fixed.onnx"), yolo_reload_flag::KeepTask as u32).unwrap_err();
    assert_eq!(error.0, yolo_status::InvalidModel);
    assert!(error.1.contains("task is segment") && error.1.contains("keeps serving"), "{}", error.1);
    let error = reload(&detector, &synthetic("v8_fixed.onnx"), yolo_reload_flag::KeepClassCount as u32).unwrap_err();
    assert_eq!(error.0, yolo_status::InvalidModel);
    assert!(error.1.contains("classes"), "{}", error.1);
    assert_eq!(reload(&detector, &demo_model(), 0x10).unwrap_err().0, yolo_status::InvalidArgument);
    let stats = reload_stats(&detector);
    assert_eq!((stats.reloads, stats.failures), (0, 2));
    assert_eq!(stats.last_status, yolo_status::InvalidModel as u32);
    // Same task and class count: accepted with both flags.
    reload(&detector, &demo_model(), 3).unwrap();
    assert_eq!(reload_stats(&detector).last_status, yolo_status::Ok as u32);
    // A task change without the flag: the model queries describe the new model.
    reload(&detector, &synthetic("seg_fixed.onnx"), 0).unwrap();
    let mut task = yolo_task::Detect;
    // SAFETY: a live detector, a local out-pointer.
    assert_eq!(unsafe { yolo_model_task(detector.0, &mut task) }, yolo_status::Ok);
    assert_eq!(task, yolo_task::Segment);
}

#[test]
fn results_and_names_handed_out_before_a_reload_stay_valid() {
    let _serial = serial();
    let image = image("bus.jpg");
    let detector = open(&demo_model());
    let mut before = std::ptr::null_mut();
    // SAFETY: a live detector, the image outlives the call, a local out-pointer.
    let status = unsafe { yolo_detect(detector.0, image.as_ptr(), image.len(), std::ptr::null(), &mut before) };
    assert_eq!(status, yolo_status::Ok);
    let mut name = std::ptr::null();
    let mut len = 0usize;
    // SAFETY: a live detector, local out-pointers.
    assert_eq!(unsafe { yolo_class_name(detector.0, 0, &mut name, &mut len) }, yolo_status::Ok);
    let old_name = name;
    reload(&detector, &synthetic("v8_fixed.onnx"), 0).unwrap();
    let new_name = class_name(&detector, 0).unwrap();
    // SAFETY: documented valid until yolo_free, which has not been called.
    let kept = unsafe { CStr::from_ptr(old_name) }.to_str().unwrap();
    assert_ne!(kept, new_name, "the detector names the new model's classes");
    assert_eq!(result_class_name(before, 0).unwrap(), kept, "an earlier result names its own model's");
    assert_eq!(result_class_name(before, 10_000), Err(yolo_status::OutOfRange));
    take_result(before);
}

#[test]
fn other_detectors_of_the_replaced_model_keep_it_and_later_ones_share_the_new_one() {
    let _serial = serial();
    use yolo_ffi_core::{Detector as Core, DetectorConfig, ReloadChecks};
    let mut config = DetectorConfig::new(demo_model());
    config.pool_size = 1;
    config.imgsz = Some((288, 288)); // settings no other test uses: these detectors share only with each other
    let first = Core::new(&config).unwrap();
    let second = Core::new(&config).unwrap();
    assert!(first.shares_model_with(&second));
    // Reloaded from the same file: read afresh, so no longer the model `second` holds.
    first.reload(&config, ReloadChecks::default()).unwrap();
    assert!(!first.shares_model_with(&second), "the other detector keeps the replaced model");
    let third = Core::new(&config).unwrap();
    assert!(third.shares_model_with(&first), "a later detector shares the new model");
    assert!(!third.shares_model_with(&second));
    let image = image("bus.jpg");
    assert_eq!(first.detect_encoded(&image, None).unwrap(), second.detect_encoded(&image, None).unwrap());
}

/// What a reload callback saw.
#[derive(Default)]
struct Seen {
    calls: AtomicU32,
    last: Mutex<Option<(yolo_status, String)>>,
}

unsafe extern "C" fn record(user_data: *mut c_void, status: yolo_status, message: *const std::ffi::c_char) {
    // SAFETY: the test passes a `Seen` that outlives the detector; the message is valid during the call.
    let (seen, message) = unsafe { (&*(user_data as *const Seen), CStr::from_ptr(message)) };
    *seen.last.lock().unwrap() = Some((status, message.to_string_lossy().into_owned()));
    seen.calls.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn an_asynchronous_reload_calls_back_and_refuses_a_second_one_meanwhile() {
    let _serial = serial();
    let image = image("bus.jpg");
    let detector = open(&demo_model());
    let (serving, _) = call(&detector, &image).unwrap();
    let seen = Arc::new(Seen::default());
    let with_callback = |model: &std::path::Path| {
        config_with(model, |c| {
            c.on_load = Some(record);
            c.on_load_user_data = Arc::as_ptr(&seen) as *mut c_void;
        })
        .unwrap()
    };
    // A reload whose model file is a FIFO blocks in open() until a writer comes: it is running, for sure,
    // until this test opens the other end.
    let fifo = std::env::temp_dir().join(format!("yolo-ffi-reload-{}.onnx", std::process::id()));
    let _ = std::fs::remove_file(&fifo);
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let blocked = with_callback(&fifo);
    // SAFETY: a live detector and config; `seen` outlives the detector.
    assert_eq!(unsafe { yolo_reload_async(detector.0, blocked.0, 0) }, yolo_status::Ok);
    assert!(reload_stats(&detector).running);
    let other = with_callback(&synthetic("v8_fixed.onnx"));
    // SAFETY: as above.
    assert_eq!(unsafe { yolo_reload_async(detector.0, other.0, 0) }, yolo_status::Busy, "one reload at a time");
    assert_eq!(reload(&detector, &synthetic("v8_fixed.onnx"), 0).unwrap_err().0, yolo_status::Busy);
    assert_eq!(call(&detector, &image).unwrap().0, serving, "the current model serves meanwhile");
    // Open and close the writing end: the load reads an empty file and fails.
    drop(std::fs::OpenOptions::new().write(true).open(&fifo).unwrap());
    let wait_for_calls = |count: u32| {
        for _ in 0..1200 {
            if seen.calls.load(Ordering::SeqCst) >= count {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the callback did not run");
    };
    wait_for_calls(1);
    std::fs::remove_file(&fifo).unwrap();
    let (status, message) = seen.last.lock().unwrap().clone().unwrap();
    assert_eq!(status, yolo_status::ModelLoadFailed, "{message}");
    assert!(message.contains("keeps serving") && message.contains("empty"), "{message}");
    assert_eq!(call(&detector, &image).unwrap().0, serving, "still the model that was serving");
    // The claim is released before the callback runs: a reload from here on starts.
    // SAFETY: as above.
    assert_eq!(unsafe { yolo_reload_async(detector.0, other.0, 0) }, yolo_status::Ok);
    wait_for_calls(2);
    assert_eq!(seen.last.lock().unwrap().as_ref().unwrap().0, yolo_status::Ok);
    let (name, _) = call(&detector, &image).unwrap();
    assert_ne!(name, serving);
    assert_eq!(name, class_name(&detector, 0).unwrap());
    let stats = reload_stats(&detector);
    assert_eq!((stats.reloads, stats.failures), (1, 1));
}
