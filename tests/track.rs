//! Tracking against Ultralytics 8.4.190's `model.track(frame, persist=True)` on the videos of
//! `tests/fixtures/track/` (made by `scripts/make_track_fixtures.py`): every frame's track ids, classes,
//! scores and Kalman-filtered boxes, in Ultralytics' order, with ByteTrack and with BoT-SORT, without motion
//! compensation and with sparseOptFlow's (the camera motion Ultralytics estimated for each frame, from the
//! reference: the library takes it as an input). The detectors are the shared trained models (`../shared/`), run as `track` runs them
//! (conf 0.1, iou 0.7, imgsz 320).

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;
use yolo_ffi_core::track::{Frame, MotionCompensation, Tracker, TrackerSettings};
use yolo_ffi_core::{DecodeSettings, Detector, DetectorConfig};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/track")
}

fn settings(name: &str) -> TrackerSettings {
    match name {
        "bytetrack" => TrackerSettings::bytetrack(),
        "botsort-nogmc" => TrackerSettings { gmc_method: MotionCompensation::None, ..TrackerSettings::botsort() },
        "botsort" => TrackerSettings::botsort(),
        other => panic!("no settings for {other}"),
    }
}

/// Compares every frame of `video` tracked with `tracker` against the reference.
fn check(video: &str, tracker: &str) {
    let what = format!("{video} with {tracker} matches ultralytics");
    let Some(shared) = shared_or_skip(&what) else {
        return;
    };
    let reference: Value = serde_json::from_slice(&std::fs::read(fixtures().join("reference.json")).unwrap()).unwrap();
    let model = reference["models"][video].as_str().unwrap();
    let mut config = DetectorConfig::new(shared.join("models").join(model));
    config.imgsz = Some((320, 320));
    config.pool_size = 1;
    let detector = Detector::new(&config).unwrap();
    let decode = DecodeSettings { conf_threshold: 0.1, iou_threshold: 0.7, ..config.nms };
    let mut tracks = Tracker::new(settings(tracker)).unwrap();
    let frames = reference["runs"][video][tracker].as_array().unwrap();
    let (mut compared, mut worst_box, mut worst_score) = (0, 0.0f32, 0.0f32);
    let mut failures = Vec::new();
    for (f, expected) in frames.iter().enumerate() {
        let bytes = std::fs::read(fixtures().join(video).join(format!("{f:03}.png"))).unwrap();
        let found = detector.detect_encoded(&bytes, Some(&decode)).unwrap();
        let oriented = (!found.oriented_boxes.is_empty() || model.contains("obb")).then_some(&found.oriented_boxes[..]);
        // BoT-SORT's camera motion: sparseOptFlow's estimate as Ultralytics applied it to this frame.
        let motion = (tracker == "botsort").then(|| {
            let w = &reference["warps"][video][f];
            let v = |r: usize, c: usize| w[r][c].as_f64().unwrap();
            [v(0, 0), v(0, 1), v(0, 2), v(1, 0), v(1, 1), v(1, 2)]
        });
        let frame = Frame {
            detections: &found.detections,
            oriented,
            image_size: (found.image_width as u32, found.image_height as u32),
            motion,
        };
        let got = tracks.update(&frame).unwrap();
        let rows: Vec<Vec<f64>> = expected
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect())
            .collect();
        let coords = if oriented.is_some() { 5 } else { 4 };
        if rows.iter().any(|r| r[coords] < 0.0) {
            // Ultralytics kept the detections without ids: no track came back.
            if !got.tracks.is_empty() || got.hide_detections || found.detections.len() != rows.len() {
                failures.push(format!(
                    "frame {f}: Ultralytics gave {} detections without ids, we {:?}",
                    rows.len(),
                    got
                ));
            }
            continue;
        }
        if rows.is_empty() && got.tracks.is_empty() && (got.hide_detections || found.detections.is_empty()) {
            continue;
        }
        if rows.len() != got.tracks.len() {
            let ids: Vec<f64> = rows.iter().map(|r| r[coords]).collect();
            let ours: Vec<u64> = got.tracks.iter().map(|t| t.id).collect();
            failures.push(format!("frame {f}: ids {ids:?}, ours {ours:?}"));
            continue;
        }
        for (row, track) in rows.iter().zip(&got.tracks) {
            let ours: Vec<f32> = if coords == 5 {
                vec![track.bbox[0], track.bbox[1], track.bbox[2], track.bbox[3], track.angle]
            } else {
                track.bbox.to_vec()
            };
            let box_error = ours.iter().zip(row).map(|(a, b)| (*a as f64 - b).abs() as f32).fold(0.0, f32::max);
            let score_error = (track.score as f64 - row[coords + 1]).abs() as f32;
            worst_box = worst_box.max(box_error);
            worst_score = worst_score.max(score_error);
            if track.id as f64 != row[coords]
                || track.class_id as f64 != row[coords + 2]
                || box_error > 0.01
                || score_error > 1e-4
            {
                failures.push(format!("frame {f}: {row:?} vs ours {track:?}"));
            }
            // The detection the track names is the one Ultralytics' result is re-indexed by.
            let d = &found.detections[track.detection];
            if d.class_id != track.class_id || d.score != track.score {
                failures.push(format!(
                    "frame {f}: track {} names detection {} of another class or score",
                    track.id, track.detection
                ));
            }
            compared += 1;
        }
    }
    eprintln!("{what}: {compared} tracks compared; largest box difference {worst_box} px, score {worst_score}");
    assert!(compared > 0, "{what}: nothing compared");
    assert!(failures.is_empty(), "{what}:\n{}", failures.join("\n"));
}

#[test]
fn crossing_bytetrack() {
    check("crossing", "bytetrack");
}

#[test]
fn crossing_botsort() {
    check("crossing", "botsort-nogmc");
}

#[test]
fn gaps_bytetrack() {
    check("gaps", "bytetrack");
}

#[test]
fn gaps_botsort() {
    check("gaps", "botsort-nogmc");
}

#[test]
fn pan_bytetrack() {
    check("pan", "bytetrack");
}

#[test]
fn pan_botsort() {
    check("pan", "botsort-nogmc");
}

#[test]
fn crossing_botsort_motion() {
    check("crossing", "botsort");
}

#[test]
fn gaps_botsort_motion() {
    check("gaps", "botsort");
}

#[test]
fn pan_botsort_motion() {
    check("pan", "botsort");
}

#[test]
fn bars_bytetrack_oriented() {
    check("bars", "bytetrack");
}

#[test]
fn bars_botsort_oriented() {
    check("bars", "botsort-nogmc");
}

/// The assignment gives `lap.lapjv(cost, extend_cost=True, cost_limit=limit)`'s pairs on the 300 matrices
/// of `lapjv.json`, ties included.
#[test]
fn assignment_is_lapjvs() {
    let cases: Value = serde_json::from_slice(&std::fs::read(fixtures().join("lapjv.json")).unwrap()).unwrap();
    let mut failures = Vec::new();
    let cases = cases["cases"].as_array().unwrap();
    for (k, case) in cases.iter().enumerate() {
        let rows: Vec<Vec<f64>> = case["cost"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect())
            .collect();
        let (n_rows, n_cols) = (rows.len(), rows[0].len());
        let cost: Vec<f64> = rows.concat();
        let (matches, _, unmatched_cols) =
            yolo_ffi_core::track::lapjv::assign(&cost, n_rows, n_cols, case["limit"].as_f64().unwrap());
        let mut x = vec![-1i64; n_rows];
        for (i, j) in matches {
            x[i] = j as i64;
        }
        let expected: Vec<i64> = case["x"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        let expected_free = case["y"].as_array().unwrap().iter().filter(|v| v.as_i64() == Some(-1)).count();
        if x != expected || unmatched_cols.len() != expected_free {
            failures.push(format!("case {k}: {x:?}, lap {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
