//! Parity with Ultralytics' `predict`, through the C ABI, on `../shared/reference/ultralytics.json`.
//!
//! Developers and CI only: the reference and the fp16/int8 models exist only in `../shared/`, so this test
//! skips (and says so) in a user's clone.

mod common;

use common::*;

/// Ultralytics rounds printed scores to 5 decimals and boxes to 3; two JPEG decoders may differ by one level
/// in a few pixels, so a box within this distance of the threshold may appear on one side only.
const THRESHOLD_MARGIN: f32 = 0.01;

#[test]
fn detections_match_ultralytics_reference() {
    let Some(shared) = shared_or_skip("parity with the Ultralytics reference") else {
        return;
    };
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shared.join("reference/ultralytics.json")).unwrap()).unwrap();
    let mut compared = 0;
    let mut exceptions = Vec::new();
    let mut failures = Vec::new();
    for (model, by_image) in reference.as_object().unwrap() {
        for (image_name, by_setting) in by_image.as_object().unwrap() {
            let bytes = std::fs::read(shared.join("images").join(image_name)).unwrap();
            for (setting, expected) in by_setting.as_object().unwrap() {
                let (imgsz, conf) = setting.split_once('/').unwrap();
                let imgsz: u32 = imgsz.parse().unwrap();
                let conf: f32 = conf.parse().unwrap();
                // Shared weights run at graph optimisation Level 2: check that they give the same boxes.
                let shares: &[bool] = if model == "nudenet-320n.onnx" { &[false, true] } else { &[false] };
                for &share_weights in shares {
                    let detector = init_with(&shared.join("models").join(model), |c| {
                        c.imgsz = Some(imgsz);
                        c.pool_size = Some(1);
                        c.share_weights = Some(share_weights);
                    })
                    .unwrap_or_else(|e| panic!("{model}: {e:?}"));
                    let options = options(TestOptions {
                        conf_threshold: Some(conf),
                        iou_threshold: Some(0.7),
                        max_detections: Some(300),
                        class_agnostic: Some(false),
                    });
                    let got = detect(&detector, &bytes, Some(&options)).unwrap();
                    let label = format!("{model} {image_name} {setting} share_weights={share_weights}");
                    let expected: Vec<(u32, f32, [f32; 4])> = expected
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|row| {
                            let v: Vec<f64> = row.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
                            (v[0] as u32, v[1] as f32, [v[2] as f32, v[3] as f32, v[4] as f32, v[5] as f32])
                        })
                        .collect();
                    let mut matched = vec![false; got.len()];
                    for (class, score, bbox) in &expected {
                        let best = got
                            .iter()
                            .enumerate()
                            .filter(|(i, d)| !matched[*i] && d.class_id == *class)
                            .map(|(i, d)| (i, iou(bbox, &[d.x1, d.y1, d.x2, d.y2]), d.score))
                            .max_by(|a, b| a.1.total_cmp(&b.1));
                        match best {
                            Some((i, overlap, s)) if overlap >= 0.95 && (s - score).abs() <= 0.02 => matched[i] = true,
                            _ if (score - conf).abs() <= THRESHOLD_MARGIN => exceptions.push(format!(
                                "{label}: reference box class {class} score {score} near the threshold is missing"
                            )),
                            other => failures.push(format!(
                                "{label}: reference box class {class} score {score} {bbox:?} unmatched (best {other:?})"
                            )),
                        }
                    }
                    for (d, _) in got.iter().zip(&matched).filter(|(_, m)| !**m) {
                        if (d.score - conf).abs() <= THRESHOLD_MARGIN {
                            exceptions.push(format!(
                                "{label}: extra box class {} score {} near the threshold",
                                d.class_id, d.score
                            ));
                        } else {
                            failures.push(format!("{label}: extra detection {d:?} not in the reference"));
                        }
                    }
                    compared += expected.len();
                }
            }
        }
    }
    for e in &exceptions {
        eprintln!("allowed exception: {e}");
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    assert!(compared > 50, "compared only {compared} reference boxes");
    eprintln!("compared {compared} reference boxes, {} allowed exceptions", exceptions.len());
}
