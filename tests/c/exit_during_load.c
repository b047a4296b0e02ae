/* Exiting while a background load is still inside ONNX Runtime must end the process cleanly: ONNX Runtime's
 * static destructors would otherwise run under the loading thread (SIGSEGV or abort, 6 exits in 10 before
 * the fix). This is what a short command does after a start-up hook began an async load.
 *
 *   exit_during_load MODEL DELAY_US    exits DELAY_US microseconds after yolo_init returns */
#define _POSIX_C_SOURCE 200809L
#include "yolo_ffi.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: exit_during_load MODEL DELAY_US\n");
        return 2;
    }
    yolo_config config = yolo_config_default();
    config.model_path = argv[1];
    config.async_load = true;
    yolo_detector *detector = NULL;
    if (yolo_init(&config, &detector) != YOLO_STATUS_OK) {
        fprintf(stderr, "init: %s\n", yolo_last_error());
        return 1;
    }
    long delay_us = atol(argv[2]);
    struct timespec pause = {.tv_sec = delay_us / 1000000, .tv_nsec = (delay_us % 1000000) * 1000L};
    nanosleep(&pause, NULL);
    return 0; /* exit() with the load possibly still running */
}
