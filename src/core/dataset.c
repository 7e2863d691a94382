/*
 * dataset.c - the in-memory data set: inputs and targets as two contiguous
 * float32 blocks, optional class names, and the operations on whole data sets
 * (CSV in and out, subsets, the validation split, input normalization).
 *
 * CSV syntax is csv.c's job; this file decides what the columns mean. The
 * binary and FANN formats live in idx.c and fann.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/csv.h"
#include "io/number.h"
#include "io/fileio.h"
#include "memory.h"
#include "rng.h"
#include "status.h"

struct bp_dataset {
    size_t n, n_in, n_out;
    float *x, *y;        /* n x n_in, n x n_out (y NULL when n_out is 0) */
    char **class_names;  /* n_out names or NULL: one block, pointers then strings */
};

bp_status bp_dataset_create(size_t n, size_t n_in, size_t n_out, bp_dataset **out)
{
    if (!out) return BP_ERR_ARG;
    *out = NULL;
    if (n == 0 || n_in == 0) return BP_ERR_ARG;
    size_t nx, ny, bx, by;
    if (bp_mul_overflows(n, n_in, &nx) || bp_mul_overflows(n, n_out, &ny) ||
        bp_mul_overflows(nx, sizeof(float), &bx) || bp_mul_overflows(ny, sizeof(float), &by))
        return BP_ERR_NOMEM;
    bp_dataset *d = calloc(1, sizeof *d);
    if (!d) return BP_ERR_NOMEM;
    d->x = bp_alloc_aligned(bx);
    d->y = n_out ? bp_alloc_aligned(by) : NULL;
    if (!d->x || (n_out && !d->y)) {
        bp_dataset_free(d);
        return BP_ERR_NOMEM;
    }
    memset(d->x, 0, bx);
    if (d->y) memset(d->y, 0, by);
    d->n = n;
    d->n_in = n_in;
    d->n_out = n_out;
    *out = d;
    return BP_OK;
}

void bp_dataset_free(bp_dataset *d)
{
    if (!d) return;
    bp_free_aligned(d->x);
    bp_free_aligned(d->y);
    free(d->class_names);
    free(d);
}

size_t bp_dataset_count(const bp_dataset *d) { return d ? d->n : 0; }
size_t bp_dataset_inputs(const bp_dataset *d) { return d ? d->n_in : 0; }
size_t bp_dataset_outputs(const bp_dataset *d) { return d ? d->n_out : 0; }
float *bp_dataset_x(bp_dataset *d) { return d ? d->x : NULL; }
float *bp_dataset_y(bp_dataset *d) { return d ? d->y : NULL; }
const float *bp_dataset_x_const(const bp_dataset *d) { return d ? d->x : NULL; }
const float *bp_dataset_y_const(const bp_dataset *d) { return d ? d->y : NULL; }

const char *bp_dataset_class_name(const bp_dataset *d, size_t k)
{
    return d && d->class_names && k < d->n_out ? d->class_names[k] : NULL;
}

bp_status bp_dataset_set_class_names(bp_dataset *d, const char *const *names, size_t n)
{
    if (!d) return BP_ERR_ARG;
    if (!names) {
        free(d->class_names);
        d->class_names = NULL;
        return BP_OK;
    }
    if (n != d->n_out) return BP_ERR_ARG;
    for (size_t i = 0; i < n; i++)
        if (!names[i]) return BP_ERR_ARG;
    char **copy = bp_copy_names(names, n);
    if (!copy) return BP_ERR_NOMEM;
    free(d->class_names);
    d->class_names = copy;
    return BP_OK;
}

/* ----------------------------------------------------------------- CSV in */

/* Classes are limited so a typo (a real number in the label column) cannot ask
   for gigabytes of one-hot targets. */
#define MAX_CLASSES 65536

/* One-hot targets take samples x classes floats: quadratic in the file when every row
   brings a new class or one stray label is large. They may take ONEHOT_FREE bytes
   whatever the file, and beyond that ONEHOT_PER_BYTE bytes per byte of (inflated)
   text, so memory stays bounded by the file's size. idx.c applies the same limit. */
#define ONEHOT_FREE ((size_t)16 << 20)
#define ONEHOT_PER_BYTE 16

static int onehot_fits(size_t n, size_t classes, size_t text_bytes)
{
    size_t cells, bytes;
    if (bp_mul_overflows(n, classes, &cells) || bp_mul_overflows(cells, sizeof(float), &bytes))
        return 0;
    if (bytes <= ONEHOT_FREE) return 1;
    return text_bytes <= (SIZE_MAX - ONEHOT_FREE) / ONEHOT_PER_BYTE
               ? bytes <= ONEHOT_FREE + ONEHOT_PER_BYTE * text_bytes
               : 1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A label as a message shows it: at most 40 bytes, anything but printable ASCII as \xNN,
   so invalid UTF-8 or an escape sequence in a data file cannot upset the terminal. */
#define SHOWN_LABEL 40
static void show_label(char dst[4 * SHOWN_LABEL + 4], const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0, i = 0;
    for (; i < SHOWN_LABEL && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            dst[k++] = '\\';
            dst[k++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            dst[k++] = '\\';
            dst[k++] = 'x';
            dst[k++] = hex[c >> 4];
            dst[k++] = hex[c & 15];
        } else {
            dst[k++] = (char)c;
        }
    }
    if (s[i]) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = '\0';
}

/* Index of name in a sorted or unsorted list (linear: class counts are small). */
static long find_class(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return (long)i;
    return -1;
}

/* Turn the label column's text into class indices: whole numbers 0..K-1 stay numbers
   (no names); anything else makes text classes, sorted by name so train and test files
   agree whatever their row order. With a given mapping, labels must be in it. */
static bp_status map_classes(const bp_csv_table *t, const char *path, const bp_csv_options *opt,
                             size_t *index, size_t *n_classes, char ***names_out, bp_error *err)
{
    size_t rows = t->rows;
    *names_out = NULL;
    if (opt->class_names) {
        for (size_t r = 0; r < rows; r++) {
            long k = find_class(opt->class_names, opt->n_targets, t->labels[r]);
            if (k < 0) {
                char shown[4 * SHOWN_LABEL + 4];
                show_label(shown, t->labels[r]);
                return bp_fail(err, BP_ERR_FORMAT, "%s:%zu:%zu: class \"%s\" is not one of the %zu classes the model knows",
                               path, t->lines[r], t->label_at[r], shown, opt->n_targets);
            }
            index[r] = (size_t)k;
        }
        *n_classes = opt->n_targets;
        return BP_OK;
    }
    int numeric = 1;
    for (size_t r = 0; r < rows && numeric; r++) {
        double v;
        if (bp_parse_number(t->labels[r], strlen(t->labels[r]), &v) != BP_OK) numeric = 0;
    }
    if (numeric) {
        size_t max = 0;
        for (size_t r = 0; r < rows; r++) {
            double v = 0;
            bp_parse_number(t->labels[r], strlen(t->labels[r]), &v);
            if (v < 0 || v != floor(v) || v >= MAX_CLASSES)
                return bp_fail(err, BP_ERR_FORMAT,
                               "%s:%zu:%zu: class label %s is not a whole number from 0 to %d",
                               path, t->lines[r], t->label_at[r], t->labels[r], MAX_CLASSES - 1);
            index[r] = (size_t)v;
            if (index[r] > max) max = index[r];
        }
        size_t k = opt->n_targets ? opt->n_targets : max + 1;
        if (max >= k) {
            for (size_t r = 0; r < rows; r++)
                if (index[r] >= k)
                    return bp_fail(err, BP_ERR_FORMAT, "%s:%zu:%zu: class label %zu is out of range for %zu classes (0 to %zu)",
                                   path, t->lines[r], t->label_at[r], index[r], k, k - 1);
        }
        *n_classes = k < 2 ? 2 : k; /* one class still needs two outputs to mean anything */
        return BP_OK;
    }
    /* Text classes: the sorted distinct labels. */
    const char **sorted = malloc(rows * sizeof *sorted);
    if (!sorted) return bp_fail(err, BP_ERR_NOMEM, "%s: out of memory for class labels", path);
    for (size_t r = 0; r < rows; r++) sorted[r] = t->labels[r];
    qsort(sorted, rows, sizeof *sorted, compare_names);
    size_t distinct = 0;
    for (size_t r = 0; r < rows; r++)
        if (distinct == 0 || strcmp(sorted[distinct - 1], sorted[r]) != 0) sorted[distinct++] = sorted[r];
    if (distinct > MAX_CLASSES) {
        free(sorted);
        return bp_fail(err, BP_ERR_FORMAT, "%s: %zu distinct class labels; at most %d are supported",
                       path, distinct, MAX_CLASSES);
    }
    if (opt->n_targets && distinct > opt->n_targets) {
        free(sorted);
        return bp_fail(err, BP_ERR_FORMAT, "%s: %zu distinct class labels, but %zu classes were expected",
                       path, distinct, opt->n_targets);
    }
    for (size_t r = 0; r < rows; r++) {
        /* Binary search in the sorted distinct names. */
        size_t lo = 0, hi = distinct;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = strcmp(sorted[mid], t->labels[r]);
            if (c < 0) lo = mid + 1; else hi = mid;
        }
        index[r] = lo;
    }
    *n_classes = distinct < 2 ? 2 : distinct;
    char **names = NULL;
    if (distinct == *n_classes) {
        names = bp_copy_names(sorted, distinct);
    } else {
        /* A single text class gets a second, unnamed-looking one so outputs stay two. */
        const char *two[2] = {sorted[0], "(other)"};
        names = bp_copy_names(two, 2);
    }
    free(sorted);
    if (!names) return bp_fail(err, BP_ERR_NOMEM, "%s: out of memory for class names", path);
    *names_out = names;
    return BP_OK;
}

/* Turn CSV text into a data set. The text may be gzip-compressed. */
static bp_status read_csv_text(const unsigned char *text, size_t len, const char *path,
                               const bp_csv_options *options, bp_dataset **out, bp_error *err)
{
    bp_csv_options opt = {BP_TARGET_CLASS, 0, 0, NULL};
    if (options) opt = *options;
    if ((unsigned)opt.target > BP_TARGET_NONE)
        return bp_fail(err, BP_ERR_ARG, "%s: unknown target kind", path);
    bp_csv_read_options ro = {0, 0, 0};
    ro.header = opt.header;
    if (opt.target == BP_TARGET_CLASS) {
        ro.has_label_column = 1;
        ro.label_column = -1;
    }
    bp_csv_table t = {0};
    unsigned char *plain = NULL;
    size_t plain_len = 0;
    bp_status s = bp_maybe_gunzip(text, len, path, &plain, &plain_len, err);
    if (s != BP_OK) return s;
    if (plain) {
        text = plain;
        len = plain_len;
    }
    s = bp_csv_read_memory((const char *)text, len, path, &ro, &t, err);
    free(plain);
    if (s != BP_OK) return s;

    size_t n_targets = opt.target == BP_TARGET_VALUES ? (opt.n_targets ? opt.n_targets : 1)
                       : opt.target == BP_TARGET_CLASS ? 1 : 0;
    if (t.cols <= n_targets) {
        s = bp_fail(err, BP_ERR_FORMAT,
                    "%s:%zu:1: %zu column%s, but %zu target column%s and at least one input are needed",
                    path, t.lines[0], t.cols, t.cols == 1 ? "" : "s", n_targets, n_targets == 1 ? "" : "s");
        bp_csv_table_free(&t);
        return s;
    }
    size_t n_in = t.cols - n_targets, n_out = n_targets;
    size_t *index = NULL;
    char **names = NULL;
    if (opt.target == BP_TARGET_CLASS) {
        index = calloc(t.rows, sizeof *index);
        if (!index) {
            bp_csv_table_free(&t);
            return bp_fail(err, BP_ERR_NOMEM, "%s: out of memory", path);
        }
        s = map_classes(&t, path, &opt, index, &n_out, &names, err);
        if (s != BP_OK) {
            free(index);
            bp_csv_table_free(&t);
            return s;
        }
        if (!names && opt.class_names) names = bp_copy_names(opt.class_names, opt.n_targets);
        /* Only a class count the file itself implies is bounded: one the caller gives
           (a model's outputs) is the caller's to justify. */
        if (!opt.n_targets && !onehot_fits(t.rows, n_out, len)) {
            s = bp_fail(err, BP_ERR_FORMAT,
                        "%s: %zu samples of %zu classes would need %.0f MB of one-hot targets, "
                        "too many for %zu bytes of data (%s)",
                        path, t.rows, n_out, (double)t.rows * (double)n_out * 4e-6, len,
                        names ? "is the last column really the class?" : "is a class label too large?");
            free(index);
            free(names);
            bp_csv_table_free(&t);
            return s;
        }
    }
    bp_dataset *d = NULL;
    s = bp_dataset_create(t.rows, n_in, n_out, &d);
    if (s != BP_OK) {
        free(index);
        free(names);
        bp_csv_table_free(&t);
        return bp_fail(err, s, "%s: cannot hold %zu samples in memory", path, t.rows);
    }
    d->class_names = names;
    for (size_t r = 0; r < t.rows; r++) {
        const float *row = t.values + r * t.cols;
        memcpy(d->x + r * n_in, row, n_in * sizeof(float));
        if (opt.target == BP_TARGET_CLASS && d->y) /* class data always has >= 2 outputs */
            d->y[r * n_out + index[r]] = 1.0f;
        else if (n_out && d->y)
            memcpy(d->y + r * n_out, row + n_in, n_out * sizeof(float));
    }
    free(index);
    bp_csv_table_free(&t);
    *out = d;
    return BP_OK;
}

bp_status bp_dataset_read_csv(const char *path, const bp_csv_options *options, bp_dataset **out,
                              bp_error *err)
{
    if (!path || !out) return bp_fail(err, BP_ERR_ARG, "no file or output given");
    *out = NULL;
    unsigned char *text = NULL;
    size_t len = 0;
    bp_status s = bp_read_file(path, (size_t)-2, &text, &len, err);
    if (s != BP_OK) return s;
    s = read_csv_text(text, len, path, options, out, err);
    free(text);
    return s;
}

bp_status bp_dataset_read_csv_memory(const void *text, size_t len, const char *name,
                                     const bp_csv_options *options, bp_dataset **out,
                                     bp_error *err)
{
    if (!out || (!text && len)) return bp_fail(err, BP_ERR_ARG, "no text or output given");
    *out = NULL;
    return read_csv_text(text, len, name ? name : "<memory>", options, out, err);
}

/* ---------------------------------------------------------------- CSV out */

/* The class of a one-hot target row, or -1 when the row is not one-hot. */
static long one_hot_class(const float *y, size_t n)
{
    long k = -1;
    for (size_t i = 0; i < n; i++) {
        if (y[i] == 1.0f && k < 0) k = (long)i;
        else if (y[i] != 0.0f) return -1;
    }
    return k;
}

bp_status bp_dataset_write_csv(const bp_dataset *d, const char *path, bp_error *err)
{
    if (!d || !path) return bp_fail(err, BP_ERR_ARG, "no data set or path given");
    /* Class data (every row one-hot, more than one output) is written as one label column. */
    int classes = d->n_out > 1;
    for (size_t r = 0; r < d->n && classes; r++)
        if (one_hot_class(d->y + r * d->n_out, d->n_out) < 0) classes = 0;
    bp_buffer b = {0};
    for (size_t r = 0; r < d->n; r++) {
        for (size_t i = 0; i < d->n_in; i++) {
            if (i) bp_buffer_append(&b, ",", 1);
            bp_buffer_float(&b, d->x[r * d->n_in + i]);
        }
        if (classes) {
            long k = one_hot_class(d->y + r * d->n_out, d->n_out);
            const char *name = bp_dataset_class_name(d, (size_t)k);
            if (name) {
                /* Quote names that could be mistaken for syntax. */
                bp_buffer_append(&b, ",\"", 2);
                for (const char *c = name; *c; c++) bp_buffer_append(&b, c, *c == '"' ? 0 : 1);
                bp_buffer_append(&b, "\"", 1);
            } else {
                bp_buffer_printf(&b, ",%ld", k);
            }
        } else {
            for (size_t i = 0; i < d->n_out; i++) {
                bp_buffer_append(&b, ",", 1);
                bp_buffer_float(&b, d->y[r * d->n_out + i]);
            }
        }
        bp_buffer_append(&b, "\n", 1);
    }
    bp_status s = b.failed ? bp_fail(err, BP_ERR_NOMEM, "out of memory writing %s", path)
                           : bp_write_file_atomic(path, b.data, b.len, err);
    bp_buffer_free(&b);
    return s;
}

/* ------------------------------------------------------- subsets and splits */

bp_status bp_dataset_subset(const bp_dataset *d, const size_t *idx, size_t n, bp_dataset **out)
{
    if (!d || !idx || !out || n == 0) return BP_ERR_ARG;
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= d->n) return BP_ERR_ARG;
    bp_dataset *s = NULL;
    bp_status st = bp_dataset_create(n, d->n_in, d->n_out, &s);
    if (st != BP_OK) return st;
    for (size_t i = 0; i < n; i++) {
        memcpy(s->x + i * d->n_in, d->x + idx[i] * d->n_in, d->n_in * sizeof(float));
        if (d->n_out) memcpy(s->y + i * d->n_out, d->y + idx[i] * d->n_out, d->n_out * sizeof(float));
    }
    if (d->class_names &&
        bp_dataset_set_class_names(s, (const char *const *)d->class_names, d->n_out) != BP_OK) {
        bp_dataset_free(s);
        return BP_ERR_NOMEM;
    }
    *out = s;
    return BP_OK;
}

bp_status bp_dataset_split(const bp_dataset *d, double fraction, uint64_t seed, bp_dataset **first,
                           bp_dataset **second)
{
    if (!d || !first || !second || !(fraction > 0 && fraction < 1)) return BP_ERR_ARG;
    *first = *second = NULL;
    size_t n2 = (size_t)floor(fraction * (double)d->n + 0.5);
    if (n2 == 0 || n2 >= d->n) return BP_ERR_ARG;
    size_t *idx = malloc(d->n * sizeof *idx);
    if (!idx) return BP_ERR_NOMEM;
    for (size_t i = 0; i < d->n; i++) idx[i] = i;
    bp_rng rng;
    bp_rng_seed(&rng, seed);
    bp_rng_shuffle(&rng, idx, d->n);
    bp_status s = bp_dataset_subset(d, idx, d->n - n2, first);
    if (s == BP_OK) s = bp_dataset_subset(d, idx + (d->n - n2), n2, second);
    free(idx);
    if (s != BP_OK) {
        bp_dataset_free(*first);
        *first = NULL;
    }
    return s;
}

/* ---------------------------------------------------------- normalization */

bp_status bp_dataset_input_stats(const bp_dataset *d, bp_normalize mode, float *shift, float *scale)
{
    if (!d || !shift || !scale || (unsigned)mode > BP_NORMALIZE_STANDARDIZE) return BP_ERR_ARG;
    for (size_t i = 0; i < d->n_in; i++) {
        shift[i] = 0.0f;
        scale[i] = 1.0f;
    }
    if (mode == BP_NORMALIZE_NONE) return BP_OK;
    for (size_t i = 0; i < d->n_in; i++) {
        double lo = d->x[i], hi = d->x[i], sum = 0.0;
        for (size_t r = 0; r < d->n; r++) {
            double v = d->x[r * d->n_in + i];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            sum += v;
        }
        if (mode == BP_NORMALIZE_MINMAX) {
            shift[i] = (float)lo;
            /* A constant input stays put (scale 1) rather than dividing by zero. */
            scale[i] = hi > lo ? (float)(1.0 / (hi - lo)) : 1.0f;
        } else {
            double mean = sum / (double)d->n, var = 0.0;
            for (size_t r = 0; r < d->n; r++) {
                double v = d->x[r * d->n_in + i] - mean;
                var += v * v;
            }
            double sd = sqrt(var / (double)d->n);
            shift[i] = (float)mean;
            scale[i] = sd > 1e-12 ? (float)(1.0 / sd) : 1.0f;
        }
    }
    return BP_OK;
}

bp_status bp_dataset_apply_transform(bp_dataset *d, const float *shift, const float *scale)
{
    if (!d || !shift || !scale) return BP_ERR_ARG;
    for (size_t r = 0; r < d->n; r++) {
        float *x = d->x + r * d->n_in;
        for (size_t i = 0; i < d->n_in; i++) x[i] = (x[i] - shift[i]) * scale[i];
    }
    return BP_OK;
}
