//! The tracker's cost per frame, side by side with a detect call: `cargo bench --bench track -- --json
//! OUT.json --stream STREAM.json MODEL[:IMGSZ] IMAGE`.
//!
//! A deterministic stream of 100 objects (by default) moving across a 1920 x 1080 frame for 300 frames,
//! with a few missed and a few weak detections, is tracked by ByteTrack and by BoT-SORT (no motion
//! compensation; its motion, when given, is a caller's input); each update is timed, and so is a detect call
//! of MODEL on IMAGE in the same process. The stream goes to STREAM.json for
//! `scripts/ultralytics_track_bench.py`, which times Ultralytics' trackers on the same detections.

use std::time::Instant;

use serde_json::json;
use yolo_ffi_core::track::{Frame, MotionCompensation, Tracker, TrackerSettings};
use yolo_ffi_core::{DecodeSettings, Detection, Detector, DetectorConfig};

const FRAMES: usize = 300;
const ROUNDS: usize = 5;

/// Frame after frame, the detections of `objects` objects: each moves at its own speed and bounces off the
/// frame's edges; 5% are missed in a frame, 10% score between 0.1 and 0.25.
fn stream(objects: usize) -> Vec<Vec<Detection>> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut things: Vec<[f64; 6]> = (0..objects)
        .map(|_| {
            [
                next() * 1800.0,
                next() * 980.0,
                20.0 + next() * 60.0,
                20.0 + next() * 80.0,
                next() * 8.0 - 4.0,
                next() * 6.0 - 3.0,
            ]
        })
        .collect();
    (0..FRAMES)
        .map(|_| {
            let mut frame = Vec::new();
            for (k, t) in things.iter_mut().enumerate() {
                t[0] += t[4];
                t[1] += t[5];
                if t[0] < 0.0 || t[0] + t[2] > 1920.0 {
                    t[4] = -t[4];
                }
                if t[1] < 0.0 || t[1] + t[3] > 1080.0 {
                    t[5] = -t[5];
                }
                let roll = next();
                if roll < 0.05 {
                    continue;
                }
                let score = if roll < 0.15 { 0.1 + next() * 0.15 } else { 0.3 + next() * 0.7 };
                let jitter = |v: f64, next: &mut dyn FnMut() -> f64| (v + next() - 0.5) as f32;
                let (x1, y1) = (jitter(t[0], &mut next).max(0.0), jitter(t[1], &mut next).max(0.0));
                let (x2, y2) = ((t[0] + t[2]).min(1920.0) as f32, (t[1] + t[3]).min(1080.0) as f32);
                frame.push(Detection { x1, y1, x2, y2, score: score as f32, class_id: (k % 3) as u32, anchor: 0 });
            }
            // Ultralytics hands the tracker its detections by descending score.
            frame.sort_by(|a, b| b.score.total_cmp(&a.score));
            frame
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The median microseconds of one update over `ROUNDS` passes of the stream.
fn time_updates(settings: &TrackerSettings, frames: &[Vec<Detection>]) -> f64 {
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let mut tracker = Tracker::new(settings.clone()).unwrap();
        for detections in frames {
            let frame = Frame { detections, oriented: None, image_size: (1920, 1080), motion: None };
            let started = Instant::now();
            std::hint::black_box(tracker.update(&frame).unwrap());
            times.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    median(times)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).map(|i| args[i + 1].clone());
    let (Some(out), Some(stream_out)) = (value("--json"), value("--stream")) else {
        eprintln!("usage: bench track -- --json OUT.json --stream STREAM.json [--objects N] MODEL[:IMGSZ] IMAGE");
        std::process::exit(2);
    };
    let objects: usize = value("--objects").map_or(100, |v| v.parse().unwrap());
    let positional: Vec<&String> = {
        let mut skip = false;
        args.iter()
            .filter(|a| {
                let keep = !skip && !a.starts_with("--");
                skip = a.starts_with("--");
                keep
            })
            .collect()
    };
    let [model, image] = positional[..] else { panic!("MODEL[:IMGSZ] IMAGE") };
    let frames = stream(objects);
    let bytetrack = time_updates(&TrackerSettings::bytetrack(), &frames);
    let botsort =
        time_updates(&TrackerSettings { gmc_method: MotionCompensation::None, ..TrackerSettings::botsort() }, &frames);
    // A detect call of the model on the image, as `make bench` times it.
    let (path, imgsz) = match model.rsplit_once(':') {
        Some((p, size)) if size.parse::<u32>().is_ok() => (p, Some(size.parse::<u32>().unwrap())),
        _ => (model.as_str(), None),
    };
    let mut config = DetectorConfig::new(path);
    config.imgsz = imgsz.map(|s| (s, s));
    let detector = Detector::new(&config).unwrap();
    let bytes = std::fs::read(image).unwrap();
    let settings = DecodeSettings { conf_threshold: 0.1, ..config.nms };
    for _ in 0..5 {
        detector.detect_encoded(&bytes, Some(&settings)).unwrap();
    }
    let detect_ms = median(
        (0..30)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(detector.detect_encoded(&bytes, Some(&settings)).unwrap());
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    );
    let per_frame: Vec<_> = frames
        .iter()
        .map(|f| f.iter().map(|d| json!([d.x1, d.y1, d.x2, d.y2, d.score, d.class_id])).collect::<Vec<_>>())
        .collect();
    std::fs::write(&stream_out, json!({"width": 1920, "height": 1080, "frames": per_frame}).to_string()).unwrap();
    let report = json!({
        "objects": objects,
        "frames": FRAMES,
        "rounds": ROUNDS,
        "update_us_median": {"bytetrack": bytetrack, "botsort": botsort},
        "detect": {"model": model, "image": image, "ms_median": detect_ms},
    });
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!(
        "{objects} objects: ByteTrack {bytetrack:.1} us, BoT-SORT {botsort:.1} us per update; detect {detect_ms:.2} ms \
         ({:.2}% and {:.2}%)",
        bytetrack / 10.0 / detect_ms,
        botsort / 10.0 / detect_ms
    );
}
