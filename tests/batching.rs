//! Cross-caller batching (`yolo_config_set_batching`) through the C ABI on the CPU provider: concurrent
//! callers get exactly their unbatched results, bit for bit, while sharing runs; a lone caller waits at
//! most the delay; models with a fixed batch dimension run unbatched; bad settings are refused.

mod common;

use std::sync::{Arc, Barrier, Mutex, MutexGuard, PoisonError};

use common::*;
use yolo_ffi::*;

fn png(width: u32, height: u32, value: u8) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb([value, value / 2, 255 - value]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Held by every test: they run one at a time, so that the lone caller's wait is not stretched by the
/// other tests' threads taking the cores (the wait is a timed sleep, woken by the scheduler).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `(runs, calls, longest wait in us)` of `yolo_batch_stats`.
fn batch_stats(detector: &Detector) -> (u64, u64, u64) {
    let (mut runs, mut calls, mut wait) = (u64::MAX, u64::MAX, u64::MAX);
    // SAFETY: a live detector; the out-pointers are writable.
    let status = unsafe { yolo_batch_stats(detector.0, &mut runs, &mut calls, &mut wait) };
    assert_eq!(status, yolo_status::Ok, "{}", last_error());
    (runs, calls, wait)
}

/// Detects every image on its own thread, all released at once.
fn concurrently(detector: &Arc<Detector>, images: &[Vec<u8>]) -> Vec<Vec<yolo_detection>> {
    let start = Arc::new(Barrier::new(images.len()));
    let threads: Vec<_> = images
        .iter()
        .cloned()
        .map(|bytes| {
            let (detector, start) = (Arc::clone(detector), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                detect(&detector, &bytes, None).unwrap()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn eight_concurrent_callers_get_their_own_unbatched_results_bit_for_bit() {
    let _serial = serial();
    let model = cache_dir().join("models/nudenet-320n.onnx");
    // Two sizes of image: calls of one input size share runs, the others never join them.
    let images: Vec<Vec<u8>> = (0..8).map(|i| image(if i % 2 == 0 { "bus.jpg" } else { "zidane.jpg" })).collect();
    let alone = init_with(&model, |c| c.imgsz = Some(320)).unwrap();
    let expected: Vec<Vec<yolo_detection>> = images.iter().map(|i| detect(&alone, i, None).unwrap()).collect();
    let batched = Arc::new(
        init_with(&model, |c| {
            c.imgsz = Some(320);
            c.pool_size = Some(2);
            c.max_batch = Some(8);
            c.max_delay_us = Some(200_000);
        })
        .unwrap(),
    );
    for round in 0..3 {
        let got = concurrently(&batched, &images);
        assert_eq!(got, expected, "round {round}: a batched caller's result differs from its unbatched one");
    }
    let (runs, calls, _) = batch_stats(&batched);
    assert_eq!(calls, 24, "every call went through the batcher");
    assert!(runs < calls, "24 calls released together ran in {runs} runs: nothing was batched");
    eprintln!("batching: 24 calls of 2 sizes in {runs} runs");
}

#[test]
fn each_caller_of_a_shared_run_gets_its_own_image_s_output() {
    let _serial = serial();
    // e2e_batch: score = the image's mean input value, so each image of a run has its own.
    let model = synthetic_dir().join("e2e_batch.onnx");
    let images: Vec<Vec<u8>> = (0..8).map(|i| png(96, 64, 20 + 25 * i as u8)).collect();
    let alone = init_with(&model, |c| c.imgsz = Some(128)).unwrap();
    let expected: Vec<_> = images.iter().map(|i| detect(&alone, i, None).unwrap()).collect();
    let batched = Arc::new(
        init_with(&model, |c| {
            c.imgsz = Some(128);
            c.max_batch = Some(4);
            c.max_delay_us = Some(100_000);
        })
        .unwrap(),
    );
    assert_eq!(concurrently(&batched, &images), expected);
    let (runs, calls, _) = batch_stats(&batched);
    assert_eq!(calls, 8);
    assert!((2..8).contains(&runs), "8 calls, at most 4 per run, in {runs} runs");
}

#[test]
fn a_lone_caller_runs_alone_once_the_delay_has_passed() {
    // How late past the delay the scheduler wakes the caller is the machine's, not the library's: a benchmark
    // measures it (`make bench`). What a test can hold is the order: the run starts only after the delay (a
    // timed wait never ends early), and the lone caller's image runs in a batch of one.
    let _serial = serial();
    let delay_us: u32 = 20_000;
    let detector = init_with(&synthetic_dir().join("e2e_batch.onnx"), |c| {
        c.imgsz = Some(64);
        c.max_batch = Some(8);
        c.max_delay_us = Some(delay_us);
    })
    .unwrap();
    detect(&detector, &png(64, 64, 90), None).unwrap();
    let (runs, calls, waited) = batch_stats(&detector);
    assert_eq!((runs, calls), (1, 1), "one caller, one run");
    assert!(waited >= u64::from(delay_us), "a lone caller ran after {waited} us, before the {delay_us} us delay");
}

#[test]
fn a_model_with_a_fixed_batch_dimension_runs_unbatched() {
    let _serial = serial();
    let detector = init_with(&synthetic_dir().join("v8_fixed.onnx"), |c| {
        c.max_batch = Some(8);
        c.max_delay_us = Some(1_000_000);
    })
    .unwrap();
    assert!(!detect(&detector, &image("bus.jpg"), None).unwrap().is_empty());
    // No run, call or wait went through the batcher: the 1 s delay never applied.
    assert_eq!(batch_stats(&detector), (0, 0, 0));
}

#[test]
fn bad_batching_settings_are_refused() {
    let _serial = serial();
    let model = synthetic_dir().join("e2e_batch.onnx");
    for (max_batch, delay, fragment) in [(0, 0, "max_batch"), (65, 0, "max_batch"), (8, 1_000_001, "max_delay_us")] {
        let (status, message) = config_with(&model, |c| {
            c.max_batch = Some(max_batch);
            c.max_delay_us = Some(delay);
        })
        .err()
        .unwrap();
        assert_eq!(status, yolo_status::InvalidArgument, "{message}");
        assert!(message.contains(fragment), "{message}");
    }
    // Off by default: no batcher, nothing counted.
    let detector = init_with(&model, |c| c.imgsz = Some(64)).unwrap();
    detect(&detector, &png(64, 64, 10), None).unwrap();
    assert_eq!(batch_stats(&detector), (0, 0, 0));
}
