/* Shared by the C tests: reads a whole file into a malloc'ed buffer. */
#ifndef YOLO_FFI_TESTS_READ_FILE_H
#define YOLO_FFI_TESTS_READ_FILE_H

#include <stdio.h>
#include <stdlib.h>

/* The bytes of `path` (free them with free()), their count in `*len`; NULL if the file cannot be read
 * or is empty. */
static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return buf;
}

#endif
