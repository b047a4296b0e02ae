package yoloffi;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.ByteByReference;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * Every JNA declaration of libyolo_ffi's C API that the package uses, in one place. Handles, configs and
 * results are opaque {@link Pointer}s; {@code size_t} is a {@code long} (64-bit Linux). Internal: use
 * {@link Detector}.
 */
interface YoloLibrary extends Library {
  /** The library: the {@code yolo.ffi.library} property, else $YOLO_FFI_LIBRARY, else the system's. */
  YoloLibrary C = Native.load(location(), YoloLibrary.class);

  private static String location() {
    String property = System.getProperty("yolo.ffi.library");
    if (property != null && !property.isEmpty()) {
      return property;
    }
    String environment = System.getenv("YOLO_FFI_LIBRARY");
    return environment != null && !environment.isEmpty() ? environment : "yolo_ffi";
  }

  String yolo_version();

  String yolo_status_string(int status);

  String yolo_status_name(int status);

  String yolo_task_name(int task);

  String yolo_provider_name(int provider);

  String yolo_last_error();

  int yolo_config_new(PointerByReference outConfig);

  int yolo_config_free(Pointer config);

  int yolo_config_set_model_path(Pointer config, String path);

  int yolo_config_set_ort_library_path(Pointer config, String path);

  int yolo_config_set_imgsz(Pointer config, int height, int width);

  int yolo_config_set_conf_threshold(Pointer config, float conf);

  int yolo_config_set_iou_threshold(Pointer config, float iou);

  int yolo_config_set_max_detections(Pointer config, int count);

  int yolo_config_set_class_agnostic(Pointer config, boolean agnostic);

  int yolo_config_set_pool_size(Pointer config, int sessions);

  int yolo_config_set_threads_per_session(Pointer config, int threads);

  int yolo_config_set_retina_masks(Pointer config, boolean retina);

  int yolo_config_set_top_k(Pointer config, int k);

  int yolo_config_set_max_image_pixels(Pointer config, long pixels);

  int yolo_config_set_share_weights(Pointer config, boolean share);

  int yolo_config_add_provider(Pointer config, int provider, int deviceId);

  int yolo_config_set_provider_fallback(Pointer config, boolean fallBack);

  int yolo_config_set_io_binding(Pointer config, int ioBinding);

  int yolo_config_set_batching(Pointer config, int maxBatch, int maxDelayUs);

  int yolo_detect_options_new(PointerByReference outOptions);

  int yolo_detect_options_free(Pointer options);

  int yolo_detect_options_set_conf_threshold(Pointer options, float conf);

  int yolo_detect_options_set_iou_threshold(Pointer options, float iou);

  int yolo_detect_options_set_max_detections(Pointer options, int count);

  int yolo_detect_options_set_class_agnostic(Pointer options, boolean agnostic);

  int yolo_detect_options_set_retina_masks(Pointer options, boolean retina);

  int yolo_detect_options_set_top_k(Pointer options, int k);

  int yolo_init(Pointer config, PointerByReference outDetector);

  int yolo_free(Pointer detector);

  int yolo_class_count(Pointer detector, PointerByReference outCount);

  int yolo_class_name(Pointer detector, int classId, PointerByReference outName, PointerByReference outLength);

  int yolo_model_task(Pointer detector, IntByReference outTask);

  int yolo_reload(Pointer detector, Pointer config, int flags);

  int yolo_stats_reload(Pointer detector, Pointer outStats);

  int yolo_result_task(Pointer result, IntByReference outTask);

  int yolo_result_class_name(Pointer result, int classId, PointerByReference outName, PointerByReference outLength);

  int yolo_detect(Pointer detector, byte[] encoded, long length, Pointer options, PointerByReference outResult);

  int yolo_result_detections(Pointer result, PointerByReference outDetections, PointerByReference outCount);

  int yolo_result_mask(Pointer result, long index, Pointer outMask);

  int yolo_result_mask_polygon(
      Pointer result, long index, PointerByReference outPoints, PointerByReference outCount);

  int yolo_result_keypoints(
      Pointer result, long index, PointerByReference outKeypoints, PointerByReference outCount);

  int yolo_result_oriented_box(Pointer result, long index, Pointer outBox);

  int yolo_result_classes(Pointer result, PointerByReference outClasses, PointerByReference outCount);

  int yolo_result_class_map(Pointer result, Pointer outMap);

  int yolo_result_depth_map(Pointer result, Pointer outMap);

  int yolo_model_provider(Pointer detector, IntByReference outProvider, IntByReference outDeviceId);

  int yolo_model_io_binding(Pointer detector, ByteByReference outBound);

  int yolo_keypoint_shape(Pointer detector, PointerByReference outKeypoints, PointerByReference outDims);

  int yolo_batch_stats(
      Pointer detector, LongByReference outRuns, LongByReference outCalls, LongByReference outWaitUs);

  void yolo_result_free(Pointer result);

  int yolo_result_image_size(Pointer result, IntByReference outWidth, IntByReference outHeight);

  int yolo_tracker_config_new(int kind, PointerByReference outConfig);

  int yolo_tracker_config_free(Pointer config);

  int yolo_tracker_config_set_track_high_thresh(Pointer config, double value);

  int yolo_tracker_config_set_track_low_thresh(Pointer config, double value);

  int yolo_tracker_config_set_new_track_thresh(Pointer config, double value);

  int yolo_tracker_config_set_track_buffer(Pointer config, int frames);

  int yolo_tracker_config_set_match_thresh(Pointer config, double value);

  int yolo_tracker_config_set_fuse_score(Pointer config, boolean fuse);

  int yolo_tracker_config_set_gmc_method(Pointer config, int method);

  int yolo_tracker_config_set_proximity_thresh(Pointer config, double value);

  int yolo_tracker_config_set_appearance_thresh(Pointer config, double value);

  int yolo_tracker_config_set_with_reid(Pointer config, boolean reid);

  int yolo_tracker_new(Pointer config, PointerByReference outTracker);

  int yolo_tracker_free(Pointer tracker);

  int yolo_tracker_reset(Pointer tracker);

  int yolo_tracker_update(Pointer tracker, Pointer result, double[] motion, long motionLen);

  int yolo_result_tracks(
      Pointer result, PointerByReference outTracks, PointerByReference outCount, ByteByReference outShown);
}
