/* Shared by the C tests: CHECK counts a failed condition in `failures` and prints it with the library's last
 * error, then the test goes on. Include it after yolo_ffi.h and <stdio.h>. */
#ifndef YOLO_FFI_TESTS_CHECK_H
#define YOLO_FFI_TESTS_CHECK_H

static int failures = 0;
#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #cond, \
                    yolo_last_error());                                                  \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

#endif
