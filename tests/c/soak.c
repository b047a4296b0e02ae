/* Bounded soak and stress test: THREADS caller threads x CALLS detects each, on a mix of valid and invalid
 * inputs, against two detectors of pool 2 that a random caller frees and re-creates from time to time.
 * Every call must end in the status its input calls for (or, for a detector freed under it, an invalid
 * handle), valid inputs must give the reference detections, and the resident set must stop growing.
 * Prints calls, statuses by kind, and RSS after warm-up and at the end (docs/reliability.md).
 *
 *   soak MODEL JPEG THREADS CALLS [MAX_RSS_GROWTH]
 *
 * `make test-c` runs 8 x 10000; the ASan+UBSan and valgrind runs use fewer calls. MAX_RSS_GROWTH (default
 * 1.15) bounds RSS at the end over RSS after warm-up; 0 skips the check, for ASan (its quarantine holds
 * freed memory) and valgrind. */
#include "yolo_ffi.h"
#include "read_file.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 2
#define KINDS 8

static const char *model_path;
static unsigned char *jpeg;
static size_t jpeg_len;
static unsigned char pixels[64 * 48 * 3];
static size_t reference_jpeg, reference_pixels;
static long calls_per_thread;

/* The detectors callers share; `generation[i]` changes whenever slot i is freed and re-created. */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static yolo_detector *slots[SLOTS];
static unsigned long generation[SLOTS];

static atomic_long by_status[64];
static atomic_long stale_calls, reinits, failures, done_calls;
static atomic_long rss_after_warmup_kb;

static const char *kind_names[KINDS] = {"jpeg", "pixels", "truncated jpeg", "garbage", "empty",
                                        "short pixel buffer", "NaN threshold", "bad pixel format"};

static long rss_kb(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static yolo_detector *open_detector(void) {
    yolo_config *config = NULL;
    if (yolo_config_new(&config) != YOLO_STATUS_OK || yolo_config_set_model_path(config, model_path) != YOLO_STATUS_OK ||
        yolo_config_set_pool_size(config, 2) != YOLO_STATUS_OK ||
        yolo_config_set_threads_per_session(config, 1) != YOLO_STATUS_OK) {
        fprintf(stderr, "soak: config: %s\n", yolo_last_error());
        exit(1);
    }
    yolo_detector *detector = NULL;
    yolo_status status = yolo_init(config, &detector);
    yolo_config_free(config);
    if (status != YOLO_STATUS_OK) {
        fprintf(stderr, "soak: yolo_init: %s\n", yolo_last_error());
        exit(1);
    }
    return detector;
}

/* Runs input kind `kind` on `detector`; returns the status and the detection count (or -1). */
static yolo_status run_kind(const yolo_detector *detector, int kind, long *count) {
    static const unsigned char garbage[] = "definitely not an image, just some bytes";
    yolo_result *result = NULL;
    yolo_detect_options *options = NULL;
    yolo_status status;
    switch (kind) {
    case 0: status = yolo_detect(detector, jpeg, jpeg_len, NULL, &result); break;
    case 1:
        status = yolo_detect_pixels(detector, pixels, sizeof pixels, 64, 48, 64 * 3, YOLO_PIXEL_FORMAT_RGB8, NULL,
                                    &result);
        break;
    case 2: status = yolo_detect(detector, jpeg, jpeg_len / 2, NULL, &result); break;
    case 3: status = yolo_detect(detector, garbage, sizeof garbage, NULL, &result); break;
    case 4: status = yolo_detect(detector, jpeg, 0, NULL, &result); break;
    case 5:
        status = yolo_detect_pixels(detector, pixels, 100, 64, 48, 64 * 3, YOLO_PIXEL_FORMAT_RGB8, NULL, &result);
        break;
    case 6:
        /* A NaN threshold is refused by the setter; the options are made and freed on every call. */
        status = yolo_detect_options_new(&options);
        if (status == YOLO_STATUS_OK) status = yolo_detect_options_set_conf_threshold(options, 0.0f / 0.0f);
        if (status == YOLO_STATUS_OK) status = yolo_detect(detector, jpeg, jpeg_len, options, &result);
        yolo_detect_options_free(options);
        break;
    default:
        status = yolo_detect_pixels(detector, pixels, sizeof pixels, 64, 48, 64 * 3, 1000, NULL, &result);
        break;
    }
    *count = -1;
    if (status == YOLO_STATUS_OK) {
        const yolo_detection *detections = NULL;
        size_t n = 0;
        if (yolo_result_detections(result, &detections, &n) == YOLO_STATUS_OK) *count = (long)n;
        yolo_result_free(result);
    } else if (result != NULL) {
        *count = -2; /* an out-parameter written on failure */
    }
    return status;
}

static yolo_status expected_status(int kind) {
    switch (kind) {
    case 0:
    case 1: return YOLO_STATUS_OK;
    case 2:
    case 3: return YOLO_STATUS_IMAGE_DECODE_FAILED;
    default: return YOLO_STATUS_INVALID_ARGUMENT;
    }
}

static void *caller(void *arg) {
    unsigned int seed = (unsigned int)(uintptr_t)arg * 2654435761u + 1;
    for (long i = 0; i < calls_per_thread; i++) {
        int slot = rand_r(&seed) % SLOTS;
        int kind = rand_r(&seed) % KINDS;
        if (rand_r(&seed) % 500 == 0) {
            /* Free and re-create a detector while other callers may be using it. */
            pthread_mutex_lock(&slots_lock);
            yolo_detector *old = slots[slot];
            slots[slot] = open_detector();
            generation[slot]++;
            pthread_mutex_unlock(&slots_lock);
            if (yolo_free(old) != YOLO_STATUS_OK) atomic_fetch_add(&failures, 1);
            atomic_fetch_add(&reinits, 1);
        }
        pthread_mutex_lock(&slots_lock);
        yolo_detector *detector = slots[slot];
        unsigned long seen = generation[slot];
        pthread_mutex_unlock(&slots_lock);

        /* Now and then give another thread the time to free this detector before the call uses it. */
        if (rand_r(&seed) % 8 == 0) sched_yield();
        long count;
        yolo_status status = run_kind(detector, kind, &count);
        atomic_fetch_add(&by_status[status < 64 ? status : 63], 1);
        int ok;
        if (status == YOLO_STATUS_INVALID_HANDLE) {
            /* Only a detector freed after we read it may be stale. */
            pthread_mutex_lock(&slots_lock);
            ok = generation[slot] != seen;
            pthread_mutex_unlock(&slots_lock);
            atomic_fetch_add(&stale_calls, 1);
        } else {
            ok = status == expected_status(kind);
            if (ok && kind == 0) ok = count == (long)reference_jpeg;
            if (ok && kind == 1) ok = count == (long)reference_pixels;
            if (ok && status != YOLO_STATUS_OK) ok = count == -1;
        }
        if (!ok) {
            if (atomic_fetch_add(&failures, 1) < 10) {
                fprintf(stderr, "soak: %s gave %s (count %ld): %s\n", kind_names[kind], yolo_status_string(status),
                        count, yolo_last_error());
            }
        }
        long total = atomic_fetch_add(&done_calls, 1) + 1;
        if (total == 1000) atomic_store(&rss_after_warmup_kb, rss_kb());
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: soak MODEL JPEG THREADS CALLS [MAX_RSS_GROWTH]\n");
        return 2;
    }
    model_path = argv[1];
    jpeg = read_file(argv[2], &jpeg_len);
    int threads = atoi(argv[3]);
    calls_per_thread = atol(argv[4]);
    double max_growth = argc > 5 ? atof(argv[5]) : 1.15;
    if (!jpeg || threads < 1 || threads > 64 || calls_per_thread < 1) {
        fprintf(stderr, "soak: bad arguments or unreadable %s\n", argv[2]);
        return 2;
    }
    for (size_t i = 0; i < sizeof pixels; i++) pixels[i] = (unsigned char)(i * 31 % 251);
    for (int i = 0; i < SLOTS; i++) slots[i] = open_detector();
    long count;
    if (run_kind(slots[0], 0, &count) != YOLO_STATUS_OK || count < 0) {
        fprintf(stderr, "soak: reference detect failed: %s\n", yolo_last_error());
        return 1;
    }
    reference_jpeg = (size_t)count;
    if (run_kind(slots[0], 1, &count) != YOLO_STATUS_OK || count < 0) return 1;
    reference_pixels = (size_t)count;

    pthread_t ids[64];
    for (int t = 0; t < threads; t++) pthread_create(&ids[t], NULL, caller, (void *)(uintptr_t)(t + 1));
    for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    long rss_end = rss_kb();
    for (int i = 0; i < SLOTS; i++) {
        if (yolo_free(slots[i]) != YOLO_STATUS_OK) atomic_fetch_add(&failures, 1);
    }
    free(jpeg);

    long warm = atomic_load(&rss_after_warmup_kb);
    if (warm <= 0) warm = rss_end;
    printf("soak: %d threads x %ld calls = %ld calls, %ld re-inits, %ld failures\n", threads, calls_per_thread,
           atomic_load(&done_calls), atomic_load(&reinits), atomic_load(&failures));
    for (int s = 0; s < 64; s++) {
        long n = atomic_load(&by_status[s]);
        if (n) printf("soak:   %-28s %ld\n", yolo_status_string((uint32_t)s), n);
    }
    printf("soak:   (of which on a detector freed under the call: %ld)\n", atomic_load(&stale_calls));
    printf("soak: RSS after warm-up %ld KiB, at the end %ld KiB (x%.3f)\n", warm, rss_end, (double)rss_end / warm);
    if (atomic_load(&failures) != 0) return 1;
    if (max_growth > 0 && (double)rss_end > (double)warm * max_growth) {
        fprintf(stderr, "soak: RSS grew more than x%.2f\n", max_growth);
        return 1;
    }
    return 0;
}
