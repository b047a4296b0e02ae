// The C++17 wrapper (yolo_ffi.hpp): errors become yolo::Error with their status,
// the RAII types move and free, and a detection on MODEL and IMAGE prints one JSON line in build/detect's
// format, which `make test-install` compares with build/detect's own. Built from an installed prefix by
// tests/install/cmake, and from the source tree with ASan and under valgrind by `make test-c-sanitize` and
// `make test-c-valgrind`.
//
// Usage: wrapper_test MODEL IMAGE IMGSZ

#include <yolo_ffi.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <type_traits>
#include <vector>

static_assert(!std::is_copy_constructible_v<yolo::Detector> && std::is_nothrow_move_constructible_v<yolo::Detector>);
static_assert(!std::is_copy_constructible_v<yolo::Result> && std::is_nothrow_move_constructible_v<yolo::Result>);
static_assert(!std::is_copy_constructible_v<yolo::Config> && std::is_nothrow_move_constructible_v<yolo::Config>);

namespace {

int failures = 0;
int checks = 0;

void expect(bool condition, const char* what) {
  ++checks;
  if (!condition) {
    std::fprintf(stderr, "wrapper_test: FAILED: %s\n", what);
    ++failures;
  }
}

template <typename F>
yolo_status status_of(F&& call) {
  try {
    call();
  } catch (const yolo::Error& error) {
    expect(error.what()[0] != '\0', "an error carries a message");
    return error.status();
  }
  return YOLO_STATUS_OK;
}

}  // namespace

// Reloading (synthetic models of MODELS_DIR): a result made before a reload names its classes as its own
// model does, a refused reload leaves the model serving, and the counters say what happened.
void reloads(const std::string& models) {
  const std::vector<uint8_t> grey(64 * 64 * 3, 90);
  yolo::Detector detector(yolo::Config(models + "/v8_fixed.onnx").pool_size(1));
  const yolo::Result before = detector.detect_pixels(grey.data(), grey.size(), 64, 64, 64 * 3, yolo::PixelFormat::rgb8);
  detector.reload(yolo::Config(models + "/seg_fixed.onnx").pool_size(1));
  expect(detector.task() == yolo::Task::segment && detector.class_name(0) == "a", "the reloaded model serves");
  expect(before.class_name(0) == "person", "an earlier result names its classes as its own model does");
  expect(status_of([&] { detector.reload(yolo::Config(models + "/v8_fixed.onnx"), YOLO_RELOAD_FLAG_KEEP_TASK); }) ==
             YOLO_STATUS_INVALID_MODEL,
         "a reload that must keep the task refuses another task");
  expect(detector.task() == yolo::Task::segment, "a refused reload leaves the model serving");
  const yolo_reload_stats stats = detector.reload_stats();
  expect(stats.reloads == 1 && stats.failures == 1 && stats.last_status == YOLO_STATUS_INVALID_MODEL && !stats.running,
         "the reload counters");
  detector.detect_pixels(grey.data(), grey.size(), 64, 64, 64 * 3, yolo::PixelFormat::rgb8);
  expect(detector.stage_stats(YOLO_STAGE_CALL).calls == 2, "calls are counted across the reload");
}

// The per-pixel accessors on the synthetic models of MODELS_DIR (scripts/make_test_models.py), whose maps
// are known by hand: an 8x8 class map, top half 0 and bottom half 1, on a 64x64 input; an 8x8 depth ramp.
void per_pixel_tasks(const std::string& models) {
  const std::vector<uint8_t> grey(128 * 64 * 3, 90);
  yolo::Detector semantic(yolo::Config(models + "/semantic_ids.onnx"));
  expect(semantic.task() == yolo::Task::semantic, "a semantic model's task");
  const yolo::Result classes = semantic.detect_pixels(grey.data(), grey.size(), 128, 64, 128 * 3, yolo::PixelFormat::rgb8);
  const yolo_class_map map = classes.class_map();
  expect(map.width == 128 && map.height == 64 && map.class_count == 2, "a class map of the image's size");
  expect(yolo::Result::class_at(map, 0) == 0 && yolo::Result::class_at(map, 63 * 128 + 127) == 1, "top 0, bottom 1");
  expect(map.pixel_counts[0] == 32 * 128 && map.pixel_counts[1] == 32 * 128, "the pixels of each class");
  expect(status_of([&] { classes.depth_map(); }) == YOLO_STATUS_INVALID_ARGUMENT, "a class map has no depths");
  yolo::Detector depth(yolo::Config(models + "/depth_ramp.onnx"));
  expect(depth.task() == yolo::Task::depth, "a depth model's task");
  const yolo::Result depths = depth.detect_pixels(grey.data(), grey.size(), 128, 64, 128 * 3, yolo::PixelFormat::rgb8);
  uint32_t width = 0, height = 0;
  const yolo::Span<float> values = depths.depth_map(&width, &height);
  expect(width == 128 && height == 64 && values.size() == 128u * 64u, "a depth map of the image's size");
  expect(std::abs(values[127] - 7.0f) < 1e-5f && values[0] == 0.0f, "the ramp from 0 to 7 across the image");
}

// The tracker on a synthetic detector (the same boxes in every frame): ids 1.. from the first frame, kept;
// BoT-SORT as shipped needs a motion; reset starts the ids over.
void tracking(const std::string& models) {
  const std::vector<uint8_t> grey(64 * 64 * 3, 90);
  yolo::Detector detector(yolo::Config(models + "/v8_fixed.onnx"));
  yolo::Tracker tracker(yolo::TrackerConfig(yolo::TrackerKind::bytetrack).track_buffer(10));
  std::vector<std::uint64_t> first;
  for (int frame = 0; frame < 3; frame++) {
    yolo::Result result = detector.detect_pixels(grey.data(), grey.size(), 64, 64, 64 * 3, yolo::PixelFormat::rgb8);
    tracker.update(result);
    bool shown = true;
    std::vector<std::uint64_t> ids;
    for (const yolo_track& track : result.tracks(&shown)) {
      ids.push_back(track.id);
      expect(result.track_id(track.detection) == track.id, "a track names its detection");
    }
    expect(!ids.empty() && !shown, "the frame has tracks");
    if (frame == 0) first = ids;
    expect(ids == first, "the ids stay");
  }
  expect(first.front() == 1, "ids start from 1");
  tracker.reset();
  yolo::Tracker botsort(yolo::TrackerKind::botsort);
  yolo::Result result = detector.detect_pixels(grey.data(), grey.size(), 64, 64, 64 * 3, yolo::PixelFormat::rgb8);
  expect(status_of([&] { botsort.update(result); }) == YOLO_STATUS_INVALID_ARGUMENT, "BoT-SORT needs a motion");
  expect(status_of([&] { result.tracks(); }) == YOLO_STATUS_INVALID_ARGUMENT, "an untracked result has no tracks");
  const double identity[6] = {1, 0, 0, 0, 1, 0};
  botsort.update(result, identity);
  expect(result.tracks().size() == first.size(), "BoT-SORT tracks the same boxes");
}

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: wrapper_test MODEL IMAGE IMGSZ [MODELS_DIR]\n");
    return 2;
  }
  if (argc == 5) {
    per_pixel_tasks(argv[4]);
    reloads(argv[4]);
    tracking(argv[4]);
  }
  const std::string model = argv[1];
  const uint32_t imgsz = static_cast<uint32_t>(std::stoul(argv[3]));
  std::ifstream file(argv[2], std::ios::binary);
  const std::vector<char> image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());

  expect(status_of([] { yolo::Config("m.onnx").conf_threshold(1.5f); }) == YOLO_STATUS_INVALID_ARGUMENT,
         "a bad setting throws INVALID_ARGUMENT");
  expect(status_of([] { yolo::Detector detector(yolo::Config("/nonexistent/model.onnx")); }) ==
             YOLO_STATUS_MODEL_LOAD_FAILED,
         "a missing model throws MODEL_LOAD_FAILED");

  yolo::Config config(model);
  config.imgsz(imgsz, imgsz).pool_size(1);
  yolo::Detector first(config);
  yolo::Detector detector(std::move(first));  // the handle moves; `first` owns nothing now
  expect(first.get() == nullptr && detector.get() != nullptr, "a moved detector hands over its handle");
  expect(detector.task() == yolo::Task::detect, "the demo model is a detection model");
  expect(detector.provider().first == YOLO_PROVIDER_CPU, "no provider asked: the CPU");
  expect(status_of([&] { yolo::Config(model).add_provider(YOLO_PROVIDER_CPU, 3); }) == YOLO_STATUS_INVALID_ARGUMENT,
         "the CPU takes no device id");
  expect(!detector.io_binding(), "on the CPU the input is not bound by default");
  yolo::Detector bound(yolo::Config(model).input_size(imgsz, imgsz).pool_size(1).io_binding(YOLO_IO_BINDING_ON));
  expect(bound.io_binding(), "YOLO_IO_BINDING_ON binds the input and outputs");
  expect(status_of([&] { yolo::Config(model).batching(65, 0); }) == YOLO_STATUS_INVALID_ARGUMENT,
         "max_batch above 64 throws INVALID_ARGUMENT");
  expect(detector.class_count() > 0, "the model names its classes");
  expect(status_of([&] { detector.class_name(static_cast<uint32_t>(detector.class_count())); }) ==
             YOLO_STATUS_OUT_OF_RANGE,
         "a class id past the names throws OUT_OF_RANGE");
  expect(status_of([&] { detector.detect("not an image", 12); }) == YOLO_STATUS_IMAGE_DECODE_FAILED,
         "bytes that are no image throw IMAGE_DECODE_FAILED");

  yolo::Result result = detector.detect(image.data(), image.size());
  expect(status_of([&] { result.mask(0); }) == YOLO_STATUS_INVALID_ARGUMENT, "a detection result has no masks");
  yolo::DetectOptions strict;
  strict.conf_threshold(0.99f);
  expect(detector.detect(image.data(), image.size(), &strict).empty(), "per-call options apply");
  const yolo::Result from_bound = bound.detect(image.data(), image.size());
  bool same = from_bound.size() == result.size();
  for (std::size_t i = 0; same && i < result.size(); ++i) {
    const yolo_detection& a = result.detections()[i];
    const yolo_detection& b = from_bound.detections()[i];
    same = a.class_id == b.class_id && a.score == b.score && a.x1 == b.x1 && a.y1 == b.y1 && a.x2 == b.x2 &&
           a.y2 == b.y2;
  }
  expect(same && !result.empty(), "a bound detector finds exactly the same boxes");

  std::printf("{\"detections\": [");
  const char* separator = "";
  for (const yolo_detection& d : result) {
    const std::string_view name = detector.class_name(d.class_id);
    std::printf("%s{\"class_id\": %u, \"class_name\": \"%.*s\", \"score\": %.5f, \"box\": [%.3f, %.3f, %.3f, %.3f]}",
                separator, d.class_id, static_cast<int>(name.size()), name.data(), d.score, d.x1, d.y1, d.x2, d.y2);
    separator = ", ";
  }
  std::printf("]}\n");
  if (failures != 0) {
    return 1;
  }
  std::fprintf(stderr, "wrapper_test: %d passed, 0 failed (yolo-ffi %s, %zu detections)\n", checks,
               yolo::version(), result.size());
  return 0;
}
