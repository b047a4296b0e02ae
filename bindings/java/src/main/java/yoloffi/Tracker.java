package yoloffi;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.lang.ref.Cleaner;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;

/**
 * One stream's tracker: ByteTrack or BoT-SORT, as Ultralytics runs them, its tracks and its ids (from 1).
 * Feed it one frame after another with {@link Detector#track}; {@link #reset} starts it over; close it when
 * done (a cleaner frees a forgotten one). A tracker updated by two threads at once throws {@link
 * Status#BUSY} for the second.
 */
public final class Tracker implements AutoCloseable {
  /** Which tracker; {@code value()} is the header's {@code yolo_tracker_kind}. */
  public enum Kind {
    /** Ultralytics' bytetrack.yaml. */
    BYTETRACK(1),
    /** Ultralytics' botsort.yaml (its default): sparseOptFlow needs each frame's camera motion. */
    BOTSORT(2);

    private final int value;

    Kind(int value) {
      this.value = value;
    }

    /** The value in {@code yolo_ffi.h}. */
    public int value() {
      return value;
    }
  }

  /** BoT-SORT's camera-motion compensation; {@code value()} is the header's {@code yolo_gmc_method}. */
  public enum GmcMethod {
    NONE(1),
    SPARSE_OPT_FLOW(2);

    private final int value;

    GmcMethod(int value) {
      this.value = value;
    }

    /** The value in {@code yolo_ffi.h}. */
    public int value() {
      return value;
    }
  }

  /** Overrides of single settings of Ultralytics' file for the kind; null keeps the file's value. */
  public static final class Settings {
    public Double trackHighThresh;
    public Double trackLowThresh;
    public Double newTrackThresh;
    public Integer trackBuffer;
    public Double matchThresh;
    public Boolean fuseScore;
    public GmcMethod gmcMethod;
    public Double proximityThresh;
    public Double appearanceThresh;
    public Boolean withReid;
  }

  private static final Cleaner CLEANER = Cleaner.create();

  /** The handle, shared with the cleaner; freed once. */
  private static final class Handle implements Runnable {
    private Pointer pointer;

    Handle(Pointer pointer) {
      this.pointer = pointer;
    }

    @Override
    public void run() {
      if (pointer != null) {
        YoloLibrary.C.yolo_tracker_free(pointer);
        pointer = null;
      }
    }
  }

  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private final Handle handle;
  private final Cleaner.Cleanable cleanable;

  /** A tracker of {@code kind} with the values of Ultralytics' file, overridden by {@code settings}. */
  public Tracker(Kind kind, Settings settings) {
    YoloLibrary c = YoloLibrary.C;
    PointerByReference out = new PointerByReference();
    YoloException.check(c.yolo_tracker_config_new(kind.value(), out));
    Pointer config = out.getValue();
    try {
      if (settings != null) {
        if (settings.trackHighThresh != null) {
          YoloException.check(c.yolo_tracker_config_set_track_high_thresh(config, settings.trackHighThresh));
        }
        if (settings.trackLowThresh != null) {
          YoloException.check(c.yolo_tracker_config_set_track_low_thresh(config, settings.trackLowThresh));
        }
        if (settings.newTrackThresh != null) {
          YoloException.check(c.yolo_tracker_config_set_new_track_thresh(config, settings.newTrackThresh));
        }
        if (settings.trackBuffer != null) {
          YoloException.check(c.yolo_tracker_config_set_track_buffer(config, settings.trackBuffer));
        }
        if (settings.matchThresh != null) {
          YoloException.check(c.yolo_tracker_config_set_match_thresh(config, settings.matchThresh));
        }
        if (settings.fuseScore != null) {
          YoloException.check(c.yolo_tracker_config_set_fuse_score(config, settings.fuseScore));
        }
        if (settings.gmcMethod != null) {
          YoloException.check(c.yolo_tracker_config_set_gmc_method(config, settings.gmcMethod.value()));
        }
        if (settings.proximityThresh != null) {
          YoloException.check(c.yolo_tracker_config_set_proximity_thresh(config, settings.proximityThresh));
        }
        if (settings.appearanceThresh != null) {
          YoloException.check(c.yolo_tracker_config_set_appearance_thresh(config, settings.appearanceThresh));
        }
        if (settings.withReid != null) {
          YoloException.check(c.yolo_tracker_config_set_with_reid(config, settings.withReid));
        }
      }
      PointerByReference tracker = new PointerByReference();
      YoloException.check(c.yolo_tracker_new(config, tracker));
      this.handle = new Handle(tracker.getValue());
    } finally {
      c.yolo_tracker_config_free(config);
    }
    this.cleanable = CLEANER.register(this, handle);
  }

  /** Forgets every track; ids start from 1 again. */
  public void reset() {
    use(
        pointer -> {
          YoloException.check(YoloLibrary.C.yolo_tracker_reset(pointer));
          return null;
        });
  }

  /** Runs {@code body} with the live handle; closing waits for it. */
  <T> T use(Function<Pointer, T> body) {
    lock.readLock().lock();
    try {
      if (handle.pointer == null) {
        throw new YoloException(Status.INVALID_HANDLE, "the tracker is closed");
      }
      return body.apply(handle.pointer);
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Releases the tracker after the calls in flight. Idempotent. */
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
