/*
 * build/detect: runs a YOLO model of any task on images and prints one JSON object per image and line.
 *
 *   build/detect [--imgsz N] [--conf F] [--iou F] [--max-det N] [--pool N] [--retina-masks 0|1] [--top-k N]
 *                [--npy DIR] MODEL IMAGE...
 *
 * Each line has the image's "width" and "height", its "task", and its "detections" (class, score, box), each
 * with what the task adds: "mask" (segment: run lengths of the bitmap cropped to the mask, see below),
 * "keypoints" (pose: [x, y, confidence] each) or "obb" (oriented boxes: "xywhr" and "corners"); for a
 * classification model, "classes" (the top classes and their probabilities) instead of detections.
 * A semantic segmentation model gives "class_map": {"width", "height", "classes": [{"class_id",
 * "class_name", "pixels", "runs"}]}, one entry per class present, "runs" the [start, length] pairs of its
 * runs in the row-major map. A depth model gives "depth_map": {"width", "height", "min", "max", "mean"} and,
 * with --npy DIR, writes the map as DIR/NAME.npy (float32, height x width; NAME the image's file name
 * without its extension) and names the file in "npy".
 * A mask is {"left", "top", "width", "height", "counts"}: "counts" are the lengths of alternating runs of
 * 0 and 1 over the cropped bitmap, row by row, starting with a (possibly empty) run of 0.
 *
 * A failure on one image is printed as {"image": PATH, "error": "..."} and the others carry on; the exit
 * status is 0 when every image was processed, 1 when one failed, 2 on bad usage or a model that won't load.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yolo_ffi.h"

static void print_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        default:
            if (*p < 0x20) {
                printf("\\u%04x", *p);
            } else {
                putchar(*p);
            }
        }
    }
    putchar('"');
}

static void print_error(const char *image, const char *message) {
    fputs("{\"image\": ", stdout);
    print_json_string(image);
    fputs(", \"error\": ", stdout);
    print_json_string(message);
    fputs("}\n", stdout);
}

/* Reads a whole file; returns NULL and sets *error on failure. The caller frees the buffer. */
static unsigned char *read_file(const char *path, size_t *out_len, const char **error) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        *error = strerror(errno);
        return NULL;
    }
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            unsigned char *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                *error = "out of memory";
                return NULL;
            }
            buf = grown;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        *error = "read error";
        return NULL;
    }
    *out_len = len;
    return buf;
}

static int usage(void) {
    fprintf(stderr, "usage: detect [--imgsz N] [--conf F] [--iou F] [--max-det N] [--pool N] [--retina-masks 0|1] "
                    "[--top-k N] [--npy DIR] MODEL IMAGE...\n");
    return 2;
}

static void print_class_name(const yolo_detector *detector, uint32_t class_id) {
    const char *name = NULL;
    size_t name_len = 0;
    char fallback[32];
    if (yolo_class_name(detector, class_id, &name, &name_len) != YOLO_STATUS_OK) {
        snprintf(fallback, sizeof fallback, "class%u", class_id);
        name = fallback;
    }
    print_json_string(name);
}

/* The mask of detection `index` as cropped run lengths. */
static void print_mask(const yolo_result *result, size_t index) {
    yolo_mask mask;
    if (yolo_result_mask(result, index, &mask) != YOLO_STATUS_OK) {
        return;
    }
    printf(", \"mask\": {\"left\": %u, \"top\": %u, \"width\": %u, \"height\": %u, \"counts\": [", mask.left,
           mask.top, mask.width, mask.height);
    unsigned char value = 0;
    size_t run = 0;
    int first = 1;
    for (size_t i = 0; i < mask.data_len; i++) {
        if (mask.data[i] != value) {
            printf("%s%zu", first ? "" : ", ", run);
            first = 0;
            value = mask.data[i];
            run = 0;
        }
        run++;
    }
    if (mask.data_len) {
        printf("%s%zu", first ? "" : ", ", run);
    }
    fputs("]}", stdout);
}

static void print_keypoints(const yolo_result *result, size_t index) {
    const yolo_keypoint *keypoints = NULL;
    size_t count = 0;
    if (yolo_result_keypoints(result, index, &keypoints, &count) != YOLO_STATUS_OK) {
        return;
    }
    fputs(", \"keypoints\": [", stdout);
    for (size_t k = 0; k < count; k++) {
        printf("%s[%.3f, %.3f, %.5f]", k ? ", " : "", keypoints[k].x, keypoints[k].y, keypoints[k].confidence);
    }
    fputs("]", stdout);
}

static void print_oriented_box(const yolo_result *result, size_t index) {
    yolo_oriented_box b;
    if (yolo_result_oriented_box(result, index, &b) != YOLO_STATUS_OK) {
        return;
    }
    printf(", \"obb\": {\"xywhr\": [%.3f, %.3f, %.3f, %.3f, %.5f], \"corners\": [", b.cx, b.cy, b.width, b.height,
           b.angle);
    for (int k = 0; k < 4; k++) {
        printf("%s[%.3f, %.3f]", k ? ", " : "", b.corners[2 * k], b.corners[2 * k + 1]);
    }
    fputs("]}", stdout);
}

/* Class `index` of a class map whose ids are `element_size` bytes each. */
static uint32_t class_at(const yolo_class_map *map, size_t index) {
    switch (map->element_size) {
    case 1: return ((const uint8_t *)map->data)[index];
    case 2: return ((const uint16_t *)map->data)[index];
    default: return ((const uint32_t *)map->data)[index];
    }
}

/* The class map as its classes' pixel counts and run lengths. */
static void print_class_map(const yolo_detector *detector, const yolo_result *result) {
    yolo_class_map map;
    if (yolo_result_class_map(result, &map) != YOLO_STATUS_OK) {
        return;
    }
    printf(", \"class_map\": {\"width\": %u, \"height\": %u, \"classes\": [", map.width, map.height);
    int first_class = 1;
    for (size_t c = 0; c < map.class_count; c++) {
        if (map.pixel_counts[c] == 0) {
            continue;
        }
        printf("%s{\"class_id\": %zu, \"class_name\": ", first_class ? "" : ", ", c);
        first_class = 0;
        print_class_name(detector, (uint32_t)c);
        printf(", \"pixels\": %llu, \"runs\": [", (unsigned long long)map.pixel_counts[c]);
        int first_run = 1;
        for (size_t i = 0; i < map.data_len;) {
            size_t start = i;
            while (i < map.data_len && class_at(&map, i) == c) {
                i++;
            }
            if (i > start) {
                printf("%s[%zu, %zu]", first_run ? "" : ", ", start, i - start);
                first_run = 0;
            } else {
                i++;
            }
        }
        fputs("]}", stdout);
    }
    fputs("]}", stdout);
}

/* Writes `count` floats as a float32 .npy of `height` x `width`; returns 0 on success. */
static int write_npy(const char *path, const float *data, size_t count, uint32_t height, uint32_t width) {
    char header[128];
    int len = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%u, %u), }", height,
                       width);
    /* Magic (6) + version (2) + header length (2) + header, padded with spaces to 64 bytes, ending in a newline. */
    size_t total = 10 + (size_t)len + 1;
    size_t padded = (total + 63) / 64 * 64;
    FILE *f = fopen(path, "wb");
    if (!f) {
        return -1;
    }
    unsigned short header_len = (unsigned short)(padded - 10);
    unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(header_len & 0xff),
                                (unsigned char)(header_len >> 8)};
    int ok = fwrite(prefix, 1, sizeof prefix, f) == sizeof prefix && fwrite(header, 1, (size_t)len, f) == (size_t)len;
    for (size_t k = total - 1; ok && k < padded - 1; k++) {
        ok = fputc(' ', f) != EOF;
    }
    ok = ok && fputc('\n', f) != EOF && fwrite(data, sizeof(float), count, f) == count;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* The depth map's range and mean, and with `npy_dir` the map in DIR/NAME.npy. */
static void print_depth_map(const yolo_result *result, const char *image, const char *npy_dir) {
    yolo_depth_map map;
    if (yolo_result_depth_map(result, &map) != YOLO_STATUS_OK || map.data_len == 0) {
        return;
    }
    float lo = map.data[0], hi = map.data[0];
    double sum = 0.0;
    for (size_t i = 0; i < map.data_len; i++) {
        lo = map.data[i] < lo ? map.data[i] : lo;
        hi = map.data[i] > hi ? map.data[i] : hi;
        sum += map.data[i];
    }
    printf(", \"depth_map\": {\"width\": %u, \"height\": %u, \"min\": %.6g, \"max\": %.6g, \"mean\": %.6g",
           map.width, map.height, lo, hi, sum / (double)map.data_len);
    if (npy_dir) {
        const char *base = strrchr(image, '/');
        base = base ? base + 1 : image;
        const char *dot = strrchr(base, '.');
        size_t stem = dot && dot != base ? (size_t)(dot - base) : strlen(base);
        char path[4096];
        snprintf(path, sizeof path, "%s/%.*s.npy", npy_dir, (int)stem, base);
        if (write_npy(path, map.data, map.data_len, map.height, map.width) == 0) {
            fputs(", \"npy\": ", stdout);
            print_json_string(path);
        } else {
            fputs(", \"npy_error\": ", stdout);
            print_json_string(strerror(errno));
        }
    }
    fputs("}", stdout);
}

static int parse_u32(const char *s, uint32_t *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v > UINT32_MAX) {
        return 0;
    }
    *out = (uint32_t)v;
    return 1;
}

static int parse_float(const char *s, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || *end || end == s) {
        return 0;
    }
    *out = v;
    return 1;
}

int main(int argc, char **argv) {
    yolo_config *config = NULL;
    if (yolo_config_new(&config) != YOLO_STATUS_OK) {
        fprintf(stderr, "detect: %s\n", yolo_last_error());
        return 2;
    }
    const char *npy_dir = NULL;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc) {
            return usage();
        }
        const char *flag = argv[i], *value = argv[i + 1];
        uint32_t number = 0;
        float fraction = 0.0f;
        yolo_status set = YOLO_STATUS_INVALID_ARGUMENT;
        if (strcmp(flag, "--imgsz") == 0 && parse_u32(value, &number)) {
            set = yolo_config_set_imgsz(config, number, number);
        } else if (strcmp(flag, "--conf") == 0 && parse_float(value, &fraction)) {
            set = yolo_config_set_conf_threshold(config, fraction);
        } else if (strcmp(flag, "--iou") == 0 && parse_float(value, &fraction)) {
            set = yolo_config_set_iou_threshold(config, fraction);
        } else if (strcmp(flag, "--max-det") == 0 && parse_u32(value, &number)) {
            set = yolo_config_set_max_detections(config, number);
        } else if (strcmp(flag, "--pool") == 0 && parse_u32(value, &number)) {
            set = yolo_config_set_pool_size(config, number);
        } else if (strcmp(flag, "--retina-masks") == 0 && parse_u32(value, &number) && number <= 1) {
            set = yolo_config_set_retina_masks(config, number == 1);
        } else if (strcmp(flag, "--top-k") == 0 && parse_u32(value, &number)) {
            set = yolo_config_set_top_k(config, number);
        } else if (strcmp(flag, "--npy") == 0) {
            npy_dir = value;
            set = YOLO_STATUS_OK;
        }
        if (set != YOLO_STATUS_OK) {
            fprintf(stderr, "detect: bad option %s %s\n", flag, value);
            yolo_config_free(config);
            return usage();
        }
    }
    if (argc - i < 2) {
        yolo_config_free(config);
        return usage();
    }
    const char *model_path = argv[i++];
    yolo_detector *detector = NULL;
    yolo_status status = yolo_config_set_model_path(config, model_path);
    if (status == YOLO_STATUS_OK) {
        status = yolo_init(config, &detector);
    }
    yolo_config_free(config); /* the detector keeps what it needs */
    if (status != YOLO_STATUS_OK) {
        fprintf(stderr, "detect: cannot load %s: %s: %s\n", model_path, yolo_status_string(status), yolo_last_error());
        return 2;
    }

    yolo_task task = YOLO_TASK_DETECT;
    (void)yolo_model_task(detector, &task);
    int exit_code = 0;
    for (; i < argc; i++) {
        const char *path = argv[i];
        const char *read_error = NULL;
        size_t len = 0;
        unsigned char *bytes = read_file(path, &len, &read_error);
        if (!bytes) {
            print_error(path, read_error);
            exit_code = 1;
            continue;
        }
        yolo_result *result = NULL;
        status = yolo_detect(detector, bytes, len, NULL, &result);
        free(bytes);
        if (status != YOLO_STATUS_OK) {
            print_error(path, yolo_last_error());
            exit_code = 1;
            continue;
        }
        const yolo_detection *detections = NULL;
        size_t count = 0;
        uint32_t width = 0, height = 0;
        (void)yolo_result_detections(result, &detections, &count);
        (void)yolo_result_image_size(result, &width, &height);
        fputs("{\"image\": ", stdout);
        print_json_string(path);
        printf(", \"width\": %u, \"height\": %u, \"task\": \"%s\"", width, height, yolo_task_name(task));
        if (task == YOLO_TASK_SEMANTIC || task == YOLO_TASK_DEPTH) {
            if (task == YOLO_TASK_SEMANTIC) {
                print_class_map(detector, result);
            } else {
                print_depth_map(result, path, npy_dir);
            }
            fputs("}\n", stdout);
            yolo_result_free(result);
            continue;
        }
        if (task == YOLO_TASK_CLASSIFY) {
            const yolo_class_probability *classes = NULL;
            size_t classes_count = 0;
            (void)yolo_result_classes(result, &classes, &classes_count);
            fputs(", \"classes\": [", stdout);
            for (size_t k = 0; k < classes_count; k++) {
                printf("%s{\"class_id\": %u, \"class_name\": ", k ? ", " : "", classes[k].class_id);
                print_class_name(detector, classes[k].class_id);
                printf(", \"probability\": %.6f}", classes[k].probability);
            }
        } else {
            fputs(", \"detections\": [", stdout);
            for (size_t k = 0; k < count; k++) {
                const yolo_detection *d = &detections[k];
                printf("%s{\"class_id\": %u, \"class_name\": ", k ? ", " : "", d->class_id);
                print_class_name(detector, d->class_id);
                printf(", \"score\": %.5f, \"box\": [%.3f, %.3f, %.3f, %.3f]", d->score, d->x1, d->y1, d->x2, d->y2);
                if (task == YOLO_TASK_SEGMENT) {
                    print_mask(result, k);
                } else if (task == YOLO_TASK_POSE) {
                    print_keypoints(result, k);
                } else if (task == YOLO_TASK_OBB) {
                    print_oriented_box(result, k);
                }
                fputs("}", stdout);
            }
        }
        fputs("]}\n", stdout);
        yolo_result_free(result);
    }
    yolo_free(detector);
    return exit_code;
}
