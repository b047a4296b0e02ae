package yoloffi;

import java.util.Map;

/**
 * The layouts of the structs this package reads field by field: each one's size and its fields' offsets.
 * The tests compare them with what a C compiler gives the header (tests/c/layouts.c).
 */
final class Layouts {
  private Layouts() {}

  static final Map<String, Integer> SIZES =
      Map.of(
          "yolo_detection", 24,
          "yolo_mask", 32,
          "yolo_keypoint", 12,
          "yolo_oriented_box", 52,
          "yolo_class_probability", 8,
          "yolo_class_map", 48,
          "yolo_depth_map", 24,
          "yolo_track", 40,
          "yolo_reload_stats", 32);

  static final Map<String, Map<String, Integer>> OFFSETS =
      Map.of(
          "yolo_detection", Map.of("x1", 0, "y1", 4, "x2", 8, "y2", 12, "score", 16, "class_id", 20),
          "yolo_mask", Map.of("left", 0, "top", 4, "width", 8, "height", 12, "data", 16, "data_len", 24),
          "yolo_keypoint", Map.of("x", 0, "y", 4, "confidence", 8),
          "yolo_oriented_box",
              Map.of("cx", 0, "cy", 4, "width", 8, "height", 12, "angle", 16, "corners", 20),
          "yolo_class_probability", Map.of("class_id", 0, "probability", 4),
          "yolo_class_map",
              Map.of(
                  "width", 0, "height", 4, "element_size", 8, "data", 16, "data_len", 24, "pixel_counts", 32,
                  "class_count", 40),
          "yolo_depth_map", Map.of("width", 0, "height", 4, "data", 8, "data_len", 16),
          "yolo_track",
              Map.of(
                  "id", 0, "detection", 8, "class_id", 12, "score", 16, "x1", 20, "y1", 24, "x2", 28, "y2", 32,
                  "angle", 36),
          "yolo_reload_stats",
              Map.of("reloads", 0, "failures", 8, "last_duration_us", 16, "last_status", 24, "running", 28));

  static int at(String struct, String field) {
    return OFFSETS.get(struct).get(field);
  }
}
