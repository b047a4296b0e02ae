//! The hostile-caller catalogue of `docs/reliability.md`: each test here is one or more of its rows. Every
//! row must end in a specific status and a message naming the problem, never a crash, hang or leak.
//! Uses the synthetic models of `scripts/make_test_models.py` and the images of
//! `tests/fixtures/images` (`scripts/make_hostile_images.py`).

mod common;

use std::ffi::CString;
use std::path::PathBuf;
use std::ptr::{null, null_mut};

use common::*;
use yolo_ffi::*;
use yolo_ffi_core::image_input::decode;

fn model(name: &str) -> PathBuf {
    synthetic_dir().join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Asserts an invalid-argument status whose message names `parameter`.
fn assert_names(status: yolo_status, parameter: &str) {
    assert_eq!(status, yolo_status::InvalidArgument, "{parameter}: {}", last_error());
    assert!(last_error().contains(parameter), "{:?} does not name {parameter}", last_error());
}

#[test]
fn every_pointer_argument_may_be_null() {
    let detector = init(&model("v8_fixed.onnx"));
    let d = detector.0 as *const yolo_detector;
    let image = fixture("rgb.png");
    let (bytes, len) = (image.as_ptr(), image.len());
    let mut result = null_mut();
    let (mut count, mut len_out, mut w, mut h) = (0usize, 0usize, 0u32, 0u32);
    let mut text = null();
    let mut state = yolo_load_state::Loading;
    // SAFETY: an all-zero stats struct is a valid out-buffer (plain integers).
    let mut stats: yolo_detector_stats = unsafe { std::mem::zeroed() };
    let config = config(&model("v8_fixed.onnx"));
    let mut detector_out = null_mut();
    let images = [bytes];
    let lens = [len];
    let mut results = [null_mut(); 1];
    // SAFETY: each call passes NULL for exactly one pointer and valid pointers elsewhere.
    unsafe {
        assert_names(yolo_init(null(), &mut detector_out), "config");
        assert_names(yolo_init(config.0, null_mut()), "out_detector");
        assert_names(yolo_config_new(null_mut()), "out_config");
        assert_names(yolo_detect_options_new(null_mut()), "out_options");
        assert_names(yolo_config_set_model_path(config.0, null()), "model_path");
        // Every setter names the object it was given NULL for.
        assert_names(yolo_config_set_model_path(null_mut(), c"m.onnx".as_ptr()), "config");
        assert_names(yolo_config_set_ort_library_path(null_mut(), null()), "config");
        assert_names(yolo_config_set_pool_size(null_mut(), 1), "config");
        assert_names(yolo_config_set_threads_per_session(null_mut(), 1), "config");
        assert_names(yolo_config_set_imgsz(null_mut(), 0, 0), "config");
        assert_names(yolo_config_set_conf_threshold(null_mut(), 0.5), "config");
        assert_names(yolo_config_set_iou_threshold(null_mut(), 0.5), "config");
        assert_names(yolo_config_set_max_detections(null_mut(), 1), "config");
        assert_names(yolo_config_set_class_agnostic(null_mut(), true), "config");
        assert_names(yolo_config_set_acquire_timeout_ms(null_mut(), 1), "config");
        assert_names(yolo_config_set_max_image_pixels(null_mut(), 1), "config");
        assert_names(yolo_config_set_async_load(null_mut(), true), "config");
        assert_names(yolo_config_set_load_wait_ms(null_mut(), 1), "config");
        assert_names(yolo_config_set_share_weights(null_mut(), true), "config");
        assert_names(yolo_config_set_on_load(null_mut(), None, null_mut()), "config");
        assert_names(yolo_detect_options_set_conf_threshold(null_mut(), 0.5), "options");
        assert_names(yolo_detect_options_set_iou_threshold(null_mut(), 0.5), "options");
        assert_names(yolo_detect_options_set_max_detections(null_mut(), 1), "options");
        assert_names(yolo_detect_options_set_class_agnostic(null_mut(), true), "options");
        assert_names(yolo_state(d, null_mut()), "out_state");
        assert_names(yolo_load_error(d, null_mut(), &mut len_out), "out_message");
        assert_names(yolo_load_error(d, &mut text, null_mut()), "out_message_len");
        assert_names(yolo_stats(d, null_mut()), "out_stats");
        assert_names(yolo_detect(d, null(), len, null(), &mut result), "encoded");
        assert_names(yolo_detect(d, bytes, len, null(), null_mut()), "out_result");
        assert_names(yolo_detect_pixels(d, null(), 12, 2, 2, 6, 1, null(), &mut result), "pixels");
        assert_names(yolo_detect_pixels(d, bytes, 12, 2, 2, 6, 1, null(), null_mut()), "out_result");
        assert_names(yolo_detect_batch(d, null(), lens.as_ptr(), 1, null(), results.as_mut_ptr()), "images");
        assert_names(yolo_detect_batch(d, images.as_ptr(), null(), 1, null(), results.as_mut_ptr()), "image_lens");
        assert_names(yolo_detect_batch(d, images.as_ptr(), lens.as_ptr(), 1, null(), null_mut()), "out_results");
        assert_names(
            yolo_detect_batch(d, [null()].as_ptr(), lens.as_ptr(), 1, null(), results.as_mut_ptr()),
            "images[0]",
        );
        assert_names(yolo_class_count(d, null_mut()), "out_count");
        assert_names(yolo_class_name(d, 0, null_mut(), &mut len_out), "out_name");
        assert_names(yolo_class_name(d, 0, &mut text, null_mut()), "out_name_len");
        assert_names(yolo_input_size(d, null_mut(), &mut h), "out_width");
        assert_names(yolo_input_size(d, &mut w, null_mut()), "out_height");
        assert_names(yolo_result_detections(null(), null_mut(), &mut count), "result");
        assert_names(yolo_result_image_size(null(), &mut w, &mut h), "result");
        assert_names(yolo_config_set_input_size(null_mut(), 0, 0), "config");
        assert_names(yolo_config_set_retina_masks(null_mut(), true), "config");
        assert_names(yolo_config_set_top_k(null_mut(), 1), "config");
        assert_names(yolo_config_add_provider(null_mut(), yolo_provider::Cpu as u32, 0), "config");
        assert_names(yolo_config_set_provider_fallback(null_mut(), true), "config");
        assert_names(yolo_config_set_provider_library(null_mut(), yolo_provider::Openvino as u32, null()), "config");
        assert_names(yolo_config_set_batching(null_mut(), 2, 100), "config");
        assert_names(yolo_config_set_io_binding(null_mut(), yolo_io_binding::Auto as u32), "config");
        assert_names(yolo_detect_options_set_retina_masks(null_mut(), true), "options");
        assert_names(yolo_detect_options_set_top_k(null_mut(), 1), "options");
        let (mut k, mut dims, mut runs, mut calls, mut wait) = (0usize, 0usize, 0u64, 0u64, 0u64);
        let (mut provider, mut device, mut bound, mut task) = (yolo_provider::Cpu, 0u32, false, yolo_task::Detect);
        assert_names(yolo_keypoint_shape(d, null_mut(), &mut dims), "out_keypoints");
        assert_names(yolo_keypoint_shape(d, &mut k, null_mut()), "out_dims");
        assert_names(yolo_model_task(d, null_mut()), "out_task");
        assert_names(yolo_model_provider(d, null_mut(), &mut device), "out_provider");
        assert_names(yolo_model_provider(d, &mut provider, null_mut()), "out_device_id");
        assert_names(yolo_model_io_binding(d, null_mut()), "out_bound");
        assert_names(yolo_batch_stats(d, null_mut(), &mut calls, &mut wait), "out_runs");
        assert_names(yolo_batch_stats(d, &mut runs, null_mut(), &mut wait), "out_calls");
        assert_names(yolo_batch_stats(d, &mut runs, &mut calls, null_mut()), "out_longest_wait_us");
        let mut classes = null();
        let mut keypoints = null();
        let mut points = null();
        // SAFETY: all-zero mask and oriented-box structs are valid out-buffers (integers, floats, a NULL pointer).
        let (mut mask, mut obb): (yolo_mask, yolo_oriented_box) = (std::mem::zeroed(), std::mem::zeroed());
        assert_names(yolo_result_classes(null(), &mut classes, &mut count), "result");
        assert_names(yolo_result_keypoints(null(), 0, &mut keypoints, &mut count), "result");
        assert_names(yolo_result_mask(null(), 0, &mut mask), "result");
        assert_names(yolo_result_mask_polygon(null(), 0, &mut points, &mut count), "result");
        assert_names(yolo_result_oriented_box(null(), 0, &mut obb), "result");
        let mut live = null_mut();
        assert_eq!(yolo_detect(d, bytes, len, null(), &mut live), yolo_status::Ok);
        assert_names(yolo_result_detections(live, null_mut(), &mut count), "out_detections");
        assert_names(yolo_result_image_size(live, null_mut(), &mut h), "out_width");
        assert_names(yolo_result_classes(live, null_mut(), &mut count), "out_classes");
        assert_names(yolo_result_keypoints(live, 0, null_mut(), &mut count), "out_keypoints");
        assert_names(yolo_result_mask(live, 0, null_mut()), "out_mask");
        assert_names(yolo_result_mask_polygon(live, 0, null_mut(), &mut count), "out_points");
        assert_names(yolo_result_oriented_box(live, 0, null_mut()), "out_box");
        yolo_result_free(live);
        // The detector itself, for the queries added with the tasks, providers and batching.
        assert_names(yolo_keypoint_shape(null(), &mut k, &mut dims), "detector");
        assert_names(yolo_model_task(null(), &mut task), "detector");
        assert_names(yolo_model_provider(null(), &mut provider, &mut device), "detector");
        assert_names(yolo_model_io_binding(null(), &mut bound), "detector");
        assert_names(yolo_batch_stats(null(), &mut runs, &mut calls, &mut wait), "detector");
        // The detector itself, for every function that takes one.
        assert_names(yolo_state(null(), &mut state), "detector");
        assert_names(yolo_wait_ready(null(), 0), "detector");
        assert_names(yolo_load_error(null(), &mut text, &mut len_out), "detector");
        assert_names(yolo_stats(null(), &mut stats), "detector");
        assert_names(yolo_detect(null(), bytes, len, null(), &mut result), "detector");
        assert_names(yolo_detect_pixels(null(), bytes, 12, 2, 2, 6, 1, null(), &mut result), "detector");
        assert_names(
            yolo_detect_batch(null(), images.as_ptr(), lens.as_ptr(), 1, null(), results.as_mut_ptr()),
            "detector",
        );
        assert_names(yolo_class_count(null(), &mut count), "detector");
        assert_names(yolo_class_name(null(), 0, &mut text, &mut len_out), "detector");
        assert_names(yolo_input_size(null(), &mut w, &mut h), "detector");
        // The frees accept NULL, and on success leave the last error as it was.
        let before = last_error();
        assert!(!before.is_empty());
        assert_eq!(yolo_free(null_mut()), yolo_status::Ok);
        assert_eq!(yolo_config_free(null_mut()), yolo_status::Ok);
        assert_eq!(yolo_detect_options_free(null_mut()), yolo_status::Ok);
        yolo_result_free(null_mut());
        assert_eq!(last_error(), before);
    }
    assert!(result.is_null() && detector_out.is_null() && results[0].is_null(), "nothing written on failure");
}

#[test]
fn zero_lengths_and_counts() {
    let detector = init(&model("v8_fixed.onnx"));
    let byte = [0u8; 1];
    let mut result = null_mut();
    let mut results = [null_mut(); 1];
    // SAFETY: valid pointers with zero lengths, the cases under test.
    unsafe {
        assert_names(yolo_detect(detector.0, byte.as_ptr(), 0, null(), &mut result), "empty");
        let rgb8 = yolo_pixel_format::Rgb8 as u32;
        assert_names(yolo_detect_pixels(detector.0, byte.as_ptr(), 0, 1, 1, 3, rgb8, null(), &mut result), "pixels");
        assert_names(yolo_detect_pixels(detector.0, byte.as_ptr(), 1, 0, 1, 3, rgb8, null(), &mut result), "empty");
        assert_names(yolo_detect_pixels(detector.0, byte.as_ptr(), 1, 1, 0, 3, rgb8, null(), &mut result), "empty");
        assert_names(yolo_detect_pixels(detector.0, byte.as_ptr(), 1, 1, 1, 0, rgb8, null(), &mut result), "stride");
        let images = [byte.as_ptr()];
        let lens = [0usize];
        assert_names(
            yolo_detect_batch(detector.0, images.as_ptr(), lens.as_ptr(), 0, null(), results.as_mut_ptr()),
            "count",
        );
        assert_names(
            yolo_detect_batch(detector.0, images.as_ptr(), lens.as_ptr(), 1, null(), results.as_mut_ptr()),
            "empty",
        );
    }
    assert!(result.is_null() && results[0].is_null());
    assert_eq!(class_name(&detector, 3), Err(yolo_status::OutOfRange));
}

/// Where the bright block of the fixtures (drawn near the top-left corner) ended up: (right half, bottom half).
fn block_corner(bytes: &[u8]) -> ((usize, usize), (bool, bool)) {
    let image = decode(bytes, u64::MAX).unwrap();
    let view = image.view();
    let (w, h) = (view.width(), view.height());
    let bpp = view.format().bytes_per_pixel();
    let (mut sx, mut sy, mut n) = (0, 0, 0);
    for y in 0..h {
        for x in 0..w {
            let px = &view.row(y)[x * bpp..x * bpp + bpp.min(3)];
            if px.iter().all(|&v| v > 230) {
                (sx, sy, n) = (sx + x, sy + y, n + 1);
            }
        }
    }
    assert!(n > 20, "the block is missing ({n} bright pixels)");
    ((w, h), (sx / n > w / 2, sy / n > h / 2))
}

#[test]
fn exif_orientation_is_applied_for_all_eight_values() {
    // EXIF 1-8: where the top-left block of the stored pixels is seen, and whether width and height swap.
    let expected = [
        (false, false, false),
        (true, false, false),
        (true, true, false),
        (false, true, false),
        (false, false, true),
        (true, false, true),
        (true, true, true),
        (false, true, true),
    ];
    let detector = init(&model("v8_fixed.onnx"));
    for (orientation, &(right, bottom, swapped)) in (1..=8).zip(&expected) {
        let bytes = fixture(&format!("exif-orientation-{orientation}.jpg"));
        let ((w, h), corner) = block_corner(&bytes);
        assert_eq!((w, h), if swapped { (32, 48) } else { (48, 32) }, "orientation {orientation}");
        assert_eq!(corner, (right, bottom), "orientation {orientation}");
        // Through the C ABI, the result reports the oriented size its boxes refer to.
        let mut result = null_mut();
        // SAFETY: valid buffers and out-pointer.
        let status = unsafe { yolo_detect(detector.0, bytes.as_ptr(), bytes.len(), null(), &mut result) };
        assert_eq!(status, yolo_status::Ok, "{}", last_error());
        let (mut rw, mut rh) = (0, 0);
        // SAFETY: a live result.
        assert_eq!(unsafe { yolo_result_image_size(result, &mut rw, &mut rh) }, yolo_status::Ok);
        assert_eq!((rw as usize, rh as usize), (w, h));
        take_result(result);
    }
}

#[test]
fn unusual_encodings_decode_like_opencv() {
    let detector = init(&model("v8_fixed.onnx"));
    for name in [
        "rgb.jpg",
        "progressive.jpg",
        "grey.jpg",
        "cmyk.jpg",
        "rgb.png",
        "rgba.png",
        "grey.png",
        "palette.png",
        "16bit.png",
        "lossless.webp",
        "lossy.webp",
        "rgb.tiff",
        "rgb.bmp",
        "animated.gif",
    ] {
        let bytes = fixture(name);
        let found = detect(&detector, &bytes, None).unwrap_or_else(|(s, m)| panic!("{name}: {s:?} {m}"));
        assert!(!found.is_empty(), "{name}: the constant model always finds boxes");
    }
    // A 16-bit PNG keeps the high byte of each sample, as OpenCV's 8-bit read does: the same pixels as the
    // 8-bit PNG it was made from.
    let sixteen = decode(&fixture("16bit.png"), u64::MAX).unwrap();
    let eight = decode(&fixture("grey.png"), u64::MAX).unwrap();
    let rows = |image: &yolo_ffi_core::image_input::DecodedImage| -> Vec<u8> {
        let view = image.view();
        (0..view.height()).flat_map(|y| view.row(y).iter().step_by(view.format().bytes_per_pixel())).copied().collect()
    };
    assert_eq!(rows(&sixteen), rows(&eight));
    // An animated GIF is read as its first frame (the later frames are mirrored).
    assert_eq!(block_corner(&fixture("animated.gif")).1, (false, false));
    // CMYK JPEG: colours survive the conversion (the fixture's pixel (40, 20) is about (200, 140, 128)).
    let cmyk = decode(&fixture("cmyk.jpg"), u64::MAX).unwrap();
    let view = cmyk.view();
    let bpp = view.format().bytes_per_pixel();
    let px = &view.row(20)[40 * bpp..40 * bpp + 3];
    for (got, want) in px.iter().zip([200u8, 140, 128]) {
        assert!(got.abs_diff(want) <= 12, "CMYK pixel {px:?}, expected about [200, 140, 128]");
    }
    // Truncated files are decode errors that name the problem.
    for name in ["rgb.jpg", "rgb.png", "lossless.webp", "animated.gif", "rgb.tiff"] {
        let (status, message) = detect(&detector, &fixture(&format!("truncated-{name}")), None)
            .expect_err(&format!("truncated {name} decoded"));
        assert_eq!(status, yolo_status::ImageDecodeFailed, "truncated {name}: {message}");
        assert!(message.contains("decode") || message.contains("truncated"), "truncated {name}: {message}");
    }
}

#[test]
fn decompression_bombs_are_refused_before_allocation() {
    // A GIF and a BMP header declaring huge sizes, besides the PNG bomb of tests/errors.rs.
    let detector = init_with(&model("v8_fixed.onnx"), |c| c.max_image_pixels = Some(1_000_000)).unwrap();
    let mut gif = fixture("animated.gif");
    gif[6..8].copy_from_slice(&u16::MAX.to_le_bytes());
    gif[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
    let mut bmp = fixture("rgb.bmp");
    bmp[18..22].copy_from_slice(&100_000i32.to_le_bytes());
    bmp[22..26].copy_from_slice(&100_000i32.to_le_bytes());
    for (name, bytes) in [("gif", gif), ("bmp", bmp)] {
        let (status, message) = detect(&detector, &bytes, None).unwrap_err();
        assert!(
            matches!(status, yolo_status::ImageTooLarge | yolo_status::ImageDecodeFailed),
            "{name}: {status:?} {message}"
        );
    }
}

#[test]
fn thresholds_nan_infinite_negative_and_max_detections_zero() {
    let detector = init(&model("v8_fixed.onnx"));
    let png = fixture("rgb.png");
    // Refused by the setter that receives them, in a config and in per-call options alike.
    for (conf, iou) in [(f32::NAN, 0.5), (f32::INFINITY, 0.5), (-0.01, 0.5), (0.5, f32::NEG_INFINITY), (0.5, f32::NAN)]
    {
        let set = TestOptions { conf_threshold: Some(conf), iou_threshold: Some(iou), ..Default::default() };
        let (status, message) = try_options(set).err().unwrap();
        assert_eq!(status, yolo_status::InvalidArgument, "{conf} {iou}: {message}");
        assert!(message.contains("threshold"), "{message}");
        let (status, message) = init_with(&model("v8_fixed.onnx"), |c| {
            c.conf_threshold = Some(conf);
            c.iou_threshold = Some(iou);
        })
        .err()
        .unwrap();
        assert_eq!(status, yolo_status::InvalidArgument, "{conf} {iou}: {message}");
    }
    // max_detections 0 is an error in both; options that leave it unset inherit the detector's value.
    let (status, message) = init_with(&model("v8_fixed.onnx"), |c| c.max_detections = Some(0)).err().unwrap();
    assert_eq!(status, yolo_status::InvalidArgument, "{message}");
    let (status, _) = try_options(TestOptions { max_detections: Some(0), ..Default::default() }).err().unwrap();
    assert_eq!(status, yolo_status::InvalidArgument);
    let inherit = options(TestOptions::default());
    assert_eq!(detect(&detector, &png, Some(&inherit)).unwrap(), detect(&detector, &png, None).unwrap());
    let one = options(TestOptions { max_detections: Some(1), ..Default::default() });
    assert_eq!(detect(&detector, &png, Some(&one)).unwrap().len(), 1);
}

#[test]
fn paths_that_are_not_utf8() {
    // Linux paths are bytes: a model path that is not UTF-8 is used as is, and reported lossily.
    let dir = std::env::temp_dir().join(format!("yolo-ffi-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut raw = dir.as_os_str().as_encoded_bytes().to_vec();
    raw.extend_from_slice(b"/caf\xe9-\xff.onnx");
    let path = CString::new(raw.clone()).unwrap();
    let mut config = Config(null_mut());
    let mut out = null_mut();
    // SAFETY: a live config and a valid out-pointer.
    let status = unsafe {
        assert_eq!(yolo_config_new(&mut config.0), yolo_status::Ok);
        assert_eq!(yolo_config_set_model_path(config.0, path.as_ptr()), yolo_status::Ok);
        yolo_init(config.0, &mut out)
    };
    assert_eq!(status, yolo_status::ModelLoadFailed, "{}", last_error());
    assert!(last_error().contains("caf\u{fffd}-\u{fffd}.onnx"), "{}", last_error());
    // The same bytes naming a real file load.
    use std::os::unix::ffi::OsStrExt;
    let real = std::path::Path::new(std::ffi::OsStr::from_bytes(&raw));
    std::fs::copy(model("v8_fixed.onnx"), real).unwrap();
    // SAFETY: as above.
    let status = unsafe { yolo_init(config.0, &mut out) };
    assert_eq!(status, yolo_status::Ok, "{}", last_error());
    assert_eq!(yolo_free(out), yolo_status::Ok);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn calls_after_free_and_double_frees_are_reported() {
    let config = config(&model("v8_fixed.onnx"));
    let mut detector = null_mut();
    // SAFETY: a live config and a valid out-pointer.
    assert_eq!(unsafe { yolo_init(config.0, &mut detector) }, yolo_status::Ok);
    assert_eq!(yolo_free(detector), yolo_status::Ok);
    let png = fixture("rgb.png");
    let mut result = null_mut();
    let mut count = 0usize;
    // SAFETY: a freed detector handle is the case under test; the library never dereferences it.
    unsafe {
        assert_eq!(yolo_detect(detector, png.as_ptr(), png.len(), null(), &mut result), yolo_status::InvalidHandle);
        assert!(last_error().contains("not a live"), "{}", last_error());
        assert_eq!(yolo_class_count(detector, &mut count), yolo_status::InvalidHandle);
    }
    assert_eq!(yolo_free(detector), yolo_status::InvalidHandle);
    assert!(last_error().contains("not a live"), "{}", last_error());
    assert!(result.is_null());
}

#[test]
fn result_free_catches_the_common_mistakes() {
    let detector = init(&model("v8_fixed.onnx"));
    let png = fixture("rgb.png");
    let detect_one = || {
        let mut result = null_mut();
        // SAFETY: valid buffers and out-pointer.
        let status = unsafe { yolo_detect(detector.0, png.as_ptr(), png.len(), null(), &mut result) };
        assert_eq!(status, yolo_status::Ok);
        result
    };
    // A detector handle passed as a result: refused without being followed.
    // SAFETY: the mistake under test; the handle is an encoded index, rejected before any read.
    unsafe { yolo_result_free(detector.0.cast()) };
    assert!(last_error().contains("not a live result"), "{}", last_error());
    // Memory that holds something else.
    let mut not_a_result = [0u64; 8];
    // SAFETY: readable memory without a result's tag, the case under test.
    unsafe { yolo_result_free(not_a_result.as_mut_ptr().cast()) };
    assert!(last_error().contains("not a live result"), "{}", last_error());
    let mut count = 0usize;
    let mut detections = null();
    // SAFETY: as above.
    let status = unsafe { yolo_result_detections(not_a_result.as_ptr().cast(), &mut detections, &mut count) };
    assert_eq!(status, yolo_status::InvalidHandle);
    // A real result is freed, and clears the last error.
    let result = detect_one();
    // SAFETY: a live result, freed once.
    unsafe { yolo_result_free(result) };
    assert_eq!(last_error(), "");
}

#[test]
fn a_result_freed_twice_is_caught_while_its_memory_is_unused() {
    // Best effort, and undefined behaviour by the API's contract: the second free reads the freed block's
    // tag, which glibc's allocator overwrites with its own bookkeeping. Not run under the sanitizers.
    let detector = init(&model("v8_fixed.onnx"));
    let png = fixture("rgb.png");
    let mut result = null_mut();
    // SAFETY: valid buffers and out-pointer.
    let status = unsafe { yolo_detect(detector.0, png.as_ptr(), png.len(), null(), &mut result) };
    assert_eq!(status, yolo_status::Ok);
    // SAFETY: the first free is valid; the second is the mistake under test (see above).
    unsafe {
        yolo_result_free(result);
        yolo_result_free(result);
    }
    assert!(last_error().contains("not a live result"), "{}", last_error());
}
