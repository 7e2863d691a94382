/*
 * fuzz_fann.c - libFuzzer harness for the FANN text reader (src/io/fann.c).
 *
 * bp_dataset_read_fann reads a file, so the whole input is written to a
 * per-process file in /dev/shm (or $TMPDIR) and read back. Checks: the
 * status/message promise, a data set of exactly the declared shape with finite
 * values on success, and (sanitizer builds) memory within a multiple of the file.
 */
#include <math.h>

#include "fuzz.h"

#define H "fann"

int bp_fuzz_fann(const uint8_t *data, size_t size)
{
    char path[256];
    fuzz_temp_path(path, sizeof path, "data.fann");
    if (!fuzz_write_file(path, data, size)) {
        remove(path);
        return 0;
    }
    FUZZ_MEM_BEGIN(before);
    bp_dataset *d = NULL;
    bp_error err = {BP_OK, ""};
    bp_status s = bp_dataset_read_fann(path, &d, &err);
    fuzz_check_status(H, s, &err, path, NULL);
    FUZZ_CHECK(H, (s == BP_OK) == (d != NULL), "status %d with data set %p", (int)s, (void *)d);
    if (d) {
        size_t n = bp_dataset_count(d), n_in = bp_dataset_inputs(d), n_out = bp_dataset_outputs(d);
        FUZZ_CHECK(H, n >= 1 && n_in >= 1, "empty data set");
        /* Every number takes at least two bytes (a digit and a separator), less one. */
        FUZZ_CHECK(H, n * (n_in + n_out) <= size / 2 + 1, "%zu numbers from %zu bytes",
                   n * (n_in + n_out), size);
        const float *x = bp_dataset_x_const(d), *y = bp_dataset_y_const(d);
        for (size_t i = 0; i < n * n_in; i++)
            FUZZ_CHECK(H, isfinite(x[i]), "input %zu is %g", i, (double)x[i]);
        for (size_t i = 0; y && i < n * n_out; i++)
            FUZZ_CHECK(H, isfinite(y[i]), "output %zu is %g", i, (double)y[i]);
    }
    bp_dataset_free(d);
    FUZZ_MEM_END(H, before, FUZZ_MEM_LIMIT(size));
    remove(path);
    return 0;
}

#ifndef BP_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return bp_fuzz_fann(data, size); }
#endif

#undef H
