/* Models that someone uploaded or exported with odd options, and callers that free at awkward moments,
 * through the C API alone: none may crash the process, read outside the model's folder, or return a box
 * that breaks the header's promise. The models come from scripts/make_test_models.py.
 *
 *   hostile_models TEST_MODELS_DIR DEMO_MODEL
 *
 * TEST_MODELS_DIR holds v8_fixed.onnx and hostile/; DEMO_MODEL is a real model whose load takes long
 * enough to free a detector during it. */
#define _DEFAULT_SOURCE
#include "yolo_ffi.h"
#include "read_file.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static char dir[PATH_MAX];

/* DIR/hostile/NAME, in a static buffer. */
static const char *hostile(const char *name) {
    static char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/hostile/%s", dir, name);
    return path;
}

/* The message of the last open_with call, kept while other calls come between. */
static char open_error[4096];

/* A detector on `path` with a pool of `pool_size`, optionally loading in the background with `on_load`. */
static yolo_status open_with(const char *path, uint32_t pool_size, bool async_load, yolo_load_callback on_load,
                             yolo_detector **out) {
    yolo_config *config = NULL;
    *out = NULL;
    yolo_status status = yolo_config_new(&config);
    if (status == YOLO_STATUS_OK) status = yolo_config_set_model_path(config, path);
    if (status == YOLO_STATUS_OK) status = yolo_config_set_pool_size(config, pool_size);
    if (status == YOLO_STATUS_OK) status = yolo_config_set_async_load(config, async_load);
    if (status == YOLO_STATUS_OK) status = yolo_config_set_on_load(config, on_load, NULL);
    if (status == YOLO_STATUS_OK) status = yolo_init(config, out);
    snprintf(open_error, sizeof open_error, "%s", yolo_last_error());
    yolo_config_free(config);
    return status;
}

static yolo_status open_model(const char *path, bool async_load, yolo_detector **out) {
    return open_with(path, 1, async_load, NULL, out);
}

static bool contains(const char *text, const char *part) { return text && strstr(text, part) != NULL; }

static bool ends_clean(const char *text) {
    size_t n = strlen(text);
    return n == 0 || (text[n - 1] != '\n' && text[n - 1] != '\r' && text[n - 1] != ' ');
}

/* Log events, captured for the checks on warnings. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[16384];

static void capture_log(void *user_data, uint32_t level, const char *message) {
    (void)user_data;
    (void)level;
    pthread_mutex_lock(&log_lock);
    size_t used = strlen(log_text);
    snprintf(log_text + used, sizeof log_text - used, "%s\n", message);
    pthread_mutex_unlock(&log_lock);
}

static bool logged(const char *part) {
    pthread_mutex_lock(&log_lock);
    bool found = contains(log_text, part);
    pthread_mutex_unlock(&log_lock);
    return found;
}

typedef struct {
    float x1, y1, x2, y2, score;
    uint32_t class_id;
} expected_box;

/* Detects in a 64x64 grey image and checks the header's promise on every box, then that the boxes are
 * exactly `want`. */
static void check_detections(const yolo_detector *detector, const expected_box *want, size_t want_count) {
    unsigned char pixels[64 * 64];
    memset(pixels, 114, sizeof pixels);
    yolo_result *result = NULL;
    CHECK(yolo_detect_pixels(detector, pixels, sizeof pixels, 64, 64, 64, YOLO_PIXEL_FORMAT_GRAY8, NULL, &result) ==
          YOLO_STATUS_OK);
    if (!result) return;
    const yolo_detection *found = NULL;
    size_t count = 0, classes = 0;
    CHECK(yolo_result_detections(result, &found, &count) == YOLO_STATUS_OK);
    CHECK(yolo_class_count(detector, &classes) == YOLO_STATUS_OK);
    for (size_t i = 0; i < count; i++) {
        const yolo_detection *d = &found[i];
        const char *name = NULL;
        size_t name_len = 0;
        CHECK(0.0f <= d->x1 && d->x1 <= d->x2 && d->x2 <= 64.0f);
        CHECK(0.0f <= d->y1 && d->y1 <= d->y2 && d->y2 <= 64.0f);
        CHECK(isfinite(d->score) && d->score > 0.25f);
        CHECK(d->class_id < classes && yolo_class_name(detector, d->class_id, &name, &name_len) == YOLO_STATUS_OK);
    }
    CHECK(count == want_count);
    for (size_t i = 0; i < count && i < want_count; i++) {
        const yolo_detection *d = &found[i];
        const expected_box *w = &want[i];
        bool same = fabsf(d->x1 - w->x1) < 1e-4f && fabsf(d->y1 - w->y1) < 1e-4f && fabsf(d->x2 - w->x2) < 1e-4f &&
                    fabsf(d->y2 - w->y2) < 1e-4f && fabsf(d->score - w->score) < 1e-6f && d->class_id == w->class_id;
        if (!same) {
            fprintf(stderr, "box %zu: [%g %g %g %g] %g class %u, expected [%g %g %g %g] %g class %u\n", i, d->x1,
                    d->y1, d->x2, d->y2, d->score, d->class_id, w->x1, w->y1, w->x2, w->y2, w->score, w->class_id);
            failures++;
        }
    }
    yolo_result_free(result);
}

/* A metadata `imgsz` of 100000 x 100000 asked for 120 GB at load and aborted the process. */
static void metadata_bomb(void) {
    yolo_detector *detector = NULL;
    CHECK(open_model(hostile("imgsz_bomb.onnx"), false, &detector) == YOLO_STATUS_INVALID_MODEL);
    CHECK(contains(open_error, "exceeds the maximum of 16384"));
    CHECK(open_model(hostile("imgsz_bomb.onnx"), true, &detector) == YOLO_STATUS_OK);
    CHECK(yolo_wait_ready(detector, YOLO_WAIT_FOREVER) == YOLO_STATUS_LOAD_FAILED);
    const char *message = NULL;
    size_t len = 0;
    CHECK(yolo_load_error(detector, &message, &len) == YOLO_STATUS_OK && contains(message, "'imgsz'"));
    CHECK(yolo_free(detector) == YOLO_STATUS_OK);
    CHECK(open_model(hostile("fixed_20000.onnx"), false, &detector) == YOLO_STATUS_INVALID_MODEL);
    CHECK(contains(open_error, "[1, 3, 20000, 20000]") && contains(open_error, "16384"));
}

/* The largest metadata size under an address-space limit, in a child: the input buffer (3.2 GB) cannot be
 * made under 2 GiB, and ONNX Runtime's copy of it cannot under 5 GiB. Both are OUT_OF_MEMORY, not "not a
 * YOLO model". Sanitizers reserve terabytes of address space, so this runs in the plain build only. */
static void out_of_memory(void) {
#if defined(__SANITIZE_ADDRESS__)
    printf("hostile_models: out-of-memory cases SKIPPED under AddressSanitizer\n");
#else
    const unsigned long long limits_gib[] = {2, 5};
    for (size_t i = 0; i < 2; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            struct rlimit limit = {.rlim_cur = limits_gib[i] << 30, .rlim_max = limits_gib[i] << 30};
            if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(2);
            yolo_detector *detector = NULL;
            yolo_status status = open_model(hostile("imgsz_16384.onnx"), false, &detector);
            const char *message = open_error;
            if (status != YOLO_STATUS_OUT_OF_MEMORY || !contains(message, "memory") || !ends_clean(message)) {
                fprintf(stderr, "under %llu GiB: status %u: %s\n", limits_gib[i], status, message);
                fflush(stderr);
                _exit(1);
            }
            printf("hostile_models: 16384x16384 under %llu GiB: %s\n", limits_gib[i], message);
            fflush(stdout);
            _exit(0);
        }
        int status = -1;
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
#endif
}

/* Outputs no trained model gives: only the finite boxes of known classes come back, corners ordered. */
static void crafted_outputs(void) {
    yolo_detector *detector = NULL;
    CHECK(open_model(hostile("crafted_v8.onnx"), false, &detector) == YOLO_STATUS_OK);
    if (detector) {
        const expected_box want[] = {{36, 36, 44, 44, 0.8f, 1}, {6, 47, 14, 53, 0.7f, 2}};
        check_detections(detector, want, 2);
        yolo_free(detector);
    }
    CHECK(open_model(hostile("crafted_e2e.onnx"), false, &detector) == YOLO_STATUS_OK);
    if (detector) {
        const expected_box want[] = {{10, 10, 50, 50, 0.9f, 1}, {4, 4, 12, 12, 0.6f, 3}};
        check_detections(detector, want, 2);
        yolo_free(detector);
    }
}

/* Names that do not cover every class are refused, naming both counts; names that are not UTF-8 are decoded
 * with U+FFFD, with a warning, rather than dropped. */
static void odd_names(void) {
    yolo_detector *detector = NULL;
    const char *name = NULL;
    size_t len = 0;
    CHECK(open_model(hostile("names_short.onnx"), false, &detector) == YOLO_STATUS_INVALID_MODEL);
    CHECK(contains(open_error, "[1, 7, 1]") && contains(open_error, "names 1 classes"));
    CHECK(open_model(hostile("names_latin1.onnx"), false, &detector) == YOLO_STATUS_OK);
    if (detector) {
        CHECK(yolo_class_name(detector, 0, &name, &len) == YOLO_STATUS_OK && strcmp(name, "caf\xef\xbf\xbd") == 0);
        yolo_free(detector);
    }
    CHECK(logged("metadata 'names' is not valid UTF-8"));
}

/* External data is read from the model's folder, whatever the working directory holds, and never from
 * outside that folder. */
static void external_data(void) {
    char model[PATH_MAX + 64], cwd[PATH_MAX], scratch[] = "/tmp/yolo-ffi-cwd-XXXXXX";
    snprintf(model, sizeof model, "%s", hostile("external/model.onnx"));
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(mkdtemp(scratch) != NULL);
    if (chdir(scratch) != 0) {
        failures++;
        return;
    }
    const expected_box want[] = {
        {15, 15, 25, 25, 0.9f, 0}, {15, 16, 25, 26, 0.7f, 1}, {2, 57, 8, 63, 0.6f, 2}, {46, 46, 54, 54, 0.3f, 2}};
    /* Only beside the model: the working directory has no weights.bin. */
    yolo_detector *detector = NULL;
    CHECK(open_model(model, false, &detector) == YOLO_STATUS_OK);
    if (detector) {
        check_detections(detector, want, 4);
        yolo_free(detector);
    }
    /* A decoy weights.bin in the working directory (one box of score 0.99) must not be read. */
    size_t len = 0;
    unsigned char *decoy = read_file(hostile("decoy/weights.bin"), &len);
    FILE *f = fopen("weights.bin", "wb");
    CHECK(decoy && f && fwrite(decoy, 1, len, f) == len);
    if (f) fclose(f);
    free(decoy);
    /* Pool 2: another registry key, loaded afresh, not shared with the detector above. */
    CHECK(open_with(model, 2, false, NULL, &detector) == YOLO_STATUS_OK);
    if (detector) {
        check_detections(detector, want, 4);
        yolo_free(detector);
    }
    remove("weights.bin");
    CHECK(chdir(cwd) == 0);
    rmdir(scratch);

    CHECK(open_model(hostile("external/escape_dotdot.onnx"), false, &detector) == YOLO_STATUS_INVALID_MODEL);
    CHECK(contains(open_error, "is not a relative path inside the model's folder"));
    CHECK(open_model(hostile("external/escape_absolute.onnx"), false, &detector) == YOLO_STATUS_INVALID_MODEL);
    CHECK(contains(open_error, "is not a relative path inside the model's folder"));
    CHECK(open_model(hostile("external/escape_symlink.onnx"), false, &detector) == YOLO_STATUS_INVALID_MODEL);
    CHECK(contains(open_error, "leads outside the model's folder"));
}

/* on_load is never called after yolo_free, and yolo_free waits for one that is running. */
static int load_calls = 0, callback_running = 0, callback_done = 0;

static void count_load(void *user_data, yolo_status status, const char *message) {
    (void)user_data;
    (void)status;
    (void)message;
    __atomic_fetch_add(&load_calls, 1, __ATOMIC_SEQ_CST);
}

static void slow_load_callback(void *user_data, yolo_status status, const char *message) {
    (void)user_data;
    (void)status;
    (void)message;
    __atomic_store_n(&callback_running, 1, __ATOMIC_SEQ_CST);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    __atomic_store_n(&callback_done, 1, __ATOMIC_SEQ_CST);
}

static void on_load_after_free(const char *demo_model) {
    /* Pool 3: a key no other detector of this process uses, so the load starts here. */
    yolo_detector *freed = NULL, *other = NULL;
    CHECK(open_with(demo_model, 3, true, count_load, &freed) == YOLO_STATUS_OK);
    CHECK(yolo_free(freed) == YOLO_STATUS_OK);
    CHECK(open_with(demo_model, 3, true, NULL, &other) == YOLO_STATUS_OK); /* shares the load still running */
    CHECK(yolo_wait_ready(other, YOLO_WAIT_FOREVER) == YOLO_STATUS_OK);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    CHECK(__atomic_load_n(&load_calls, __ATOMIC_SEQ_CST) == 0);
    yolo_free(other);

    CHECK(open_with(demo_model, 4, true, slow_load_callback, &freed) == YOLO_STATUS_OK);
    for (int i = 0; i < 10000 && !__atomic_load_n(&callback_running, __ATOMIC_SEQ_CST); i++) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    CHECK(__atomic_load_n(&callback_running, __ATOMIC_SEQ_CST) == 1);
    CHECK(yolo_free(freed) == YOLO_STATUS_OK);
    CHECK(__atomic_load_n(&callback_done, __ATOMIC_SEQ_CST) == 1);
}

/* Messages end without a newline; something that is not a result is an invalid handle. */
static void messages_and_handles(void) {
    yolo_detector *detector = NULL;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/v8_fixed.onnx", dir);
    CHECK(open_model(path, false, &detector) == YOLO_STATUS_OK);
    if (!detector) return;
    static const unsigned char truncated_jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00};
    const unsigned char *images[] = {truncated_jpeg};
    size_t lens[] = {sizeof truncated_jpeg};
    yolo_result *results[1] = {NULL};
    CHECK(yolo_detect_batch(detector, images, lens, 1, NULL, results) == YOLO_STATUS_IMAGE_DECODE_FAILED);
    CHECK(strlen(yolo_last_error()) > 0 && ends_clean(yolo_last_error()));
    yolo_detector *garbage = NULL;
    CHECK(open_model(hostile("decoy_weights.bin"), false, &garbage) == YOLO_STATUS_MODEL_LOAD_FAILED);
    CHECK(strlen(open_error) > 0 && ends_clean(open_error));

    unsigned char not_a_result[64] = {0};
    const yolo_detection *found = NULL;
    size_t count = 0;
    CHECK(yolo_result_detections((const yolo_result *)not_a_result, &found, &count) == YOLO_STATUS_INVALID_HANDLE);
    CHECK(contains(yolo_last_error(), "result"));
    CHECK(strcmp(yolo_status_string(YOLO_STATUS_OUT_OF_MEMORY), "out of memory") == 0);
    yolo_free(detector);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: hostile_models TEST_MODELS_DIR DEMO_MODEL\n");
        return 2;
    }
    if (!realpath(argv[1], dir)) {
        perror(argv[1]);
        return 2;
    }
    CHECK(yolo_set_log_callback(capture_log, NULL) == YOLO_STATUS_OK);
    metadata_bomb();
    out_of_memory();
    crafted_outputs();
    odd_names();
    external_data();
    on_load_after_free(argv[2]);
    messages_and_handles();
    CHECK(yolo_set_log_callback(NULL, NULL) == YOLO_STATUS_OK);
    if (failures) {
        fprintf(stderr, "hostile_models: %d checks failed\n", failures);
        return 1;
    }
    printf("hostile_models: all checks passed\n");
    return 0;
}
