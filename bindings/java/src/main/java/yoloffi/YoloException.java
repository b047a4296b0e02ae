package yoloffi;

/** A failed call: the library's {@link Status} and its message. */
public final class YoloException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status status;

  public YoloException(Status status, String message) {
    super(message);
    this.status = status;
  }

  /** The status of the failed call. */
  public Status status() {
    return status;
  }

  /**
   * Throws for a status other than OK, with the library's message. Called on the thread of the failed call,
   * right after it: the library's last error is per thread.
   */
  static void check(int value) {
    if (value == Status.OK.value()) {
      return;
    }
    String detail = YoloLibrary.C.yolo_last_error();
    String summary = YoloLibrary.C.yolo_status_string(value);
    throw new YoloException(
        Status.of(value), detail == null || detail.isEmpty() ? summary : summary + ": " + detail);
  }
}
