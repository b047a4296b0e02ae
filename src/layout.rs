//! The layouts of the structs that callers read, pinned at compile time: a change is an ABI break.
//! `tests/c/layouts.c` pins the same in C, and the bindings' tests compare theirs with what it prints.

use crate::detector::{yolo_detector_stats, yolo_stage_stats};
use crate::reload::yolo_reload_stats;
use crate::result::{
    yolo_class_map, yolo_class_probability, yolo_depth_map, yolo_detection, yolo_keypoint, yolo_mask,
    yolo_oriented_box, yolo_track,
};

/// Pins the size and the field offsets of a struct that callers read: a change is an ABI break, caught at
/// compile time. `tests/c/layouts.c` pins the same in C, and the bindings' tests compare theirs with it.
macro_rules! pin_layout {
    ($type:ty, $size:expr, { $($field:ident: $offset:expr),* $(,)? }) => {
        const _: () = {
            assert!(std::mem::size_of::<$type>() == $size);
            $(assert!(std::mem::offset_of!($type, $field) == $offset);)*
        };
    };
}

pin_layout!(yolo_detection, 24, {
    x1: 0,
    y1: 4,
    x2: 8,
    y2: 12,
    score: 16,
    class_id: 20,
});

pin_layout!(yolo_mask, 32, {
    left: 0,
    top: 4,
    width: 8,
    height: 12,
    data: 16,
    data_len: 24,
});

pin_layout!(yolo_keypoint, 12, {
    x: 0,
    y: 4,
    confidence: 8,
});

pin_layout!(yolo_oriented_box, 52, {
    cx: 0,
    cy: 4,
    width: 8,
    height: 12,
    angle: 16,
    corners: 20,
});

pin_layout!(yolo_class_probability, 8, {
    class_id: 0,
    probability: 4,
});

pin_layout!(yolo_class_map, 48, {
    width: 0,
    height: 4,
    element_size: 8,
    data: 16,
    data_len: 24,
    pixel_counts: 32,
    class_count: 40,
});

pin_layout!(yolo_depth_map, 24, {
    width: 0,
    height: 4,
    data: 8,
    data_len: 16,
});

pin_layout!(yolo_track, 40, {
    id: 0,
    detection: 8,
    class_id: 12,
    score: 16,
    x1: 20,
    y1: 24,
    x2: 28,
    y2: 32,
    angle: 36,
});

pin_layout!(yolo_detector_stats, 584, {
    state: 0,
    load_time_us: 8,
    detects: 16,
    errors_by_status: 24,
    sessions: 280,
    sessions_idle: 284,
    pool_waits: 288,
    pool_wait_us: 296,
    latency_p50_us: 304,
    latency_p90_us: 312,
    latency_p99_us: 320,
    latency_histogram: 328,
});

pin_layout!(yolo_stage_stats, 296, {
    calls: 0,
    p50_us: 8,
    p90_us: 16,
    p99_us: 24,
    sum_us: 32,
    histogram: 40,
});

pin_layout!(yolo_reload_stats, 32, {
    reloads: 0,
    failures: 8,
    last_duration_us: 16,
    last_status: 24,
    running: 28,
});
