/* Fork safety: a detector loaded before fork() works in the parent and in the child, and neither hangs or
 * crashes, whether the child detects, frees at once, calls yolo_after_fork first, or exits with the
 * detector still open. Children end through exit(), so exit handlers run as in a real worker.
 * Then fork() in the middle of a background load (`gunicorn --preload` with `async_load`): the child must
 * load the model itself and detect, and the parent's load must end as usual.
 * Then a reload to SECOND_MODEL (a segmentation model): a child forked after it serves the new model, and a
 * child forked while an asynchronous reload runs can reload itself (the reload's thread stayed behind).
 *
 *   fork_test MODEL POOL_SIZE THREADS_PER_SESSION SECOND_MODEL */
#define _POSIX_C_SOURCE 200809L
#include "yolo_ffi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned char pixels[96 * 64 * 3];

static long count(const yolo_detector *detector) {
    yolo_result *result = NULL;
    if (yolo_detect_pixels(detector, pixels, sizeof pixels, 96, 64, 96 * 3, YOLO_PIXEL_FORMAT_RGB8, NULL, &result) !=
        YOLO_STATUS_OK) {
        fprintf(stderr, "detect failed: %s\n", yolo_last_error());
        return -1;
    }
    const yolo_detection *detections = NULL;
    size_t n = 0;
    yolo_result_detections(result, &detections, &n);
    yolo_result_free(result);
    return (long)n;
}

enum child_plan { DETECT_THEN_FREE, FREE_AT_ONCE, AFTER_FORK_THEN_DETECT, EXIT_WITH_LIVE_DETECTOR, PLANS };

/* The sessions yolo_stats reports, or -1. */
static long sessions(const yolo_detector *detector) {
    yolo_detector_stats stats;
    return yolo_stats(detector, &stats) == YOLO_STATUS_OK ? (long)stats.sessions : -1;
}

static int run_child(yolo_detector *detector, enum child_plan plan, long expected) {
    alarm(60); /* a hang becomes a failure, not a stuck CI */
    if (sessions(detector) != 0) return 14; /* a health check never builds the child's sessions */
    if (plan == AFTER_FORK_THEN_DETECT && yolo_after_fork() != YOLO_STATUS_OK) return 10;
    if (plan != FREE_AT_ONCE && count(detector) != expected) return 11;
    if (plan != FREE_AT_ONCE && sessions(detector) < 1) return 15;
    if (plan != FREE_AT_ONCE && count(detector) != expected) return 12;
    if (plan == EXIT_WITH_LIVE_DETECTOR) return 0; /* exit() with the detector still open */
    if (yolo_free(detector) != YOLO_STATUS_OK) return 13;
    return 0;
}

/* Forks `delay_us` after starting a background load, and checks both processes get a working detector. */
static int fork_during_load(yolo_config *config, unsigned delay_us, long expected) {
    yolo_config_set_async_load(config, true);
    /* Another model key than the detector loaded in main(): a load of its own, not a shared one. */
    yolo_config_set_share_weights(config, true);
    yolo_detector *detector = NULL;
    if (yolo_init(config, &detector) != YOLO_STATUS_OK) {
        fprintf(stderr, "async init: %s\n", yolo_last_error());
        return 1;
    }
    struct timespec pause = {.tv_sec = 0, .tv_nsec = (long)delay_us * 1000L};
    nanosleep(&pause, NULL);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        alarm(60);
        if (yolo_wait_ready(detector, 30000) != YOLO_STATUS_OK) {
            fprintf(stderr, "child wait_ready: %s\n", yolo_last_error());
            exit(20);
        }
        exit(count(detector) == expected ? 0 : 21);
    }
    int failed = 0;
    if (yolo_wait_ready(detector, 30000) != YOLO_STATUS_OK || count(detector) != expected) {
        fprintf(stderr, "fork_test: load interrupted after %u us: the parent's detector broke\n", delay_us);
        failed++;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "fork_test: load interrupted after %u us: child %s %d\n", delay_us,
                WIFEXITED(status) ? "exited" : "killed by signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        failed++;
    }
    if (yolo_free(detector) != YOLO_STATUS_OK) failed++;
    return failed;
}

/* The task of the detector's model and the name a fresh result gives class 0; 0 when all went well. */
static int serves(const yolo_detector *detector, yolo_task task, const char *class0) {
    yolo_task found = 0;
    if (yolo_model_task(detector, &found) != YOLO_STATUS_OK || found != task) return 1;
    yolo_result *result = NULL;
    if (yolo_detect_pixels(detector, pixels, sizeof pixels, 96, 64, 96 * 3, YOLO_PIXEL_FORMAT_RGB8, NULL, &result) !=
        YOLO_STATUS_OK)
        return 2;
    const char *name = NULL;
    size_t length = 0;
    int wrong = yolo_result_class_name(result, 0, &name, &length) != YOLO_STATUS_OK || strcmp(name, class0) != 0;
    yolo_result_free(result);
    return wrong ? 3 : 0;
}

/* Waits for a child and says whether it exited with 0. */
static int child_ok(pid_t pid, const char *what) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 1;
    fprintf(stderr, "fork_test: %s: child %s %d\n", what, WIFEXITED(status) ? "exited" : "killed by signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return 0;
}

/* A reload to `second` (a segmentation model), then forks: after it, and during an asynchronous reload. */
static int fork_after_reload(yolo_detector *detector, const char *first, const char *second) {
    yolo_config *to_second = NULL, *to_first = NULL;
    if (yolo_config_new(&to_second) != YOLO_STATUS_OK || yolo_config_set_model_path(to_second, second) != YOLO_STATUS_OK ||
        yolo_config_new(&to_first) != YOLO_STATUS_OK || yolo_config_set_model_path(to_first, first) != YOLO_STATUS_OK ||
        yolo_config_set_pool_size(to_second, 1) != YOLO_STATUS_OK || yolo_config_set_pool_size(to_first, 1) != YOLO_STATUS_OK)
        return 1;
    int failed = 0;
    if (yolo_reload(detector, to_second, 0) != YOLO_STATUS_OK) {
        fprintf(stderr, "reload: %s\n", yolo_last_error());
        failed++;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return failed + 1;
    if (pid == 0) {
        alarm(60);
        exit(serves(detector, YOLO_TASK_SEGMENT, "a"));
    }
    if (!child_ok(pid, "fork after a reload")) failed++;
    /* Fork right after an asynchronous reload starts: the child has no reloading thread, so it is not busy. */
    if (yolo_reload_async(detector, to_first, 0) != YOLO_STATUS_OK) failed++;
    fflush(NULL);
    pid = fork();
    if (pid < 0) return failed + 1;
    if (pid == 0) {
        alarm(60);
        yolo_reload_stats stats;
        if (yolo_stats_reload(detector, &stats) != YOLO_STATUS_OK || stats.running) exit(30);
        if (yolo_reload(detector, to_second, 0) != YOLO_STATUS_OK) exit(31);
        exit(serves(detector, YOLO_TASK_SEGMENT, "a"));
    }
    if (!child_ok(pid, "fork during an asynchronous reload")) failed++;
    yolo_reload_stats stats = {0};
    for (int i = 0; i < 6000 && (yolo_stats_reload(detector, &stats) != YOLO_STATUS_OK || stats.running); i++) {
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 10000000L};
        nanosleep(&pause, NULL);
    }
    if (stats.running || stats.reloads != 2 || serves(detector, YOLO_TASK_DETECT, "person") != 0) {
        fprintf(stderr, "fork_test: the parent's asynchronous reload did not end on the first model\n");
        failed++;
    }
    yolo_config_free(to_second);
    yolo_config_free(to_first);
    return failed;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: fork_test MODEL POOL_SIZE THREADS_PER_SESSION SECOND_MODEL\n");
        return 2;
    }
    memset(pixels, 90, sizeof pixels);
    yolo_config *config = NULL;
    if (yolo_config_new(&config) != YOLO_STATUS_OK || yolo_config_set_model_path(config, argv[1]) != YOLO_STATUS_OK ||
        yolo_config_set_pool_size(config, (uint32_t)atoi(argv[2])) != YOLO_STATUS_OK ||
        yolo_config_set_threads_per_session(config, (uint32_t)atoi(argv[3])) != YOLO_STATUS_OK) {
        fprintf(stderr, "config: %s\n", yolo_last_error());
        return 1;
    }
    yolo_detector *detector = NULL;
    if (yolo_init(config, &detector) != YOLO_STATUS_OK) {
        fprintf(stderr, "init: %s\n", yolo_last_error());
        return 1;
    }
    long expected = count(detector);
    if (expected <= 0) {
        fprintf(stderr, "fork_test: the model must find something in a grey image (use a synthetic model)\n");
        return 1;
    }

    int failed = 0;
    for (int plan = 0; plan < PLANS; plan++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) return 1;
        if (pid == 0) exit(run_child(detector, (enum child_plan)plan, expected));
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "fork_test: plan %d: child %s %d\n", plan, WIFEXITED(status) ? "exited" : "killed by signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            failed++;
        }
        if (count(detector) != expected) {
            fprintf(stderr, "fork_test: plan %d: the parent's detections changed\n", plan);
            failed++;
        }
    }
    static const unsigned delays_us[] = {0, 1000, 5000, 20000, 60000};
    for (size_t i = 0; i < sizeof delays_us / sizeof delays_us[0]; i++) failed += fork_during_load(config, delays_us[i], expected);
    yolo_config_free(config);
    failed += fork_after_reload(detector, argv[1], argv[4]);
    /* The parent exits with its detector still open: exit must neither crash nor hang. */
    printf("fork_test (pool %s x %s threads): %d passed, %d failed\n", argv[2], argv[3], failed ? 0 : 1, failed ? 1 : 0);
    return failed ? 1 : 0;
}
