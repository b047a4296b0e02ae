/* Exercises the whole C API on a real model from several threads: init, detect (encoded and pixels),
 * result accessors, class names, errors, free. Built with -Wall -Wextra -Werror; run under ASan+UBSan and
 * valgrind by `make test-c-sanitize` / `make test-c-valgrind`.
 *
 *   api_test MODEL IMAGE */
#include "yolo_ffi.h"
#include "read_file.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static unsigned char *image_bytes;
static size_t image_len;
static const yolo_detector *shared_detector;
static size_t reference_count;

static size_t count_detections(const yolo_detector *detector) {
    yolo_result *result = NULL;
    if (yolo_detect(detector, image_bytes, image_len, NULL, &result) != YOLO_STATUS_OK) return (size_t)-1;
    const yolo_detection *detections = NULL;
    size_t count = 0;
    if (yolo_result_detections(result, &detections, &count) != YOLO_STATUS_OK) count = (size_t)-1;
    for (size_t i = 0; i < count; i++) {
        if (!(detections[i].x1 <= detections[i].x2 && detections[i].y1 <= detections[i].y2)) count = (size_t)-2;
    }
    yolo_result_free(result);
    return count;
}

static void *worker(void *arg) {
    (void)arg;
    for (int i = 0; i < 5; i++) {
        if (count_detections(shared_detector) != reference_count) {
            __atomic_fetch_add(&failures, 1, __ATOMIC_SEQ_CST);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: api_test MODEL IMAGE\n");
        return 2;
    }
    image_bytes = read_file(argv[2], &image_len);
    CHECK(image_bytes != NULL);
    if (!image_bytes) return 1;

    yolo_config *config = NULL;
    CHECK(yolo_config_new(&config) == YOLO_STATUS_OK);
    CHECK(yolo_config_set_model_path(config, argv[1]) == YOLO_STATUS_OK);
    CHECK(yolo_config_set_pool_size(config, 2) == YOLO_STATUS_OK);
    yolo_detector *detector = NULL;
    CHECK(yolo_init(config, &detector) == YOLO_STATUS_OK);
    CHECK(yolo_config_free(config) == YOLO_STATUS_OK);
    if (!detector) return 1;
    shared_detector = detector;

    size_t classes = 0;
    CHECK(yolo_class_count(detector, &classes) == YOLO_STATUS_OK && classes > 0);
    const char *name = NULL;
    size_t name_len = 0;
    CHECK(yolo_class_name(detector, 0, &name, &name_len) == YOLO_STATUS_OK && strlen(name) == name_len);
    CHECK(yolo_class_name(detector, (uint32_t)classes, &name, &name_len) == YOLO_STATUS_OUT_OF_RANGE);
    uint32_t width = 0, height = 0;
    CHECK(yolo_input_size(detector, &width, &height) == YOLO_STATUS_OK && width > 0 && height > 0);

    /* Encoded image with options; then the same pixels as BGR with a padded stride. */
    yolo_detect_options *options = NULL;
    CHECK(yolo_detect_options_new(&options) == YOLO_STATUS_OK);
    CHECK(yolo_detect_options_set_conf_threshold(options, 0.05f) == YOLO_STATUS_OK);
    yolo_result *result = NULL;
    CHECK(yolo_detect(detector, image_bytes, image_len, options, &result) == YOLO_STATUS_OK);
    const yolo_detection *detections = NULL;
    size_t count = 0;
    CHECK(yolo_result_detections(result, &detections, &count) == YOLO_STATUS_OK);
    uint32_t image_w = 0, image_h = 0;
    CHECK(yolo_result_image_size(result, &image_w, &image_h) == YOLO_STATUS_OK && image_w > 0);
    for (size_t i = 1; i < count; i++) CHECK(detections[i - 1].score >= detections[i].score);
    yolo_result_free(result);
    CHECK(yolo_detect_options_free(options) == YOLO_STATUS_OK);

    size_t stride = (size_t)image_w * 3 + 5;
    unsigned char *pixels = calloc(stride * image_h, 1);
    CHECK(pixels != NULL);
    result = NULL;
    CHECK(yolo_detect_pixels(detector, pixels, stride * image_h, image_w, image_h, stride, YOLO_PIXEL_FORMAT_BGR8,
                             NULL, &result) == YOLO_STATUS_OK);
    yolo_result_free(result);
    result = NULL;
    CHECK(yolo_detect_pixels(detector, pixels, stride * image_h, image_w, image_h, 2, YOLO_PIXEL_FORMAT_BGR8, NULL,
                             &result) == YOLO_STATUS_INVALID_ARGUMENT);
    CHECK(result == NULL && strstr(yolo_last_error(), "stride") != NULL);
    free(pixels);

    /* Garbage and empty input. */
    static const unsigned char garbage[] = "definitely not an image";
    CHECK(yolo_detect(detector, garbage, sizeof garbage, NULL, &result) == YOLO_STATUS_IMAGE_DECODE_FAILED);
    CHECK(yolo_detect(detector, garbage, 0, NULL, &result) == YOLO_STATUS_INVALID_ARGUMENT);

    /* A batch: three copies of the image give three results equal to a single call's; a bad image in the
     * batch fails the call and writes no result. */
    reference_count = count_detections(detector);
    {
        const uint8_t *images[3] = {image_bytes, image_bytes, image_bytes};
        size_t lens[3] = {image_len, image_len, image_len};
        yolo_result *results[3] = {NULL, NULL, NULL};
        CHECK(yolo_detect_batch(detector, images, lens, 3, NULL, results) == YOLO_STATUS_OK);
        for (int i = 0; i < 3; i++) {
            const yolo_detection *found = NULL;
            size_t n = 0;
            CHECK(yolo_result_detections(results[i], &found, &n) == YOLO_STATUS_OK && n == reference_count);
            yolo_result_free(results[i]);
            results[i] = NULL;
        }
        images[1] = garbage;
        lens[1] = sizeof garbage;
        CHECK(yolo_detect_batch(detector, images, lens, 3, NULL, results) == YOLO_STATUS_IMAGE_DECODE_FAILED);
        CHECK(results[0] == NULL && results[1] == NULL && results[2] == NULL);
        CHECK(strstr(yolo_last_error(), "image 1") != NULL);
        CHECK(yolo_detect_batch(detector, images, lens, 0, NULL, results) == YOLO_STATUS_INVALID_ARGUMENT);
    }

    /* A detector whose sessions have their input and outputs bound finds the same boxes, alone and in a
     * batch; an unknown io_binding value is refused by the setter. */
    {
        yolo_config *bound_config = NULL;
        yolo_detector *bound = NULL;
        bool is_bound = false;
        CHECK(yolo_config_new(&bound_config) == YOLO_STATUS_OK);
        CHECK(yolo_config_set_model_path(bound_config, argv[1]) == YOLO_STATUS_OK);
        CHECK(yolo_config_set_io_binding(bound_config, 0) == YOLO_STATUS_INVALID_ARGUMENT);
        CHECK(yolo_config_set_io_binding(bound_config, YOLO_IO_BINDING_ON) == YOLO_STATUS_OK);
        CHECK(yolo_config_set_pool_size(bound_config, 1) == YOLO_STATUS_OK);
        CHECK(yolo_init(bound_config, &bound) == YOLO_STATUS_OK);
        CHECK(yolo_config_free(bound_config) == YOLO_STATUS_OK);
        CHECK(yolo_model_io_binding(bound, &is_bound) == YOLO_STATUS_OK && is_bound);
        CHECK(count_detections(bound) == reference_count);
        const uint8_t *images[2] = {image_bytes, image_bytes};
        size_t lens[2] = {image_len, image_len};
        yolo_result *results[2] = {NULL, NULL};
        CHECK(yolo_detect_batch(bound, images, lens, 2, NULL, results) == YOLO_STATUS_OK);
        for (int i = 0; i < 2; i++) {
            const yolo_detection *found = NULL;
            size_t n = 0;
            CHECK(yolo_result_detections(results[i], &found, &n) == YOLO_STATUS_OK && n == reference_count);
            yolo_result_free(results[i]);
        }
        yolo_free(bound);
    }

    /* Four threads share the detector. */
    CHECK(reference_count != (size_t)-1);
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);

    yolo_free(detector);
    free(image_bytes);
    printf("api_test: %d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
    return failures ? 1 : 0;
}
