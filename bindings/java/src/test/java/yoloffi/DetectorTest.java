package yoloffi;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The Java binding against the real library, without a test framework: a main that exits 1 on the first
 * failed check. Arguments: MODEL (the demo model, run at 320), IMAGE, and OUT, where it writes the image's
 * detections in build/detect's format for `make test-java` to compare with build/detect's own.
 */
public final class DetectorTest {
  private static final AtomicInteger passed = new AtomicInteger();

  private static void check(boolean condition, String what) {
    if (!condition) {
      System.err.println("DetectorTest: FAILED: " + what);
      System.exit(1);
    }
    passed.incrementAndGet();
  }

  private static Status statusOf(Runnable call) {
    try {
      call.run();
    } catch (YoloException e) {
      check(!e.getMessage().isEmpty(), "an exception carries the library's message");
      return e.status();
    }
    return Status.OK;
  }

  public static void main(String[] args) throws Exception {
    Path model = Path.of(args[0]);
    byte[] image = Files.readAllBytes(Path.of(args[1]));
    Detector.Options options = new Detector.Options();
    options.imgsz = 320;
    options.poolSize = 2;

    for (Status status : Status.values()) {
      check(status.value() >= 0, status + " has a value in the library");
      check(Status.of(status.value()) == status, status + " round-trips through its value");
    }
    check(Status.OK.value() == 0 && Status.INVALID_ARGUMENT.value() == 1, "the values are the header's");
    String layouts = System.getenv("YOLO_FFI_TEST_LAYOUTS");
    if (layouts == null) {
      System.out.println("DetectorTest: struct layouts SKIPPED (set YOLO_FFI_TEST_LAYOUTS to build/layouts.txt)");
    } else {
      java.util.Map<String, Integer> offsets = new java.util.HashMap<>();
      for (String line : Files.readAllLines(Path.of(layouts))) {
        String[] f = line.split(" ");
        if (f[0].equals("yolo_detection")) {
          check(Integer.parseInt(f[1]) == Detector.DETECTION_SIZE, "sizeof(yolo_detection) is the header's");
          offsets.put(f[2], Integer.parseInt(f[3]));
        }
      }
      check(offsets.equals(Detector.DETECTION_OFFSETS), "yolo_detection's offsets are the header's: " + offsets);
    }
    check(
        statusOf(() -> Detector.open(Path.of("/nonexistent/model.onnx"), null)) == Status.MODEL_LOAD_FAILED,
        "a missing model throws MODEL_LOAD_FAILED");
    Detector.Options bad = new Detector.Options();
    bad.conf = 2f;
    check(statusOf(() -> Detector.open(model, bad)) == Status.INVALID_ARGUMENT, "conf 2 throws INVALID_ARGUMENT");
    Detector.Options zero = new Detector.Options();
    zero.imgsz = 320;
    zero.conf = 0f;
    zero.maxDet = 1000;
    try (Detector atZero = Detector.open(model, zero);
        Detector byDefault = Detector.open(model, options)) {
      check(
          atZero.detect(image).size() > byDefault.detect(image).size(),
          "conf 0 reaches the library: more boxes than at the default threshold");
    }

    List<Detection> detections;
    Detector leaked;
    try (Detector detector = Detector.open(model, options)) {
      leaked = detector;
      check("detect".equals(detector.task()), "the demo model is a detection model");
      check(!detector.classNames().isEmpty(), "the model names its classes");
      detections = detector.detect(image);
      check(!detections.isEmpty(), "detections on the demo image");
      for (Detection d : detections) {
        check(d.className().equals(detector.classNames().get(d.classId())), "class names match ids");
        check(d.score() > 0.25f && d.x1() <= d.x2() && d.y1() <= d.y2(), "a plausible box: " + d);
      }
      check(
          statusOf(() -> detector.detect("not an image".getBytes())) == Status.IMAGE_DECODE_FAILED,
          "bytes that are no image throw IMAGE_DECODE_FAILED");
      // Threads share one detector, and each failure's message is read on its own thread.
      ExecutorService pool = Executors.newFixedThreadPool(8);
      List<Future<List<Detection>>> calls = new ArrayList<>();
      List<Future<Status>> failures = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        calls.add(pool.submit(() -> detector.detect(image)));
        failures.add(pool.submit(() -> statusOf(() -> detector.detect(new byte[] {1, 2, 3}))));
      }
      for (Future<List<Detection>> call : calls) {
        check(call.get().equals(detections), "a concurrent call gives the same detections");
      }
      for (Future<Status> failure : failures) {
        check(failure.get() == Status.IMAGE_DECODE_FAILED, "a concurrent failure has its own status");
      }
      pool.shutdown();
    }
    check(statusOf(() -> leaked.detect(image)) == Status.INVALID_HANDLE, "a closed detector throws INVALID_HANDLE");
    leaked.close(); // idempotent
    check(!Detector.version().isEmpty(), "the library has a version");

    StringBuilder json = new StringBuilder("{\"detections\": [");
    for (int i = 0; i < detections.size(); i++) {
      Detection d = detections.get(i);
      json.append(i == 0 ? "" : ", ")
          .append(
              String.format(
                  Locale.ROOT,
                  "{\"class_id\": %d, \"class_name\": \"%s\", \"score\": %.6f, \"box\": [%.4f, %.4f, %.4f, %.4f]}",
                  d.classId(), d.className(), d.score(), d.x1(), d.y1(), d.x2(), d.y2()));
    }
    Files.writeString(Path.of(args[2]), json.append("]}\n").toString());
    System.err.println("DetectorTest: " + passed + " checks passed (yolo-ffi " + Detector.version() + ")");
  }
}
