package yoloffi;

import java.util.HashMap;
import java.util.Map;

/**
 * The library's statuses ({@code yolo_status}). The constants are the header's names without their prefix;
 * their values are read from the library ({@code yolo_status_name}), not restated here. A value is never
 * reused.
 */
public enum Status {
  OK,
  INVALID_ARGUMENT,
  RUNTIME_UNAVAILABLE,
  MODEL_LOAD_FAILED,
  INVALID_MODEL,
  IMAGE_DECODE_FAILED,
  IMAGE_TOO_LARGE,
  TIMEOUT,
  INFERENCE_FAILED,
  OUT_OF_RANGE,
  INTERNAL_ERROR,
  NOT_READY,
  LOAD_FAILED,
  INVALID_HANDLE,
  OUT_OF_MEMORY,
  PROVIDER_UNAVAILABLE,
  BUSY;

  /** Each name the library gives, by value. */
  private static final Map<Integer, Status> BY_VALUE = new HashMap<>();
  /** Each constant's value in the library; -1 for a name this library does not have. */
  private static final Map<Status, Integer> VALUES = new HashMap<>();

  static {
    for (int value = 0; ; value++) {
      String name = YoloLibrary.C.yolo_status_name(value);
      if (name == null) {
        break;
      }
      for (Status status : values()) {
        if (status.name().equals(name)) {
          BY_VALUE.put(value, status);
          VALUES.put(status, value);
        }
      }
    }
  }

  /** The value in {@code yolo_ffi.h}, as the library gives it; -1 for a status this library lacks. */
  public int value() {
    return VALUES.getOrDefault(this, -1);
  }

  /** The status of a value; {@code INTERNAL_ERROR} for one this binding does not know. */
  public static Status of(int value) {
    return BY_VALUE.getOrDefault(value, INTERNAL_ERROR);
  }
}
