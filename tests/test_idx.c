/*
 * test_idx.c - tests of the IDX reader (src/io/idx.c): MNIST-style images and
 * labels, plain and gzip-compressed.
 *
 * Files are built here byte by byte (big-endian headers, every IDX type) in
 * /tmp under names carrying the process id, and removed afterwards. gzip
 * versions are wrapped in stored blocks by a few lines below, so these tests
 * need no compressor; compressed data is tested by test_gzip.c and, when it
 * is installed, by the real Fashion-MNIST test set, whose values were checked
 * once with Python's gzip module.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backprop.h"
#include "io/bytes.h"
#include "test.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist/"

static void temp_path(char *buf, size_t size, const char *tag)
{
    snprintf(buf, size, "/tmp/bp-test-idx-%ld-%s", (long)getpid(), tag);
}

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* An IDX header: magic, type, dimension count, big-endian sizes. Returns its length. */
static size_t idx_header(unsigned char *p, unsigned type, unsigned n_dims, const uint32_t *dims)
{
    p[0] = p[1] = 0;
    p[2] = (unsigned char)type;
    p[3] = (unsigned char)n_dims;
    for (unsigned d = 0; d < n_dims; d++)
        for (int b = 0; b < 4; b++) p[4 + 4 * d + b] = (unsigned char)(dims[d] >> (24 - 8 * b));
    return 4 + 4 * (size_t)n_dims;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    for (int b = 0; b < 4; b++) p[b] = (unsigned char)(v >> (24 - 8 * b));
}

/* in as a one-member gzip file of stored blocks (RFC 1951 3.2.4); returns its length.
   out needs len + 18 + 5 per 65535 bytes. */
static size_t gzip_stored(unsigned char *out, const unsigned char *in, size_t len)
{
    static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    memcpy(out, header, 10);
    size_t k = 10, done = 0;
    do {
        size_t n = len - done > 65535 ? 65535 : len - done;
        out[k++] = done + n == len; /* BFINAL, BTYPE 00 */
        out[k++] = (unsigned char)n;
        out[k++] = (unsigned char)(n >> 8);
        out[k++] = (unsigned char)~n;
        out[k++] = (unsigned char)(~n >> 8);
        memcpy(out + k, in + done, n);
        k += n;
        done += n;
    } while (done < len);
    bp_put_u32(out + k, bp_crc32(0, in, len));
    bp_put_u32(out + k + 4, (uint32_t)len);
    return k + 8;
}

/* Read images (and labels) from byte arrays written to temporary files. */
static bp_status read_idx_bytes(const void *images, size_t images_len, const char *images_tag,
                                const void *labels, size_t labels_len, size_t n_classes,
                                bp_dataset **out, bp_error *err)
{
    char ipath[256], lpath[256];
    temp_path(ipath, sizeof ipath, images_tag);
    temp_path(lpath, sizeof lpath, "labels.idx");
    memset(err, 0, sizeof *err);
    if (!write_file(ipath, images, images_len)) return BP_ERR_IO;
    if (labels && !write_file(lpath, labels, labels_len)) return BP_ERR_IO;
    bp_status s = bp_dataset_read_idx(ipath, labels ? lpath : NULL, n_classes, out, err);
    remove(ipath);
    if (labels) remove(lpath);
    return s;
}

static int has(const bp_error *err, const char *part)
{
    if (strstr(err->message, part)) return 1;
    fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err->message, part);
    return 0;
}

void test_idx_images_and_labels(void)
{
    /* Three 2x2 images and their labels 2, 0, 1. */
    unsigned char img[64], lab[16];
    uint32_t idims[3] = {3, 2, 2}, ldims[1] = {3};
    size_t h = idx_header(img, 0x08, 3, idims);
    for (int i = 0; i < 12; i++) img[h + i] = (unsigned char)(i * 20 + 15);
    size_t hl = idx_header(lab, 0x08, 1, ldims);
    lab[hl] = 2;
    lab[hl + 1] = 0;
    lab[hl + 2] = 1;

    bp_dataset *d = NULL;
    bp_error err;
    bp_status s = read_idx_bytes(img, h + 12, "img.idx", lab, hl + 3, 0, &d, &err);
    CHECK(s == BP_OK, "%s", err.message);
    if (s != BP_OK) return;
    CHECK(bp_dataset_count(d) == 3 && bp_dataset_inputs(d) == 4 && bp_dataset_outputs(d) == 3,
          "shape %zu x %zu -> %zu", bp_dataset_count(d), bp_dataset_inputs(d), bp_dataset_outputs(d));
    const float *x = bp_dataset_x_const(d), *y = bp_dataset_y_const(d);
    for (int i = 0; i < 12; i++) CHECK(x[i] == (float)(i * 20 + 15), "x[%d] = %g", i, x[i]);
    const float expect_y[9] = {0, 0, 1, 1, 0, 0, 0, 1, 0};
    for (int i = 0; i < 9; i++) CHECK(y[i] == expect_y[i], "y[%d] = %g", i, y[i]);
    bp_dataset_free(d);

    /* n_classes widens the one-hot targets; it never narrows them. */
    CHECK(read_idx_bytes(img, h + 12, "img.idx", lab, hl + 3, 10, &d, &err) == BP_OK &&
              bp_dataset_outputs(d) == 10 && bp_dataset_y(d)[10 + 0] == 1.0f,
          "%s", err.message);
    bp_dataset_free(d);
    CHECK(read_idx_bytes(img, h + 12, "img.idx", lab, hl + 3, 2, &d, &err) == BP_OK &&
              bp_dataset_outputs(d) == 3,
          "%s", err.message);
    bp_dataset_free(d);

    /* Inputs only. */
    s = read_idx_bytes(img, h + 12, "img.idx", NULL, 0, 0, &d, &err);
    CHECK(s == BP_OK && bp_dataset_outputs(d) == 0 && bp_dataset_count(d) == 3 &&
              bp_dataset_y(d) == NULL,
          "no labels: %s", err.message);
    bp_dataset_free(d);

    /* A 1-D file: one input per sample. */
    s = read_idx_bytes(lab, hl + 3, "one.idx", NULL, 0, 0, &d, &err);
    CHECK(s == BP_OK && bp_dataset_inputs(d) == 1 && bp_dataset_x(d)[0] == 2.0f, "%s", err.message);
    bp_dataset_free(d);
}

void test_idx_value_types(void)
{
    unsigned char buf[128], lab[32];
    uint32_t dims[2] = {2, 2}, ldims[1] = {2};
    bp_dataset *d = NULL;
    bp_error err;

    /* signed bytes */
    size_t h = idx_header(buf, 0x09, 2, dims);
    const unsigned char sb[4] = {0xFF, 0x80, 0x7F, 0x00};
    memcpy(buf + h, sb, 4);
    CHECK(read_idx_bytes(buf, h + 4, "s8.idx", NULL, 0, 0, &d, &err) == BP_OK, "%s", err.message);
    if (d) {
        const float *x = bp_dataset_x(d);
        CHECK(x[0] == -1 && x[1] == -128 && x[2] == 127 && x[3] == 0, "%g %g %g %g", x[0], x[1], x[2], x[3]);
    }
    bp_dataset_free(d);

    /* shorts, with short labels */
    h = idx_header(buf, 0x0B, 2, dims);
    const unsigned char sh[8] = {0xFE, 0xD4, 0x01, 0x2C, 0x80, 0x00, 0x7F, 0xFF}; /* -300 300 -32768 32767 */
    memcpy(buf + h, sh, 8);
    size_t hl = idx_header(lab, 0x0B, 1, ldims);
    const unsigned char sl[4] = {0x00, 0x04, 0x00, 0x01};
    memcpy(lab + hl, sl, 4);
    CHECK(read_idx_bytes(buf, h + 8, "s16.idx", lab, hl + 4, 0, &d, &err) == BP_OK, "%s", err.message);
    if (d) {
        const float *x = bp_dataset_x(d), *y = bp_dataset_y(d);
        CHECK(x[0] == -300 && x[1] == 300 && x[2] == -32768 && x[3] == 32767, "%g %g %g %g", x[0], x[1], x[2], x[3]);
        CHECK(bp_dataset_outputs(d) == 5 && y[4] == 1 && y[5 + 1] == 1, "short labels");
    }
    bp_dataset_free(d);

    /* ints, with int labels */
    h = idx_header(buf, 0x0C, 2, dims);
    put_be32(buf + h, (uint32_t)-70000);
    put_be32(buf + h + 4, 100000);
    put_be32(buf + h + 8, 0x80000000u);
    put_be32(buf + h + 12, 7);
    hl = idx_header(lab, 0x0C, 1, ldims);
    put_be32(lab + hl, 0);
    put_be32(lab + hl + 4, 9);
    CHECK(read_idx_bytes(buf, h + 16, "s32.idx", lab, hl + 8, 0, &d, &err) == BP_OK, "%s", err.message);
    if (d) {
        const float *x = bp_dataset_x(d), *y = bp_dataset_y(d);
        CHECK(x[0] == -70000 && x[1] == 100000 && x[2] == -2147483648.0f && x[3] == 7, "ints");
        CHECK(bp_dataset_outputs(d) == 10 && y[0] == 1 && y[10 + 9] == 1, "int labels");
    }
    bp_dataset_free(d);

    /* floats and doubles */
    h = idx_header(buf, 0x0D, 2, dims);
    const float fv[4] = {1.5f, -2.25f, 1e-30f, 3.0e38f};
    for (int i = 0; i < 4; i++) {
        uint32_t u;
        memcpy(&u, &fv[i], 4);
        put_be32(buf + h + 4 * i, u);
    }
    CHECK(read_idx_bytes(buf, h + 16, "f32.idx", NULL, 0, 0, &d, &err) == BP_OK, "%s", err.message);
    if (d) CHECK(memcmp(bp_dataset_x(d), fv, sizeof fv) == 0, "floats differ");
    bp_dataset_free(d);
    put_be32(buf + h + 8, 0x7FC00000u); /* NaN */
    CHECK(read_idx_bytes(buf, h + 16, "f32.idx", NULL, 0, 0, &d, &err) == BP_ERR_NUMERIC && !d &&
              has(&err, "f32.idx: byte 20:"),
          "NaN");

    h = idx_header(buf, 0x0E, 2, dims);
    const double dv[4] = {0.1, -1e10, 65504.0, 1e-300};
    for (int i = 0; i < 4; i++) {
        uint64_t u;
        memcpy(&u, &dv[i], 8);
        put_be32(buf + h + 8 * i, (uint32_t)(u >> 32));
        put_be32(buf + h + 8 * i + 4, (uint32_t)u);
    }
    CHECK(read_idx_bytes(buf, h + 32, "f64.idx", NULL, 0, 0, &d, &err) == BP_OK, "%s", err.message);
    if (d) {
        const float *x = bp_dataset_x(d);
        CHECK(x[0] == 0.1f && x[1] == -1e10f && x[2] == 65504.0f && x[3] == 0.0f, "doubles");
    }
    bp_dataset_free(d);
    put_be32(buf + h + 24, 0x47F00000u); /* 2^128: beyond float */
    put_be32(buf + h + 28, 0);
    CHECK(read_idx_bytes(buf, h + 32, "f64.idx", NULL, 0, 0, &d, &err) == BP_ERR_NUMERIC &&
              has(&err, "byte 36:"),
          "double beyond float");

    /* Labels must be whole numbers in range, one per sample. */
    h = idx_header(buf, 0x08, 2, dims);
    memset(buf + h, 1, 4);
    hl = idx_header(lab, 0x0D, 1, ldims);
    memset(lab + hl, 0, 8);
    CHECK(read_idx_bytes(buf, h + 4, "img.idx", lab, hl + 8, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "labels.idx: byte 2: labels must be integers"),
          "float labels");
    hl = idx_header(lab, 0x0C, 1, ldims);
    put_be32(lab + hl, 3);
    put_be32(lab + hl + 4, 65536);
    CHECK(read_idx_bytes(buf, h + 4, "img.idx", lab, hl + 8, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "labels.idx: byte 12: label of item 1 is 65536"),
          "huge label");
    hl = idx_header(lab, 0x09, 1, ldims);
    lab[hl] = 1;
    lab[hl + 1] = 0xFF;
    CHECK(read_idx_bytes(buf, h + 4, "img.idx", lab, hl + 2, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "byte 9: label of item 1 is -1"),
          "negative label");
    uint32_t l2[2] = {2, 2};
    hl = idx_header(lab, 0x08, 2, l2);
    CHECK(read_idx_bytes(buf, h + 4, "img.idx", lab, hl + 4, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "one value per sample"),
          "2-D labels");
}

void test_idx_header_checked_before_allocating(void)
{
    unsigned char buf[1100];
    bp_dataset *d = NULL;
    bp_error err;

    /* A billion 28x28 images claimed by a 100-byte file. */
    uint32_t dims[3] = {1000000000u, 28, 28};
    size_t h = idx_header(buf, 0x08, 3, dims);
    memset(buf + h, 7, 100 - h);
    CHECK(read_idx_bytes(buf, 100, "lie.idx", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT && !d &&
              has(&err, "lie.idx: byte 16: header claims 1000000000 items of 784 bytes but the file "
                        "holds only 84 bytes of data"),
          "billion");
    /* Sizes whose product overflows even 64 bits. */
    uint32_t big[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    h = idx_header(buf, 0x0E, 4, big);
    CHECK(read_idx_bytes(buf, h + 8, "big.idx", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              (has(&err, "multiply beyond") || has(&err, "this reader accepts")),
          "overflow");
    /* More bytes than the header describes. */
    uint32_t small[2] = {2, 3};
    h = idx_header(buf, 0x08, 2, small);
    CHECK(read_idx_bytes(buf, h + 7, "extra.idx", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "extra.idx: byte 18: 1 bytes follow the data"),
          "extra byte");
    /* One byte short. */
    CHECK(read_idx_bytes(buf, h + 5, "short.idx", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "header claims 2 items of 3 bytes but the file holds only 5 bytes"),
          "short");
    /* Broken headers. */
    CHECK(read_idx_bytes("\0\0\x08", 3, "tiny.idx", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "tiny.idx: the file holds only 3 bytes"),
          "tiny");
    CHECK(read_idx_bytes("P5\n28 28\n255\n", 13, "pgm.idx", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "pgm.idx: byte 0: not an IDX file"),
          "magic");
    CHECK(read_idx_bytes("\0\0\x0A\x01\0\0\0\x01x", 9, "type.idx", NULL, 0, 0, &d, &err) ==
                  BP_ERR_FORMAT && has(&err, "byte 2: unknown IDX data type 0x0a"),
          "type");
    CHECK(read_idx_bytes("\0\0\x08\0", 4, "dims.idx", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "byte 3:"),
          "zero dimensions");
    CHECK(read_idx_bytes("\0\0\x08\x03\0\0\0\x01\0\0", 10, "cut.idx", NULL, 0, 0, &d, &err) ==
                  BP_ERR_FORMAT && has(&err, "truncated header: 3 dimensions need 16 header bytes"),
          "cut header");
    uint32_t zero[2] = {4, 0};
    h = idx_header(buf, 0x08, 2, zero);
    CHECK(read_idx_bytes(buf, h, "zero.idx", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "byte 8: dimension 2 has size 0"),
          "zero size");

    /* Images and labels must agree in number. */
    uint32_t idims[2] = {3, 1}, ldims[1] = {2};
    h = idx_header(buf, 0x08, 2, idims);
    unsigned char lab[16];
    size_t hl = idx_header(lab, 0x08, 1, ldims);
    memset(lab + hl, 0, 2);
    CHECK(read_idx_bytes(buf, h + 3, "img.idx", lab, hl + 2, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "labels.idx: byte 4: 2 labels, but ") && has(&err, "img.idx holds 3 images"),
          "count mismatch");
    /* Missing files and silly arguments. */
    CHECK(bp_dataset_read_idx("/nonexistent/images.idx", NULL, 0, &d, &err) == BP_ERR_IO &&
              has(&err, "/nonexistent/images.idx"),
          "missing");
    CHECK(bp_dataset_read_idx(NULL, NULL, 0, &d, &err) == BP_ERR_ARG, "no path");
    CHECK(bp_dataset_read_idx("x", NULL, 1000000, &d, &err) == BP_ERR_ARG, "classes");
}

void test_idx_gzip(void)
{
    /* 5 images of 300 values: 1512 bytes, more than the reader's first look at the header
       takes (1024), so the file is inflated a second time, up to its declared size. */
    unsigned char img[2000], gz[2100], lab[32], lgz[80];
    uint32_t dims[2] = {5, 300}, ldims[1] = {5};
    size_t h = idx_header(img, 0x08, 2, dims);
    for (int i = 0; i < 1500; i++) img[h + i] = (unsigned char)(i % 256);
    size_t n = h + 1500;
    size_t gn = gzip_stored(gz, img, n);
    size_t hl = idx_header(lab, 0x08, 1, ldims);
    for (int i = 0; i < 5; i++) lab[hl + i] = (unsigned char)(4 - i);
    size_t lgn = gzip_stored(lgz, lab, hl + 5);

    bp_dataset *d = NULL;
    bp_error err;
    CHECK(read_idx_bytes(gz, gn, "img.idx.gz", lgz, lgn, 0, &d, &err) == BP_OK, "%s", err.message);
    if (d) {
        CHECK(bp_dataset_count(d) == 5 && bp_dataset_inputs(d) == 300 && bp_dataset_outputs(d) == 5,
              "shape");
        CHECK(bp_dataset_x(d)[1499] == (float)(1499 % 256) && bp_dataset_y(d)[4] == 1.0f, "values");
    }
    bp_dataset_free(d);
    /* Recognized by its magic bytes too, whatever the name. */
    CHECK(read_idx_bytes(gz, gn, "img.idx", NULL, 0, 0, &d, &err) == BP_OK, "%s", err.message);
    bp_dataset_free(d);
    /* A .gz name on plain data is an error, not a guess. */
    CHECK(read_idx_bytes(img, n, "plain.gz", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "plain.gz: byte 0: not gzip data"),
          "not gzip");
    /* Damaged compressed data names the file and the byte. */
    gz[gn - 8] ^= 1;
    CHECK(read_idx_bytes(gz, gn, "crc.idx.gz", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "crc.idx.gz: byte ") && has(&err, "CRC-32 mismatch"),
          "crc");
    gz[gn - 8] ^= 1;
    CHECK(read_idx_bytes(gz, gn - 20, "cut.idx.gz", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "cut.idx.gz: byte "),
          "cut");

    /* The header claims more than the compressed file holds ... */
    put_be32(img + 4, 6);
    gn = gzip_stored(gz, img, n);
    CHECK(read_idx_bytes(gz, gn, "few.idx.gz", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "few.idx.gz: byte 12: header claims 6 items of 300 bytes but the file "
                        "holds only 1500 bytes of data (decompressed)"),
          "claims more");
    /* ... or less: inflating stops at the declared size. */
    put_be32(img + 4, 2);
    gn = gzip_stored(gz, img, n);
    CHECK(read_idx_bytes(gz, gn, "many.idx.gz", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "many.idx.gz: the decompressed file holds more than the 612 bytes"),
          "claims less");
    /* A tiny file whose header claims a billion images fails on the header alone. */
    uint32_t lie[3] = {1000000000u, 28, 28};
    h = idx_header(img, 0x08, 3, lie);
    gn = gzip_stored(gz, img, h + 10);
    CHECK(read_idx_bytes(gz, gn, "lie.idx.gz", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "header claims 1000000000 items of 784 bytes but the file holds only 10 "
                        "bytes of data (decompressed)"),
          "billion, compressed");
    /* With more data than the first look takes, a claim beyond the reader's limit is
       refused before inflating the rest. */
    h = idx_header(img, 0x0E, 3, lie);
    memset(img + h, 0, 1500);
    gn = gzip_stored(gz, img, h + 1500);
    CHECK(read_idx_bytes(gz, gn, "huge.idx.gz", NULL, 0, 0, &d, &err) == BP_ERR_FORMAT &&
              has(&err, "huge.idx.gz: byte 4: header claims 1000000000 items of 6272 bytes") &&
              has(&err, "this reader inflates"),
          "beyond the limit");
}

void test_idx_fashion_mnist(void)
{
    const char *images = FASHION_DIR "t10k-images-idx3-ubyte.gz";
    const char *labels = FASHION_DIR "t10k-labels-idx1-ubyte.gz";
    if (access(images, R_OK) != 0 || access(labels, R_OK) != 0) return; /* not installed */
    bp_dataset *d = NULL;
    bp_error err = {0};
    bp_status s = bp_dataset_read_idx(images, labels, 10, &d, &err);
    CHECK(s == BP_OK, "%s", err.message);
    if (s != BP_OK) return;
    CHECK(bp_dataset_count(d) == 10000 && bp_dataset_inputs(d) == 784 && bp_dataset_outputs(d) == 10,
          "shape %zu x %zu -> %zu", bp_dataset_count(d), bp_dataset_inputs(d), bp_dataset_outputs(d));
    const float *x = bp_dataset_x_const(d), *y = bp_dataset_y_const(d);
    /* Sums and labels computed once with Python's gzip module. */
    double first = 0, last = 0, total = 0;
    for (size_t i = 0; i < 784; i++) first += x[i];
    for (size_t i = 0; i < 784; i++) last += x[9999 * 784 + i];
    for (size_t i = 0; i < 10000 * 784; i++) total += x[i];
    CHECK(first == 33456 && last == 24390 && total == 573469082.0, "sums %.0f %.0f %.0f", first, last,
          total);
    CHECK(x[577] == 255 && x[14 * 28 + 12] == 98, "pixels %g %g", x[577], x[14 * 28 + 12]);
    const int expect[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7}; /* 9 is "ankle boot" */
    for (int i = 0; i < 10; i++) {
        int hot = -1, ones = 0;
        for (int k = 0; k < 10; k++)
            if (y[i * 10 + k] != 0) {
                hot = k;
                ones++;
            }
        CHECK(ones == 1 && hot == expect[i], "sample %d: label %d", i, hot);
    }
    CHECK(y[9999 * 10 + 5] == 1, "last label");
    bp_dataset_free(d);
}

/* A small generator of our own: no global state, same sequence every run. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

void test_idx_random_headers(void)
{
    /* Small files with plausible, damaged headers, plain and compressed: a data set or a
       message, never a crash or a huge allocation (run under sanitizers too). */
    static const unsigned char types[] = {0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x0A, 0xFF};
    uint64_t state = 0xD1B54A32D192ED03ull;
    unsigned char buf[300], gz[400];
    int odd = 0, ok = 0;
    for (int round = 0; round < 300; round++) {
        unsigned n_dims = (unsigned)(next_random(&state) % 4);
        uint32_t dims[3];
        for (unsigned d = 0; d < n_dims; d++) {
            uint64_t r = next_random(&state);
            dims[d] = (r & 7) == 0 ? (uint32_t)(r >> 32) : (uint32_t)(1 + (r >> 8) % 5);
        }
        size_t h = idx_header(buf, types[next_random(&state) % sizeof types], n_dims, dims);
        size_t len = h + (size_t)(next_random(&state) % (sizeof buf - h));
        size_t values = n_dims > 0 ? 1 : 0, size = buf[2] == 0x0B ? 2 : buf[2] >= 0x0C ? 4 : 1;
        for (unsigned d = 0; d < n_dims; d++) values = dims[d] < 300 ? values * dims[d] : 300;
        if (buf[2] == 0x0E) size = 8;
        if (next_random(&state) % 2 && h + values * size <= sizeof buf) len = h + values * size;
        for (size_t i = h; i < len; i++) buf[i] = (unsigned char)next_random(&state);
        if (next_random(&state) % 5 == 0) buf[next_random(&state) % len] ^= 0x40;
        if (buf[2] == 0x0D || buf[2] == 0x0E) /* mostly finite values */
            for (size_t i = h; i < len; i++)
                if (i % size == 0 && next_random(&state) % 8) buf[i] = 0x3F;
        int compress = (int)(next_random(&state) & 1);
        size_t gn = compress ? gzip_stored(gz, buf, len) : 0;
        bp_dataset *d = NULL;
        bp_error err;
        bp_status s = compress ? read_idx_bytes(gz, gn, "random.idx.gz", NULL, 0, 0, &d, &err)
                               : read_idx_bytes(buf, len, "random.idx", NULL, 0, 0, &d, &err);
        if (s == BP_OK) {
            ok++;
            odd += d == NULL || bp_dataset_count(d) == 0 || bp_dataset_inputs(d) == 0;
        } else {
            odd += d != NULL || strncmp(err.message, "/tmp/bp-test-idx-", 17) != 0;
        }
        bp_dataset_free(d);
    }
    CHECK(odd == 0, "%d inputs broke the API's promises", odd);
    CHECK(ok > 30, "only %d random files were valid: the test is not testing reading", ok);
}
