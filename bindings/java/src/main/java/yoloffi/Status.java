package yoloffi;

/** The library's statuses ({@code yolo_status}), with their values; a value is never reused. */
public enum Status {
  OK(0),
  INVALID_ARGUMENT(1),
  RUNTIME_UNAVAILABLE(2),
  MODEL_LOAD_FAILED(3),
  INVALID_MODEL(4),
  IMAGE_DECODE_FAILED(5),
  IMAGE_TOO_LARGE(6),
  TIMEOUT(7),
  INFERENCE_FAILED(8),
  OUT_OF_RANGE(9),
  INTERNAL_ERROR(10),
  NOT_READY(11),
  LOAD_FAILED(12),
  INVALID_HANDLE(13),
  OUT_OF_MEMORY(14),
  PROVIDER_UNAVAILABLE(15);

  /** The value in {@code yolo_ffi.h}. */
  public final int value;

  Status(int value) {
    this.value = value;
  }

  /** The status of a value; {@code INTERNAL_ERROR} for one this binding does not know. */
  public static Status of(int value) {
    for (Status status : values()) {
      if (status.value == value) {
        return status;
      }
    }
    return INTERNAL_ERROR;
  }
}
