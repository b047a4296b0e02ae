//! The per-pixel tasks through the C ABI, against Ultralytics' `predict`: semantic segmentation (the class
//! map of an export that ends in an ArgMax, and of the same graph giving logits) and depth, on the YOLO26
//! models and images of `tests/fixtures/maps/` and Ultralytics 8.4.190's results in its `reference.json`
//! (made by `scripts/make_map_fixtures.py`). At the tolerances of docs/tasks.md: at least 99.5% of a class
//! map's pixels equal, every depth within 1e-3 relative.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;
use yolo_ffi::*;

fn fixtures() -> (PathBuf, Value) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/maps");
    let reference = serde_json::from_slice(&std::fs::read(dir.join("reference.json")).unwrap()).unwrap();
    (dir, reference)
}

/// The model's result on each reference image, with the reference's entry for it.
fn results(model: &str, task: yolo_task) -> Vec<(String, Value, TaskResult)> {
    let (dir, reference) = fixtures();
    let entry = &reference["models"][model];
    let imgsz = reference["settings"]["imgsz"].as_u64().unwrap() as u32;
    let detector = init_with(&dir.join(model), |c| c.imgsz = Some(imgsz)).unwrap_or_else(|e| panic!("{model}: {e:?}"));
    let mut found = yolo_task::Detect;
    // SAFETY: live detector, local out-pointer.
    assert_eq!(unsafe { yolo_model_task(detector.0, &mut found) }, yolo_status::Ok);
    assert_eq!(found, task, "{model}");
    let images = entry["images"].as_object().unwrap();
    assert!(!images.is_empty());
    images
        .iter()
        .map(|(name, expected)| {
            let bytes = std::fs::read(dir.join("images").join(name)).unwrap();
            let got = detect_task(&detector, &bytes, None).unwrap_or_else(|e| panic!("{model} {name}: {e:?}"));
            assert!(got.detections.is_empty(), "{model} {name}: a per-pixel task has no detections");
            (name.clone(), expected.clone(), got)
        })
        .collect()
}

/// The reference's run lengths (`[class, length]` pairs) as one id per pixel.
fn expand(runs: &Value) -> Vec<u32> {
    runs.as_array()
        .unwrap()
        .iter()
        .flat_map(|run| {
            let run = run.as_array().unwrap();
            std::iter::repeat_n(run[0].as_u64().unwrap() as u32, run[1].as_u64().unwrap() as usize)
        })
        .collect()
}

fn check_class_maps(model: &str) {
    let mut worst = 1.0f64;
    for (name, expected, got) in results(model, yolo_task::Semantic) {
        let (width, height, element_size, ids, counts) = got.class_map.expect("a class map");
        assert_eq!(
            (width as u64, height as u64),
            (expected["width"].as_u64().unwrap(), expected["height"].as_u64().unwrap())
        );
        assert_eq!(element_size, 1, "{name}: 4 classes fit a byte");
        let reference = expand(&expected["runs"]);
        assert_eq!(reference.len(), ids.len(), "{name}");
        let equal = ids.iter().zip(&reference).filter(|(a, b)| a == b).count() as f64 / ids.len() as f64;
        worst = worst.min(equal);
        assert!(equal >= 0.995, "{model} {name}: {:.4}% of pixels equal", 100.0 * equal);
        // The counts are those of the map handed out.
        let mut own = vec![0u64; counts.len()];
        ids.iter().for_each(|&id| own[id as usize] += 1);
        assert_eq!(own, counts, "{name}");
        // Every class of the model is counted, and the map is not one class (a model that learnt nothing).
        assert_eq!(counts.len(), expected["counts"].as_array().unwrap().len(), "{name}");
        assert!(counts.iter().filter(|&&c| c > 0).count() >= 2, "{name}: {counts:?}");
    }
    eprintln!("{model}: lowest share of equal pixels {worst}");
}

#[test]
fn class_maps_of_an_argmax_export_match_ultralytics() {
    check_class_maps("shapes26-sem.onnx");
}

#[test]
fn class_maps_from_logits_match_ultralytics() {
    check_class_maps("shapes26-sem-logits.onnx");
}

#[test]
fn depth_maps_match_ultralytics() {
    let (dir, _) = fixtures();
    let mut worst = 0.0f32;
    for (name, expected, got) in results("shapes26-depth.onnx", yolo_task::Depth) {
        let (width, height, depths) = got.depth_map.expect("a depth map");
        assert_eq!(
            (width as u64, height as u64),
            (expected["width"].as_u64().unwrap(), expected["height"].as_u64().unwrap())
        );
        let bytes = std::fs::read(dir.join(expected["file"].as_str().unwrap())).unwrap();
        let reference: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        assert_eq!(reference.len(), depths.len(), "{name}");
        for (i, (ours, theirs)) in depths.iter().zip(&reference).enumerate() {
            let relative = (ours - theirs).abs() / theirs.abs().max(f32::MIN_POSITIVE);
            worst = worst.max(relative);
            assert!(relative <= 1e-3, "{name}: pixel {i}: {ours} against {theirs}");
        }
        // A map worth comparing: not flat.
        let (min, max) = (expected["min"].as_f64().unwrap(), expected["max"].as_f64().unwrap());
        assert!(max > 1.2 * min, "{name}: depths {min}..{max}");
    }
    eprintln!("depth: largest relative difference {worst}");
}

#[test]
fn a_map_model_answers_only_its_own_accessor() {
    let (dir, _) = fixtures();
    let detector = init_with(&dir.join("shapes26-depth.onnx"), |c| c.imgsz = Some(256)).unwrap();
    let bytes = std::fs::read(dir.join("images/maps_1.png")).unwrap();
    let mut result = std::ptr::null_mut();
    // SAFETY: live detector, valid buffer and out-pointers.
    unsafe {
        assert_eq!(
            yolo_detect(detector.0, bytes.as_ptr(), bytes.len(), std::ptr::null(), &mut result),
            yolo_status::Ok
        );
        let mut map = std::mem::zeroed::<yolo_class_map>();
        assert_eq!(yolo_result_class_map(result, &mut map), yolo_status::InvalidArgument);
        assert!(last_error().contains("not a semantic segmentation model"), "{}", last_error());
        assert_eq!(yolo_result_class_map(result, std::ptr::null_mut()), yolo_status::InvalidArgument);
        let (mut ptr, mut n) = (std::ptr::null(), 7usize);
        assert_eq!(yolo_result_detections(result, &mut ptr, &mut n), yolo_status::Ok);
        assert_eq!(n, 0);
        yolo_result_free(result);
    }
}
