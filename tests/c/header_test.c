/* Compiles the public header on its own (C11 and, as header_test.cpp, C++17) and checks the ABI facts the
 * header promises: status and pixel-format values, the version macros against the library, and the config
 * and options objects' NULL and value checks. */
#include "yolo_ffi.h"

#include <stdio.h>
#include <string.h>

#define CHECK(cond)                                                     \
    do {                                                                \
        if (!(cond)) {                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                   \
        }                                                               \
    } while (0)

/* Memory that is not a config: yolo_init must refuse it by its tag rather than read it as one. */
static const uint64_t detector_stats_probe[8] = {0};

int main(void) {
    CHECK(YOLO_STATUS_OK == 0);
    CHECK(YOLO_STATUS_INVALID_ARGUMENT == 1);
    CHECK(YOLO_STATUS_INTERNAL_ERROR == 10);
    CHECK(YOLO_STATUS_NOT_READY == 11 && YOLO_STATUS_LOAD_FAILED == 12 && YOLO_STATUS_INVALID_HANDLE == 13);
    CHECK(YOLO_LOAD_STATE_LOADING == 1 && YOLO_LOAD_STATE_READY == 2 && YOLO_LOAD_STATE_FAILED == 3);
    CHECK(sizeof(((yolo_detector_stats *)0)->errors_by_status) / sizeof(uint64_t) == 32);
    CHECK(YOLO_PIXEL_FORMAT_RGB8 == 1 && YOLO_PIXEL_FORMAT_GRAY8 == 5);
    CHECK(sizeof(yolo_status) == 4);
    CHECK(sizeof(yolo_detection) == 24);

    char version[64];
    snprintf(version, sizeof version, "%d.%d.%d", YOLO_FFI_VERSION_MAJOR, YOLO_FFI_VERSION_MINOR,
             YOLO_FFI_VERSION_PATCH);
    CHECK(strcmp(yolo_version(), version) == 0);
    CHECK(YOLO_STATUS_OUT_OF_MEMORY == 14);

    yolo_config *config = NULL;
    CHECK(yolo_config_new(NULL) == YOLO_STATUS_INVALID_ARGUMENT);
    CHECK(yolo_config_new(&config) == YOLO_STATUS_OK && config != NULL);
    CHECK(yolo_config_set_conf_threshold(config, 1.5f) == YOLO_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(yolo_last_error(), "conf_threshold") != NULL);
    CHECK(yolo_config_set_pool_size(NULL, 1) == YOLO_STATUS_INVALID_ARGUMENT);
    CHECK(yolo_config_set_imgsz(config, 480, 640) == YOLO_STATUS_OK);
    yolo_detect_options *options = NULL;
    CHECK(yolo_detect_options_new(&options) == YOLO_STATUS_OK && options != NULL);
    CHECK(yolo_detect_options_set_iou_threshold(options, -0.5f) == YOLO_STATUS_INVALID_ARGUMENT);
    CHECK(yolo_detect_options_set_class_agnostic(options, true) == YOLO_STATUS_OK);
    CHECK(yolo_detect_options_free(options) == YOLO_STATUS_OK);
    CHECK(yolo_detect_options_free(NULL) == YOLO_STATUS_OK);

    CHECK(strlen(yolo_version()) > 0);
    CHECK(strcmp(yolo_status_string(YOLO_STATUS_OK), "ok") == 0);
    CHECK(strcmp(yolo_status_string(999), "unknown status") == 0);

    /* NULL policy: invalid argument, a message, and no crash. */
    yolo_detector *detector = NULL;
    CHECK(yolo_init(NULL, &detector) == YOLO_STATUS_INVALID_ARGUMENT && detector == NULL);
    CHECK(strstr(yolo_last_error(), "config") != NULL);
    CHECK(yolo_init(config, &detector) == YOLO_STATUS_INVALID_ARGUMENT && detector == NULL);
    CHECK(strstr(yolo_last_error(), "model path") != NULL);
    CHECK(yolo_init((const yolo_config *)detector_stats_probe, &detector) == YOLO_STATUS_INVALID_HANDLE);
    CHECK(yolo_config_free(config) == YOLO_STATUS_OK);
    CHECK(yolo_config_free(NULL) == YOLO_STATUS_OK);
    CHECK(yolo_free(NULL) == YOLO_STATUS_OK);
    yolo_result_free(NULL);
    CHECK(yolo_free((yolo_detector *)(uintptr_t)0x12345) == YOLO_STATUS_INVALID_HANDLE);
    CHECK(yolo_wait_ready(NULL, 0) == YOLO_STATUS_INVALID_ARGUMENT);
    CHECK(yolo_after_fork() == YOLO_STATUS_OK);
    CHECK(yolo_set_log_callback(NULL, NULL) == YOLO_STATUS_OK);
    puts("header_test: 1 passed, 0 failed");
    return 0;
}
