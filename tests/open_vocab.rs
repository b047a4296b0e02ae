//! Open-vocabulary models exported prompt-free with their classes set, against Ultralytics 8.4.190's
//! `predict` on the same files and images: their heads are detection (and, for YOLOE, segmentation) heads,
//! read from the same layouts as YOLOv8's, with the class names from the metadata. YOLOE's exports are
//! compared in `tests/tasks.rs` (`yoloe_*`, export variants of the shared models). On the YOLO-World model
//! and reference of `tests/fixtures/open-vocab/` (made by `scripts/make_open_vocab_fixtures.py`: trained on
//! the shapes data with a stand-in text encoder), at the tolerances of docs/tasks.md: boxes of the same
//! class with IoU >= 0.95 and scores within 0.02, masks with IoU >= 0.95, and only boxes within 0.02 of the
//! threshold left unmatched.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;

const MARGIN: f32 = 0.02;

fn run_lengths_to_mask(runs: &Value, len: usize) -> Vec<bool> {
    let mut out = Vec::with_capacity(len);
    for (i, n) in runs.as_array().unwrap().iter().enumerate() {
        out.extend(std::iter::repeat_n(i % 2 == 1, n.as_u64().unwrap() as usize));
    }
    assert_eq!(out.len(), len);
    out
}

fn check(model: &str, task: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let reference: Value =
        serde_json::from_slice(&std::fs::read(dir.join("open-vocab/reference.json")).unwrap()).unwrap();
    let entry = &reference["models"][model];
    assert_eq!(entry["task"], task);
    let imgsz = reference["settings"]["imgsz"].as_u64().unwrap() as u32;
    let detector = init_with(&dir.join("open-vocab").join(model), |c| c.imgsz = Some(imgsz)).unwrap();
    assert_eq!(class_name(&detector, 2).unwrap(), "square", "the names come from the metadata");
    let (mut compared, mut masks) = (0, 0);
    for (conf, run) in entry["runs"].as_object().unwrap() {
        let threshold: f32 = conf.parse().unwrap();
        let options = options(TestOptions { conf_threshold: Some(threshold), ..TestOptions::default() });
        for (name, expected) in run.as_object().unwrap() {
            let bytes = std::fs::read(dir.join("maps/images").join(name)).unwrap();
            let got = detect_task(&detector, &bytes, Some(&options)).unwrap();
            let (w, h) = (got.width as usize, got.height as usize);
            let mut taken = vec![false; got.detections.len()];
            for (i, row) in expected["detections"].as_array().unwrap().iter().enumerate() {
                let r: Vec<f32> = row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
                let best = (0..got.detections.len())
                    .filter(|&j| !taken[j] && got.detections[j].class_id == r[0] as u32)
                    .map(|j| {
                        let d = &got.detections[j];
                        (j, iou(&[d.x1, d.y1, d.x2, d.y2], &[r[2], r[3], r[4], r[5]]), d.score)
                    })
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                match best {
                    Some((j, overlap, score)) if overlap >= 0.95 && (score - r[1]).abs() <= MARGIN => {
                        taken[j] = true;
                        compared += 1;
                        if let Some(runs) = expected.get("masks").map(|m| &m[i]) {
                            let theirs = run_lengths_to_mask(runs, w * h);
                            let ours = got.full_mask(j);
                            let inter = theirs.iter().zip(&ours).filter(|(a, b)| **a && **b).count();
                            let union = theirs.iter().zip(&ours).filter(|(a, b)| **a || **b).count();
                            let mask_iou = if union == 0 { 1.0 } else { inter as f32 / union as f32 };
                            assert!(mask_iou >= 0.95, "{model} conf {conf} {name}: mask {i} IoU {mask_iou}");
                            masks += 1;
                        }
                    }
                    other => assert!(
                        (r[1] - threshold).abs() <= MARGIN,
                        "{model} conf {conf} {name}: reference box {i} {r:?} unmatched (best {other:?})"
                    ),
                }
            }
            for (d, _) in got.detections.iter().zip(&taken).filter(|(_, t)| !**t) {
                assert!((d.score - threshold).abs() <= MARGIN, "{model} conf {conf} {name}: extra {d:?}");
            }
        }
    }
    eprintln!("{model}: {compared} boxes and {masks} masks compared");
    assert!(compared > 0, "{model}: nothing compared");
    assert!(task != "segment" || masks > 0, "{model}: no mask compared");
}

#[test]
fn yolo_world_boxes_match_ultralytics() {
    check("yolov8t-worldv2.onnx", "detect");
}
