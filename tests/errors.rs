//! Bad input gets a clear status and message through the C ABI, never a crash; plus the pool's timeout and
//! concurrent callers. Uses the synthetic models of `scripts/make_test_models.py`.

mod common;

use std::ptr::{null, null_mut};

use common::*;
use yolo_ffi::*;

fn model(name: &str) -> std::path::PathBuf {
    synthetic_dir().join(name)
}

fn expect_init_error(path: &std::path::Path, status: yolo_status, fragment: &str) {
    let (got, message) = init_with(path, |_| {}).err().unwrap_or_else(|| panic!("{} loaded", path.display()));
    assert_eq!(got, status, "{}: {message}", path.display());
    assert!(message.contains(fragment), "{}: {message:?} lacks {fragment:?}", path.display());
}

#[test]
fn bad_models_are_reported() {
    let dir = tempdir();
    let garbage = dir.join("garbage.onnx");
    std::fs::write(&garbage, b"this is not protobuf at all \x00\xff").unwrap();
    let truncated = dir.join("truncated.onnx");
    let full = std::fs::read(model("v8_fixed.onnx")).unwrap();
    std::fs::write(&truncated, &full[..full.len() / 2]).unwrap();
    let empty = dir.join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();

    expect_init_error(&dir.join("missing.onnx"), yolo_status::ModelLoadFailed, "missing.onnx");
    expect_init_error(&dir, yolo_status::ModelLoadFailed, "directory");
    expect_init_error(&empty, yolo_status::ModelLoadFailed, "empty");
    expect_init_error(&garbage, yolo_status::ModelLoadFailed, "garbage.onnx");
    expect_init_error(&truncated, yolo_status::ModelLoadFailed, "truncated.onnx");
    expect_init_error(&model("not_yolo.onnx"), yolo_status::InvalidModel, "shape");
    expect_init_error(&model("segment_task.onnx"), yolo_status::InvalidModel, "segment");
    expect_init_error(&model("two_inputs.onnx"), yolo_status::InvalidModel, "one image input");
    expect_init_error(&model("uint8_input.onnx"), yolo_status::InvalidModel, "element type");
}

#[test]
fn bad_configs_are_rejected() {
    let path = model("v8_fixed.onnx");
    for (adjust, fragment) in [
        (
            Box::new(|c: &mut TestConfig| c.conf_threshold = Some(f32::NAN)) as Box<dyn Fn(&mut TestConfig)>,
            "conf_threshold",
        ),
        (Box::new(|c: &mut TestConfig| c.conf_threshold = Some(1.5)), "conf_threshold"),
        (Box::new(|c: &mut TestConfig| c.iou_threshold = Some(-0.1)), "iou_threshold"),
        (Box::new(|c: &mut TestConfig| c.iou_threshold = Some(f32::INFINITY)), "iou_threshold"),
        (Box::new(|c: &mut TestConfig| c.max_detections = Some(0)), "max_detections"),
        (Box::new(|c: &mut TestConfig| c.pool_size = Some(100_000)), "pool_size"),
    ] {
        let (status, message) = init_with(&path, adjust).err().unwrap();
        assert_eq!(status, yolo_status::InvalidArgument, "{message}");
        assert!(message.contains(fragment), "{message}");
    }
    let mut out = null_mut();
    // SAFETY: NULL config is the case under test.
    assert_eq!(unsafe { yolo_init(null(), &mut out) }, yolo_status::InvalidArgument);
    let mut empty = Config(null_mut());
    // SAFETY: a config without a model path is the case under test; `empty` frees it.
    unsafe {
        assert_eq!(yolo_config_new(&mut empty.0), yolo_status::Ok);
        assert_eq!(yolo_init(empty.0, &mut out), yolo_status::InvalidArgument);
    }
    assert!(last_error().contains("model path"), "{}", last_error());
    let config = common::config(&path);
    // SAFETY: NULL out-parameter is the case under test.
    assert_eq!(unsafe { yolo_init(config.0, null_mut()) }, yolo_status::InvalidArgument);
    assert!(last_error().contains("out_detector"));
    // Memory that is not a config is refused by its tag, not read as one.
    let not_a_config = [0u64; 8];
    // SAFETY: as above; the library checks the tag word and reads nothing else.
    let status = unsafe { yolo_init(not_a_config.as_ptr().cast(), &mut out) };
    assert_eq!(status, yolo_status::InvalidHandle, "{}", last_error());
}

#[test]
fn bad_images_and_arguments_are_reported() {
    let detector = init(&model("v8_fixed.onnx"));
    let check = |got: Result<Vec<yolo_detection>, (yolo_status, String)>, status: yolo_status, fragment: &str| {
        let (s, message) = got.expect_err("should fail");
        assert_eq!(s, status, "{message}");
        assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
    };
    check(detect(&detector, b"", None), yolo_status::InvalidArgument, "empty");
    check(detect(&detector, b"garbage bytes that are no image", None), yolo_status::ImageDecodeFailed, "format");
    let png = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::new_rgb8(50, 40).write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    check(detect(&detector, &png[..png.len() - 20], None), yolo_status::ImageDecodeFailed, "decode");
    let jpeg = common::image("bus.jpg");
    check(detect(&detector, &jpeg[..jpeg.len() / 3], None), yolo_status::ImageDecodeFailed, "truncated");

    // A PNG header declaring 100000 x 100000 pixels is refused before anything is allocated.
    let mut bomb = png.clone();
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    check(detect(&detector, &bomb, None), yolo_status::ImageTooLarge, "exceeds");

    let rgb = vec![0u8; 10 * 10 * 3];
    let rgb8 = yolo_pixel_format::Rgb8 as u32;
    check(detect_pixels(&detector, &rgb, 10, 10, 29, rgb8, None), yolo_status::InvalidArgument, "stride");
    check(detect_pixels(&detector, &rgb[..200], 10, 10, 30, rgb8, None), yolo_status::InvalidArgument, "too small");
    check(detect_pixels(&detector, &rgb, 0, 10, 30, rgb8, None), yolo_status::InvalidArgument, "empty");
    check(detect_pixels(&detector, &rgb, 10, 10, 30, 0, None), yolo_status::InvalidArgument, "pixel_format");
    check(detect_pixels(&detector, &rgb, 10, 10, 30, 99, None), yolo_status::InvalidArgument, "pixel_format");
    check(
        detect_pixels(&detector, &rgb, u32::MAX, u32::MAX, usize::MAX, rgb8, None),
        yolo_status::InvalidArgument,
        "overflows",
    );
    // Bad per-call values are refused by the options' setters, before any call.
    for (set, fragment) in [
        (TestOptions { conf_threshold: Some(f32::NAN), ..Default::default() }, "conf_threshold"),
        (TestOptions { conf_threshold: Some(-0.5), ..Default::default() }, "conf_threshold"),
        (TestOptions { iou_threshold: Some(2.0), ..Default::default() }, "iou_threshold"),
        (TestOptions { max_detections: Some(0), ..Default::default() }, "max_detections"),
    ] {
        check(try_options(set).map(|_| Vec::new()), yolo_status::InvalidArgument, fragment);
    }
    // A small pixel limit applies to both entry points.
    let small = init_with(&model("v8_fixed.onnx"), |c| c.max_image_pixels = Some(99)).unwrap();
    check(detect_pixels(&small, &rgb, 10, 10, 30, rgb8, None), yolo_status::ImageTooLarge, "limit");
    check(detect(&small, &png, None), yolo_status::ImageTooLarge, "limit");
}

#[test]
fn null_pointers_give_invalid_argument_and_frees_accept_null() {
    let detector = init(&model("v8_fixed.onnx"));
    let bytes = [0u8; 4];
    let mut result = null_mut();
    let mut count = 0usize;
    let mut name = null();
    let mut len = 0usize;
    let (mut w, mut h) = (0u32, 0u32);
    // SAFETY: every call passes NULL where the API documents InvalidArgument, and valid pointers elsewhere.
    unsafe {
        assert_eq!(yolo_detect(null(), bytes.as_ptr(), 4, null(), &mut result), yolo_status::InvalidArgument);
        assert!(last_error().contains("detector is NULL"));
        assert_eq!(yolo_detect(detector.0, null(), 0, null(), &mut result), yolo_status::InvalidArgument);
        assert_eq!(yolo_detect(detector.0, bytes.as_ptr(), 4, null(), null_mut()), yolo_status::InvalidArgument);
        assert_eq!(
            yolo_detect_pixels(detector.0, null(), 0, 1, 1, 3, 1, null(), &mut result),
            yolo_status::InvalidArgument
        );
        assert_eq!(
            yolo_detect_pixels(null(), bytes.as_ptr(), 3, 1, 1, 3, 1, null(), &mut result),
            yolo_status::InvalidArgument
        );
        assert_eq!(yolo_class_count(null(), &mut count), yolo_status::InvalidArgument);
        assert_eq!(yolo_class_count(detector.0, null_mut()), yolo_status::InvalidArgument);
        assert_eq!(yolo_class_name(detector.0, 0, null_mut(), &mut len), yolo_status::InvalidArgument);
        assert_eq!(yolo_class_name(detector.0, 0, &mut name, null_mut()), yolo_status::InvalidArgument);
        assert_eq!(yolo_input_size(detector.0, null_mut(), &mut h), yolo_status::InvalidArgument);
        assert_eq!(yolo_input_size(null(), &mut w, &mut h), yolo_status::InvalidArgument);
        assert_eq!(yolo_result_detections(null(), null_mut(), &mut count), yolo_status::InvalidArgument);
        assert_eq!(yolo_result_image_size(null(), &mut w, &mut h), yolo_status::InvalidArgument);
        assert!(result.is_null(), "no out-parameter written on failure");
        yolo_free(null_mut());
        yolo_result_free(null_mut());
    }
}

#[test]
fn strings_and_statuses() {
    // SAFETY: static NUL-terminated strings.
    let text = |p: *const std::ffi::c_char| unsafe { std::ffi::CStr::from_ptr(p) }.to_str().unwrap().to_owned();
    assert_eq!(text(yolo_version()), env!("CARGO_PKG_VERSION"));
    assert_eq!(text(yolo_status_string(yolo_status::Timeout as u32)), "timed out waiting for a session");
    assert_eq!(text(yolo_status_string(12345)), "unknown status");
    // A successful call clears the message; it is per thread.
    let _ = init_with(&model("missing.onnx"), |_| {});
    assert!(!last_error().is_empty());
    let other_thread = std::thread::spawn(last_error).join().unwrap();
    assert_eq!(other_thread, "");
    let detector = init(&model("v8_fixed.onnx"));
    assert_eq!(last_error(), "");
    drop(detector);
}

#[test]
fn pool_times_out_when_every_session_is_busy_and_threads_share_it() {
    let detector = std::sync::Arc::new(init_with(&model("v8_fixed.onnx"), |c| c.pool_size = Some(2)).unwrap());
    let big = vec![100u8; 1500 * 1500 * 3];
    let rgb8 = yolo_pixel_format::Rgb8 as u32;
    let reference = detect_pixels(&detector, &big, 1500, 1500, 4500, rgb8, None).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let detector = std::sync::Arc::clone(&detector);
            let big = big.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| detect_pixels(&detector, &big, 1500, 1500, 4500, rgb8, None).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap().iter().all(|r| *r == reference));
    }

    // One session and a 1 ms timeout, while another thread keeps the session busy with large letterboxes
    // (imgsz 1024). Both threads go on until the timeout has been seen: the busy thread holds the session
    // for a whole inference at a time, so the small calls, which give up after 1 ms, must meet it busy;
    // a bound on the number of small calls, not on time, turns a timeout that never fires into a failure.
    let single = std::sync::Arc::new(
        init_with(&model("e2e_dynamic.onnx"), |c| {
            c.pool_size = Some(1);
            c.imgsz = Some(1024);
            c.acquire_timeout_ms = Some(1);
        })
        .unwrap(),
    );
    let seen_timeout = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy = {
        let (single, seen_timeout) = (std::sync::Arc::clone(&single), std::sync::Arc::clone(&seen_timeout));
        std::thread::spawn(move || {
            let huge = vec![100u8; 3000 * 3000 * 3];
            while !seen_timeout.load(std::sync::atomic::Ordering::SeqCst) {
                if let Err((status, message)) = detect_pixels(&single, &huge, 3000, 3000, 9000, rgb8, None) {
                    assert_eq!(status, yolo_status::Timeout, "{message}");
                }
            }
        })
    };
    let small = vec![0u8; 300];
    let mut calls = 0u64;
    while !seen_timeout.load(std::sync::atomic::Ordering::SeqCst) && calls < 1_000_000 {
        calls += 1;
        if let Err((status, message)) = detect_pixels(&single, &small, 10, 10, 30, rgb8, None) {
            assert_eq!(status, yolo_status::Timeout, "{message}");
            assert!(message.contains("busy"), "{message}");
            seen_timeout.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let found = seen_timeout.swap(true, std::sync::atomic::Ordering::SeqCst);
    busy.join().unwrap();
    assert!(found, "a 1 ms timeout never fired in {calls} calls while another call held the session");
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("yolo-ffi-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// PNG's CRC-32 (ISO 3309), to forge a valid header.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
