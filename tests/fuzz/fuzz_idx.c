/*
 * fuzz_idx.c - libFuzzer harness for the IDX reader (src/io/idx.c), plain and gzip.
 *
 * bp_dataset_read_idx reads files, so the input is written to per-process files
 * in /dev/shm (or $TMPDIR). Input: an option byte, then (with labels) a 2-byte
 * little-endian length of the labels part, the labels bytes, then the images bytes.
 *   bit  0    with a labels file
 *   bit  1    images wrapped in a valid gzip member (stored blocks; the fuzzer controls
 *             the content and the reader's header-first inflation is exercised)
 *   bit  2    labels wrapped likewise
 *   bit  3    images written under a ".gz" name as they are (raw gzip bytes, or a plain
 *             file misnamed)
 *   bits 4-5  n_classes: 0, 2, 10, 70000 (the last is refused)
 *   bits 6-7  stored block size for the wrappers: 65535, 1, 7, 300
 * Checks: the status/message promise (naming one of the two files), a well-formed data
 * set on success, and (sanitizer builds) memory within a multiple of what the files hold.
 */
#include <math.h>

#include "fuzz.h"
#include "io/gzip.h"

#define H "idx"

/* The bytes a file stands for: what it inflates to when it is gzip (measured here,
   outside the memory meter), else its size. */
static size_t content_size(const unsigned char *p, size_t len)
{
    if (!bp_is_gzip(p, len)) return len;
    unsigned char *plain = NULL;
    size_t plain_len = 0;
    size_t n = len;
    if (bp_gunzip(p, len, (size_t)1 << 30, &plain, &plain_len, NULL, 0) == BP_OK) n += plain_len;
    free(plain);
    return n;
}

int bp_fuzz_idx(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned sel = data[0];
    const unsigned char *p = data + 1;
    size_t rest = size - 1;
    const unsigned char *lab = NULL, *img = p;
    size_t lab_len = 0, img_len = rest;
    if (sel & 1) {
        if (rest < 2) return 0;
        lab_len = (size_t)p[0] | (size_t)p[1] << 8;
        if (lab_len > rest - 2) lab_len = rest - 2;
        lab = p + 2;
        img = lab + lab_len;
        img_len = rest - 2 - lab_len;
    }
    static const size_t blocks[4] = {65535, 1, 7, 300};
    size_t block = blocks[(sel >> 6) & 3];
    static const size_t classes[4] = {0, 2, 10, 70000};
    size_t n_classes = classes[(sel >> 4) & 3];

    unsigned char *img_gz = NULL, *lab_gz = NULL;
    if (sel & 2) {
        img_gz = fuzz_gzip_stored(img, img_len, block, &img_len);
        if (!img_gz) return 0;
        img = img_gz;
    }
    if ((sel & 1) && (sel & 4)) {
        lab_gz = fuzz_gzip_stored(lab, lab_len, block, &lab_len);
        if (!lab_gz) {
            free(img_gz);
            return 0;
        }
        lab = lab_gz;
    }

    char ipath[256], lpath[256];
    fuzz_temp_path(ipath, sizeof ipath, (sel & 0x0A) ? "images-idx.gz" : "images-idx");
    fuzz_temp_path(lpath, sizeof lpath, (sel & 4) ? "labels-idx.gz" : "labels-idx");
    int written = fuzz_write_file(ipath, img, img_len) && (!lab || fuzz_write_file(lpath, lab, lab_len));
    size_t measured = content_size(img, img_len) + (lab ? content_size(lab, lab_len) : 0);
    free(img_gz);
    free(lab_gz);
    if (!written) {
        remove(ipath);
        remove(lpath);
        return 0;
    }

    FUZZ_MEM_BEGIN(before);
    bp_dataset *d = NULL;
    bp_error err = {BP_OK, ""};
    bp_status s = bp_dataset_read_idx(ipath, lab ? lpath : NULL, n_classes, &d, &err);
    fuzz_check_status(H, s, &err, ipath, lpath);
    FUZZ_CHECK(H, (s == BP_OK) == (d != NULL), "status %d with data set %p", (int)s, (void *)d);
    if (n_classes > 65536) FUZZ_CHECK(H, s == BP_ERR_ARG, "%zu classes accepted", n_classes);
    if (d) {
        size_t n = bp_dataset_count(d), n_in = bp_dataset_inputs(d), n_out = bp_dataset_outputs(d);
        const float *x = bp_dataset_x_const(d), *y = bp_dataset_y_const(d);
        FUZZ_CHECK(H, n >= 1 && n_in >= 1, "empty data set");
        for (size_t i = 0; i < n * n_in; i++)
            FUZZ_CHECK(H, isfinite(x[i]), "input %zu is %g", i, (double)x[i]);
        if (!lab) {
            FUZZ_CHECK(H, n_out == 0 && y == NULL, "targets without a labels file");
        } else {
            FUZZ_CHECK(H, n_out >= 2 && n_out >= n_classes, "%zu outputs", n_out);
            for (size_t r = 0; r < n; r++) {
                size_t ones = 0;
                for (size_t k = 0; k < n_out; k++) ones += y[r * n_out + k] == 1.0f;
                FUZZ_CHECK(H, ones == 1, "row %zu has %zu ones", r, ones);
            }
        }
    }
    bp_dataset_free(d);
    FUZZ_MEM_END(H, before, FUZZ_MEM_LIMIT(measured));
    remove(ipath);
    if (lab) remove(lpath);
    return 0;
}

#ifndef BP_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return bp_fuzz_idx(data, size); }
#endif

#undef H
