//! Every output layout, the letterbox geometry and the thresholds, through the C ABI, on the synthetic models
//! of `scripts/make_test_models.py` (run `make test-models` first; `make test` does).

mod common;

use common::*;
use yolo_ffi::*;

fn model(name: &str) -> std::path::PathBuf {
    let path = synthetic_dir().join(name);
    assert!(path.is_file(), "{} is missing: run `make test-models`", path.display());
    path
}

fn gray(width: u32, height: u32) -> Vec<u8> {
    vec![128; (width * height * 3) as usize]
}

fn summary(d: &[yolo_detection]) -> Vec<(u32, f32)> {
    d.iter().map(|d| (d.class_id, d.score)).collect()
}

const RGB8: u32 = yolo_pixel_format::Rgb8 as u32;

#[test]
fn channels_first_layout_thresholds_and_class_aware_nms() {
    let detector = init(&model("v8_fixed.onnx"));
    let found = detect_pixels(&detector, &gray(64, 64), 64, 64, 64 * 3, RGB8, None).unwrap();
    // 0.8 is suppressed by 0.9 (same class, IoU 0.82); 0.7 survives (other class); 0.25 is not above 0.25.
    assert_eq!(summary(&found), [(0, 0.9), (1, 0.7), (2, 0.6), (2, 0.3)]);
    // Same-size image: boxes are the model's xywh converted to xyxy.
    assert_eq!((found[0].x1, found[0].y1, found[0].x2, found[0].y2), (15.0, 15.0, 25.0, 25.0));

    let agnostic = options(TestOptions { class_agnostic: Some(true), ..Default::default() });
    let found = detect_pixels(&detector, &gray(64, 64), 64, 64, 64 * 3, RGB8, Some(&agnostic)).unwrap();
    assert_eq!(summary(&found), [(0, 0.9), (2, 0.6), (2, 0.3)]);

    let capped = options(TestOptions { max_detections: Some(2), ..Default::default() });
    assert_eq!(detect_pixels(&detector, &gray(64, 64), 64, 64, 192, RGB8, Some(&capped)).unwrap().len(), 2);

    let low = options(TestOptions { conf_threshold: Some(0.0), ..Default::default() });
    let found = detect_pixels(&detector, &gray(64, 64), 64, 64, 192, RGB8, Some(&low)).unwrap();
    assert!(found.iter().any(|d| d.score == 0.25), "0.25 is above 0.0");

    let strict_iou = options(TestOptions { iou_threshold: Some(0.0), ..Default::default() });
    let found = detect_pixels(&detector, &gray(64, 64), 64, 64, 192, RGB8, Some(&strict_iou)).unwrap();
    assert_eq!(summary(&found), [(0, 0.9), (1, 0.7), (2, 0.6), (2, 0.3)], "IoU 0 only suppresses overlapping boxes");
}

#[test]
fn boxes_are_scaled_back_through_the_letterbox() {
    let detector = init(&model("v8_fixed.onnx"));
    // 128x64 into 64x64: gain 0.5, resized to 64x32, 16 rows of padding on top.
    let found = detect_pixels(&detector, &gray(128, 64), 128, 64, 128 * 3, RGB8, None).unwrap();
    let to_image = |x: f32, y: f32| (((x - 0.0) / 0.5).clamp(0.0, 128.0), ((y - 16.0) / 0.5).clamp(0.0, 64.0));
    let (x1, y1) = to_image(15.0, 15.0);
    let (x2, y2) = to_image(25.0, 25.0);
    assert_eq!((found[0].x1, found[0].y1, found[0].x2, found[0].y2), (x1, y1, x2, y2));
    assert_eq!(found[0].y1, 0.0, "clipped to the image");
    // A tall image: 32x256 into 64x64: gain 0.25, resized to 8x64, 28 columns of padding on the left.
    let found = detect_pixels(&detector, &gray(32, 256), 32, 256, 32 * 3, RGB8, None).unwrap();
    assert_eq!((found[0].x1, found[0].x2), (0.0, 0.0), "x1 15 and x2 25 both lie in the left padding");
    assert_eq!((found[0].y1, found[0].y2), (60.0, 100.0));
    // Larger and smaller than the input, and one pixel wide, all succeed with boxes inside the image.
    for (w, h) in [(1, 1), (1, 300), (300, 1), (3000, 17), (5, 7)] {
        let found = detect_pixels(&detector, &gray(w, h), w, h, (w * 3) as usize, RGB8, None).unwrap();
        for d in found {
            assert!(0.0 <= d.x1 && d.x1 <= d.x2 && d.x2 <= w as f32, "{w}x{h}: {d:?}");
            assert!(0.0 <= d.y1 && d.y1 <= d.y2 && d.y2 <= h as f32, "{w}x{h}: {d:?}");
        }
    }
}

#[test]
fn objectness_layout_multiplies_scores() {
    let detector = init(&model("v5_fixed.onnx"));
    let found = detect_pixels(&detector, &gray(64, 64), 64, 64, 192, RGB8, None).unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!((found[0].class_id, found[1].class_id), (1, 0));
    assert!((found[0].score - 0.9).abs() < 1e-6 && (found[1].score - 0.4).abs() < 1e-6, "{found:?}");
    assert_eq!(class_name(&detector, 1).unwrap(), "b");
}

#[test]
fn end_to_end_layout_keeps_model_order_and_uses_the_minimal_rectangle() {
    let detector = init(&model("e2e_dynamic.onnx"));
    // 100x50 at imgsz 64: gain 0.64, resized to 64x32; 32 rows of padding % 32 = 0, so the input is 32x64.
    let found = detect_pixels(&detector, &gray(100, 50), 100, 50, 300, RGB8, None).unwrap();
    assert_eq!(found.len(), 2, "the 0.1 row is below the threshold");
    assert_eq!(found[0].class_id, 102, "(input height / 32) * 100 + width / 32");
    assert_eq!((found[1].class_id, found[1].score), (1, 0.8), "not re-sorted, not suppressed");
    let mut size = (0u32, 0u32);
    // SAFETY: live detector, local out-pointers.
    assert_eq!(unsafe { yolo_input_size(detector.0, &mut size.0, &mut size.1) }, yolo_status::Ok);
    assert_eq!(size, (64, 64));
    let mut count = 99usize;
    // SAFETY: as above.
    assert_eq!(unsafe { yolo_class_count(detector.0, &mut count) }, yolo_status::Ok);
    assert_eq!(count, 999, "an end-to-end model without names has Ultralytics' 999 default names");
    assert_eq!(class_name(&detector, 998).as_deref(), Ok("class998"));
    assert_eq!(class_name(&detector, 999), Err(yolo_status::OutOfRange));

    // imgsz 96: gain 0.96, resized to 96x48, padding 48 % 32 = 16 split 8/8: a 64x96 input.
    let detector = init_with(&model("e2e_dynamic.onnx"), |c| c.imgsz = Some(96)).unwrap();
    let found = detect_pixels(&detector, &gray(100, 50), 100, 50, 300, RGB8, None).unwrap();
    assert_eq!(found[0].class_id, 203);
    // imgsz 70 is rounded up to the stride: 96.
    let detector = init_with(&model("e2e_dynamic.onnx"), |c| c.imgsz = Some(70)).unwrap();
    let found = detect_pixels(&detector, &gray(100, 50), 100, 50, 300, RGB8, None).unwrap();
    assert_eq!(found[0].class_id, 203);
}

#[test]
fn float16_models_run() {
    let detector = init(&model("v8_f16_dynamic.onnx"));
    let found = detect_pixels(&detector, &gray(64, 64), 64, 64, 192, RGB8, None).unwrap();
    assert_eq!(summary(&found), [(0, 0.75)]);
    assert_eq!(class_name(&detector, 0).unwrap(), "only");
}

#[test]
fn class_names_are_parsed_with_quotes_and_escapes() {
    let detector = init(&model("v8_fixed.onnx"));
    assert_eq!(class_name(&detector, 0).unwrap(), "person");
    assert_eq!(class_name(&detector, 1).unwrap(), "it's");
    assert_eq!(class_name(&detector, 2).unwrap(), "café");
    assert_eq!(class_name(&detector, 3), Err(yolo_status::OutOfRange));
}

#[test]
fn every_pixel_format_gives_the_same_detections() {
    let detector = init(&model("v8_fixed.onnx"));
    let (w, h) = (96u32, 80u32);
    let rgb: Vec<u8> = (0..w * h).flat_map(|i| [(i % 256) as u8, (i / 7 % 256) as u8, 77]).collect();
    let reference = detect_pixels(&detector, &rgb, w, h, (w * 3) as usize, RGB8, None).unwrap();
    let bgr: Vec<u8> = rgb.chunks(3).flat_map(|p| [p[2], p[1], p[0]]).collect();
    let rgba: Vec<u8> = rgb.chunks(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
    let bgra: Vec<u8> = rgb.chunks(3).flat_map(|p| [p[2], p[1], p[0], 0]).collect();
    // A padded stride, as numpy slices and OpenCV ROIs have.
    let padded: Vec<u8> = rgb.chunks((w * 3) as usize).flat_map(|row| row.iter().copied().chain([0; 13])).collect();
    for (data, format, stride) in [
        (&bgr, yolo_pixel_format::Bgr8, w * 3),
        (&rgba, yolo_pixel_format::Rgba8, w * 4),
        (&bgra, yolo_pixel_format::Bgra8, w * 4),
        (&padded, yolo_pixel_format::Rgb8, w * 3 + 13),
    ] {
        let found = detect_pixels(&detector, data, w, h, stride as usize, format as u32, None).unwrap();
        assert_eq!(found, reference, "{format:?}");
    }
    let grey = vec![9u8; (w * h) as usize];
    assert!(detect_pixels(&detector, &grey, w, h, w as usize, yolo_pixel_format::Gray8 as u32, None).is_ok());
}

#[test]
fn encoded_formats_decode() {
    let detector = init(&model("v8_fixed.onnx"));
    let image = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 100]));
    for format in [
        image::ImageFormat::Png,
        image::ImageFormat::Jpeg,
        image::ImageFormat::Bmp,
        image::ImageFormat::Gif,
        image::ImageFormat::Tiff,
        image::ImageFormat::WebP,
    ] {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(image.clone()).write_to(&mut bytes, format).unwrap();
        let found = detect(&detector, bytes.get_ref(), None).unwrap_or_else(|e| panic!("{format:?}: {e:?}"));
        assert_eq!(found.len(), 4, "{format:?}");
        assert!(found.iter().all(|d| d.x2 <= 40.0 && d.y2 <= 30.0), "{format:?}: boxes in image pixels");
    }
}

/// Inserts an EXIF APP1 segment with `orientation` right after a JPEG's SOI marker.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes()); // first IFD right after the header
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut segment = b"Exif\0\0".to_vec();
    segment.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((segment.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&segment);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_applied_to_encoded_images() {
    let detector = init(&model("v8_fixed.onnx"));
    let image = image::RgbImage::from_fn(40, 30, |x, _| image::Rgb([x as u8 * 6, 0, 0]));
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image).write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let size_of = |bytes: &[u8]| {
        let mut result = std::ptr::null_mut();
        let mut size = (0u32, 0u32);
        // SAFETY: valid pointers for the calls; the result is freed once.
        unsafe {
            assert_eq!(
                yolo_detect(detector.0, bytes.as_ptr(), bytes.len(), std::ptr::null(), &mut result),
                yolo_status::Ok
            );
            assert_eq!(yolo_result_image_size(result, &mut size.0, &mut size.1), yolo_status::Ok);
            yolo_result_free(result);
        }
        size
    };
    assert_eq!(size_of(jpeg.get_ref()), (40, 30));
    assert_eq!(size_of(&with_exif_orientation(jpeg.get_ref(), 1)), (40, 30));
    assert_eq!(size_of(&with_exif_orientation(jpeg.get_ref(), 6)), (30, 40), "rotated 90 degrees");
    assert_eq!(size_of(&with_exif_orientation(jpeg.get_ref(), 8)), (30, 40), "rotated 270 degrees");
    assert_eq!(size_of(&with_exif_orientation(jpeg.get_ref(), 3)), (40, 30));
}

#[test]
fn the_input_size_setter_is_width_first_and_imgsz_height_first() {
    type Setter = unsafe extern "C" fn(*mut yolo_config, u32, u32) -> yolo_status;
    let both: [(Setter, (u32, u32)); 2] = [(yolo_config_set_input_size, (128, 64)), (yolo_config_set_imgsz, (64, 128))];
    for (setter, (first, second)) in both {
        let config = config(&model("e2e_dynamic.onnx"));
        let mut out = std::ptr::null_mut();
        let mut size = (0u32, 0u32);
        // SAFETY: a live config and local out-pointers; the detector is freed once, below.
        unsafe {
            assert_eq!(setter(config.0, first, second), yolo_status::Ok);
            assert_eq!(yolo_init(config.0, &mut out), yolo_status::Ok, "{}", last_error());
            assert_eq!(yolo_input_size(out, &mut size.0, &mut size.1), yolo_status::Ok);
            assert_eq!(yolo_free(out), yolo_status::Ok);
        }
        assert_eq!(size, (128, 64), "yolo_input_size gives width, then height");
    }
}
