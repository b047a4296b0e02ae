package yoloffi;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.ByteByReference;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.io.IOException;
import java.lang.ref.Cleaner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
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
    /** Segmentation masks at the image's resolution (Ultralytics' retina_masks). */
    public boolean retinaMasks;
    /** How many classes {@link #classify} gives; 0 keeps the library's default. */
    public int topK;
    /** Larger images are refused before decoding; 0 keeps the library's default. */
    public long maxImagePixels;
    /** One copy of the weights for the whole pool (less memory, slower inference). */
    public boolean shareWeights;
    /** Execution providers to try, in order: "cpu", "cuda" or "cuda:1", "tensorrt", "openvino". */
    public List<String> providers = List.of();
    /** Try the next provider when one is not there, instead of failing the load. */
    public boolean providerFallback;
    /** Bind inputs and outputs in the provider's host memory; null: the library decides. */
    public Boolean ioBinding;
    /** Gather up to this many concurrent calls of one input size into one run; 0 keeps it off. */
    public int maxBatch;
    /** How long a call waits for others to share its run, in microseconds; null: the library's default. */
    public Integer maxBatchDelayUs;
  }

  /** Per-call overrides of a detector's settings; null or 0 keeps the detector's. */
  public static final class CallOptions {
    /** Confidence threshold. */
    public Float conf;
    /** NMS IoU threshold. */
    public Float iou;
    /** Most detections. */
    public int maxDet;
    /** Class-agnostic NMS. */
    public Boolean agnostic;
    /** Segmentation masks at the image's resolution. */
    public Boolean retinaMasks;
    /** How many classes {@link #classify} gives. */
    public int topK;
  }

  /** What cross-caller batching has done in this process. */
  public record BatchStats(long runs, long calls, long longestWaitUs) {}

  /** yolo_io_binding's ON and OFF (the tests check them against the header). */
  static final int IO_BINDING_ON = 2;

  static final int IO_BINDING_OFF = 3;

  /** YOLO_DEFAULT_BATCH_DELAY, the header's UINT32_MAX, as a Java int. */
  static final int DEFAULT_BATCH_DELAY = -1;
  private static final List<String> GPU_PROVIDERS = List.of("cuda", "tensorrt");

  private static final Cleaner CLEANER = Cleaner.create();

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
  /** What the model serving now says about itself; a reload replaces it whole. */
  private record ModelInfo(List<String> classNames, String task) {}

  private volatile ModelInfo info;
  private volatile Path model;
  private volatile Options options;

  private Detector(Handle handle, ModelInfo info, Path model, Options options) {
    this.handle = handle;
    this.info = info;
    this.model = model;
    this.options = options;
    this.cleanable = CLEANER.register(this, handle);
  }

  /** Loads the model at {@code model}; throws {@link YoloException} when it cannot. */
  public static Detector open(Path model, Options options) {
    Options o = options == null ? new Options() : options;
    YoloLibrary c = YoloLibrary.C;
    Pointer config = config(model, o);
    Pointer detector;
    try {
      PointerByReference outDetector = new PointerByReference();
      YoloException.check(c.yolo_init(config, outDetector));
      detector = outDetector.getValue();
    } finally {
      c.yolo_config_free(config);
    }
    try {
      return new Detector(new Handle(detector), describe(detector), model, o);
    } catch (RuntimeException e) {
      c.yolo_free(detector);
      throw e;
    }
  }

  /** A new config holding {@code model} and what {@code o} sets; the caller frees it. */
  private static Pointer config(Path model, Options o) {
    YoloLibrary c = YoloLibrary.C;
    PointerByReference out = new PointerByReference();
    YoloException.check(c.yolo_config_new(out));
    Pointer config = out.getValue();
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
      if (o.retinaMasks) {
        YoloException.check(c.yolo_config_set_retina_masks(config, true));
      }
      if (o.topK != 0) {
        YoloException.check(c.yolo_config_set_top_k(config, o.topK));
      }
      if (o.maxImagePixels != 0) {
        YoloException.check(c.yolo_config_set_max_image_pixels(config, o.maxImagePixels));
      }
      if (o.shareWeights) {
        YoloException.check(c.yolo_config_set_share_weights(config, true));
      }
      for (String name : o.providers) {
        int[] provider = provider(name);
        YoloException.check(c.yolo_config_add_provider(config, provider[0], provider[1]));
      }
      if (o.providerFallback) {
        YoloException.check(c.yolo_config_set_provider_fallback(config, true));
      }
      if (o.ioBinding != null) {
        YoloException.check(c.yolo_config_set_io_binding(config, o.ioBinding ? IO_BINDING_ON : IO_BINDING_OFF));
      }
      if (o.maxBatch != 0 || o.maxBatchDelayUs != null) {
        int delay = o.maxBatchDelayUs == null ? DEFAULT_BATCH_DELAY : o.maxBatchDelayUs;
        YoloException.check(c.yolo_config_set_batching(config, o.maxBatch == 0 ? 1 : o.maxBatch, delay));
      }
      return config;
    } catch (RuntimeException e) {
      c.yolo_config_free(config);
      throw e;
    }
  }

  /** yolo_reload_flag values. */
  static final int RELOAD_KEEP_TASK = 1;

  static final int RELOAD_KEEP_CLASS_COUNT = 2;

  /**
   * Replaces the model while calls go on: {@code model} ({@code null}: the same file, read again) with {@code
   * options} ({@code null}: those of {@link #open}, or of the last reload that succeeded). Returns when the
   * new model serves: calls in flight finish on the model they started with (their results name its
   * classes), and the replaced model is freed after the last of them. {@code keepTask} and {@code
   * keepClassCount} refuse a model that changes them. Throws {@link YoloException} ({@link
   * Status#MODEL_LOAD_FAILED}, {@link Status#INVALID_MODEL}, {@link Status#BUSY} while another reload runs,
   * ...), and the current model keeps serving.
   */
  public void reload(Path model, Options options, boolean keepTask, boolean keepClassCount) {
    lock.readLock().lock();
    try {
      if (handle.pointer == null) {
        throw new YoloException(Status.INVALID_HANDLE, "the detector is closed");
      }
      Path path = model == null ? this.model : model;
      Options o = options == null ? this.options : options;
      int flags = (keepTask ? RELOAD_KEEP_TASK : 0) | (keepClassCount ? RELOAD_KEEP_CLASS_COUNT : 0);
      Pointer config = config(path, o);
      try {
        YoloException.check(YoloLibrary.C.yolo_reload(handle.pointer, config, flags));
      } finally {
        YoloLibrary.C.yolo_config_free(config);
      }
      this.model = path;
      this.options = o;
      this.info = describe(handle.pointer);
    } finally {
      lock.readLock().unlock();
    }
  }

  /** {@link #reload(Path, Options, boolean, boolean)} keeping nothing. */
  public void reload(Path model, Options options) {
    reload(model, options, false, false);
  }

  /** {@link #reload(Path, Options)} on another thread. */
  public CompletableFuture<Void> reloadAsync(Path model, Options options) {
    return CompletableFuture.runAsync(() -> reload(model, options));
  }

  /** A detector's reload counters: {@code lastStatus} is {@link Status#OK} if the last one succeeded. */
  public record ReloadStats(long reloads, long failures, long lastDurationUs, Status lastStatus, boolean running) {}

  /** The reload counters. */
  public ReloadStats reloadStats() {
    lock.readLock().lock();
    try {
      if (handle.pointer == null) {
        throw new YoloException(Status.INVALID_HANDLE, "the detector is closed");
      }
      Memory out = new Memory(Layouts.SIZES.get("yolo_reload_stats"));
      YoloException.check(YoloLibrary.C.yolo_stats_reload(handle.pointer, out));
      return new ReloadStats(
          out.getLong(Layouts.at("yolo_reload_stats", "reloads")),
          out.getLong(Layouts.at("yolo_reload_stats", "failures")),
          out.getLong(Layouts.at("yolo_reload_stats", "last_duration_us")),
          Status.of(out.getInt(Layouts.at("yolo_reload_stats", "last_status"))),
          out.getByte(Layouts.at("yolo_reload_stats", "running")) != 0);
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Loads the model on another thread: start-up need not wait for it. */
  public static CompletableFuture<Detector> openAsync(Path model, Options options) {
    return CompletableFuture.supplyAsync(() -> open(model, options));
  }

  /** {@code [yolo_provider value, device id]} of a provider name, the values named by the library. */
  private static int[] provider(String name) {
    String[] parts = name.trim().toLowerCase(java.util.Locale.ROOT).split(":", 2);
    for (int value = 1; ; value++) {
      String known = YoloLibrary.C.yolo_provider_name(value);
      if (known == null) {
        throw new YoloException(Status.INVALID_ARGUMENT, "unknown provider '" + name + "'");
      }
      if (known.equals(parts[0])) {
        try {
          return new int[] {value, parts.length == 2 ? Integer.parseInt(parts[1]) : 0};
        } catch (NumberFormatException e) {
          throw new YoloException(Status.INVALID_ARGUMENT, "bad device in provider '" + name + "'");
        }
      }
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

  private static ModelInfo describe(Pointer detector) {
    IntByReference task = new IntByReference();
    YoloException.check(YoloLibrary.C.yolo_model_task(detector, task));
    return new ModelInfo(names(detector), taskName(task.getValue()));
  }

  private static String taskName(int value) {
    String name = YoloLibrary.C.yolo_task_name(value);
    return name != null ? name : "task " + value;
  }

  /** The class names of the model serving now, by class id. */
  public List<String> classNames() {
    return info.classNames();
  }

  /** The task of the model serving now: "detect", "segment", "pose", "obb", "classify", "semantic" or "depth". */
  public String task() {
    return info.task();
  }

  /**
   * Detects objects in an encoded image (JPEG, PNG, BMP, WebP, GIF, TIFF); detections come best first, with
   * what the model's task adds.
   */
  public List<Detection> detect(byte[] encoded) {
    return detect(encoded, null);
  }

  /** {@link #detect(byte[])} with per-call overrides of the detector's settings. */
  public List<Detection> detect(byte[] encoded, CallOptions options) {
    return run(encoded, options, this::detections);
  }

  /**
   * Detects objects in one encoded video frame and tracks them with {@code tracker} (one stream's), as
   * Ultralytics' {@code model.track}: the frame's tracks, each a {@link Detection} with its {@code trackId}
   * and the track's filtered box (an oriented track's {@code obb} its rotated box), in Ultralytics' order;
   * without tracks, the detections without ids, or none while a new track awaits confirmation. {@code
   * options} are {@code detect}'s, conf 0.1 unless set, as Ultralytics' track; {@code motion} is BoT-SORT's
   * camera motion since the last frame (the 2 x 3 affine matrix row by row) for its sparseOptFlow, else
   * null. A tracker updated by two threads at once throws {@link Status#BUSY} for the second.
   */
  public List<Detection> track(byte[] encoded, Tracker tracker, CallOptions options, double[] motion) {
    CallOptions withConf = new CallOptions();
    if (options != null) {
      withConf.iou = options.iou;
      withConf.maxDet = options.maxDet;
      withConf.agnostic = options.agnostic;
      withConf.retinaMasks = options.retinaMasks;
      withConf.conf = options.conf;
    }
    if (withConf.conf == null) {
      withConf.conf = 0.1f;
    }
    return tracker.use(
        trackerPointer ->
            run(
                encoded,
                withConf,
                result -> tracked(result, detections(result), trackerPointer, motion)));
  }

  /** The frame's tracks, from a tracker's update of its result. */
  private static List<Detection> tracked(Pointer result, List<Detection> detections, Pointer tracker, double[] motion) {
    YoloLibrary c = YoloLibrary.C;
    YoloException.check(c.yolo_tracker_update(tracker, result, motion, motion == null ? 0 : motion.length));
    PointerByReference first = new PointerByReference();
    PointerByReference count = new PointerByReference();
    ByteByReference shown = new ByteByReference();
    YoloException.check(c.yolo_result_tracks(result, first, count, shown));
    int n = (int) Pointer.nativeValue(count.getValue());
    if (n == 0) {
      return shown.getValue() != 0 ? detections : List.of();
    }
    IntByReference width = new IntByReference();
    IntByReference height = new IntByReference();
    YoloException.check(c.yolo_result_image_size(result, width, height));
    List<Detection> tracks = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Pointer t = first.getValue().share((long) i * Layouts.SIZES.get("yolo_track"));
      Detection d = detections.get(t.getInt(Layouts.at("yolo_track", "detection")));
      long id = t.getLong(Layouts.at("yolo_track", "id"));
      float x1 = t.getFloat(Layouts.at("yolo_track", "x1"));
      float y1 = t.getFloat(Layouts.at("yolo_track", "y1"));
      float x2 = t.getFloat(Layouts.at("yolo_track", "x2"));
      float y2 = t.getFloat(Layouts.at("yolo_track", "y2"));
      if (d.obb() == null) {
        tracks.add(new Detection(d.classId(), d.className(), d.score(), x1, y1, x2, y2, d.mask(), d.polygon(), d.keypoints(), null, id));
        continue;
      }
      // An oriented track: its centre, size and angle, the corners from them, and their clipped bounds.
      double angle = t.getFloat(Layouts.at("yolo_track", "angle"));
      double cos = Math.cos(angle), sin = Math.sin(angle);
      double[] along = {x2 / 2 * cos, x2 / 2 * sin};
      double[] across = {-y2 / 2 * sin, y2 / 2 * cos};
      int[][] signs = {{1, 1}, {1, -1}, {-1, -1}, {-1, 1}};
      float[][] corners = new float[4][];
      double minX = Double.MAX_VALUE, minY = Double.MAX_VALUE, maxX = -Double.MAX_VALUE, maxY = -Double.MAX_VALUE;
      for (int k = 0; k < 4; k++) {
        double x = x1 + signs[k][0] * along[0] + signs[k][1] * across[0];
        double y = y1 + signs[k][0] * along[1] + signs[k][1] * across[1];
        corners[k] = new float[] {(float) x, (float) y};
        minX = Math.min(minX, x);
        minY = Math.min(minY, y);
        maxX = Math.max(maxX, x);
        maxY = Math.max(maxY, y);
      }
      double w = width.getValue(), h = height.getValue();
      OrientedBox obb = new OrientedBox(x1, y1, x2, y2, (float) angle, corners);
      tracks.add(
          new Detection(
              d.classId(), d.className(), d.score(),
              (float) Math.min(Math.max(minX, 0), w), (float) Math.min(Math.max(minY, 0), h),
              (float) Math.min(Math.max(maxX, 0), w), (float) Math.min(Math.max(maxY, 0), h),
              d.mask(), d.polygon(), d.keypoints(), obb, id));
    }
    return Collections.unmodifiableList(tracks);
  }

  /** A classification model's most probable classes for an encoded image, best first. */
  public List<ClassProbability> classify(byte[] encoded, CallOptions options) {
    return run(
        encoded,
        options,
        result -> {
          PointerByReference first = new PointerByReference();
          PointerByReference count = new PointerByReference();
          YoloException.check(YoloLibrary.C.yolo_result_classes(result, first, count));
          int n = (int) Pointer.nativeValue(count.getValue());
          int size = Layouts.SIZES.get("yolo_class_probability");
          List<ClassProbability> classes = new ArrayList<>(n);
          for (int i = 0; i < n; i++) {
            Pointer k = first.getValue().share((long) i * size);
            int id = k.getInt(Layouts.at("yolo_class_probability", "class_id"));
            classes.add(
                new ClassProbability(id, name(result, id), k.getFloat(Layouts.at("yolo_class_probability", "probability"))));
          }
          return Collections.unmodifiableList(classes);
        });
  }

  /**
   * A semantic segmentation model's class of every pixel of an encoded image, copied out of the library.
   * A model of another task throws {@link YoloException} ({@link Status#INVALID_ARGUMENT}).
   */
  public ClassMap semantic(byte[] encoded) {
    return run(
        encoded,
        null,
        result -> {
          int size = Layouts.SIZES.get("yolo_class_map");
          Memory out = new Memory(size);
          YoloException.check(YoloLibrary.C.yolo_result_class_map(result, out));
          int n = (int) out.getLong(Layouts.at("yolo_class_map", "data_len"));
          int classes = (int) out.getLong(Layouts.at("yolo_class_map", "class_count"));
          long elementSize = out.getLong(Layouts.at("yolo_class_map", "element_size"));
          Pointer data = out.getPointer(Layouts.at("yolo_class_map", "data"));
          int[] ids = new int[n];
          if (n > 0 && elementSize == 1) {
            byte[] bytes = data.getByteArray(0, n);
            for (int i = 0; i < n; i++) ids[i] = bytes[i] & 0xFF;
          } else if (n > 0 && elementSize == 2) {
            short[] shorts = data.getShortArray(0, n);
            for (int i = 0; i < n; i++) ids[i] = shorts[i] & 0xFFFF;
          } else if (n > 0) {
            ids = data.getIntArray(0, n);
          }
          long[] counts =
              classes > 0 ? out.getPointer(Layouts.at("yolo_class_map", "pixel_counts")).getLongArray(0, classes) : new long[0];
          return new ClassMap(
              out.getInt(Layouts.at("yolo_class_map", "width")), out.getInt(Layouts.at("yolo_class_map", "height")), ids, counts);
        });
  }

  /**
   * A depth estimation model's depth of every pixel of an encoded image, copied out of the library. A
   * model of another task throws {@link YoloException} ({@link Status#INVALID_ARGUMENT}).
   */
  public DepthMap depth(byte[] encoded) {
    return run(
        encoded,
        null,
        result -> {
          Memory out = new Memory(Layouts.SIZES.get("yolo_depth_map"));
          YoloException.check(YoloLibrary.C.yolo_result_depth_map(result, out));
          int n = (int) out.getLong(Layouts.at("yolo_depth_map", "data_len"));
          float[] data = n > 0 ? out.getPointer(Layouts.at("yolo_depth_map", "data")).getFloatArray(0, n) : new float[0];
          return new DepthMap(
              out.getInt(Layouts.at("yolo_depth_map", "width")), out.getInt(Layouts.at("yolo_depth_map", "height")), data);
        });
  }

  /** The name {@code result} gives class {@code classId}: its model's, even after a reload. */
  private static String name(Pointer result, int classId) {
    PointerByReference name = new PointerByReference();
    PointerByReference length = new PointerByReference();
    if (classId < 0 || YoloLibrary.C.yolo_result_class_name(result, classId, name, length) != 0) {
      return Integer.toString(classId);
    }
    return name.getValue().getString(0, "UTF-8");
  }

  /** The task of the model that made {@code result}. */
  private static String resultTask(Pointer result) {
    IntByReference task = new IntByReference();
    YoloException.check(YoloLibrary.C.yolo_result_task(result, task));
    return taskName(task.getValue());
  }

  /** One detect call: {@code read} gets the result, which is freed after. */
  private <T> T run(byte[] encoded, CallOptions options, java.util.function.Function<Pointer, T> read) {
    lock.readLock().lock();
    try {
      if (handle.pointer == null) {
        throw new YoloException(Status.INVALID_HANDLE, "the detector is closed");
      }
      Pointer nativeOptions = callOptions(options);
      try {
        PointerByReference outResult = new PointerByReference();
        YoloException.check(
            YoloLibrary.C.yolo_detect(handle.pointer, encoded, encoded.length, nativeOptions, outResult));
        Pointer result = outResult.getValue();
        try {
          return read.apply(result);
        } finally {
          YoloLibrary.C.yolo_result_free(result);
        }
      } finally {
        if (nativeOptions != null) {
          YoloLibrary.C.yolo_detect_options_free(nativeOptions);
        }
      }
    } finally {
      lock.readLock().unlock();
    }
  }

  private static Pointer callOptions(CallOptions o) {
    if (o == null) {
      return null;
    }
    YoloLibrary c = YoloLibrary.C;
    PointerByReference out = new PointerByReference();
    YoloException.check(c.yolo_detect_options_new(out));
    Pointer options = out.getValue();
    try {
      if (o.conf != null) {
        YoloException.check(c.yolo_detect_options_set_conf_threshold(options, o.conf));
      }
      if (o.iou != null) {
        YoloException.check(c.yolo_detect_options_set_iou_threshold(options, o.iou));
      }
      if (o.maxDet != 0) {
        YoloException.check(c.yolo_detect_options_set_max_detections(options, o.maxDet));
      }
      if (o.agnostic != null) {
        YoloException.check(c.yolo_detect_options_set_class_agnostic(options, o.agnostic));
      }
      if (o.retinaMasks != null) {
        YoloException.check(c.yolo_detect_options_set_retina_masks(options, o.retinaMasks));
      }
      if (o.topK != 0) {
        YoloException.check(c.yolo_detect_options_set_top_k(options, o.topK));
      }
      return options;
    } catch (RuntimeException e) {
      c.yolo_detect_options_free(options);
      throw e;
    }
  }

  private List<Detection> detections(Pointer result) {
    YoloLibrary c = YoloLibrary.C;
    PointerByReference first = new PointerByReference();
    PointerByReference count = new PointerByReference();
    YoloException.check(c.yolo_result_detections(result, first, count));
    int n = (int) Pointer.nativeValue(count.getValue());
    List<Detection> detections = new ArrayList<>(n);
    String task = n > 0 ? resultTask(result) : "detect";
    Map<Integer, String> names = new HashMap<>();
    for (int i = 0; i < n; i++) {
      Pointer d = first.getValue().share((long) i * Layouts.SIZES.get("yolo_detection"));
      int classId = d.getInt(Layouts.at("yolo_detection", "class_id"));
      Mask mask = null;
      float[][] polygon = null;
      float[][] keypoints = null;
      OrientedBox obb = null;
      if (task.equals("segment")) {
        Memory m = new Memory(Layouts.SIZES.get("yolo_mask"));
        YoloException.check(c.yolo_result_mask(result, i, m));
        long length = m.getLong(Layouts.at("yolo_mask", "data_len"));
        byte[] data = length == 0 ? new byte[0] : m.getPointer(Layouts.at("yolo_mask", "data")).getByteArray(0, (int) length);
        mask =
            new Mask(
                m.getInt(Layouts.at("yolo_mask", "left")),
                m.getInt(Layouts.at("yolo_mask", "top")),
                m.getInt(Layouts.at("yolo_mask", "width")),
                m.getInt(Layouts.at("yolo_mask", "height")),
                data);
        PointerByReference points = new PointerByReference();
        PointerByReference pointCount = new PointerByReference();
        YoloException.check(c.yolo_result_mask_polygon(result, i, points, pointCount));
        int p = (int) Pointer.nativeValue(pointCount.getValue());
        float[] flat = p == 0 ? new float[0] : points.getValue().getFloatArray(0, 2 * p);
        polygon = new float[p][];
        for (int k = 0; k < p; k++) {
          polygon[k] = new float[] {flat[2 * k], flat[2 * k + 1]};
        }
      } else if (task.equals("pose")) {
        PointerByReference points = new PointerByReference();
        PointerByReference pointCount = new PointerByReference();
        YoloException.check(c.yolo_result_keypoints(result, i, points, pointCount));
        int p = (int) Pointer.nativeValue(pointCount.getValue());
        keypoints = new float[p][];
        for (int k = 0; k < p; k++) {
          Pointer kp = points.getValue().share((long) k * Layouts.SIZES.get("yolo_keypoint"));
          keypoints[k] =
              new float[] {
                kp.getFloat(Layouts.at("yolo_keypoint", "x")),
                kp.getFloat(Layouts.at("yolo_keypoint", "y")),
                kp.getFloat(Layouts.at("yolo_keypoint", "confidence"))
              };
        }
      } else if (task.equals("obb")) {
        Memory b = new Memory(Layouts.SIZES.get("yolo_oriented_box"));
        YoloException.check(c.yolo_result_oriented_box(result, i, b));
        float[] flat = b.getFloatArray(Layouts.at("yolo_oriented_box", "corners"), 8);
        float[][] corners = new float[4][];
        for (int k = 0; k < 4; k++) {
          corners[k] = new float[] {flat[2 * k], flat[2 * k + 1]};
        }
        obb =
            new OrientedBox(
                b.getFloat(Layouts.at("yolo_oriented_box", "cx")),
                b.getFloat(Layouts.at("yolo_oriented_box", "cy")),
                b.getFloat(Layouts.at("yolo_oriented_box", "width")),
                b.getFloat(Layouts.at("yolo_oriented_box", "height")),
                b.getFloat(Layouts.at("yolo_oriented_box", "angle")),
                corners);
      }
      detections.add(
          new Detection(
              classId,
              names.computeIfAbsent(classId, id -> name(result, id)),
              d.getFloat(Layouts.at("yolo_detection", "score")),
              d.getFloat(Layouts.at("yolo_detection", "x1")),
              d.getFloat(Layouts.at("yolo_detection", "y1")),
              d.getFloat(Layouts.at("yolo_detection", "x2")),
              d.getFloat(Layouts.at("yolo_detection", "y2")),
              mask,
              polygon,
              keypoints,
              obb,
              0));
    }
    return Collections.unmodifiableList(detections);
  }

  /** The execution provider the model runs on: "cpu", "cuda:0", "tensorrt:0" or "openvino". */
  public String provider() {
    return withHandle(
        h -> {
          IntByReference kind = new IntByReference();
          IntByReference device = new IntByReference();
          YoloException.check(YoloLibrary.C.yolo_model_provider(h, kind, device));
          String name = YoloLibrary.C.yolo_provider_name(kind.getValue());
          return GPU_PROVIDERS.contains(name) ? name + ":" + device.getValue() : name;
        });
  }

  /** Whether the model's sessions have their input and outputs bound to them. */
  public boolean ioBinding() {
    return withHandle(
        h -> {
          ByteByReference bound = new ByteByReference();
          YoloException.check(YoloLibrary.C.yolo_model_io_binding(h, bound));
          return bound.getValue() != 0;
        });
  }

  /** A pose model's {@code [keypoints per detection, values per keypoint]}; {@code [0, 0]} for others. */
  public int[] keypointShape() {
    return withHandle(
        h -> {
          PointerByReference keypoints = new PointerByReference();
          PointerByReference dims = new PointerByReference();
          YoloException.check(YoloLibrary.C.yolo_keypoint_shape(h, keypoints, dims));
          return new int[] {
            (int) Pointer.nativeValue(keypoints.getValue()), (int) Pointer.nativeValue(dims.getValue())
          };
        });
  }

  /** What cross-caller batching ({@code Options.maxBatch}) has done in this process. */
  public BatchStats batchStats() {
    return withHandle(
        h -> {
          LongByReference runs = new LongByReference();
          LongByReference calls = new LongByReference();
          LongByReference wait = new LongByReference();
          YoloException.check(YoloLibrary.C.yolo_batch_stats(h, runs, calls, wait));
          return new BatchStats(runs.getValue(), calls.getValue(), wait.getValue());
        });
  }

  private <T> T withHandle(java.util.function.Function<Pointer, T> body) {
    lock.readLock().lock();
    try {
      if (handle.pointer == null) {
        throw new YoloException(Status.INVALID_HANDLE, "the detector is closed");
      }
      return body.apply(handle.pointer);
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
