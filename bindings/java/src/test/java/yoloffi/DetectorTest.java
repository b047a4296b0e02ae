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
      java.util.Map<String, java.util.Map<String, Integer>> offsets = new java.util.HashMap<>();
      for (String line : Files.readAllLines(Path.of(layouts))) {
        String[] f = line.split(" ");
        if (Layouts.SIZES.containsKey(f[0])) {
          check(Integer.parseInt(f[1]) == Layouts.SIZES.get(f[0]), "sizeof(" + f[0] + ") is the header's");
          offsets.computeIfAbsent(f[0], k -> new java.util.HashMap<>()).put(f[2], Integer.parseInt(f[3]));
        }
      }
      check(offsets.equals(Layouts.OFFSETS), "the offsets of every struct read are the header's: " + offsets);
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
    tasks(Path.of(args[2]).getParent());
    String header = System.getenv("YOLO_FFI_TEST_HEADER");
    if (header != null) {
      String text = Files.readString(Path.of(header));
      check(text.contains("YOLO_IO_BINDING_ON = " + Detector.IO_BINDING_ON + ","), "IO_BINDING_ON is the header's");
      check(text.contains("YOLO_IO_BINDING_OFF = " + Detector.IO_BINDING_OFF + ","), "IO_BINDING_OFF is the header's");
      check(
          text.contains("#define YOLO_DEFAULT_BATCH_DELAY UINT32_MAX") && Detector.DEFAULT_BATCH_DELAY == -1,
          "the default batch delay is the header's UINT32_MAX");
      check(
          text.contains("YOLO_TRACKER_KIND_BYTETRACK = " + Tracker.Kind.BYTETRACK.value() + ",")
              && text.contains("YOLO_TRACKER_KIND_BOTSORT = " + Tracker.Kind.BOTSORT.value() + ","),
          "the tracker kinds are the header's");
      check(
          text.contains("YOLO_GMC_METHOD_NONE = " + Tracker.GmcMethod.NONE.value() + ",")
              && text.contains("YOLO_GMC_METHOD_SPARSE_OPT_FLOW = " + Tracker.GmcMethod.SPARSE_OPT_FLOW.value() + ","),
          "the motion compensations are the header's");
    }
    System.err.println("DetectorTest: " + passed + " checks passed (yolo-ffi " + Detector.version() + ")");
  }

  /**
   * Tracking on the synthetic detector (the same boxes in every frame): ids from 1, kept, each track's box
   * its detection's; BoT-SORT's motion rule; oriented boxes; misuse. The tracking itself is compared with
   * Ultralytics by the library's own tests.
   */
  /** Reloads across tasks while threads call: every result is one model's own; a failure keeps the model. */
  private static void reloading(String models, byte[] image) throws Exception {
    Detector.Options pool = new Detector.Options();
    pool.poolSize = 2;
    try (Detector detector = Detector.open(Path.of(models, "v8_fixed.onnx"), pool)) {
      java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
      java.util.concurrent.ConcurrentLinkedQueue<String> failures = new java.util.concurrent.ConcurrentLinkedQueue<>();
      Thread client =
          new Thread(
              () -> {
                while (!stop.get()) {
                  try {
                    for (Detection d : detector.detect(image)) {
                      boolean seg = d.className().equals("a") || d.className().equals("b");
                      if (seg != (d.mask() != null)) {
                        failures.add("a mixed result: " + d);
                      }
                    }
                  } catch (YoloException e) {
                    failures.add(e.status() + ": " + e.getMessage());
                  }
                }
              });
      client.start();
      for (int i = 0; i < 4; i++) {
        detector.reload(Path.of(models, i % 2 == 0 ? "seg_fixed.onnx" : "v8_fixed.onnx"), null);
      }
      stop.set(true);
      client.join();
      check(failures.isEmpty(), "no call fails and every result is one model's: " + failures);
      check("detect".equals(detector.task()) && "person".equals(detector.classNames().get(0)), "four reloads end on v8");
      check(
          statusOf(() -> detector.reload(Path.of(models, "seg_fixed.onnx"), null, true, false)) == Status.INVALID_MODEL,
          "a reload that keeps the task refuses another task");
      check(
          statusOf(() -> detector.reload(Path.of(models, "missing.onnx"), null)) == Status.MODEL_LOAD_FAILED,
          "a missing model is refused");
      detector.reloadAsync(null, null).get();
      Detector.ReloadStats stats = detector.reloadStats();
      check(
          stats.reloads() == 5 && stats.failures() == 2 && !stats.running() && stats.lastStatus() == Status.OK,
          "the reload counters: " + stats);
      check("detect".equals(detector.task()), "a failed reload leaves the model serving");
    }
  }

  private static void tracking(String models, byte[] image) {
    try (Detector detector = Detector.open(Path.of(models, "v8_fixed.onnx"), null);
        Tracker tracker = new Tracker(Tracker.Kind.BYTETRACK, null)) {
      Detector.CallOptions low = new Detector.CallOptions();
      low.conf = 0.1f;
      List<Detection> strong =
          detector.detect(image, low).stream()
              .filter(d -> d.score() >= 0.25f && d.x2() > d.x1() && d.y2() > d.y1())
              .toList();
      check(!strong.isEmpty(), "detections that start tracks");
      for (int frame = 0; frame < 3; frame++) {
        List<Detection> tracks = detector.track(image, tracker, null, null);
        check(tracks.size() == strong.size(), "one track per strong detection, frame " + frame);
        for (int i = 0; i < tracks.size(); i++) {
          Detection t = tracks.get(i);
          check(t.trackId() == i + 1 && t.classId() == strong.get(i).classId(), "ids from 1, kept: " + t);
          check(Math.abs(t.x1() - strong.get(i).x1()) < 1e-3 && Math.abs(t.y2() - strong.get(i).y2()) < 1e-3, "the box");
        }
      }
      tracker.reset();
      check(detector.track(image, tracker, null, null).get(0).trackId() == 1, "reset starts the ids over");
      try (Tracker botsort = new Tracker(Tracker.Kind.BOTSORT, null)) {
        check(
            statusOf(() -> detector.track(image, botsort, null, null)) == Status.INVALID_ARGUMENT,
            "BoT-SORT with sparseOptFlow needs a motion");
        check(!detector.track(image, botsort, null, new double[] {1, 0, 0, 0, 1, 0}).isEmpty(), "with the identity");
      }
      Tracker.Settings reid = new Tracker.Settings();
      reid.withReid = true;
      check(statusOf(() -> new Tracker(Tracker.Kind.BOTSORT, reid)) == Status.INVALID_ARGUMENT, "with_reid is refused");
      Tracker closed = new Tracker(Tracker.Kind.BYTETRACK, null);
      closed.close();
      closed.close();
      check(statusOf(() -> detector.track(image, closed, null, null)) == Status.INVALID_HANDLE, "a closed tracker");
    }
    try (Detector detector = Detector.open(Path.of(models, "obb_fixed.onnx"), null);
        Tracker tracker = new Tracker(Tracker.Kind.BYTETRACK, null)) {
      List<Detection> tracks = detector.track(image, tracker, null, null);
      check(!tracks.isEmpty(), "oriented boxes are tracked");
      for (Detection t : tracks) {
        check(t.trackId() >= 1 && t.obb() != null && t.x1() <= t.x2() && t.y1() <= t.y2(), "an oriented track: " + t);
      }
    }
  }

  /**
   * The synthetic task models ($YOLO_FFI_TEST_MODELS) on $YOLO_FFI_TEST_TASK_IMAGE: each one's detections
   * (masks, keypoints, oriented boxes) or classes written in build/detect's format to OUT/java-MODEL.json,
   * which `bindings/run_tests.sh java` compares with build/detect's; then the provider, IO binding,
   * batching and the asynchronous load.
   */
  private static void tasks(Path out) throws Exception {
    String models = System.getenv("YOLO_FFI_TEST_MODELS");
    String taskImage = System.getenv("YOLO_FFI_TEST_TASK_IMAGE");
    if (models == null || taskImage == null) {
      System.out.println("DetectorTest: task models SKIPPED (set YOLO_FFI_TEST_MODELS and YOLO_FFI_TEST_TASK_IMAGE)");
      return;
    }
    byte[] image = Files.readAllBytes(Path.of(taskImage));
    tracking(models, image);
    reloading(models, image);
    for (String name : List.of("seg_e2e", "pose_e2e", "obb_e2e", "classify_task")) {
      try (Detector detector = Detector.open(Path.of(models, name + ".onnx"), null)) {
        StringBuilder json = new StringBuilder("{");
        if (detector.task().equals("classify")) {
          List<ClassProbability> classes = detector.classify(image, null);
          check(!classes.isEmpty(), name + " gives classes");
          Detector.CallOptions one = new Detector.CallOptions();
          one.topK = 1;
          check(detector.classify(image, one).size() == 1, "topK per call");
          json.append("\"classes\": [");
          for (int i = 0; i < classes.size(); i++) {
            ClassProbability k = classes.get(i);
            json.append(i == 0 ? "" : ", ")
                .append(
                    String.format(
                        Locale.ROOT,
                        "{\"class_id\": %d, \"class_name\": \"%s\", \"probability\": %.7f}",
                        k.classId(),
                        k.className(),
                        k.probability()));
          }
        } else {
          List<Detection> found = detector.detect(image);
          check(!found.isEmpty(), name + " finds something");
          json.append("\"detections\": [");
          for (int i = 0; i < found.size(); i++) {
            json.append(i == 0 ? "" : ", ").append(detectionJson(found.get(i)));
          }
        }
        Files.writeString(out.resolve("java-" + name + ".json"), json.append("]}\n").toString());
      }
    }
    // Semantic segmentation: an 8x8 map whose top half is class 0 and bottom half class 1, resized to the
    // image: the first row class 0, the last class 1, each column 0s then 1s, the counts those of the ids.
    try (Detector detector = Detector.open(Path.of(models, "semantic_logits.onnx"), null)) {
      check(detector.task().equals("semantic"), "the semantic model's task");
      ClassMap map = detector.semantic(image);
      int w = map.width(), h = map.height();
      check(map.ids().length == w * h && map.counts().length == 2, "a class map of the image's size, 2 classes");
      long[] counts = new long[2];
      boolean halves = true;
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          int id = map.ids()[y * w + x];
          counts[id]++;
          halves &= (y == 0 ? id == 0 : y == h - 1 ? id == 1 : id >= map.ids()[(y - 1) * w + x]);
        }
      }
      check(halves, "class 0 above class 1");
      check(java.util.Arrays.equals(counts, map.counts()), "the counts are the map's");
      check(statusOf(() -> detector.depth(image)) == Status.INVALID_ARGUMENT, "depth() on a semantic model");
    }
    // Depth: the 8 columns 0..7, stretched with aligned corners across the image.
    try (Detector detector = Detector.open(Path.of(models, "depth_ramp.onnx"), null)) {
      DepthMap depth = detector.depth(image);
      int w = depth.width();
      check(depth.data().length == w * depth.height(), "a depth map of the image's size");
      boolean ramp = true;
      for (int x = 0; x < w; x++) ramp &= Math.abs(depth.data()[x] - 7.0 * x / (w - 1)) < 1e-4;
      check(ramp, "the depth ramp across the image");
      check(statusOf(() -> detector.semantic(image)) == Status.INVALID_ARGUMENT, "semantic() on a depth model");
    }
    Detector.Options cpu = new Detector.Options();
    cpu.providers = List.of("cpu");
    cpu.ioBinding = false;
    try (Detector detector = Detector.open(Path.of(models, "v8_fixed.onnx"), cpu)) {
      check(detector.provider().equals("cpu"), "the model runs on the provider asked for");
      check(!detector.ioBinding(), "IO binding off as asked");
    }
    Detector.Options tpu = new Detector.Options();
    tpu.providers = List.of("tpu");
    check(statusOf(() -> Detector.open(Path.of(models, "v8_fixed.onnx"), tpu)) == Status.INVALID_ARGUMENT, "an unknown provider");
    Detector.Options batching = new Detector.Options();
    batching.imgsz = 64;
    batching.poolSize = 1;
    batching.maxBatch = 4;
    batching.maxBatchDelayUs = 200_000;
    try (Detector detector = Detector.open(Path.of(models, "e2e_batch.onnx"), batching)) {
      ExecutorService pool = Executors.newFixedThreadPool(4);
      List<Future<List<Detection>>> calls = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        calls.add(pool.submit(() -> detector.detect(image)));
      }
      for (Future<List<Detection>> call : calls) {
        call.get();
      }
      pool.shutdown();
      Detector.BatchStats stats = detector.batchStats();
      check(stats.calls() == 4 && stats.runs() >= 1 && stats.runs() <= 4, "batching carried the 4 calls: " + stats);
    }
    try (Detector pose = Detector.openAsync(Path.of(models, "pose_e2e.onnx"), null).get()) {
      check(pose.keypointShape()[1] == 3, "the keypoint shape of a pose model");
    }
    try {
      Detector.openAsync(Path.of(models, "not_yolo.onnx"), null).get().close();
      check(false, "a model that is no YOLO model loads asynchronously");
    } catch (java.util.concurrent.ExecutionException e) {
      check(e.getCause() instanceof YoloException y && y.status() == Status.INVALID_MODEL, "the async load fails with why");
    }
  }

  /** A detection in build/detect's JSON, with its mask as run lengths (0s first), keypoints or oriented box. */
  private static String detectionJson(Detection d) {
    StringBuilder json =
        new StringBuilder(
            String.format(
                Locale.ROOT,
                "{\"class_id\": %d, \"class_name\": \"%s\", \"score\": %.6f, \"box\": [%.4f, %.4f, %.4f, %.4f]",
                d.classId(),
                d.className(),
                d.score(),
                d.x1(),
                d.y1(),
                d.x2(),
                d.y2()));
    if (d.mask() != null) {
      Mask m = d.mask();
      List<Integer> counts = new ArrayList<>();
      int value = 0;
      int run = 0;
      for (byte b : m.data()) {
        if (b != value) {
          counts.add(run);
          value = b;
          run = 0;
        }
        run++;
      }
      counts.add(run);
      json.append(
          String.format(
              Locale.ROOT,
              ", \"mask\": {\"left\": %d, \"top\": %d, \"width\": %d, \"height\": %d, \"counts\": %s}",
              m.left(),
              m.top(),
              m.width(),
              m.height(),
              counts));
      check(d.polygon().length > 0, "a mask has an outline");
    }
    if (d.keypoints() != null) {
      json.append(", \"keypoints\": [");
      for (int k = 0; k < d.keypoints().length; k++) {
        float[] p = d.keypoints()[k];
        json.append(k == 0 ? "" : ", ").append(String.format(Locale.ROOT, "[%.4f, %.4f, %.6f]", p[0], p[1], p[2]));
      }
      json.append("]");
    }
    if (d.obb() != null) {
      OrientedBox o = d.obb();
      json.append(
          String.format(
              Locale.ROOT,
              ", \"obb\": {\"xywhr\": [%.4f, %.4f, %.4f, %.4f, %.6f], \"corners\": [",
              o.cx(),
              o.cy(),
              o.width(),
              o.height(),
              o.angle()));
      for (int k = 0; k < 4; k++) {
        json.append(k == 0 ? "" : ", ")
            .append(String.format(Locale.ROOT, "[%.4f, %.4f]", o.corners()[k][0], o.corners()[k][1]));
      }
      json.append("]}");
    }
    return json.append("}").toString();
  }
}
