/*
 * idx.c - reading IDX files (the format of MNIST and Fashion-MNIST) into a
 * bp_dataset: images as inputs with their raw values, labels as one-hot
 * targets.
 *
 * An IDX file is two zero bytes, a type byte, a dimension count, that many
 * big-endian u32 sizes, then the values, big-endian, row-major. Everything the
 * header claims is checked against the bytes really there before the data set
 * is allocated, so a forged header costs an error message, not memory. .gz
 * files are inflated in memory by gzip.c (zlib), limited to the size their own
 * IDX header declares. Scaling the pixels (to [0, 1] or standardized) is left
 * to the caller and bp_dataset_input_stats: the reader keeps raw values.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classes.h"
#include "fileio.h"
#include "gzip.h"
#include "core/memory.h"
#include "core/status.h"

/* The largest IDX file (or inflated .gz content) accepted: ten times Fashion-MNIST's
   training images in float64 would still fit, and a bomb stops here at the latest. */
#if SIZE_MAX > 0xFFFFFFFFu
#define IDX_MAX_BYTES ((size_t)0x100000000ull)
#define IDX_MAX_TEXT "4 GiB"
#else
#define IDX_MAX_BYTES (SIZE_MAX - 1)
#define IDX_MAX_TEXT "the address space"
#endif

/* The most dimensions a header can declare (the count is one byte). */
#define IDX_MAX_DIMS 255
#define IDX_MAX_HEADER (4 + 4 * IDX_MAX_DIMS)

typedef struct {
    const char *path;
    const char *inflated;  /* " (decompressed)" for .gz files, "" otherwise: for messages */
    unsigned char *bytes;  /* the whole (inflated) file */
    size_t len;
    unsigned type;         /* IDX type code, 0x08..0x0E */
    size_t value_bytes;    /* bytes per value */
    unsigned n_dims;
    size_t count;          /* first dimension: samples */
    size_t per_sample;     /* product of the other dimensions (1 for a 1-D file) */
    size_t header_bytes;   /* 4 + 4 n_dims: where the data starts */
    size_t data_bytes;     /* count * per_sample * value_bytes */
} idx_file;

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const unsigned char *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static size_t value_size(unsigned type)
{
    switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    }
    return 0;
}

static const char *type_name(unsigned type)
{
    switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    }
    return "unknown";
}

/* Decode the header at f->bytes[0..len) into f's fields, checking it is an IDX header
   whose sizes can be computed; whether the data is all there is checked by the caller.
   len may be a prefix of the file (just the header, for .gz files). */
static bp_status parse_header(idx_file *f, const unsigned char *p, size_t len, bp_error *err)
{
    const char *path = f->path;
    if (len < 4)
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s: the file holds only %zu byte%s%s; an IDX header needs at least 4",
                       path, len, len == 1 ? "" : "s", f->inflated);
    if (p[0] != 0 || p[1] != 0)
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s: byte 0: not an IDX file (it starts %02x %02x, an IDX file 00 00)",
                       path, p[0], p[1]);
    f->type = p[2];
    f->value_bytes = value_size(f->type);
    if (f->value_bytes == 0)
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s: byte 2: unknown IDX data type 0x%02x (known: 08 unsigned byte, 09 signed "
                       "byte, 0B short, 0C int, 0D float, 0E double)",
                       path, f->type);
    f->n_dims = p[3];
    if (f->n_dims == 0)
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte 3: the header declares 0 dimensions: no samples",
                       path);
    f->header_bytes = 4 + 4 * (size_t)f->n_dims;
    if (len < f->header_bytes)
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s: byte %zu: truncated header: %u dimensions need %zu header bytes, but the "
                       "file holds only %zu%s",
                       path, len, f->n_dims, f->header_bytes, len, f->inflated);
    size_t per = 1;
    for (unsigned d = 0; d < f->n_dims; d++) {
        size_t at = 4 + 4 * (size_t)d;
        uint32_t size = get_be32(p + at);
        if (size == 0)
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %zu: dimension %u has size 0: no %s", path,
                           at, d + 1, d == 0 ? "samples" : "values in a sample");
        if (d == 0) {
            f->count = size;
        } else if (bp_mul_overflows(per, size, &per)) {
            return bp_fail(err, BP_ERR_FORMAT,
                           "%s: byte %zu: the header's dimensions multiply beyond what this "
                           "machine can address",
                           path, at);
        }
    }
    f->per_sample = per;
    size_t values, sample_bytes;
    if (bp_mul_overflows(f->count, per, &values) ||
        bp_mul_overflows(values, f->value_bytes, &f->data_bytes) ||
        bp_mul_overflows(per, f->value_bytes, &sample_bytes) ||
        f->data_bytes > SIZE_MAX - f->header_bytes)
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s: byte 4: header claims %zu items of %zu values of %zu byte%s (%s): "
                       "more than this machine can address",
                       path, f->count, per, f->value_bytes, f->value_bytes == 1 ? "" : "s",
                       type_name(f->type));
    return BP_OK;
}

/* The data must be exactly what the header describes: less is a truncated file, more
   is most likely a file of another shape (or a wrong header). */
static bp_status check_data_size(const idx_file *f, bp_error *err)
{
    size_t have = f->len - f->header_bytes;
    size_t sample_bytes = f->per_sample * f->value_bytes; /* no overflow: parse_header checked */
    if (have < f->data_bytes)
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s: byte %zu: header claims %zu items of %zu bytes but the file holds only "
                       "%zu bytes of data%s (a truncated file?)",
                       f->path, f->header_bytes, f->count, sample_bytes, have, f->inflated);
    if (have > f->data_bytes)
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s: byte %zu: %zu bytes follow the data that the header describes (%zu "
                       "items of %zu bytes)",
                       f->path, f->header_bytes + f->data_bytes, have - f->data_bytes, f->count,
                       sample_bytes);
    return BP_OK;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Read a whole IDX file, inflating .gz files: on success f->bytes holds exactly the
   header and the data it describes. */
/* A gzip-compressed IDX file's bytes, inflated: first only the header, which says how
   much to inflate and so caps the memory a forged or bomb-like file can take (small
   files come whole in this first piece), then exactly what it describes. */
static bp_status gunzip_idx(idx_file *f, const unsigned char *raw, size_t raw_len, unsigned char **out,
                            size_t *out_len, bp_error *err)
{
    const char *path = f->path;
    char why[256];
    int more = 0;
    *out = NULL;
    bp_status s = bp_gunzip_prefix(raw, raw_len, IDX_MAX_HEADER, out, out_len, &more, why, sizeof why);
    if (s != BP_OK) return bp_fail(err, s, "%s: %s", path, why);
    s = parse_header(f, *out, *out_len, err);
    if (s != BP_OK || !more) return s;
    const size_t declared = f->header_bytes + f->data_bytes; /* parse_header checked the sum */
    free(*out);
    *out = NULL;
    if (declared > IDX_MAX_BYTES)
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s: byte 4: header claims %zu items of %zu bytes (%zu bytes in all), "
                       "more than the " IDX_MAX_TEXT " this reader inflates",
                       path, f->count, f->per_sample * f->value_bytes, declared);
    s = bp_gunzip_prefix(raw, raw_len, declared, out, out_len, &more, why, sizeof why);
    if (s != BP_OK) return bp_fail(err, s, "%s: %s", path, why);
    if (more)
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s: the decompressed file holds more than the %zu bytes its "
                       "header describes (%zu items of %zu bytes after a %zu-byte header)",
                       path, declared, f->count, f->per_sample * f->value_bytes, f->header_bytes);
    return BP_OK;
}

static bp_status load_idx(const char *path, idx_file *f, bp_error *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->inflated = "";
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    bp_status s = bp_read_file(path, IDX_MAX_BYTES, &raw, &raw_len, err);
    if (s != BP_OK) return s;
    if (ends_with(path, ".gz") || bp_is_gzip(raw, raw_len)) {
        f->inflated = " (decompressed)";
        unsigned char *data = NULL;
        size_t data_len = 0;
        s = gunzip_idx(f, raw, raw_len, &data, &data_len, err);
        free(raw);
        if (s != BP_OK) {
            free(data);
            return s;
        }
        raw = data;
        raw_len = data_len;
    }
    f->bytes = raw;
    f->len = raw_len;
    s = parse_header(f, raw, raw_len, err);
    if (s == BP_OK) s = check_data_size(f, err);
    if (s != BP_OK) {
        free(f->bytes);
        f->bytes = NULL;
    }
    return s;
}

/* Values as floats. Integers convert exactly up to 2^24 (every byte and short); float
   data must be finite, double data must also fit in a float. */
static bp_status convert_values(const idx_file *f, float *dst, bp_error *err)
{
    const unsigned char *p = f->bytes + f->header_bytes;
    size_t n = f->count * f->per_sample;
    switch (f->type) {
    case 0x08:
        for (size_t i = 0; i < n; i++) dst[i] = (float)p[i];
        break;
    case 0x09:
        for (size_t i = 0; i < n; i++) dst[i] = (float)(p[i] < 128 ? (int)p[i] : (int)p[i] - 256);
        break;
    case 0x0B:
        for (size_t i = 0; i < n; i++) {
            long v = (long)p[2 * i] << 8 | p[2 * i + 1];
            dst[i] = (float)(v < 32768 ? v : v - 65536);
        }
        break;
    case 0x0C:
        for (size_t i = 0; i < n; i++) {
            int64_t v = get_be32(p + 4 * i);
            dst[i] = (float)(v < 2147483648ll ? v : v - 4294967296ll);
        }
        break;
    case 0x0D:
    case 0x0E:
        for (size_t i = 0; i < n; i++) {
            float v;
            if (f->type == 0x0D) {
                uint32_t u = get_be32(p + 4 * i);
                memcpy(&v, &u, sizeof v);
            } else {
                uint64_t u = get_be64(p + 8 * i);
                double d;
                memcpy(&d, &u, sizeof d);
                v = fabs(d) <= FLT_MAX ? (float)d : (float)INFINITY; /* NaN goes there too */
            }
            if (!isfinite(v))
                return bp_fail(err, BP_ERR_NUMERIC,
                               "%s: byte %zu: value of item %zu is not a finite float%s", f->path,
                               f->header_bytes + i * f->value_bytes, i / f->per_sample,
                               f->type == 0x0E ? " (NaN, infinite or beyond 3.4e38)" : "");
            dst[i] = v;
        }
        break;
    }
    return BP_OK;
}

/* Label i of an integer-typed file, as a signed value. */
static int64_t label_at(const idx_file *f, size_t i)
{
    const unsigned char *p = f->bytes + f->header_bytes;
    switch (f->type) {
    case 0x08: return p[i];
    case 0x09: return p[i] < 128 ? (int64_t)p[i] : (int64_t)p[i] - 256;
    case 0x0B: {
        int64_t v = (int64_t)p[2 * i] << 8 | p[2 * i + 1];
        return v < 32768 ? v : v - 65536;
    }
    default: {
        int64_t v = get_be32(p + 4 * i);
        return v < 2147483648ll ? v : v - 4294967296ll;
    }
    }
}

/* Check the labels (whole numbers 0..BP_MAX_CLASSES-1, one per sample) and find the largest. */
static bp_status check_labels(const idx_file *f, size_t *max_label, bp_error *err)
{
    if (f->type == 0x0D || f->type == 0x0E)
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s: byte 2: labels must be integers (IDX types 08, 09, 0B or 0C), not %s",
                       f->path, type_name(f->type));
    if (f->per_sample != 1)
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s: byte 3: labels must be one value per sample (a 1-D file), but each "
                       "item has %zu values",
                       f->path, f->per_sample);
    int64_t max = 0;
    for (size_t i = 0; i < f->count; i++) {
        int64_t v = label_at(f, i);
        if (v < 0 || v >= BP_MAX_CLASSES)
            return bp_fail(err, BP_ERR_FORMAT,
                           "%s: byte %zu: label of item %zu is %lld (labels are classes 0 to %d)",
                           f->path, f->header_bytes + i * f->value_bytes, i, (long long)v,
                           BP_MAX_CLASSES - 1);
        if (v > max) max = v;
    }
    *max_label = (size_t)max;
    return BP_OK;
}

bp_status bp_dataset_read_idx(const char *images, const char *labels, size_t n_classes,
                              bp_dataset **out, bp_error *err)
{
    if (!out) return bp_fail(err, BP_ERR_ARG, "no output given");
    *out = NULL;
    if (!images) return bp_fail(err, BP_ERR_ARG, "no image file given");
    if (n_classes > BP_MAX_CLASSES)
        return bp_fail(err, BP_ERR_ARG, "%zu classes asked for; at most %d are supported",
                       n_classes, BP_MAX_CLASSES);

    idx_file img, lab;
    memset(&lab, 0, sizeof lab);
    bp_status s = load_idx(images, &img, err);
    if (s != BP_OK) return s;
    size_t n_out = 0;
    if (labels) {
        s = load_idx(labels, &lab, err);
        size_t max_label = 0;
        if (s == BP_OK) s = check_labels(&lab, &max_label, err);
        if (s == BP_OK && lab.count != img.count)
            s = bp_fail(err, BP_ERR_FORMAT, "%s: byte 4: %zu labels, but %s holds %zu images",
                        labels, lab.count, images, img.count);
        if (s != BP_OK) {
            free(img.bytes);
            free(lab.bytes);
            return s;
        }
        n_out = max_label + 1 > n_classes ? max_label + 1 : n_classes;
        if (n_out < 2) n_out = 2; /* as the CSV reader: one class still needs two outputs */
        /* Bounded only when the labels, not the caller's n_classes, set the count
           (classes.h): 60,000 labels of which one is 65535 must not cost 15 GB. */
        uint64_t need = (uint64_t)img.count * n_out * sizeof(float);
        uint64_t have = (uint64_t)img.len + lab.len;
        if (max_label + 1 > n_classes && !bp_onehot_fits(img.count, n_out, (size_t)have)) {
            s = bp_fail(err, BP_ERR_FORMAT,
                        "%s: %zu labels of %zu classes would need %.0f MB of one-hot targets, too "
                        "many for files of %llu bytes (is a label too large?)",
                        labels, lab.count, n_out, (double)need * 1e-6, (unsigned long long)have);
            free(img.bytes);
            free(lab.bytes);
            return s;
        }
    }

    bp_dataset *d = NULL;
    s = bp_dataset_create(img.count, img.per_sample, n_out, &d);
    if (s != BP_OK) {
        bp_fail(err, s, "%s: cannot make a data set of %zu samples with %zu inputs and %zu outputs",
                images, img.count, img.per_sample, n_out);
    } else {
        s = convert_values(&img, bp_dataset_x(d), err);
    }
    if (s == BP_OK && labels) {
        float *y = bp_dataset_y(d);
        for (size_t i = 0; i < lab.count; i++) y[i * n_out + (size_t)label_at(&lab, i)] = 1.0f;
    }
    free(img.bytes);
    free(lab.bytes);
    if (s != BP_OK) {
        bp_dataset_free(d);
        return s;
    }
    *out = d;
    return BP_OK;
}
