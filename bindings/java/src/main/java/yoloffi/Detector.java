package yoloffi;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import java.io.IOException;
import java.lang.ref.Cleaner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A loaded YOLO model and its pool of ONNX Runtime sessions. Thread-safe: any number of threads may call
 * {@link #detect} at once. Use it in try-with-resources; {@link #close} waits for the calls in flight and
 * frees the model, and a detector that is never closed is freed when it becomes unreachable.
 */
public final class Detector implements AutoCloseable {
  /** Settings of a detector; a field left at 0 (or false, or null) keeps the library's default. */
  public static final class Options {
    /** Input side for models with dynamic input dimensions. */
    public int imgsz;
    /** Confidence threshold, in [0, 1]; null keeps the library's default. */
    public Float conf;
    /** NMS IoU threshold, in [0, 1]; null keeps the library's default. */
    public Float iou;
    /** Most detections per image; 0 keeps the library's default. */
    public int maxDet;
    /** Class-agnostic NMS. */
    public boolean agnostic;
    /** Sessions in the pool (default: from the core count). */
    public int poolSize;
    /** ONNX Runtime threads per session (default: automatic). */
    public int threadsPerSession;
    /** libonnxruntime.so to load instead of the library's own search. */
    public String ortLibrary;
  }

  private static final Cleaner CLEANER = Cleaner.create();
  /**
   * The layout of {@code yolo_detection}, which this class reads field by field: its size and each field's
   * offset. The tests compare it with what a C compiler gives the header (tests/c/layouts.c).
   */
  static final int DETECTION_SIZE = 24;

  static final java.util.Map<String, Integer> DETECTION_OFFSETS =
      java.util.Map.of("x1", 0, "y1", 4, "x2", 8, "y2", 12, "score", 16, "class_id", 20);

  /** The handle, shared with the cleaner; freed once, by close() or by the cleaner. */
  private static final class Handle implements Runnable {
    private Pointer pointer;

    Handle(Pointer pointer) {
      this.pointer = pointer;
    }

    @Override
    public void run() {
      if (pointer != null) {
        YoloLibrary.C.yolo_free(pointer);
        pointer = null;
      }
    }
  }

  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private final Handle handle;
  private final Cleaner.Cleanable cleanable;
  private final List<String> classNames;
  private final String task;

  private Detector(Handle handle, List<String> classNames, String task) {
    this.handle = handle;
    this.classNames = classNames;
    this.task = task;
    this.cleanable = CLEANER.register(this, handle);
  }

  /** Loads the model at {@code model}; throws {@link YoloException} when it cannot. */
  public static Detector open(Path model, Options options) {
    Options o = options == null ? new Options() : options;
    YoloLibrary c = YoloLibrary.C;
    PointerByReference out = new PointerByReference();
    YoloException.check(c.yolo_config_new(out));
    Pointer config = out.getValue();
    Pointer detector;
    try {
      YoloException.check(c.yolo_config_set_model_path(config, model.toString()));
      if (o.ortLibrary != null) {
        YoloException.check(c.yolo_config_set_ort_library_path(config, o.ortLibrary));
      }
      if (o.imgsz != 0) {
        YoloException.check(c.yolo_config_set_imgsz(config, o.imgsz, o.imgsz));
      }
      if (o.conf != null) {
        YoloException.check(c.yolo_config_set_conf_threshold(config, o.conf));
      }
      if (o.iou != null) {
        YoloException.check(c.yolo_config_set_iou_threshold(config, o.iou));
      }
      if (o.maxDet != 0) {
        YoloException.check(c.yolo_config_set_max_detections(config, o.maxDet));
      }
      if (o.agnostic) {
        YoloException.check(c.yolo_config_set_class_agnostic(config, true));
      }
      if (o.poolSize != 0) {
        YoloException.check(c.yolo_config_set_pool_size(config, o.poolSize));
      }
      if (o.threadsPerSession != 0) {
        YoloException.check(c.yolo_config_set_threads_per_session(config, o.threadsPerSession));
      }
      PointerByReference outDetector = new PointerByReference();
      YoloException.check(c.yolo_init(config, outDetector));
      detector = outDetector.getValue();
    } finally {
      c.yolo_config_free(config);
    }
    try {
      return new Detector(new Handle(detector), names(detector), task(detector));
    } catch (RuntimeException e) {
      c.yolo_free(detector);
      throw e;
    }
  }

  private static List<String> names(Pointer detector) {
    PointerByReference count = new PointerByReference();
    YoloException.check(YoloLibrary.C.yolo_class_count(detector, count));
    long n = Pointer.nativeValue(count.getValue());
    List<String> names = new ArrayList<>();
    for (int id = 0; id < n; id++) {
      PointerByReference name = new PointerByReference();
      PointerByReference length = new PointerByReference();
      YoloException.check(YoloLibrary.C.yolo_class_name(detector, id, name, length));
      names.add(name.getValue().getString(0, "UTF-8"));
    }
    return Collections.unmodifiableList(names);
  }

  private static String task(Pointer detector) {
    IntByReference task = new IntByReference();
    YoloException.check(YoloLibrary.C.yolo_model_task(detector, task));
    int value = task.getValue();
    String name = YoloLibrary.C.yolo_task_name(value);
    return name != null ? name : "task " + value;
  }

  /** The model's class names, by class id. */
  public List<String> classNames() {
    return classNames;
  }

  /** The model's task: "detect", "segment", "pose", "obb" or "classify". */
  public String task() {
    return task;
  }

  /** Detects objects in an encoded image (JPEG, PNG, BMP, WebP, GIF, TIFF); detections come best first. */
  public List<Detection> detect(byte[] encoded) {
    lock.readLock().lock();
    try {
      if (handle.pointer == null) {
        throw new YoloException(Status.INVALID_HANDLE, "the detector is closed");
      }
      PointerByReference outResult = new PointerByReference();
      YoloException.check(YoloLibrary.C.yolo_detect(handle.pointer, encoded, encoded.length, null, outResult));
      Pointer result = outResult.getValue();
      try {
        PointerByReference first = new PointerByReference();
        PointerByReference count = new PointerByReference();
        YoloException.check(YoloLibrary.C.yolo_result_detections(result, first, count));
        int n = (int) Pointer.nativeValue(count.getValue());
        List<Detection> detections = new ArrayList<>(n);
        Pointer base = first.getValue();
        for (int i = 0; i < n; i++) {
          long offset = (long) i * DETECTION_SIZE;
          int classId = base.getInt(offset + DETECTION_OFFSETS.get("class_id"));
          String name = classId < classNames.size() ? classNames.get(classId) : Integer.toString(classId);
          detections.add(
              new Detection(
                  classId,
                  name,
                  base.getFloat(offset + DETECTION_OFFSETS.get("score")),
                  base.getFloat(offset + DETECTION_OFFSETS.get("x1")),
                  base.getFloat(offset + DETECTION_OFFSETS.get("y1")),
                  base.getFloat(offset + DETECTION_OFFSETS.get("x2")),
                  base.getFloat(offset + DETECTION_OFFSETS.get("y2"))));
        }
        return Collections.unmodifiableList(detections);
      } finally {
        YoloLibrary.C.yolo_result_free(result);
      }
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Reads the image at {@code path} and detects objects in it. */
  public List<Detection> detect(Path path) throws IOException {
    return detect(Files.readAllBytes(path));
  }

  /** The version of the loaded library, such as "0.1.0". */
  public static String version() {
    return YoloLibrary.C.yolo_version();
  }

  /** Waits for the calls in flight, then frees the model. Later calls throw INVALID_HANDLE. Idempotent. */
  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      cleanable.clean();
    } finally {
      lock.writeLock().unlock();
    }
  }
}
