/* Compiles the public header on its own (C11 and, as header_test.cpp, C++17) and checks the ABI facts the
 * header promises: status and pixel-format values, and the defaults of yolo_config_default(). */
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

    yolo_config config = yolo_config_default();
    CHECK(config.model_path == NULL && config.ort_library_path == NULL);
    CHECK(config.pool_size == 0 && config.threads_per_session == 0 && config.imgsz == 0);
    CHECK(config.conf_threshold == 0.25f && config.iou_threshold == 0.7f);
    CHECK(config.max_detections == 300 && !config.class_agnostic && config.acquire_timeout_ms == 0);
    CHECK(!config.async_load && config.load_wait_ms == 0 && config.on_load == NULL);

    yolo_detect_options options = yolo_detect_options_default();
    CHECK(options.conf_threshold == (float)YOLO_INHERIT_THRESHOLD && options.class_agnostic == YOLO_INHERIT_FLAG);

    CHECK(strlen(yolo_version()) > 0);
    CHECK(strcmp(yolo_status_string(YOLO_STATUS_OK), "ok") == 0);
    CHECK(strcmp(yolo_status_string(999), "unknown status") == 0);

    /* NULL policy: invalid argument, a message, and no crash. */
    yolo_detector *detector = NULL;
    CHECK(yolo_init(NULL, &detector) == YOLO_STATUS_INVALID_ARGUMENT && detector == NULL);
    CHECK(strstr(yolo_last_error(), "config") != NULL);
    CHECK(yolo_init(&config, &detector) == YOLO_STATUS_INVALID_ARGUMENT);
    CHECK(yolo_free(NULL) == YOLO_STATUS_OK);
    yolo_result_free(NULL);
    CHECK(yolo_free((yolo_detector *)(uintptr_t)0x12345) == YOLO_STATUS_INVALID_HANDLE);
    CHECK(yolo_wait_ready(NULL, 0) == YOLO_STATUS_INVALID_ARGUMENT);
    CHECK(yolo_after_fork() == YOLO_STATUS_OK);
    CHECK(yolo_set_log_callback(NULL, NULL) == YOLO_STATUS_OK);
    puts("header_test: 1 passed, 0 failed");
    return 0;
}
