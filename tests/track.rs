//! Tracking against Ultralytics 8.4.190's `model.track(frame, persist=True)` on the videos of
//! `tests/fixtures/track/` (made by `scripts/make_track_fixtures.py`): every frame's track ids, classes,
//! scores and Kalman-filtered boxes, in Ultralytics' order, with ByteTrack and with BoT-SORT, without motion
//! compensation and with sparseOptFlow's (the camera motion Ultralytics estimated for each frame, from the
//! reference: the library takes it as an input); the segmentation and oriented-box models track the most
//! objects, the detection model (weaker on these frames) gives frames without tracks too. The detectors are the shared trained models (`../shared/`), run as `track` runs them
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

/// Compares every frame of `run` (a video and a model) tracked with `tracker` against the reference.
fn check(run: &str, tracker: &str) {
    let what = format!("{run} with {tracker} matches ultralytics");
    let Some(shared) = shared_or_skip(&what) else {
        return;
    };
    let reference: Value = serde_json::from_slice(&std::fs::read(fixtures().join("reference.json")).unwrap()).unwrap();
    let model = reference["models"][run].as_str().unwrap();
    let video = reference["videos"][run].as_str().unwrap();
    let mut config = DetectorConfig::new(shared.join("models").join(model));
    config.imgsz = Some((320, 320));
    config.pool_size = 1;
    let detector = Detector::new(&config).unwrap();
    let decode = DecodeSettings { conf_threshold: 0.1, iou_threshold: 0.7, ..config.nms };
    let mut tracks = Tracker::new(settings(tracker)).unwrap();
    let frames = reference["runs"][run][tracker].as_array().unwrap();
    let (mut compared, mut untracked, mut worst_box, mut worst_score) = (0, 0, 0.0f32, 0.0f32);
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
            untracked += 1;
            continue;
        }
        if rows.is_empty() && got.tracks.is_empty() && (got.hide_detections || found.detections.is_empty()) {
            untracked += 1;
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
    eprintln!(
        "{what}: {compared} tracks and {untracked} frames without tracks compared; largest box difference \
         {worst_box} px, score {worst_score}"
    );
    assert!(compared > 0 || untracked == frames.len(), "{what}: nothing compared");
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
fn detection_model_bytetrack() {
    for run in ["crossing-det", "gaps-det", "pan-det"] {
        check(run, "bytetrack");
    }
}

#[test]
fn detection_model_botsort() {
    for run in ["crossing-det", "gaps-det", "pan-det"] {
        check(run, "botsort-nogmc");
        check(run, "botsort");
    }
}

#[test]
fn every_reference_run_has_its_test() {
    let reference: Value = serde_json::from_slice(&std::fs::read(fixtures().join("reference.json")).unwrap()).unwrap();
    let mut runs: Vec<&str> = reference["runs"].as_object().unwrap().keys().map(String::as_str).collect();
    runs.sort_unstable();
    assert_eq!(runs, ["bars", "crossing", "crossing-det", "gaps", "gaps-det", "pan", "pan-det"]);
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

fn boxes(n: usize, seed: u64, score: f32) -> Vec<yolo_ffi_core::Detection> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 10_000) as f32 / 10_000.0
    };
    (0..n)
        .map(|_| {
            let (x, y) = (next() * 1900.0, next() * 1060.0);
            let (w, h) = (5.0 + next() * 40.0, 5.0 + next() * 40.0);
            yolo_ffi_core::Detection { x1: x, y1: y, x2: x + w, y2: y + h, score, class_id: 0, anchor: 0 }
        })
        .collect()
}

fn frame_of(detections: &[yolo_ffi_core::Detection]) -> Frame<'_> {
    Frame { detections, oriented: None, image_size: (1920, 1080), motion: None }
}

/// Hostile use: a crowded frame within the bound (tracked, in bounded time), one past it (refused, nothing
/// changed), empty frames, a frame of the other kind of box, a size that changes, non-finite boxes.
#[test]
fn crowds_kinds_and_sizes_are_handled() {
    use yolo_ffi_core::track::MAX_FRAME_DETECTIONS;
    let mut tracker = Tracker::new(TrackerSettings::bytetrack()).unwrap();
    let crowd = boxes(MAX_FRAME_DETECTIONS, 7, 0.9);
    let started = std::time::Instant::now();
    for f in 0..5 {
        let tracks = tracker.update(&frame_of(&crowd)).unwrap();
        assert!(tracks.tracks.len() > MAX_FRAME_DETECTIONS / 2, "frame {f}: {}", tracks.tracks.len());
    }
    eprintln!("5 frames of {MAX_FRAME_DETECTIONS} detections: {:?}", started.elapsed());
    let too_many = boxes(10_000, 9, 0.9);
    let refused = tracker.update(&frame_of(&too_many)).unwrap_err();
    assert!(refused.message().contains("at most"), "{}", refused.message());
    // Nothing changed: the same crowd keeps its ids.
    let before: Vec<u64> = tracker.update(&frame_of(&crowd)).unwrap().tracks.iter().map(|t| t.id).collect();
    let after: Vec<u64> = tracker.update(&frame_of(&crowd)).unwrap().tracks.iter().map(|t| t.id).collect();
    assert_eq!(before, after);
    // Empty frames, then a frame of another size.
    for _ in 0..3 {
        assert!(tracker.update(&frame_of(&[])).unwrap().tracks.is_empty());
    }
    let small = Frame { detections: &crowd[..10], oriented: None, image_size: (320, 240), motion: None };
    for t in tracker.update(&small).unwrap().tracks {
        assert!(t.bbox[2] <= 320.0 && t.bbox[3] <= 240.0, "clipped to the new size: {t:?}");
    }
    // Rotated boxes to an axis-aligned tracker: refused.
    let oriented: Vec<yolo_ffi_core::OrientedBox> = crowd[..3]
        .iter()
        .map(|d| yolo_ffi_core::OrientedBox {
            cx: (d.x1 + d.x2) / 2.0,
            cy: (d.y1 + d.y2) / 2.0,
            width: d.x2 - d.x1,
            height: d.y2 - d.y1,
            angle: 0.3,
            corners: [[0.0; 2]; 4],
        })
        .collect();
    let mixed = Frame { detections: &crowd[..3], oriented: Some(&oriented), image_size: (1920, 1080), motion: None };
    assert!(tracker.update(&mixed).unwrap_err().message().contains("one model per tracker"));
    // Boxes that are not finite are left out.
    let mut odd = boxes(3, 11, 0.9);
    odd[0].x2 = f32::INFINITY;
    odd[1].score = f32::NAN;
    tracker.reset();
    assert_eq!(tracker.update(&frame_of(&odd)).unwrap().tracks.len(), 1);
}

/// A million frames: ids keep counting, and the tracks kept stay bounded.
#[test]
fn a_million_frames_stay_bounded() {
    use yolo_ffi_core::track::MAX_TRACKS;
    let mut tracker = Tracker::new(TrackerSettings::bytetrack()).unwrap();
    let mut last_id = 0;
    for f in 0..1_000_000u64 {
        // Every 50th frame a new object somewhere else; the rest empty.
        let found = if f % 50 == 0 { boxes(1, f + 1, 0.9) } else { Vec::new() };
        let tracks = tracker.update(&frame_of(&found)).unwrap();
        if let Some(t) = tracks.tracks.first() {
            assert!(t.id >= last_id, "ids only grow");
            last_id = t.id;
        }
    }
    let mut crowded =
        Tracker::new(TrackerSettings { track_buffer: 1_000_000, ..TrackerSettings::bytetrack() }).unwrap();
    let mut most = 0;
    for f in 0..24 {
        // 512 new objects every other frame, each seen twice (confirmed) and then gone: the lost tracks pile
        // up to the bound and no further.
        crowded.update(&frame_of(&boxes(512, 1000 + f / 2, 0.9))).unwrap();
        most = most.max(crowded.len());
    }
    assert!(most > MAX_TRACKS / 2 && crowded.len() <= MAX_TRACKS, "{most} tracks at most, {} kept", crowded.len());
}
