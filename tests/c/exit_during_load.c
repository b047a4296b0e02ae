/* Exiting while a background load is still inside ONNX Runtime must end the process cleanly, with the exit
 * status the program gave: ONNX Runtime's static destructors would otherwise run under the loading thread
 * (SIGSEGV or abort). This is what a short command does after a start-up hook began an async load.
 *
 *   exit_during_load MODEL RUNS [POOL_SIZE]
 *
 * Measures how long a background load runs in a child process, then forks RUNS children. Child i opens the model with
 * `async_load`, registers an exit handler of its own (as ONNX Runtime registers destructors while it loads),
 * sleeps i / RUNS of 1.5 load times, and returns 3 from main. Each child must exit with status 3, and its
 * own exit handler must never run while the load is still going: the library's exit guard runs first. A
 * tenth of the children exit at once, often before the loading thread has started. The parent never calls
 * the library, so every child starts as a fresh process would. Prints how many children
 * exited during the load and after it. */
#define _POSIX_C_SOURCE 200809L
#include "yolo_ffi.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_STATUS = 3, LATE_HANDLER_RAN_DURING_LOAD = 99 };

static yolo_detector *detector = NULL;

static int64_t now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void sleep_us(int64_t us) {
    struct timespec pause = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000L};
    nanosleep(&pause, NULL);
}

/* Registered after yolo_init, like a destructor ONNX Runtime registers during the load: if it runs while the
 * load is still going, the same would have happened to ONNX Runtime's destructors. */
static void late_exit_handler(void) {
    yolo_load_state state = YOLO_LOAD_STATE_READY;
    if (yolo_state(detector, &state) == YOLO_STATUS_OK && state == YOLO_LOAD_STATE_LOADING) {
        static const char message[] = "an exit handler registered after yolo_init ran during the load\n";
        if (write(STDERR_FILENO, message, sizeof message - 1) < 0) {
            /* Nothing more to do: the exit status reports it. */
        }
        _exit(LATE_HANDLER_RAN_DURING_LOAD);
    }
}

/* Opens `model` with `async_load` into `detector`; false (with the reason printed) on failure. */
static bool open_async(const char *model, uint32_t pool_size) {
    yolo_config *config = NULL;
    yolo_status status = yolo_config_new(&config);
    if (status == YOLO_STATUS_OK) status = yolo_config_set_model_path(config, model);
    if (status == YOLO_STATUS_OK) status = yolo_config_set_pool_size(config, pool_size);
    if (status == YOLO_STATUS_OK) status = yolo_config_set_async_load(config, true);
    if (status == YOLO_STATUS_OK) status = yolo_init(config, &detector);
    if (status != YOLO_STATUS_OK) fprintf(stderr, "init: %s\n", yolo_last_error());
    yolo_config_free(config);
    return status == YOLO_STATUS_OK;
}

/* In a child: how long a background load runs after yolo_init returns, in microseconds, written to `out`. */
static int measure_load(const char *model, uint32_t pool_size, int out) {
    if (!open_async(model, pool_size)) return 1;
    int64_t started = now_us();
    if (yolo_wait_ready(detector, YOLO_WAIT_FOREVER) != YOLO_STATUS_OK) {
        fprintf(stderr, "load: %s\n", yolo_last_error());
        return 1;
    }
    int64_t took = now_us() - started;
    yolo_free(detector);
    return write(out, &took, sizeof took) == (ssize_t)sizeof took ? 0 : 1;
}

/* In a child: an async load, an exit `delay_us` later; writes 'L' (still loading) or 'R' to `out` first. */
static int exit_during_load(const char *model, uint32_t pool_size, int64_t delay_us, int out) {
    if (!open_async(model, pool_size)) return 1;
    if (atexit(late_exit_handler) != 0) {
        return 1;
    }
    sleep_us(delay_us);
    yolo_load_state state = YOLO_LOAD_STATE_LOADING;
    if (yolo_state(detector, &state) != YOLO_STATUS_OK) {
        return 1;
    }
    char seen = state == YOLO_LOAD_STATE_LOADING ? 'L' : 'R';
    if (write(out, &seen, 1) != 1) {
        return 1;
    }
    return EXIT_STATUS; /* exit() with the load possibly still running */
}

/* Forks a child running `body`; returns its wait status, or -1. */
static int run_child(int (*body)(const char *, uint32_t, int64_t, int), const char *model, uint32_t pool_size,
                     int64_t delay_us, int out) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        exit(body(model, pool_size, delay_us, out));
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return -1;
    }
    return status;
}

static int measure_body(const char *model, uint32_t pool_size, int64_t delay_us, int out) {
    (void)delay_us;
    return measure_load(model, pool_size, out);
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: exit_during_load MODEL RUNS [POOL_SIZE]\n");
        return 2;
    }
    const char *model = argv[1];
    long runs = atol(argv[2]);
    uint32_t pool_size = argc == 4 ? (uint32_t)atol(argv[3]) : 2;
    int pipe_fds[2];
    if (runs < 1 || pipe(pipe_fds) != 0) {
        fprintf(stderr, "exit_during_load: RUNS must be at least 1\n");
        return 2;
    }
    int status = run_child(measure_body, model, pool_size, 0, pipe_fds[1]);
    int64_t load_us = 0;
    if (status != 0 || read(pipe_fds[0], &load_us, sizeof load_us) != (ssize_t)sizeof load_us) {
        fprintf(stderr, "exit_during_load: the measuring load failed (wait status %d)\n", status);
        return 1;
    }
    int64_t span_us = load_us * 3 / 2;
    long during = 0, after = 0, failures = 0;
    for (long i = 0; i < runs; i++) {
        /* A tenth of the children exit at once, often before the loading thread has run at all. */
        int64_t delay_us = i < runs / 10 ? 0 : span_us * i / runs;
        status = run_child(exit_during_load, model, pool_size, delay_us, pipe_fds[1]);
        char seen = '?';
        if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == EXIT_STATUS &&
            read(pipe_fds[0], &seen, 1) == 1) {
            seen == 'L' ? during++ : after++;
            continue;
        }
        failures++;
        if (status >= 0 && WIFSIGNALED(status)) {
            fprintf(stderr, "exit %lld us into a load: killed by signal %d (%s)\n", (long long)delay_us,
                    WTERMSIG(status), strsignal(WTERMSIG(status)));
        } else {
            fprintf(stderr, "exit %lld us into a load: exit status %d, expected %d\n", (long long)delay_us,
                    status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, EXIT_STATUS);
        }
    }
    printf("exit_during_load: load %lld us; %ld exits during the load, %ld after it, %ld failed\n",
           (long long)load_us, during, after, failures);
    if (failures == 0 && during == 0) {
        fprintf(stderr, "exit_during_load: no child exited during the load; nothing was tested\n");
        return 1;
    }
    return failures == 0 ? 0 : 1;
}
