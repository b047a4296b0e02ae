/* The layouts of the structs that callers read, pinned: each size and field offset is asserted at compile
 * time (src/layout.rs pins the same in Rust), and the program prints them, one "STRUCT SIZE FIELD OFFSET"
 * line per field, for the bindings' tests to compare with their own declarations. A change that fails here
 * is an ABI break. The offsets are those of the 64-bit Linux ABIs the library is built for. */
#include <stddef.h>
#include <stdio.h>

#include "yolo_ffi.h"

#define LAYOUTS(X)                                                                                                     \
    X(yolo_detection, 24, x1, 0)                                                                                       \
    X(yolo_detection, 24, y1, 4)                                                                                       \
    X(yolo_detection, 24, x2, 8)                                                                                       \
    X(yolo_detection, 24, y2, 12)                                                                                      \
    X(yolo_detection, 24, score, 16)                                                                                   \
    X(yolo_detection, 24, class_id, 20)                                                                                \
    X(yolo_mask, 32, left, 0)                                                                                          \
    X(yolo_mask, 32, top, 4)                                                                                           \
    X(yolo_mask, 32, width, 8)                                                                                         \
    X(yolo_mask, 32, height, 12)                                                                                       \
    X(yolo_mask, 32, data, 16)                                                                                         \
    X(yolo_mask, 32, data_len, 24)                                                                                     \
    X(yolo_class_map, 48, width, 0)                                                                                    \
    X(yolo_class_map, 48, height, 4)                                                                                   \
    X(yolo_class_map, 48, element_size, 8)                                                                             \
    X(yolo_class_map, 48, data, 16)                                                                                    \
    X(yolo_class_map, 48, data_len, 24)                                                                                \
    X(yolo_class_map, 48, pixel_counts, 32)                                                                            \
    X(yolo_class_map, 48, class_count, 40)                                                                             \
    X(yolo_depth_map, 24, width, 0)                                                                                    \
    X(yolo_depth_map, 24, height, 4)                                                                                   \
    X(yolo_depth_map, 24, data, 8)                                                                                     \
    X(yolo_depth_map, 24, data_len, 16)                                                                                \
    X(yolo_keypoint, 12, x, 0)                                                                                         \
    X(yolo_keypoint, 12, y, 4)                                                                                         \
    X(yolo_keypoint, 12, confidence, 8)                                                                                \
    X(yolo_oriented_box, 52, cx, 0)                                                                                    \
    X(yolo_oriented_box, 52, cy, 4)                                                                                    \
    X(yolo_oriented_box, 52, width, 8)                                                                                 \
    X(yolo_oriented_box, 52, height, 12)                                                                               \
    X(yolo_oriented_box, 52, angle, 16)                                                                                \
    X(yolo_oriented_box, 52, corners, 20)                                                                              \
    X(yolo_class_probability, 8, class_id, 0)                                                                          \
    X(yolo_class_probability, 8, probability, 4)                                                                       \
    X(yolo_track, 40, id, 0)                                                                                           \
    X(yolo_track, 40, detection, 8)                                                                                    \
    X(yolo_track, 40, class_id, 12)                                                                                    \
    X(yolo_track, 40, score, 16)                                                                                       \
    X(yolo_track, 40, x1, 20)                                                                                          \
    X(yolo_track, 40, y1, 24)                                                                                          \
    X(yolo_track, 40, x2, 28)                                                                                          \
    X(yolo_track, 40, y2, 32)                                                                                          \
    X(yolo_track, 40, angle, 36)                                                                                       \
    X(yolo_stage_stats, 296, calls, 0)                                                                                 \
    X(yolo_stage_stats, 296, p50_us, 8)                                                                                \
    X(yolo_stage_stats, 296, p90_us, 16)                                                                               \
    X(yolo_stage_stats, 296, p99_us, 24)                                                                               \
    X(yolo_stage_stats, 296, sum_us, 32)                                                                               \
    X(yolo_stage_stats, 296, histogram, 40)                                                                            \
    X(yolo_reload_stats, 32, reloads, 0)                                                                               \
    X(yolo_reload_stats, 32, failures, 8)                                                                              \
    X(yolo_reload_stats, 32, last_duration_us, 16)                                                                     \
    X(yolo_reload_stats, 32, last_status, 24)                                                                          \
    X(yolo_reload_stats, 32, running, 28)                                                                              \
    X(yolo_detector_stats, 584, state, 0)                                                                              \
    X(yolo_detector_stats, 584, load_time_us, 8)                                                                       \
    X(yolo_detector_stats, 584, detects, 16)                                                                           \
    X(yolo_detector_stats, 584, errors_by_status, 24)                                                                  \
    X(yolo_detector_stats, 584, sessions, 280)                                                                         \
    X(yolo_detector_stats, 584, sessions_idle, 284)                                                                    \
    X(yolo_detector_stats, 584, pool_waits, 288)                                                                       \
    X(yolo_detector_stats, 584, pool_wait_us, 296)                                                                     \
    X(yolo_detector_stats, 584, latency_p50_us, 304)                                                                   \
    X(yolo_detector_stats, 584, latency_p90_us, 312)                                                                   \
    X(yolo_detector_stats, 584, latency_p99_us, 320)                                                                   \
    X(yolo_detector_stats, 584, latency_histogram, 328)

#define PIN(type, size, field, offset)                                                                                 \
    _Static_assert(sizeof(type) == (size), #type " is " #size " bytes");                                               \
    _Static_assert(offsetof(type, field) == (offset), #type "." #field " is at " #offset);
LAYOUTS(PIN)

#define PRINT(type, size, field, offset)                                                                               \
    printf("%s %zu %s %zu\n", #type, sizeof(type), #field, offsetof(type, field));

int main(void) {
    LAYOUTS(PRINT)
    return 0;
}
