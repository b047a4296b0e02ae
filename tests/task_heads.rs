//! The task decoders through the C ABI on synthetic models (`scripts/make_test_models.py`) whose outputs
//! are constants, so every expected mask, keypoint and rotated box is known by hand; plus the task models
//! whose outputs do not fit their task, and the accessors' errors. Runs in every clone.

mod common;

use common::*;
use yolo_ffi::*;

fn model(name: &str) -> std::path::PathBuf {
    synthetic_dir().join(name)
}

/// A `width` x `height` PNG of one grey level.
fn grey_png(width: u32, height: u32) -> Vec<u8> {
    png(image::RgbImage::from_pixel(width, height, image::Rgb([90, 90, 90])))
}

fn png(image: image::RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn task_of(detector: &Detector) -> yolo_task {
    let mut task = yolo_task::Detect;
    // SAFETY: live detector, local out-pointer.
    assert_eq!(unsafe { yolo_model_task(detector.0, &mut task) }, yolo_status::Ok);
    task
}

fn with_options(set: impl FnOnce(*mut yolo_detect_options)) -> Options {
    let options = options(TestOptions::default());
    set(options.0);
    options
}

/// A mask as `(left, top, width, height)` with every pixel of it set.
fn solid(result: &TaskResult, i: usize) -> (u32, u32, u32, u32) {
    let (left, top, width, height, data) = &result.masks[i];
    assert!(data.iter().all(|&v| v == 1), "mask {i} is not solid: {data:?}");
    (*left, *top, *width, *height)
}

#[test]
fn segmentation_masks_are_those_of_the_prototypes_cropped_to_the_box() {
    let detector = init(&model("seg_fixed.onnx"));
    assert_eq!(task_of(&detector), yolo_task::Segment);
    for retina in [false, true] {
        let options = with_options(|o| {
            // SAFETY: live options.
            assert_eq!(unsafe { yolo_detect_options_set_retina_masks(o, retina) }, yolo_status::Ok);
        });
        let found = detect_task(&detector, &grey_png(64, 64), Some(&options)).unwrap();
        // The negative mask, the NaN coefficient and the zero-width box give no pixel: dropped.
        let boxes: Vec<_> = found.detections.iter().map(|d| (d.class_id, d.x1, d.y1, d.x2, d.y2)).collect();
        assert_eq!(boxes, [(0, 8.0, 8.0, 24.0, 24.0), (1, 24.0, 40.0, 48.0, 56.0)], "retina {retina}");
        assert_eq!(solid(&found, 0), (8, 8, 16, 16), "retina {retina}: plane 0 fills the box");
        let square = [[8.0, 8.0], [23.0, 8.0], [23.0, 23.0], [8.0, 23.0]];
        assert_eq!(found.polygons[0], square, "retina {retina}: the outline through the boundary pixels");
        assert_eq!(solid(&found, 1), (24, 40, 8, 16), "retina {retina}: plane 1 is positive left of column 32");
        // An image twice the input: the boxes and masks double.
        let found = detect_task(&detector, &grey_png(128, 128), Some(&options)).unwrap();
        assert_eq!(found.detections.len(), 2);
        assert_eq!(solid(&found, 0), (16, 16, 32, 32), "retina {retina}");
        assert_eq!(solid(&found, 1), (48, 80, 16, 32), "retina {retina}");
    }
    // End-to-end rows with coefficients give the same masks.
    let e2e = init(&model("seg_e2e.onnx"));
    let found = detect_task(&e2e, &grey_png(64, 64), None).unwrap();
    assert_eq!(found.detections.len(), 2);
    assert_eq!((solid(&found, 0), solid(&found, 1)), ((8, 8, 16, 16), (24, 40, 8, 16)));
}

#[test]
fn more_than_300_masks_are_capped_and_stay_small() {
    let detector = init(&model("hostile/seg_many.onnx"));
    let found = detect_task(&detector, &grey_png(64, 64), None).unwrap();
    assert_eq!((found.detections.len(), found.masks.len()), (300, 300));
    assert!(found.masks.iter().all(|m| m.2 * m.3 <= 4), "each mask holds its 2x2 box only");
    let all = with_options(|o| {
        // SAFETY: live options.
        assert_eq!(unsafe { yolo_detect_options_set_max_detections(o, 1000) }, yolo_status::Ok);
    });
    assert_eq!(detect_task(&detector, &grey_png(64, 64), Some(&all)).unwrap().masks.len(), 400);
}

#[test]
fn pose_keypoints_are_scaled_clipped_and_never_nan() {
    let detector = init(&model("pose_fixed.onnx"));
    assert_eq!(task_of(&detector), yolo_task::Pose);
    let mut shape = (0usize, 0usize);
    // SAFETY: live detector, local out-pointers.
    assert_eq!(unsafe { yolo_keypoint_shape(detector.0, &mut shape.0, &mut shape.1) }, yolo_status::Ok);
    assert_eq!(shape, (2, 3));
    let found = detect_task(&detector, &grey_png(64, 64), None).unwrap();
    assert_eq!(found.detections.len(), 2);
    let k = |x, y, confidence| yolo_keypoint { x, y, confidence };
    assert_eq!(found.keypoints[0], [k(14.0, 15.0, 0.95), k(64.0, 0.0, 0.4)], "the second is clipped");
    assert_eq!(found.keypoints[1], [k(0.0, 0.0, 0.0), k(46.0, 47.0, 0.0)], "NaN position and NaN confidence");
    // End-to-end rows carry the same keypoints after the class.
    let e2e = detect_task(&init(&model("pose_e2e.onnx")), &grey_png(64, 64), None).unwrap();
    assert_eq!(e2e.detections.len(), 1);
    assert_eq!(e2e.keypoints[0], [k(14.0, 15.0, 0.95), k(64.0, 0.0, 0.4)]);
    // A 128x96 image: half size in the 64x64 input, below 8 rows of padding.
    let found = detect_task(&detector, &grey_png(128, 96), None).unwrap();
    assert_eq!(found.keypoints[0][0], k(28.0, 14.0, 0.95));
}

#[test]
fn oriented_boxes_use_fast_rotated_nms_and_scale_without_clipping() {
    let detector = init(&model("obb_fixed.onnx"));
    assert_eq!(task_of(&detector), yolo_task::Obb);
    let found = detect_task(&detector, &grey_png(64, 64), None).unwrap();
    let kept: Vec<_> = found.detections.iter().map(|d| (d.class_id, d.score)).collect();
    assert_eq!(kept, [(0, 0.9), (1, 0.7), (0, 0.6)], "the near twin of the first is suppressed");
    let first = found.oriented[0];
    assert_eq!((first.cx, first.cy, first.width, first.height, first.angle), (20.0, 20.0, 20.0, 8.0, 0.3));
    // Ultralytics' corner order: centre +- half the width along the angle, +- half the height across it.
    let (sin, cos) = 0.3f32.sin_cos();
    let expected = [
        20.0 + 10.0 * cos - 4.0 * sin,
        20.0 + 10.0 * sin + 4.0 * cos,
        20.0 + 10.0 * cos + 4.0 * sin,
        20.0 + 10.0 * sin - 4.0 * cos,
    ];
    for (got, want) in first.corners[..4].iter().zip(expected) {
        assert!((got - want).abs() < 1e-4, "{:?} vs {expected:?}", first.corners);
    }
    // The detection holds the rotated box's bounds.
    let xs = [0, 2, 4, 6].map(|i| first.corners[i]);
    let d = found.detections[0];
    assert!((d.x1 - xs.iter().cloned().fold(f32::MAX, f32::min)).abs() < 1e-4);
    let agnostic = with_options(|o| {
        // SAFETY: live options.
        assert_eq!(unsafe { yolo_detect_options_set_class_agnostic(o, true) }, yolo_status::Ok);
    });
    let found = detect_task(&detector, &grey_png(64, 64), Some(&agnostic)).unwrap();
    assert_eq!(found.detections.len(), 2, "agnostic: the same box in the other class goes too");
    // End-to-end rows: (cx, cy, w, h, score, class, angle), filtered by score, in the model's order.
    let e2e = detect_task(&init(&model("obb_e2e.onnx")), &grey_png(64, 64), None).unwrap();
    let rows: Vec<_> = e2e.oriented.iter().map(|o| (o.cx, o.cy, o.width, o.height, o.angle)).collect();
    assert_eq!(rows, [(20.0, 20.0, 20.0, 8.0, 0.3), (44.0, 44.0, 16.0, 10.0, -0.5)]);
    // Twice the input: centre and size double; nothing is clipped.
    let found = detect_task(&detector, &grey_png(128, 128), None).unwrap();
    let o = found.oriented[0];
    assert_eq!((o.cx, o.cy, o.width, o.height, o.angle), (40.0, 40.0, 40.0, 16.0, 0.3));
}

#[test]
fn classification_lists_the_top_classes_and_crops_the_centre() {
    let detector = init(&model("classify_task.onnx"));
    assert_eq!(task_of(&detector), yolo_task::Classify);
    let found = detect_task(&detector, &grey_png(80, 64), None).unwrap();
    assert!(found.detections.is_empty());
    let top: Vec<_> = found.classes.iter().map(|c| (c.class_id, c.probability)).collect();
    assert_eq!(top, [(1, 0.5), (2, 0.3), (0, 0.2)]);
    let two = with_options(|o| {
        // SAFETY: live options.
        assert_eq!(unsafe { yolo_detect_options_set_top_k(o, 2) }, yolo_status::Ok);
    });
    assert_eq!(detect_task(&detector, &grey_png(80, 64), Some(&two)).unwrap().classes.len(), 2);
    // SAFETY: live options.
    assert_eq!(unsafe { yolo_detect_options_set_top_k(two.0, 0) }, yolo_status::InvalidArgument);

    // The means of the input's channels: a 48x32 image keeps its size (its short side is the input's 32)
    // and loses 8 columns on each side to the centre crop: the red and green edges, leaving pure blue.
    let means = init(&model("classify_means.onnx"));
    let image = image::RgbImage::from_fn(48, 32, |x, _| match x {
        0..8 => image::Rgb([255, 0, 0]),
        40.. => image::Rgb([0, 255, 0]),
        _ => image::Rgb([0, 0, 255]),
    });
    let found = detect_task(&means, &png(image), None).unwrap();
    let top: Vec<_> = found.classes.iter().map(|c| (c.class_id, c.probability)).collect();
    assert_eq!(top, [(2, 1.0), (0, 0.0), (1, 0.0)]);
}

#[test]
fn batch_and_pixel_calls_give_the_single_calls_results_for_every_task() {
    for name in ["seg_fixed.onnx", "pose_fixed.onnx", "obb_fixed.onnx", "classify_task.onnx"] {
        let detector = init(&model(name));
        let png = grey_png(96, 80);
        let single = detect_task(&detector, &png, None).unwrap();
        let images = [png.as_ptr(), png.as_ptr()];
        let lens = [png.len(), png.len()];
        let mut results = [std::ptr::null_mut(); 2];
        // SAFETY: two images and two result slots.
        let status = unsafe {
            yolo_detect_batch(detector.0, images.as_ptr(), lens.as_ptr(), 2, std::ptr::null(), results.as_mut_ptr())
        };
        assert_eq!(status, yolo_status::Ok, "{name}: {}", last_error());
        let rgb = vec![90u8; 96 * 80 * 3];
        let mut pixels = std::ptr::null_mut();
        // SAFETY: a 96x80 RGB buffer.
        let status = unsafe {
            yolo_detect_pixels(detector.0, rgb.as_ptr(), rgb.len(), 96, 80, 96 * 3, 1, std::ptr::null(), &mut pixels)
        };
        assert_eq!(status, yolo_status::Ok, "{name}: {}", last_error());
        for other in [TaskResult::take(results[0]), TaskResult::take(results[1]), TaskResult::take(pixels)] {
            assert_eq!(other.detections, single.detections, "{name}");
            assert_eq!(other.masks, single.masks, "{name}");
            assert_eq!(other.keypoints, single.keypoints, "{name}");
            assert_eq!(other.oriented, single.oriented, "{name}");
            assert_eq!(other.classes, single.classes, "{name}");
        }
        assert!(!single.detections.is_empty() || !single.classes.is_empty(), "{name}");
    }
}

#[test]
fn task_models_whose_outputs_do_not_fit_are_refused_naming_the_shapes() {
    for (name, needle) in [
        ("segment_task.onnx", "prototypes"),
        ("hostile/seg_protos_short.onnx", "[1, 1, 16, 16]"),
        ("hostile/seg_protos_3d.onnx", "[1, 2, 16]"),
        ("hostile/pose_k0.onnx", "0 keypoints"),
        ("hostile/pose_no_kpt_shape.onnx", "kpt_shape"),
        ("hostile/pose_wrong_k.onnx", "[1, 11, 4]"),
        ("hostile/obb_wrong_classes.onnx", "[1, 7, 6]"),
        ("hostile/classify_wrong_classes.onnx", "[1, 4]"),
        ("hostile/unknown_task.onnx", "track"),
        ("not_yolo.onnx", "[1, 10]"),
    ] {
        let (status, message) = init_with(&model(name), |_| {}).err().unwrap_or_else(|| panic!("{name} loaded"));
        assert_eq!(status, yolo_status::InvalidModel, "{name}: {message}");
        assert!(message.contains(needle), "{name}: {message}");
    }
}

#[test]
fn accessors_refuse_the_wrong_task_an_index_out_of_range_and_null() {
    let detector = init(&model("v8_fixed.onnx"));
    assert_eq!(task_of(&detector), yolo_task::Detect);
    let png = grey_png(64, 64);
    let mut result = std::ptr::null_mut();
    // SAFETY: valid pointers throughout; the result is freed at the end.
    unsafe {
        assert_eq!(yolo_detect(detector.0, png.as_ptr(), png.len(), std::ptr::null(), &mut result), yolo_status::Ok);
        let mut mask = std::mem::zeroed::<yolo_mask>();
        assert_eq!(yolo_result_mask(result, 0, &mut mask), yolo_status::InvalidArgument);
        assert!(last_error().contains("no masks"), "{}", last_error());
        assert_eq!(yolo_result_mask(result, 99, &mut mask), yolo_status::OutOfRange);
        let (mut points, mut count) = (std::ptr::null(), 0usize);
        assert_eq!(yolo_result_keypoints(result, 0, &mut points, &mut count), yolo_status::InvalidArgument);
        let mut oriented = std::mem::zeroed::<yolo_oriented_box>();
        assert_eq!(yolo_result_oriented_box(result, 0, &mut oriented), yolo_status::InvalidArgument);
        assert_eq!(yolo_result_oriented_box(result, 0, std::ptr::null_mut()), yolo_status::InvalidArgument);
        let (mut classes, mut n) = (std::ptr::null(), 7usize);
        assert_eq!(yolo_result_classes(result, &mut classes, &mut n), yolo_status::Ok);
        assert_eq!(n, 0);
        let mut shape = (9usize, 9usize);
        assert_eq!(yolo_keypoint_shape(detector.0, &mut shape.0, &mut shape.1), yolo_status::Ok);
        assert_eq!(shape, (0, 0));
        assert_eq!(yolo_model_task(detector.0, std::ptr::null_mut()), yolo_status::InvalidArgument);
        yolo_result_free(result);
    }
}

/// The class map of a model whose 8 x 8 map is class 0 in its top half and 1 in its bottom half.
fn halves(model_name: &str, width: u32, height: u32) -> (u32, u32, Vec<u32>, Vec<u64>) {
    let detector = init(&model(model_name));
    assert_eq!(task_of(&detector), yolo_task::Semantic);
    let got = detect_task(&detector, &grey_png(width, height), None).unwrap();
    assert!(got.detections.is_empty() && got.classes.is_empty() && got.depth_map.is_none());
    let (w, h, element_size, ids, counts) = got.class_map.expect("a class map");
    assert_eq!((w, h, element_size), (width, height, 1));
    (w, h, ids, counts)
}

#[test]
fn class_maps_are_resized_to_the_image_without_the_padding() {
    for name in ["semantic_ids.onnx", "semantic_logits.onnx", "semantic_one_class.onnx"] {
        // The image is the 64 x 64 input: rows 0..32 come from grid rows 0..4.
        let (w, _, ids, counts) = halves(name, 64, 64);
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(id, u32::from(i / w as usize >= 32), "{name}: pixel {i}");
        }
        assert_eq!(counts, [32 * 64, 32 * 64], "{name}");
        // 128 x 64 letterboxed into 64 x 64: content rows 16..48 of the input, whose upper half is class 0.
        let (w, _, ids, counts) = halves(name, 128, 64);
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(id, u32::from(i / w as usize >= 32), "{name}: pixel {i} of the letterboxed image");
        }
        assert_eq!(counts, [32 * 128, 32 * 128], "{name}");
    }
}

#[test]
fn depth_maps_are_stretched_to_the_image_with_aligned_corners() {
    let detector = init(&model("depth_ramp.onnx"));
    assert_eq!(task_of(&detector), yolo_task::Depth);
    // Grid columns 0..8 hold their own index: column c of the 64-wide input is c * 7 / 63; column x of a
    // 127-wide image is input column x * 63 / 126, so x / 18, whatever the height (the input is stretched).
    let got = detect_task(&detector, &grey_png(127, 40), None).unwrap();
    let (w, h, depths) = got.depth_map.expect("a depth map");
    assert_eq!((w, h), (127, 40));
    for (i, &d) in depths.iter().enumerate() {
        let x = (i % w as usize) as f32;
        assert!((d - x / 18.0).abs() < 1e-5, "pixel {i}: {d} against {}", x / 18.0);
    }
    assert!(got.class_map.is_none() && got.detections.is_empty());
}

#[test]
fn per_pixel_models_whose_outputs_do_not_fit_are_refused_or_fail_cleanly() {
    for (name, expected) in [
        ("hostile/semantic_wrong_classes.onnx", "[1, 3, 8, 8]"),
        ("hostile/depth_two_planes.onnx", "[1, 2, 8, 8]"),
        ("hostile/depth_2d.onnx", "[1, 8]"),
    ] {
        let error = init_with(&model(name), |_| {}).err().unwrap_or_else(|| panic!("{name} loaded"));
        assert_eq!(error.0, yolo_status::InvalidModel, "{name}");
        assert!(error.1.contains(expected), "{name}: {}", error.1);
    }
    // Values no class map can hold fail the call, naming them; the detector stays usable.
    for (name, expected) in [
        ("hostile/semantic_id_past_names.onnx", "class 7, past the 4 classes"),
        ("hostile/semantic_fractional_ids.onnx", "0.5 where a class id belongs"),
    ] {
        let detector = init(&model(name));
        for _ in 0..2 {
            let error = detect_task(&detector, &grey_png(64, 64), None).map(|_| ()).unwrap_err();
            assert_eq!(error.0, yolo_status::InferenceFailed, "{name}");
            assert!(error.1.contains(expected), "{name}: {}", error.1);
        }
    }
    // NaN logits never win: every pixel is the first class. One-pixel maps fill the image.
    let (_, _, ids, counts) = halves("hostile/semantic_nan_logits.onnx", 30, 20);
    assert!(ids.iter().all(|&id| id == 0) && counts == [600, 0]);
    let (_, _, ids, _) = halves("hostile/semantic_1x1.onnx", 30, 20);
    assert!(ids.iter().all(|&id| id == 1));
    let got = detect_task(&init(&model("hostile/depth_1x1.onnx")), &grey_png(30, 20), None).unwrap();
    let (_, _, depths) = got.depth_map.unwrap();
    assert!(depths.len() == 600 && depths.iter().all(|&d| d == 1.0));
}

#[test]
fn rtdetr_queries_of_earlier_exports_are_scaled_to_the_stretched_image() {
    // Queries (cx, cy, w, h) normalised, then scores for classes a and b: (0.5, 0.5, 0.2, 0.4) best b at
    // 0.9; a query whose best score is 0.2, dropped; (0.25, 0.75, 0.5, 0.5) with equal scores, class a.
    let detector = init(&model("rtdetr_scores.onnx"));
    let got = detect_task(&detector, &grey_png(100, 50), None).unwrap();
    // Within float rounding of the normalised values.
    let boxes: Vec<(u32, f32, [i32; 4])> = got
        .detections
        .iter()
        .map(|d| (d.class_id, d.score, [d.x1, d.y1, d.x2, d.y2].map(|v| (v * 1000.0).round() as i32)))
        .collect();
    let thousandths = |b: [f32; 4]| b.map(|v| (v * 1000.0) as i32);
    assert_eq!(
        boxes,
        [(1, 0.9, thousandths([40.0, 15.0, 60.0, 35.0])), (0, 0.7, thousandths([0.0, 25.0, 50.0, 50.0]))]
    );
}

#[test]
fn a_16384_square_image_is_refused_by_default_and_mapped_when_allowed() {
    const SIDE: u32 = 16384;
    let pixels = (SIDE * SIDE) as usize;
    let grey = vec![90u8; pixels];
    let run = |detector: &Detector| {
        let mut result = std::ptr::null_mut();
        // SAFETY: a live detector, a buffer of SIDE rows of SIDE bytes, a local out-pointer.
        let status = unsafe {
            yolo_detect_pixels(
                detector.0,
                grey.as_ptr(),
                grey.len(),
                SIDE,
                SIDE,
                SIDE as usize,
                yolo_pixel_format::Gray8 as u32,
                std::ptr::null(),
                &mut result,
            )
        };
        (status, result)
    };
    for name in ["semantic_ids.onnx", "depth_ramp.onnx"] {
        // The default limit on pixels (100 million) refuses it with a status.
        let (status, _) = run(&init(&model(name)));
        assert_eq!(status, yolo_status::ImageTooLarge, "{name}: {}", last_error());
        // Allowed, the map has every pixel: a 268-million-pixel class map, or a 1 GiB depth map.
        let detector = init_with(&model(name), |c| c.max_image_pixels = Some(pixels as u64)).unwrap();
        let (status, result) = run(&detector);
        assert_eq!(status, yolo_status::Ok, "{name}: {}", last_error());
        // SAFETY: a live result, read through its accessors (no copy of the maps), then freed.
        unsafe {
            let mut map = std::mem::zeroed::<yolo_class_map>();
            if yolo_result_class_map(result, &mut map) == yolo_status::Ok {
                assert_eq!((map.width, map.height, map.data_len), (SIDE, SIDE, pixels));
                let counts = std::slice::from_raw_parts(map.pixel_counts, map.class_count);
                assert_eq!(counts, [pixels as u64 / 2, pixels as u64 / 2]);
            } else {
                let mut depth = std::mem::zeroed::<yolo_depth_map>();
                assert_eq!(yolo_result_depth_map(result, &mut depth), yolo_status::Ok);
                assert_eq!((depth.width, depth.height, depth.data_len), (SIDE, SIDE, pixels));
                let values = std::slice::from_raw_parts(depth.data, depth.data_len);
                assert_eq!((values[0], values[SIDE as usize - 1]), (0.0, 7.0));
            }
            yolo_result_free(result);
        }
    }
}
