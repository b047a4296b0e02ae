/*
 * Every task's accessors from C, under -Wall -Wextra -Werror, ASan/UBSan and valgrind: the synthetic task
 * models of scripts/make_test_models.py (whose masks, keypoints, rotated boxes, classes, class maps and
 * depth maps are known by hand), and, when SHARED is given and holds them, the trained shapes models on their images (every
 * accessor walked, every value checked against the header's promises); and the tracker's calls on the
 * synthetic models' frames (ids, their detections, the motion rules, reset, the statuses of misuse).
 *
 *   tasks_test MODELS_DIR [SHARED_DIR]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yolo_ffi.h"
#include "check.h"
#include "read_file.h"

static yolo_detector *open_model(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    yolo_config *config = NULL;
    yolo_detector *detector = NULL;
    CHECK(yolo_config_new(&config) == YOLO_STATUS_OK);
    CHECK(yolo_config_set_model_path(config, path) == YOLO_STATUS_OK);
    CHECK(yolo_config_set_pool_size(config, 1) == YOLO_STATUS_OK);
    yolo_status status = yolo_init(config, &detector);
    yolo_config_free(config);
    if (status != YOLO_STATUS_OK) {
        fprintf(stderr, "cannot open %s: %s\n", path, yolo_last_error());
        failures++;
        return NULL;
    }
    return detector;
}

/* A width x height grey RGB image, through yolo_detect_pixels. */
static yolo_result *detect_grey(const yolo_detector *detector, uint32_t width, uint32_t height) {
    size_t len = (size_t)width * height * 3;
    uint8_t *pixels = malloc(len);
    memset(pixels, 90, len);
    yolo_result *result = NULL;
    CHECK(yolo_detect_pixels(detector, pixels, len, width, height, (size_t)width * 3, YOLO_PIXEL_FORMAT_RGB8, NULL,
                             &result) == YOLO_STATUS_OK);
    free(pixels);
    return result;
}

/* Checks every accessor of a result against the header's promises; returns the detection count. */
static size_t walk(const yolo_detector *detector, const yolo_result *result) {
    yolo_task task = 0;
    CHECK(yolo_model_task(detector, &task) == YOLO_STATUS_OK);
    const yolo_detection *detections = NULL;
    size_t count = 0;
    uint32_t width = 0, height = 0;
    CHECK(yolo_result_detections(result, &detections, &count) == YOLO_STATUS_OK);
    CHECK(yolo_result_image_size(result, &width, &height) == YOLO_STATUS_OK);
    size_t keypoints_per = 0, dims = 0;
    CHECK(yolo_keypoint_shape(detector, &keypoints_per, &dims) == YOLO_STATUS_OK);
    for (size_t i = 0; i < count; i++) {
        const yolo_detection *d = &detections[i];
        CHECK(0 <= d->x1 && d->x1 <= d->x2 && d->x2 <= (float)width);
        CHECK(0 <= d->y1 && d->y1 <= d->y2 && d->y2 <= (float)height);
        yolo_mask mask;
        yolo_status status = yolo_result_mask(result, i, &mask);
        CHECK((status == YOLO_STATUS_OK) == (task == YOLO_TASK_SEGMENT));
        if (status == YOLO_STATUS_OK) {
            CHECK(mask.data_len == (size_t)mask.width * mask.height);
            CHECK(mask.left + mask.width <= width && mask.top + mask.height <= height);
            for (size_t p = 0; p < mask.data_len; p++) {
                CHECK(mask.data[p] <= 1);
            }
            const float *xy = NULL;
            size_t points = 0;
            CHECK(yolo_result_mask_polygon(result, i, &xy, &points) == YOLO_STATUS_OK);
            CHECK((points == 0) == (mask.data_len == 0));
            for (size_t p = 0; p < points; p++) {
                CHECK(xy[2 * p] >= (float)mask.left && xy[2 * p] < (float)(mask.left + mask.width));
                CHECK(xy[2 * p + 1] >= (float)mask.top && xy[2 * p + 1] < (float)(mask.top + mask.height));
            }
        }
        const yolo_keypoint *keypoints = NULL;
        size_t n = 0;
        status = yolo_result_keypoints(result, i, &keypoints, &n);
        CHECK((status == YOLO_STATUS_OK) == (task == YOLO_TASK_POSE));
        if (status == YOLO_STATUS_OK) {
            CHECK(n == keypoints_per);
            for (size_t k = 0; k < n; k++) {
                CHECK(keypoints[k].x >= 0 && keypoints[k].x <= (float)width);
                CHECK(keypoints[k].y >= 0 && keypoints[k].y <= (float)height);
                CHECK(isfinite(keypoints[k].confidence));
            }
        }
        yolo_oriented_box box;
        status = yolo_result_oriented_box(result, i, &box);
        CHECK((status == YOLO_STATUS_OK) == (task == YOLO_TASK_OBB));
        if (status == YOLO_STATUS_OK) {
            CHECK(isfinite(box.cx) && isfinite(box.cy) && isfinite(box.width) && isfinite(box.angle));
        }
    }
    yolo_mask mask;
    CHECK(yolo_result_mask(result, count, &mask) == YOLO_STATUS_OUT_OF_RANGE);
    const yolo_class_probability *classes = NULL;
    size_t classes_count = 0;
    CHECK(yolo_result_classes(result, &classes, &classes_count) == YOLO_STATUS_OK);
    CHECK((classes_count > 0) == (task == YOLO_TASK_CLASSIFY));
    for (size_t k = 1; k < classes_count; k++) {
        CHECK(classes[k - 1].probability >= classes[k].probability);
    }
    /* The per-pixel maps: of the image's size, every id a class of the model, counts adding up. */
    yolo_class_map class_map;
    yolo_status status = yolo_result_class_map(result, &class_map);
    CHECK((status == YOLO_STATUS_OK) == (task == YOLO_TASK_SEMANTIC));
    if (status == YOLO_STATUS_OK) {
        CHECK(class_map.width == width && class_map.height == height);
        CHECK(class_map.data_len == (size_t)width * height && class_map.element_size == 1);
        uint64_t total = 0;
        for (size_t c = 0; c < class_map.class_count; c++) {
            total += class_map.pixel_counts[c];
        }
        CHECK(total == class_map.data_len);
        const uint8_t *ids = class_map.data;
        for (size_t p = 0; p < class_map.data_len; p++) {
            CHECK(ids[p] < class_map.class_count);
        }
    }
    yolo_depth_map depth_map;
    status = yolo_result_depth_map(result, &depth_map);
    CHECK((status == YOLO_STATUS_OK) == (task == YOLO_TASK_DEPTH));
    if (status == YOLO_STATUS_OK) {
        CHECK(depth_map.width == width && depth_map.height == height && depth_map.data_len == (size_t)width * height);
        for (size_t p = 0; p < depth_map.data_len; p++) {
            CHECK(isfinite(depth_map.data[p]));
        }
    }
    CHECK((task == YOLO_TASK_SEMANTIC || task == YOLO_TASK_DEPTH) ? count == 0 : 1);
    return count;
}

static void synthetic(const char *models) {
    /* Segmentation: two masks, cropped to their pixels. */
    yolo_detector *seg = open_model(models, "seg_fixed.onnx");
    if (seg) {
        yolo_result *result = detect_grey(seg, 64, 64);
        CHECK(walk(seg, result) == 2);
        yolo_mask mask;
        CHECK(yolo_result_mask(result, 1, &mask) == YOLO_STATUS_OK);
        CHECK(mask.left == 24 && mask.top == 40 && mask.width == 8 && mask.height == 16);
        yolo_result_free(result);
        yolo_free(seg);
    }
    /* Pose: two keypoints per detection, the second clipped. */
    yolo_detector *pose = open_model(models, "pose_fixed.onnx");
    if (pose) {
        yolo_result *result = detect_grey(pose, 64, 64);
        CHECK(walk(pose, result) == 2);
        const yolo_keypoint *keypoints = NULL;
        size_t n = 0;
        CHECK(yolo_result_keypoints(result, 0, &keypoints, &n) == YOLO_STATUS_OK && n == 2);
        CHECK(keypoints[0].x == 14.0f && keypoints[0].y == 15.0f && keypoints[1].x == 64.0f);
        yolo_result_free(result);
        yolo_free(pose);
    }
    /* Oriented boxes: three kept, the first as the model gave it. */
    yolo_detector *obb = open_model(models, "obb_fixed.onnx");
    if (obb) {
        yolo_result *result = detect_grey(obb, 64, 64);
        CHECK(walk(obb, result) == 3);
        yolo_oriented_box box;
        CHECK(yolo_result_oriented_box(result, 0, &box) == YOLO_STATUS_OK);
        CHECK(box.cx == 20.0f && box.width == 20.0f && box.angle == 0.3f);
        yolo_result_free(result);
        yolo_free(obb);
    }
    /* Classification: the top classes, then fewer with top_k. */
    yolo_detector *cls = open_model(models, "classify_task.onnx");
    if (cls) {
        yolo_detect_options *options = NULL;
        CHECK(yolo_detect_options_new(&options) == YOLO_STATUS_OK);
        CHECK(yolo_detect_options_set_top_k(options, 2) == YOLO_STATUS_OK);
        yolo_result *result = detect_grey(cls, 80, 64);
        CHECK(walk(cls, result) == 0);
        const yolo_class_probability *classes = NULL;
        size_t n = 0;
        CHECK(yolo_result_classes(result, &classes, &n) == YOLO_STATUS_OK && n == 3);
        CHECK(classes[0].class_id == 1 && classes[0].probability == 0.5f);
        yolo_result_free(result);
        uint8_t pixels[32 * 32 * 3] = {0};
        CHECK(yolo_detect_pixels(cls, pixels, sizeof pixels, 32, 32, 96, YOLO_PIXEL_FORMAT_BGR8, options, &result) ==
              YOLO_STATUS_OK);
        CHECK(yolo_result_classes(result, &classes, &n) == YOLO_STATUS_OK && n == 2);
        yolo_result_free(result);
        yolo_detect_options_free(options);
        yolo_free(cls);
    }
    /* Semantic segmentation: class 0 in the top half of an 8 x 8 map, 1 in the bottom half, on a 64 x 64
     * input; a 128 x 64 image is letterboxed into it, and its top half is class 0. */
    yolo_detector *semantic = open_model(models, "semantic_ids.onnx");
    if (semantic) {
        yolo_result *result = detect_grey(semantic, 128, 64);
        CHECK(walk(semantic, result) == 0);
        yolo_class_map map;
        CHECK(yolo_result_class_map(result, &map) == YOLO_STATUS_OK);
        const uint8_t *ids = map.data;
        CHECK(map.class_count == 2 && map.pixel_counts[0] == 32 * 128 && map.pixel_counts[1] == 32 * 128);
        CHECK(ids[0] == 0 && ids[31 * 128 + 127] == 0 && ids[32 * 128] == 1 && ids[63 * 128 + 127] == 1);
        yolo_depth_map depth;
        CHECK(yolo_result_depth_map(result, &depth) == YOLO_STATUS_INVALID_ARGUMENT);
        CHECK(yolo_result_class_map(result, NULL) == YOLO_STATUS_INVALID_ARGUMENT);
        yolo_result_free(result);
        yolo_free(semantic);
    }
    /* Depth: an 8 x 8 ramp (each value its column) stretched to a 127-wide image reads x / 18 at column x. */
    yolo_detector *depth_model = open_model(models, "depth_ramp.onnx");
    if (depth_model) {
        yolo_result *result = detect_grey(depth_model, 127, 40);
        CHECK(walk(depth_model, result) == 0);
        yolo_depth_map depth;
        CHECK(yolo_result_depth_map(result, &depth) == YOLO_STATUS_OK);
        for (uint32_t x = 0; x < depth.width; x++) {
            CHECK(fabsf(depth.data[39 * depth.width + x] - (float)x / 18.0f) < 1e-5f);
        }
        yolo_class_map map;
        CHECK(yolo_result_class_map(result, &map) == YOLO_STATUS_INVALID_ARGUMENT);
        yolo_result_free(result);
        yolo_free(depth_model);
    }
}

/* The trained models on their images, retina masks on and off. */
static void trained(const char *shared) {
    const char *tasks[] = {"seg", "pose", "obb", "cls"};
    char models[4096], path[4096];
    snprintf(models, sizeof models, "%s/models", shared);
    for (int t = 0; t < 4; t++) {
        char name[64];
        snprintf(name, sizeof name, "shapes-%s.onnx", tasks[t]);
        yolo_detector *detector = open_model(models, name);
        if (!detector) {
            continue;
        }
        for (int image = 1; image <= 5; image++) {
            snprintf(path, sizeof path, "%s/images/tasks/%s_%d.%s", shared, tasks[t], image, image == 5 ? "jpg" : "png");
            size_t len = 0;
            unsigned char *bytes = read_file(path, &len);
            if (!bytes) {
                fprintf(stderr, "cannot read %s\n", path);
                failures++;
                continue;
            }
            for (int retina = 0; retina < 2; retina++) {
                yolo_detect_options *options = NULL;
                CHECK(yolo_detect_options_new(&options) == YOLO_STATUS_OK);
                CHECK(yolo_detect_options_set_retina_masks(options, retina) == YOLO_STATUS_OK);
                CHECK(yolo_detect_options_set_conf_threshold(options, 0.05f) == YOLO_STATUS_OK);
                yolo_result *result = NULL;
                CHECK(yolo_detect(detector, bytes, len, options, &result) == YOLO_STATUS_OK);
                if (result) {
                    size_t count = walk(detector, result);
                    CHECK(count > 0 || t == 3);
                    yolo_result_free(result);
                }
                yolo_detect_options_free(options);
            }
            free(bytes);
        }
        yolo_free(detector);
    }
}

/* Tracks `frames` frames of `detector` (a synthetic model: the same boxes in every frame) and checks that the
 * detections scoring at least 0.25 (of a positive size) get ids 1, 2, ... on the first frame, keep them, and name
 * their detection. */
static void track_frames(const yolo_detector *detector, yolo_tracker *tracker, const double *motion, size_t motion_len,
                         int frames) {
    for (int f = 0; f < frames; f++) {
        yolo_result *result = detect_grey(detector, 64, 64);
        const yolo_detection *detections = NULL;
        size_t count = 0;
        CHECK(yolo_result_detections(result, &detections, &count) == YOLO_STATUS_OK);
        CHECK(yolo_tracker_update(tracker, result, motion, motion_len) == YOLO_STATUS_OK);
        const yolo_track *tracks = NULL;
        size_t n = 0;
        bool shown = true;
        CHECK(yolo_result_tracks(result, &tracks, &n, &shown) == YOLO_STATUS_OK);
        size_t strong = 0;
        for (size_t i = 0; i < count; i++) {
            strong += detections[i].score >= 0.25f && detections[i].x2 > detections[i].x1 && detections[i].y2 > detections[i].y1;
        }
        CHECK(strong > 0 && n == strong && !shown);
        for (size_t k = 0; k < n; k++) {
            CHECK(tracks[k].id == k + 1);
            CHECK(tracks[k].detection < count);
            const yolo_detection *d = &detections[tracks[k].detection];
            CHECK(d->score == tracks[k].score && d->class_id == tracks[k].class_id);
            CHECK(fabsf(d->x1 - tracks[k].x1) < 1e-3f && fabsf(d->y2 - tracks[k].y2) < 1e-3f);
            uint64_t id = 0;
            CHECK(yolo_result_track_id(result, tracks[k].detection, &id) == YOLO_STATUS_OK && id == tracks[k].id);
        }
        uint64_t id = 7;
        CHECK(yolo_result_track_id(result, count, &id) == YOLO_STATUS_OUT_OF_RANGE && id == 7);
        yolo_result_free(result);
    }
}

static void tracking(const char *models) {
    yolo_detector *detector = open_model(models, "v8_fixed.onnx");
    if (!detector) {
        return;
    }
    yolo_tracker_config *config = NULL;
    CHECK(yolo_tracker_config_new(0, &config) == YOLO_STATUS_INVALID_ARGUMENT && config == NULL);
    CHECK(yolo_tracker_config_new(YOLO_TRACKER_KIND_BYTETRACK, &config) == YOLO_STATUS_OK);
    yolo_tracker *tracker = NULL;
    CHECK(yolo_tracker_new(config, &tracker) == YOLO_STATUS_OK);
    track_frames(detector, tracker, NULL, 0, 3);
    /* A motion is BoT-SORT's only; a refused update changes nothing. */
    const double identity[6] = {1, 0, 0, 0, 1, 0};
    yolo_result *result = detect_grey(detector, 64, 64);
    CHECK(yolo_tracker_update(tracker, result, identity, 6) == YOLO_STATUS_INVALID_ARGUMENT);
    const yolo_track *tracks = NULL;
    size_t n = 0;
    bool shown = false;
    CHECK(yolo_result_tracks(result, &tracks, &n, &shown) == YOLO_STATUS_INVALID_ARGUMENT);
    CHECK(yolo_tracker_update(tracker, result, NULL, 6) == YOLO_STATUS_INVALID_ARGUMENT);
    CHECK(yolo_tracker_update(NULL, result, NULL, 0) == YOLO_STATUS_INVALID_ARGUMENT);
    yolo_result_free(result);
    /* After a reset the ids start from 1 again. */
    CHECK(yolo_tracker_reset(tracker) == YOLO_STATUS_OK);
    track_frames(detector, tracker, NULL, 0, 1);
    CHECK(yolo_tracker_free(tracker) == YOLO_STATUS_OK);
    CHECK(yolo_tracker_config_free(config) == YOLO_STATUS_OK);

    /* BoT-SORT as Ultralytics ships it compensates the camera's motion: it needs one per frame. */
    CHECK(yolo_tracker_config_new(YOLO_TRACKER_KIND_BOTSORT, &config) == YOLO_STATUS_OK);
    CHECK(yolo_tracker_new(config, &tracker) == YOLO_STATUS_OK);
    result = detect_grey(detector, 64, 64);
    CHECK(yolo_tracker_update(tracker, result, NULL, 0) == YOLO_STATUS_INVALID_ARGUMENT);
    const double sideways[6] = {1, 0, NAN, 0, 1, 0};
    CHECK(yolo_tracker_update(tracker, result, sideways, 6) == YOLO_STATUS_INVALID_ARGUMENT);
    CHECK(yolo_tracker_update(tracker, result, identity, 5) == YOLO_STATUS_INVALID_ARGUMENT);
    yolo_result_free(result);
    track_frames(detector, tracker, identity, 6, 3);
    CHECK(yolo_tracker_free(tracker) == YOLO_STATUS_OK);
    /* Without compensation it takes none; re-identification and non-finite thresholds are refused. */
    CHECK(yolo_tracker_config_set_gmc_method(config, 0) == YOLO_STATUS_INVALID_ARGUMENT);
    CHECK(yolo_tracker_config_set_gmc_method(config, YOLO_GMC_METHOD_NONE) == YOLO_STATUS_OK);
    CHECK(yolo_tracker_new(config, &tracker) == YOLO_STATUS_OK);
    track_frames(detector, tracker, NULL, 0, 2);
    CHECK(yolo_tracker_free(tracker) == YOLO_STATUS_OK);
    tracker = NULL;
    CHECK(yolo_tracker_config_set_with_reid(config, true) == YOLO_STATUS_OK);
    CHECK(yolo_tracker_new(config, &tracker) == YOLO_STATUS_INVALID_ARGUMENT && tracker == NULL);
    CHECK(yolo_tracker_config_set_with_reid(config, false) == YOLO_STATUS_OK);
    CHECK(yolo_tracker_config_set_match_thresh(config, NAN) == YOLO_STATUS_OK);
    CHECK(yolo_tracker_new(config, &tracker) == YOLO_STATUS_INVALID_ARGUMENT && tracker == NULL);
    CHECK(yolo_tracker_config_free(config) == YOLO_STATUS_OK);
    CHECK(yolo_tracker_free(NULL) == YOLO_STATUS_OK);

    /* A classification result has no boxes to track. */
    yolo_detector *classify = open_model(models, "classify_task.onnx");
    if (classify) {
        CHECK(yolo_tracker_config_new(YOLO_TRACKER_KIND_BYTETRACK, &config) == YOLO_STATUS_OK);
        CHECK(yolo_tracker_new(config, &tracker) == YOLO_STATUS_OK);
        result = detect_grey(classify, 64, 64);
        CHECK(yolo_tracker_update(tracker, result, NULL, 0) == YOLO_STATUS_INVALID_ARGUMENT);
        yolo_result_free(result);
        yolo_tracker_free(tracker);
        yolo_tracker_config_free(config);
        yolo_free(classify);
    }
    yolo_free(detector);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: tasks_test MODELS_DIR [SHARED_DIR]\n");
        return 2;
    }
    synthetic(argv[1]);
    tracking(argv[1]);
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/models/shapes-seg.onnx", argc > 2 ? argv[2] : "");
    FILE *f = argc > 2 ? fopen(probe, "rb") : NULL;
    if (f) {
        fclose(f);
        trained(argv[2]);
    } else if (argc <= 2) {
        printf("tasks_test: trained models not asked for (no SHARED_DIR argument)\n");
    } else if (getenv("YOLO_FFI_REQUIRE_SHARED") && strcmp(getenv("YOLO_FFI_REQUIRE_SHARED"), "1") == 0) {
        fprintf(stderr, "tasks_test: %s is missing and YOLO_FFI_REQUIRE_SHARED=1 requires it\n", probe);
        failures++;
    } else {
        printf("tasks_test: trained models SKIPPED (%s is missing)\n", probe);
    }
    if (failures) {
        fprintf(stderr, "tasks_test: %d checks failed\n", failures);
        return 1;
    }
    printf("tasks_test: ok\n");
    return 0;
}
