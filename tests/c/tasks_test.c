/*
 * Every task's accessors from C, under -Wall -Wextra -Werror, ASan/UBSan and valgrind: the synthetic task
 * models of scripts/make_test_models.py (whose masks, keypoints, rotated boxes and classes are known by
 * hand), and, when SHARED is given and holds them, the trained shapes models on their images (every
 * accessor walked, every value checked against the header's promises).
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

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: tasks_test MODELS_DIR [SHARED_DIR]\n");
        return 2;
    }
    synthetic(argv[1]);
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
