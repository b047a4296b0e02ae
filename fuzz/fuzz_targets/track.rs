//! The tracker over arbitrary streams: each frame's detections (any boxes, scores, classes; NaN, infinities,
//! empty and flat boxes), rotated boxes or not, camera motions, resets and settings from the bytes. The
//! tracker must answer every frame with a status or with tracks that keep their promises: each names a
//! detection of the frame, with its class and score, ids from 1 never reused within a run, and boxes inside
//! the image for axis-aligned tracks; the tracks it keeps stay bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yolo_ffi_core::track::{Frame, MotionCompensation, Tracker, TrackerSettings, MAX_TRACKS};
use yolo_ffi_core::{Detection, OrientedBox};

fuzz_target!(|data: &[u8]| {
    let Some((head, mut body)) = data.split_first_chunk::<6>() else { return };
    let oriented = head[0] & 1 == 1;
    let compensates = head[0] & 2 == 2;
    let settings = TrackerSettings {
        track_high_thresh: f64::from(head[1]) / 255.0,
        track_low_thresh: f64::from(head[2]) / 255.0,
        new_track_thresh: f64::from(head[3]) / 255.0,
        track_buffer: u32::from(head[4] % 40),
        match_thresh: f64::from(head[5]) / 200.0,
        fuse_score: head[0] & 4 == 4,
        gmc_method: if compensates { MotionCompensation::SparseOptFlow } else { MotionCompensation::None },
        ..if head[0] & 8 == 8 { TrackerSettings::botsort() } else { TrackerSettings::bytetrack() }
    };
    let motion_needed = settings.kind == yolo_ffi_core::track::TrackerKind::BotSort && compensates;
    let mut tracker = Tracker::new(settings).unwrap();
    let mut seen_ids = std::collections::HashMap::new();
    let float = |bytes: &[u8]| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    // Frames: a count byte, then per detection 6 floats (x1, y1, w, h, score, angle) and a class byte.
    while let Some((&count, rest)) = body.split_first() {
        if count == 255 {
            tracker.reset();
            seen_ids.clear();
            body = rest;
            continue;
        }
        let n = usize::from(count % 64);
        let need = n * 25;
        if rest.len() < need {
            return;
        }
        let (records, rest) = rest.split_at(need);
        body = rest;
        let mut detections = Vec::with_capacity(n);
        let mut rotated = Vec::with_capacity(n);
        for r in records.chunks_exact(25) {
            let (x, y, w, h) = (float(&r[0..]), float(&r[4..]), float(&r[8..]), float(&r[12..]));
            let (score, angle) = (float(&r[16..]), float(&r[20..]));
            detections.push(Detection { x1: x, y1: y, x2: x + w, y2: y + h, score, class_id: u32::from(r[24]), anchor: 0 });
            rotated.push(OrientedBox { cx: x, cy: y, width: w, height: h, angle, corners: [[0.0; 2]; 4] });
        }
        let motion = motion_needed.then_some([1.0, 0.0, 2.0, 0.0, 1.0, -1.0]);
        let frame = Frame {
            detections: &detections,
            oriented: oriented.then_some(&rotated[..]),
            image_size: (640, 480),
            motion,
        };
        let Ok(found) = tracker.update(&frame) else { continue };
        for t in &found.tracks {
            let d = &detections[t.detection];
            assert_eq!((t.class_id, t.score.to_bits()), (d.class_id, d.score.to_bits()));
            assert!(t.id >= 1);
            // An id names one track: the same detection-free identity across frames is not checked, but two
            // tracks of one frame never share an id.
            let frame_ids = found.tracks.iter().filter(|u| u.id == t.id).count();
            assert_eq!(frame_ids, 1, "two tracks with id {}", t.id);
            seen_ids.insert(t.id, ());
            if !oriented {
                let [x1, y1, x2, y2] = t.bbox;
                assert!((0.0..=640.0).contains(&x1) && (0.0..=640.0).contains(&x2), "{t:?}");
                assert!((0.0..=480.0).contains(&y1) && (0.0..=480.0).contains(&y2), "{t:?}");
            }
        }
        assert!(tracker.len() <= MAX_TRACKS);
    }
});
