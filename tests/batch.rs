//! `yolo_detect_batch` through the C ABI: one run for a dynamic-batch model, Ultralytics' batch letterbox,
//! the fall-back to single runs, and all-or-nothing errors.

mod common;

use common::*;
use yolo_ffi::*;

fn png(width: u32, height: u32, value: u8) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb([value, value / 2, 255 - value]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn singles(detector: &Detector, images: &[Vec<u8>]) -> Vec<Vec<yolo_detection>> {
    images.iter().map(|i| detect(detector, i, None).unwrap()).collect()
}

fn class_codes(results: &[Vec<yolo_detection>]) -> Vec<u32> {
    results.iter().map(|r| r[0].class_id).collect()
}

#[test]
fn same_size_images_share_one_run_at_the_minimal_rectangle() {
    // e2e_batch: score = the image's mean input value, class = (input height / 32) * 100 + width / 32.
    let detector = init_with(&synthetic_dir().join("e2e_batch.onnx"), |c| c.imgsz = Some(128)).unwrap();
    let images: Vec<Vec<u8>> = [40, 120, 200].iter().map(|&v| png(96, 64, v)).collect();
    let together = detect_batch(&detector, &images).unwrap();
    let alone = singles(&detector, &images);
    assert_eq!(together, alone);
    // 96x64 scaled by 4/3 is 128x85, padded to a multiple of 32: 128x96, as a single image would be.
    assert_eq!(class_codes(&together), vec![304; 3]);
    let scores: Vec<f32> = together.iter().map(|r| r[0].score).collect();
    assert!(scores[0] != scores[1] && scores[1] != scores[2], "each image must get its own output: {scores:?}");
}

#[test]
fn mixed_sizes_use_the_full_input_size_as_ultralytics_does() {
    let detector = init_with(&synthetic_dir().join("e2e_batch.onnx"), |c| c.imgsz = Some(128)).unwrap();
    let images = vec![png(96, 64, 40), png(64, 96, 120), png(100, 100, 200)];
    let together = detect_batch(&detector, &images).unwrap();
    assert_eq!(class_codes(&together), vec![404; 3]);
    assert_eq!(class_codes(&singles(&detector, &images)), vec![304, 403, 404]);
}

#[test]
fn batches_larger_than_one_run_are_split_and_keep_their_order() {
    let detector = init_with(&synthetic_dir().join("e2e_batch.onnx"), |c| c.imgsz = Some(64)).unwrap();
    let images: Vec<Vec<u8>> = (0..19).map(|i| png(64, 64, 10 + 12 * i as u8)).collect();
    assert_eq!(detect_batch(&detector, &images).unwrap(), singles(&detector, &images));
}

#[test]
fn fixed_batch_models_fall_back_to_single_runs() {
    let detector = init(&synthetic_dir().join("v8_fixed.onnx"));
    let images = vec![png(64, 64, 90), png(80, 40, 30)];
    let together = detect_batch(&detector, &images).unwrap();
    assert!(!together[0].is_empty());
    assert_eq!(together, singles(&detector, &images));
}

#[test]
fn the_real_model_in_a_batch_matches_single_calls_for_same_size_images() {
    let model = cache_dir().join("models/nudenet-320n.onnx");
    let detector = init_with(&model, |c| c.conf_threshold = Some(0.05)).unwrap();
    let bus = image("bus.jpg");
    let images = vec![bus.clone(), bus.clone(), bus];
    let together = detect_batch(&detector, &images).unwrap();
    assert!(!together[0].is_empty());
    assert_eq!(together, singles(&detector, &images));
}

#[test]
fn errors_write_nothing_and_name_the_image() {
    let detector = init(&synthetic_dir().join("e2e_batch.onnx"));
    let (status, message) = detect_batch(&detector, &[png(64, 64, 1), b"not an image".to_vec()]).unwrap_err();
    assert_eq!(status, yolo_status::ImageDecodeFailed);
    assert!(message.contains("image 1 of the batch"), "{message}");
    assert_eq!(detect_batch(&detector, &[]).unwrap_err().0, yolo_status::InvalidArgument);
    let mut result = std::ptr::null_mut();
    let length = 3usize;
    // SAFETY: NULL arrays are what is being tested; the library must reject them before reading.
    let status = unsafe { yolo_detect_batch(detector.0, std::ptr::null(), &length, 1, std::ptr::null(), &mut result) };
    assert_eq!(status, yolo_status::InvalidArgument);
    assert!(last_error().contains("images"));
    let one = png(64, 64, 1);
    let pointer = one.as_ptr();
    // SAFETY: valid arrays of one entry; NULL out_results is what is being tested.
    let status =
        unsafe { yolo_detect_batch(detector.0, &pointer, &one.len(), 1, std::ptr::null(), std::ptr::null_mut()) };
    assert_eq!(status, yolo_status::InvalidArgument);
}
