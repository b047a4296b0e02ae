// yolo-ffi for C++17: a header-only wrapper over the C API of yolo_ffi.h.
//
// - Move-only RAII types own the C objects: yolo::Config (yolo_config), yolo::DetectOptions
//   (yolo_detect_options), yolo::Detector (yolo_detector) and yolo::Result (yolo_result). Each frees its
//   object in its destructor; a moved-from object owns nothing.
// - A failed call throws yolo::Error, which carries the yolo_status and the library's message.
// - Results are read in place: detections(), keypoints(), classes(), mask_polygon() and depth_map() are yolo::Span views
//   of memory the result owns, valid while the result lives. Nothing here allocates, but for the message of
//   an Error.
// - Thread-safety is the C API's: a Detector may be used from any number of threads at once (detect is
//   const); a Config or DetectOptions must not be changed while another thread reads it; a Result may be
//   read from several threads, and freed by one.
//
// Link with -lyolo_ffi (pkg-config: yolo_ffi; CMake: find_package(yolo_ffi CONFIG), target yolo_ffi::yolo_ffi).

#ifndef YOLO_FFI_HPP
#define YOLO_FFI_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "yolo_ffi.h"

namespace yolo {

// A failed call: the status (never YOLO_STATUS_OK) and the library's message for it, from yolo_last_error()
// on the calling thread.
class Error : public std::runtime_error {
 public:
  Error(yolo_status status, const std::string& message) : std::runtime_error(message), status_(status) {}

  // The yolo_status of the failed call.
  yolo_status status() const noexcept { return status_; }

 private:
  yolo_status status_;
};

namespace detail {

// Throws yolo::Error for a status other than YOLO_STATUS_OK.
inline void check(yolo_status status) {
  if (status == YOLO_STATUS_OK) {
    return;
  }
  const char* message = yolo_last_error();
  std::string text = yolo_status_string(status);
  if (message != nullptr && *message != '\0') {
    text += ": ";
    text += message;
  }
  throw Error(status, text);
}

}  // namespace detail

// A read-only view of `size()` consecutive `T`s owned by someone else (std::span is C++20).
template <typename T>
class Span {
 public:
  constexpr Span() noexcept = default;
  constexpr Span(const T* data, std::size_t size) noexcept : data_(size == 0 ? nullptr : data), size_(size) {}

  constexpr const T* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr const T* begin() const noexcept { return data_; }
  constexpr const T* end() const noexcept { return data_ + size_; }
  // Unchecked, as for std::span; see at().
  constexpr const T& operator[](std::size_t index) const noexcept { return data_[index]; }
  // Checked: throws std::out_of_range past the end.
  const T& at(std::size_t index) const {
    if (index >= size_) {
      throw std::out_of_range("yolo::Span index out of range");
    }
    return data_[index];
  }

 private:
  const T* data_ = nullptr;
  std::size_t size_ = 0;
};

// The task of a model, as yolo_model_task gives it.
enum class Task : uint32_t {
  detect = YOLO_TASK_DETECT,
  segment = YOLO_TASK_SEGMENT,
  pose = YOLO_TASK_POSE,
  obb = YOLO_TASK_OBB,
  classify = YOLO_TASK_CLASSIFY,
  semantic = YOLO_TASK_SEMANTIC,
  depth = YOLO_TASK_DEPTH,
};

// The layout of a pixel buffer handed to Detector::detect_pixels.
enum class PixelFormat : uint32_t {
  rgb8 = YOLO_PIXEL_FORMAT_RGB8,
  bgr8 = YOLO_PIXEL_FORMAT_BGR8,
  rgba8 = YOLO_PIXEL_FORMAT_RGBA8,
  bgra8 = YOLO_PIXEL_FORMAT_BGRA8,
  gray8 = YOLO_PIXEL_FORMAT_GRAY8,
};

// The version of the library actually loaded, such as "0.1.0"; a static string.
inline const char* version() noexcept { return yolo_version(); }

// Routes the library's events to `callback` (nullptr: drop them, the default); see yolo_set_log_callback
// for the threads it runs on. Process-wide.
inline void set_log_callback(yolo_log_callback callback, void* user_data) {
  detail::check(yolo_set_log_callback(callback, user_data));
}

// The settings of a detector: yolo_config with its setters, each checked at once (a bad value throws). Set
// everything, then hand it to Detector; the detector keeps a copy, so the Config may be dropped or reused.
class Config {
 public:
  // A config for the model at `model_path`, with every other setting at its default.
  explicit Config(const char* model_path) {
    detail::check(yolo_config_new(&config_));
    try {
      detail::check(yolo_config_set_model_path(config_, model_path));
    } catch (...) {
      yolo_config_free(config_);
      throw;
    }
  }
  explicit Config(const std::string& model_path) : Config(model_path.c_str()) {}
  ~Config() { yolo_config_free(config_); }
  Config(Config&& other) noexcept : config_(std::exchange(other.config_, nullptr)) {}
  Config& operator=(Config&& other) noexcept {
    std::swap(config_, other.config_);
    return *this;
  }
  Config(const Config&) = delete;
  Config& operator=(const Config&) = delete;

  // See yolo_config_set_ort_library_path.
  Config& ort_library_path(const char* path) { return set(yolo_config_set_ort_library_path(config_, path)); }
  // See yolo_config_set_pool_size (0: automatic).
  Config& pool_size(uint32_t sessions) { return set(yolo_config_set_pool_size(config_, sessions)); }
  // See yolo_config_set_threads_per_session (0: automatic).
  Config& threads_per_session(uint32_t threads) {
    return set(yolo_config_set_threads_per_session(config_, threads));
  }
  // See yolo_config_set_input_size (the input size for models with dynamic input dimensions), width first.
  Config& input_size(uint32_t width, uint32_t height) {
    return set(yolo_config_set_input_size(config_, width, height));
  }
  // See yolo_config_set_imgsz: the same size in Ultralytics' imgsz order, height first.
  Config& imgsz(uint32_t height, uint32_t width) { return set(yolo_config_set_imgsz(config_, height, width)); }
  // See yolo_config_set_conf_threshold.
  Config& conf_threshold(float conf) { return set(yolo_config_set_conf_threshold(config_, conf)); }
  // See yolo_config_set_iou_threshold.
  Config& iou_threshold(float iou) { return set(yolo_config_set_iou_threshold(config_, iou)); }
  // See yolo_config_set_max_detections.
  Config& max_detections(uint32_t count) { return set(yolo_config_set_max_detections(config_, count)); }
  // See yolo_config_set_class_agnostic.
  Config& class_agnostic(bool agnostic) { return set(yolo_config_set_class_agnostic(config_, agnostic)); }
  // See yolo_config_set_retina_masks.
  Config& retina_masks(bool retina) { return set(yolo_config_set_retina_masks(config_, retina)); }
  // See yolo_config_set_top_k.
  Config& top_k(uint32_t k) { return set(yolo_config_set_top_k(config_, k)); }
  // See yolo_config_set_acquire_timeout_ms.
  Config& acquire_timeout_ms(uint32_t ms) { return set(yolo_config_set_acquire_timeout_ms(config_, ms)); }
  // See yolo_config_set_max_image_pixels.
  Config& max_image_pixels(uint64_t pixels) { return set(yolo_config_set_max_image_pixels(config_, pixels)); }
  // See yolo_config_set_async_load.
  Config& async_load(bool enabled) { return set(yolo_config_set_async_load(config_, enabled)); }
  // See yolo_config_set_load_wait_ms.
  Config& load_wait_ms(uint32_t ms) { return set(yolo_config_set_load_wait_ms(config_, ms)); }
  // See yolo_config_set_share_weights.
  Config& share_weights(bool share) { return set(yolo_config_set_share_weights(config_, share)); }
  // See yolo_config_add_provider: appends an execution provider to the list tried in order.
  Config& add_provider(yolo_provider provider, uint32_t device_id = 0) {
    return set(yolo_config_add_provider(config_, static_cast<uint32_t>(provider), device_id));
  }
  // See yolo_config_set_provider_fallback: skip a provider that is not there instead of failing.
  Config& provider_fallback(bool fall_back) { return set(yolo_config_set_provider_fallback(config_, fall_back)); }
  // See yolo_config_set_batching: gather up to `max_batch` concurrent calls, waiting up to `max_delay_us`.
  Config& batching(uint32_t max_batch, uint32_t max_delay_us) {
    return set(yolo_config_set_batching(config_, max_batch, max_delay_us));
  }
  // See yolo_config_set_provider_library: the OpenVINO plugin library (copied); nullptr searches.
  Config& provider_library(yolo_provider provider, const char* path) {
    return set(yolo_config_set_provider_library(config_, provider, path));
  }
  // See yolo_config_set_io_binding: YOLO_IO_BINDING_AUTO (the default), _ON or _OFF.
  Config& io_binding(yolo_io_binding mode) { return set(yolo_config_set_io_binding(config_, mode)); }
  // See yolo_config_set_on_load: `callback` runs once when the load ends, on the loading thread.
  Config& on_load(yolo_load_callback callback, void* user_data) {
    return set(yolo_config_set_on_load(config_, callback, user_data));
  }

  // The C object, owned by this Config.
  const yolo_config* get() const noexcept { return config_; }

 private:
  Config& set(yolo_status status) {
    detail::check(status);
    return *this;
  }

  yolo_config* config_ = nullptr;
};

// Per-call overrides of the detector's thresholds: yolo_detect_options with its setters.
class DetectOptions {
 public:
  DetectOptions() { detail::check(yolo_detect_options_new(&options_)); }
  ~DetectOptions() { yolo_detect_options_free(options_); }
  DetectOptions(DetectOptions&& other) noexcept : options_(std::exchange(other.options_, nullptr)) {}
  DetectOptions& operator=(DetectOptions&& other) noexcept {
    std::swap(options_, other.options_);
    return *this;
  }
  DetectOptions(const DetectOptions&) = delete;
  DetectOptions& operator=(const DetectOptions&) = delete;

  // See yolo_detect_options_set_conf_threshold.
  DetectOptions& conf_threshold(float conf) { return set(yolo_detect_options_set_conf_threshold(options_, conf)); }
  // See yolo_detect_options_set_iou_threshold.
  DetectOptions& iou_threshold(float iou) { return set(yolo_detect_options_set_iou_threshold(options_, iou)); }
  // See yolo_detect_options_set_max_detections.
  DetectOptions& max_detections(uint32_t count) {
    return set(yolo_detect_options_set_max_detections(options_, count));
  }
  // See yolo_detect_options_set_class_agnostic.
  DetectOptions& class_agnostic(bool agnostic) {
    return set(yolo_detect_options_set_class_agnostic(options_, agnostic));
  }
  // See yolo_detect_options_set_retina_masks.
  DetectOptions& retina_masks(bool retina) { return set(yolo_detect_options_set_retina_masks(options_, retina)); }
  // See yolo_detect_options_set_top_k.
  DetectOptions& top_k(uint32_t k) { return set(yolo_detect_options_set_top_k(options_, k)); }

  // The C object, owned by these options.
  const yolo_detect_options* get() const noexcept { return options_; }

 private:
  DetectOptions& set(yolo_status status) {
    detail::check(status);
    return *this;
  }

  yolo_detect_options* options_ = nullptr;
};

// The outcome of one detect call: its detections, best first, and what the model's task adds to each.
// Iterating a Result iterates its detections (yolo_detection: x1, y1, x2, y2, score, class_id).
class Result {
 public:
  // Takes ownership of a result from the C API (from yolo_detect_batch, say); nullptr gives an empty Result.
  explicit Result(yolo_result* result) : result_(result) {
    if (result_ != nullptr) {
      const yolo_detection* first = nullptr;
      std::size_t count = 0;
      yolo_status status = yolo_result_detections(result_, &first, &count);
      if (status != YOLO_STATUS_OK) {
        yolo_result_free(result_);
        detail::check(status);
      }
      detections_ = Span<yolo_detection>(first, count);
    }
  }
  ~Result() { yolo_result_free(result_); }
  Result(Result&& other) noexcept
      : result_(std::exchange(other.result_, nullptr)), detections_(std::exchange(other.detections_, {})) {}
  Result& operator=(Result&& other) noexcept {
    std::swap(result_, other.result_);
    std::swap(detections_, other.detections_);
    return *this;
  }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  // The detections, best first; a view into this result.
  Span<yolo_detection> detections() const noexcept { return detections_; }
  std::size_t size() const noexcept { return detections_.size(); }
  bool empty() const noexcept { return detections_.empty(); }
  const yolo_detection* begin() const noexcept { return detections_.begin(); }
  const yolo_detection* end() const noexcept { return detections_.end(); }
  const yolo_detection& operator[](std::size_t index) const noexcept { return detections_[index]; }

  // The name of class `class_id` as the model that made this result names it (after a reload too); owned by
  // this result.
  std::string_view class_name(uint32_t class_id) const {
    const char* name = nullptr;
    std::size_t length = 0;
    detail::check(yolo_result_class_name(result_, class_id, &name, &length));
    return std::string_view(name, length);
  }

  // The decoded image's width and height (after EXIF orientation), in which the boxes are given.
  std::pair<uint32_t, uint32_t> image_size() const {
    uint32_t width = 0;
    uint32_t height = 0;
    detail::check(yolo_result_image_size(result_, &width, &height));
    return {width, height};
  }

  // Segmentation: detection `index`'s mask, cropped (see yolo_mask); its data is owned by this result.
  yolo_mask mask(std::size_t index) const {
    yolo_mask mask{};
    detail::check(yolo_result_mask(result_, index, &mask));
    return mask;
  }

  // Segmentation: the outline of detection `index`'s mask as x, y pairs (2 floats per point).
  Span<float> mask_polygon(std::size_t index) const {
    const float* points = nullptr;
    std::size_t count = 0;
    detail::check(yolo_result_mask_polygon(result_, index, &points, &count));
    return Span<float>(points, count * 2);
  }

  // Pose: detection `index`'s keypoints.
  Span<yolo_keypoint> keypoints(std::size_t index) const {
    const yolo_keypoint* keypoints = nullptr;
    std::size_t count = 0;
    detail::check(yolo_result_keypoints(result_, index, &keypoints, &count));
    return Span<yolo_keypoint>(keypoints, count);
  }

  // Oriented boxes: detection `index`'s rotated box and corners.
  yolo_oriented_box oriented_box(std::size_t index) const {
    yolo_oriented_box box{};
    detail::check(yolo_result_oriented_box(result_, index, &box));
    return box;
  }

  // Classification: the top classes, most probable first.
  Span<yolo_class_probability> classes() const {
    const yolo_class_probability* classes = nullptr;
    std::size_t count = 0;
    detail::check(yolo_result_classes(result_, &classes, &count));
    return Span<yolo_class_probability>(classes, count);
  }

  // Semantic segmentation: the class of every pixel (see yolo_class_map); its arrays are owned by this
  // result. class_at() reads one pixel whatever the id's size.
  yolo_class_map class_map() const {
    yolo_class_map map{};
    detail::check(yolo_result_class_map(result_, &map));
    return map;
  }

  // The class id of pixel `index` (row-major) of a class map from class_map().
  static std::uint32_t class_at(const yolo_class_map& map, std::size_t index) noexcept {
    switch (map.element_size) {
      case 1: return static_cast<const std::uint8_t*>(map.data)[index];
      case 2: return static_cast<const std::uint16_t*>(map.data)[index];
      default: return static_cast<const std::uint32_t*>(map.data)[index];
    }
  }

  // Depth estimation: the depth of every pixel, row-major (see yolo_depth_map); owned by this result.
  Span<float> depth_map(std::uint32_t* width = nullptr, std::uint32_t* height = nullptr) const {
    yolo_depth_map map{};
    detail::check(yolo_result_depth_map(result_, &map));
    if (width != nullptr) *width = map.width;
    if (height != nullptr) *height = map.height;
    return Span<float>(map.data, map.data_len);
  }

  // A tracked frame's tracks (see yolo_result_tracks), in Ultralytics' order; owned by this result. With
  // none, `*untracked_shown` (when given) says whether the detections stand without ids.
  Span<yolo_track> tracks(bool* untracked_shown = nullptr) const {
    const yolo_track* tracks = nullptr;
    std::size_t count = 0;
    bool shown = false;
    detail::check(yolo_result_tracks(result_, &tracks, &count, &shown));
    if (untracked_shown != nullptr) *untracked_shown = shown;
    return Span<yolo_track>(tracks, count);
  }

  // A tracked frame's detection `index`'s track id, or 0 (see yolo_result_track_id).
  std::uint64_t track_id(std::size_t index) const {
    std::uint64_t id = 0;
    detail::check(yolo_result_track_id(result_, index, &id));
    return id;
  }

  // The C object, owned by this Result.
  const yolo_result* get() const noexcept { return result_; }

 private:
  friend class Tracker;

  yolo_result* result_ = nullptr;
  Span<yolo_detection> detections_;
};

// Which tracker (yolo_tracker_kind).
enum class TrackerKind : uint32_t {
  bytetrack = YOLO_TRACKER_KIND_BYTETRACK,
  botsort = YOLO_TRACKER_KIND_BOTSORT,
};

// BoT-SORT's camera-motion compensation (yolo_gmc_method).
enum class GmcMethod : uint32_t {
  none = YOLO_GMC_METHOD_NONE,
  sparse_opt_flow = YOLO_GMC_METHOD_SPARSE_OPT_FLOW,
};

// A tracker's settings: yolo_tracker_config, with the values of Ultralytics' file for its kind, and a setter
// per setting (checked when a Tracker is made from it).
class TrackerConfig {
 public:
  explicit TrackerConfig(TrackerKind kind) {
    detail::check(yolo_tracker_config_new(static_cast<uint32_t>(kind), &config_));
  }
  ~TrackerConfig() { yolo_tracker_config_free(config_); }
  TrackerConfig(TrackerConfig&& other) noexcept : config_(std::exchange(other.config_, nullptr)) {}
  TrackerConfig& operator=(TrackerConfig&& other) noexcept {
    std::swap(config_, other.config_);
    return *this;
  }
  TrackerConfig(const TrackerConfig&) = delete;
  TrackerConfig& operator=(const TrackerConfig&) = delete;

  // See yolo_tracker_config_set_track_high_thresh.
  TrackerConfig& track_high_thresh(double v) { return set(yolo_tracker_config_set_track_high_thresh(config_, v)); }
  // See yolo_tracker_config_set_track_low_thresh.
  TrackerConfig& track_low_thresh(double v) { return set(yolo_tracker_config_set_track_low_thresh(config_, v)); }
  // See yolo_tracker_config_set_new_track_thresh.
  TrackerConfig& new_track_thresh(double v) { return set(yolo_tracker_config_set_new_track_thresh(config_, v)); }
  // See yolo_tracker_config_set_track_buffer.
  TrackerConfig& track_buffer(uint32_t frames) { return set(yolo_tracker_config_set_track_buffer(config_, frames)); }
  // See yolo_tracker_config_set_match_thresh.
  TrackerConfig& match_thresh(double v) { return set(yolo_tracker_config_set_match_thresh(config_, v)); }
  // See yolo_tracker_config_set_fuse_score.
  TrackerConfig& fuse_score(bool fuse) { return set(yolo_tracker_config_set_fuse_score(config_, fuse)); }
  // See yolo_tracker_config_set_gmc_method.
  TrackerConfig& gmc_method(GmcMethod method) {
    return set(yolo_tracker_config_set_gmc_method(config_, static_cast<uint32_t>(method)));
  }
  // See yolo_tracker_config_set_proximity_thresh.
  TrackerConfig& proximity_thresh(double v) { return set(yolo_tracker_config_set_proximity_thresh(config_, v)); }
  // See yolo_tracker_config_set_appearance_thresh.
  TrackerConfig& appearance_thresh(double v) { return set(yolo_tracker_config_set_appearance_thresh(config_, v)); }
  // See yolo_tracker_config_set_with_reid.
  TrackerConfig& with_reid(bool reid) { return set(yolo_tracker_config_set_with_reid(config_, reid)); }

  // The C object, owned by this config.
  const yolo_tracker_config* get() const noexcept { return config_; }

 private:
  TrackerConfig& set(yolo_status status) {
    detail::check(status);
    return *this;
  }

  yolo_tracker_config* config_ = nullptr;
};

// One stream's tracker (yolo_tracker): feed it each frame's Result in order. One caller at a time: an
// update while another thread updates it throws an Error with YOLO_STATUS_BUSY.
class Tracker {
 public:
  explicit Tracker(const TrackerConfig& config) { detail::check(yolo_tracker_new(config.get(), &tracker_)); }
  explicit Tracker(TrackerKind kind) : Tracker(TrackerConfig(kind)) {}
  ~Tracker() { yolo_tracker_free(tracker_); }
  Tracker(Tracker&& other) noexcept : tracker_(std::exchange(other.tracker_, nullptr)) {}
  Tracker& operator=(Tracker&& other) noexcept {
    std::swap(tracker_, other.tracker_);
    return *this;
  }
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  // Tracks one frame: its tracks are then frame.tracks() and frame.track_id(i). `motion` is BoT-SORT's
  // camera motion with gmc_method sparse_opt_flow (6 doubles, see yolo_tracker_update), else nullptr.
  void update(Result& frame, const double* motion = nullptr) {
    detail::check(yolo_tracker_update(tracker_, frame.result_, motion, motion != nullptr ? 6 : 0));
  }

  // Forgets every track; ids start from 1 again.
  void reset() { detail::check(yolo_tracker_reset(tracker_)); }

  // The C object, owned by this tracker.
  const yolo_tracker* get() const noexcept { return tracker_; }

 private:
  yolo_tracker* tracker_ = nullptr;
};

// A loaded model and its pool of ONNX Runtime sessions (yolo_detector). Thread-safe: any number of threads
// may call detect on one Detector at once. Destroying it waits for no call: destroy it after the last.
class Detector {
 public:
  // Loads the model as `config` says (yolo_init). Throws yolo::Error when the load fails (or, with
  // async_load, when the config is invalid; the load's own failure then surfaces from wait_ready or detect).
  explicit Detector(const Config& config) { detail::check(yolo_init(config.get(), &detector_)); }
  ~Detector() { yolo_free(detector_); }
  Detector(Detector&& other) noexcept : detector_(std::exchange(other.detector_, nullptr)) {}
  Detector& operator=(Detector&& other) noexcept {
    std::swap(detector_, other.detector_);
    return *this;
  }
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  // Detects objects in an encoded image (JPEG, PNG, BMP, WebP, GIF, TIFF) of `size` bytes.
  Result detect(const void* encoded, std::size_t size, const DetectOptions* options = nullptr) const {
    yolo_result* result = nullptr;
    detail::check(yolo_detect(detector_, static_cast<const uint8_t*>(encoded), size, raw(options), &result));
    return Result(result);
  }

  // Detects objects in `height` rows of `width` pixels, each row `stride_bytes` after the previous one
  // (an OpenCV cv::Mat: data, total bytes, cols, rows, step, PixelFormat::bgr8).
  Result detect_pixels(const uint8_t* pixels, std::size_t size, uint32_t width, uint32_t height,
                       std::size_t stride_bytes, PixelFormat format, const DetectOptions* options = nullptr) const {
    yolo_result* result = nullptr;
    detail::check(yolo_detect_pixels(detector_, pixels, size, width, height, stride_bytes,
                                     static_cast<uint32_t>(format), raw(options), &result));
    return Result(result);
  }

  // Waits up to `timeout_ms` (YOLO_WAIT_FOREVER: for ever) for the model to load: true when ready, false
  // when still loading at the deadline; throws when the load failed.
  bool wait_ready(uint32_t timeout_ms = YOLO_WAIT_FOREVER) const {
    yolo_status status = yolo_wait_ready(detector_, timeout_ms);
    if (status == YOLO_STATUS_NOT_READY) {
      return false;
    }
    detail::check(status);
    return true;
  }

  // Where the model load stands.
  yolo_load_state state() const {
    yolo_load_state state{};
    detail::check(yolo_state(detector_, &state));
    return state;
  }

  // The model's task.
  Task task() const {
    yolo_task task{};
    detail::check(yolo_model_task(detector_, &task));
    return static_cast<Task>(task);
  }

  // The number of classes the model names.
  std::size_t class_count() const {
    std::size_t count = 0;
    detail::check(yolo_class_count(detector_, &count));
    return count;
  }

  // The name of class `class_id`, owned by the detector and valid while it lives.
  std::string_view class_name(uint32_t class_id) const {
    const char* name = nullptr;
    std::size_t length = 0;
    detail::check(yolo_class_name(detector_, class_id, &name, &length));
    return std::string_view(name, length);
  }

  // The model's input width and height.
  std::pair<uint32_t, uint32_t> input_size() const {
    uint32_t width = 0;
    uint32_t height = 0;
    detail::check(yolo_input_size(detector_, &width, &height));
    return {width, height};
  }

  // The execution provider the model runs on, and its device id.
  std::pair<yolo_provider, uint32_t> provider() const {
    yolo_provider provider{};
    uint32_t device_id = 0;
    detail::check(yolo_model_provider(detector_, &provider, &device_id));
    return {provider, device_id};
  }

  // Whether the sessions' input and outputs are bound to them (see Config::io_binding).
  bool io_binding() const {
    bool bound = false;
    detail::check(yolo_model_io_binding(detector_, &bound));
    return bound;
  }

  // A pose model's keypoints per detection and values per keypoint.
  std::pair<std::size_t, std::size_t> keypoint_shape() const {
    std::size_t keypoints = 0;
    std::size_t dims = 0;
    detail::check(yolo_keypoint_shape(detector_, &keypoints, &dims));
    return {keypoints, dims};
  }

  // The pool's counters and latency percentiles.
  yolo_detector_stats stats() const {
    yolo_detector_stats stats{};
    detail::check(yolo_stats(detector_, &stats));
    return stats;
  }

  // How long one stage of the successful calls took (yolo_stats_stage).
  yolo_stage_stats stage_stats(yolo_stage stage) const {
    yolo_stage_stats stats{};
    detail::check(yolo_stats_stage(detector_, stage, &stats));
    return stats;
  }

  // Replaces the model and settings with `config`'s while calls go on (yolo_reload): blocks until the new
  // model serves; throws yolo::Error when the reload fails, and the current model then keeps serving.
  // `flags`: yolo_reload_flag values ORed (YOLO_RELOAD_FLAG_KEEP_TASK, ...).
  void reload(const Config& config, uint32_t flags = 0) const {
    detail::check(yolo_reload(detector_, config.get(), flags));
  }

  // As reload, in the background (yolo_reload_async): the config's on_load callback gets the outcome.
  void reload_async(const Config& config, uint32_t flags = 0) const {
    detail::check(yolo_reload_async(detector_, config.get(), flags));
  }

  // The reload counters (yolo_stats_reload).
  yolo_reload_stats reload_stats() const {
    yolo_reload_stats stats{};
    detail::check(yolo_stats_reload(detector_, &stats));
    return stats;
  }

  // The C object, owned by this Detector.
  const yolo_detector* get() const noexcept { return detector_; }

 private:
  static const yolo_detect_options* raw(const DetectOptions* options) noexcept {
    return options == nullptr ? nullptr : options->get();
  }

  yolo_detector* detector_ = nullptr;
};

}  // namespace yolo

#endif  // YOLO_FFI_HPP
