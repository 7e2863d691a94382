/*
 * dataset_csv.c - data sets from CSV and back (bp_dataset_read_csv,
 * bp_dataset_read_csv_memory, bp_dataset_write_csv).
 *
 * CSV syntax is csv.c's job; this file decides what the columns mean: the last
 * column a class (a whole number 0..K-1 or a text label, one-hot encoded), the
 * last N columns real-valued targets, or every column an input. Gzip-compressed
 * text is accepted everywhere (gzip.c). The data set itself is core's
 * (core/dataset.c): this file only fills one through the public API.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classes.h"
#include "csv.h"
#include "fileio.h"
#include "number.h"
#include "quote.h"
#include "core/memory.h"
#include "core/status.h"

/* ----------------------------------------------------------------- classes */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Index of name in a list (linear: class counts are small), or -1. */
static long find_class(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return (long)i;
    return -1;
}

/* The labels must be among the given classes (a model's, or the training set's). */
static bp_status classes_given(const bp_csv_table *t, const char *path, const bp_csv_options *opt, size_t *index,
                               bp_error *err)
{
    for (size_t r = 0; r < t->rows; r++) {
        const long k = find_class(opt->class_names, opt->n_targets, t->labels[r]);
        if (k < 0) {
            char shown[BP_QUOTE_SIZE];
            bp_quote(shown, t->labels[r], strlen(t->labels[r]));
            return bp_fail(err, BP_ERR_FORMAT, "%s:%zu:%zu: class %s is not one of the %zu classes the model knows",
                           path, t->lines[r], t->label_at[r], shown, opt->n_targets);
        }
        index[r] = (size_t)k;
    }
    return BP_OK;
}

/* Whether every label reads as a number. */
static int labels_numeric(const bp_csv_table *t)
{
    for (size_t r = 0; r < t->rows; r++) {
        double v;
        if (bp_parse_number(t->labels[r], strlen(t->labels[r]), &v) != BP_OK) return 0;
    }
    return 1;
}

/* Numeric labels: whole numbers 0..K-1, K from the options or the largest label. */
static bp_status classes_numbered(const bp_csv_table *t, const char *path, size_t n_targets, size_t *index,
                                  size_t *n_classes, bp_error *err)
{
    size_t max = 0;
    for (size_t r = 0; r < t->rows; r++) {
        double v = 0;
        bp_parse_number(t->labels[r], strlen(t->labels[r]), &v);
        if (v < 0 || v != floor(v) || v >= BP_MAX_CLASSES)
            return bp_fail(err, BP_ERR_FORMAT, "%s:%zu:%zu: class label %s is not a whole number from 0 to %d",
                           path, t->lines[r], t->label_at[r], t->labels[r], BP_MAX_CLASSES - 1);
        index[r] = (size_t)v;
        if (index[r] > max) max = index[r];
    }
    const size_t k = n_targets ? n_targets : max + 1;
    for (size_t r = 0; r < t->rows && max >= k; r++)
        if (index[r] >= k)
            return bp_fail(err, BP_ERR_FORMAT, "%s:%zu:%zu: class label %zu is out of range for %zu classes (0 to %zu)",
                           path, t->lines[r], t->label_at[r], index[r], k, k - 1);
    *n_classes = k < 2 ? 2 : k; /* one class still needs two outputs to mean anything */
    return BP_OK;
}

/* Text labels: the sorted distinct labels are the classes, so train and test files
   agree whatever their row order; each row's index found by binary search. */
static bp_status classes_named(const bp_csv_table *t, const char *path, size_t n_targets, size_t *index,
                               size_t *n_classes, char ***names, bp_error *err)
{
    const size_t rows = t->rows;
    const char **sorted = malloc(rows * sizeof *sorted);
    if (!sorted) return bp_fail(err, BP_ERR_NOMEM, "%s: out of memory for class labels", path);
    for (size_t r = 0; r < rows; r++) sorted[r] = t->labels[r];
    qsort(sorted, rows, sizeof *sorted, compare_names);
    size_t distinct = 0;
    for (size_t r = 0; r < rows; r++)
        if (distinct == 0 || strcmp(sorted[distinct - 1], sorted[r]) != 0) sorted[distinct++] = sorted[r];
    bp_status s = BP_OK;
    if (distinct > BP_MAX_CLASSES)
        s = bp_fail(err, BP_ERR_FORMAT, "%s: %zu distinct class labels; at most %d are supported", path, distinct,
                    BP_MAX_CLASSES);
    else if (n_targets && distinct > n_targets)
        s = bp_fail(err, BP_ERR_FORMAT, "%s: %zu distinct class labels, but %zu classes were expected", path,
                    distinct, n_targets);
    for (size_t r = 0; s == BP_OK && r < rows; r++) {
        size_t lo = 0, hi = distinct;
        while (lo < hi) {
            const size_t mid = lo + (hi - lo) / 2;
            if (strcmp(sorted[mid], t->labels[r]) < 0) lo = mid + 1;
            else hi = mid;
        }
        index[r] = lo;
    }
    if (s == BP_OK) {
        *n_classes = distinct < 2 ? 2 : distinct;
        /* A single text class gets a second, unnamed-looking one so outputs stay two. */
        const char *two[2] = {sorted[0], "(other)"};
        *names = distinct == *n_classes ? bp_copy_names(sorted, distinct) : bp_copy_names(two, 2);
        if (!*names) s = bp_fail(err, BP_ERR_NOMEM, "%s: out of memory for class names", path);
    }
    free(sorted);
    return s;
}

/* The label column's text as class indices (index[r] for row r), their count, and
   their names (NULL for numbered classes without given names). */
static bp_status map_classes(const bp_csv_table *t, const char *path, const bp_csv_options *opt, size_t *index,
                             size_t *n_classes, char ***names, bp_error *err)
{
    *names = NULL;
    if (opt->class_names) {
        *n_classes = opt->n_targets;
        bp_status s = classes_given(t, path, opt, index, err);
        if (s == BP_OK && !(*names = bp_copy_names(opt->class_names, opt->n_targets)))
            s = bp_fail(err, BP_ERR_NOMEM, "%s: out of memory for class names", path);
        return s;
    }
    if (labels_numeric(t)) return classes_numbered(t, path, opt->n_targets, index, n_classes, err);
    return classes_named(t, path, opt->n_targets, index, n_classes, names, err);
}

/* ----------------------------------------------------------------- CSV in */

/* The table of a CSV text (gzip-compressed or not), the label column kept as text when
   the targets are classes. */
static bp_status read_table(const unsigned char *text, size_t len, const char *path, const bp_csv_options *opt,
                            bp_csv_table *t, bp_error *err)
{
    bp_csv_read_options ro = {0, 0, 0};
    ro.header = opt->header;
    if (opt->target == BP_TARGET_CLASS) {
        ro.has_label_column = 1;
        ro.label_column = -1;
    }
    unsigned char *plain = NULL;
    size_t plain_len = 0;
    bp_status s = bp_maybe_gunzip(text, len, path, &plain, &plain_len, err);
    if (s != BP_OK) return s;
    s = plain ? bp_csv_read_memory((const char *)plain, plain_len, path, &ro, t, err)
              : bp_csv_read_memory((const char *)text, len, path, &ro, t, err);
    free(plain);
    return s;
}

/* Classes for the table's label column, checked against the one-hot bound. */
static bp_status read_classes(const bp_csv_table *t, const char *path, const bp_csv_options *opt, size_t len,
                              size_t *index, size_t *n_out, char ***names, bp_error *err)
{
    bp_status s = map_classes(t, path, opt, index, n_out, names, err);
    if (s != BP_OK) return s;
    /* Only a class count the file itself implies is bounded: one the caller gives
       (a model's outputs) is the caller's to justify. */
    if (opt->n_targets || bp_onehot_fits(t->rows, *n_out, len)) return BP_OK;
    s = bp_fail(err, BP_ERR_FORMAT,
                "%s: %zu samples of %zu classes would need %.0f MB of one-hot targets, "
                "too many for %zu bytes of data (%s)",
                path, t->rows, *n_out, (double)t->rows * (double)*n_out * 4e-6, len,
                *names ? "is the last column really the class?" : "is a class label too large?");
    free(*names);
    *names = NULL;
    return s;
}

/* The data set of a table: n_in inputs, then n_out targets (one-hot from index, or
   the table's last n_out columns). */
static bp_status fill_dataset(const bp_csv_table *t, size_t n_in, size_t n_out, const size_t *index,
                              char **names, const char *path, bp_dataset **out, bp_error *err)
{
    bp_dataset *d = NULL;
    bp_status s = bp_dataset_create(t->rows, n_in, n_out, &d);
    if (s != BP_OK) return bp_fail(err, s, "%s: cannot hold %zu samples in memory", path, t->rows);
    if (names && bp_dataset_set_class_names(d, (const char *const *)names, n_out) != BP_OK) {
        bp_dataset_free(d);
        return bp_fail(err, BP_ERR_NOMEM, "%s: out of memory for class names", path);
    }
    float *x = bp_dataset_x(d), *y = bp_dataset_y(d);
    for (size_t r = 0; r < t->rows; r++) {
        const float *row = t->values + r * t->cols;
        memcpy(x + r * n_in, row, n_in * sizeof(float));
        if (index && y) /* class data always has >= 2 outputs */
            y[r * n_out + index[r]] = 1.0f;
        else if (n_out && y)
            memcpy(y + r * n_out, row + n_in, n_out * sizeof(float));
    }
    *out = d;
    return BP_OK;
}

/* CSV text to a data set. */
static bp_status read_csv_text(const unsigned char *text, size_t len, const char *path,
                               const bp_csv_options *options, bp_dataset **out, bp_error *err)
{
    bp_csv_options opt = {BP_TARGET_CLASS, 0, 0, NULL};
    if (options) opt = *options;
    if ((unsigned)opt.target > BP_TARGET_NONE) return bp_fail(err, BP_ERR_ARG, "%s: unknown target kind", path);
    if (opt.target == BP_TARGET_CLASS && opt.class_names) {
        if (opt.n_targets == 0) return bp_fail(err, BP_ERR_ARG, "%s: class names given without their count", path);
        for (size_t k = 0; k < opt.n_targets; k++)
            if (!opt.class_names[k]) return bp_fail(err, BP_ERR_ARG, "%s: class name %zu is NULL", path, k);
    }
    bp_csv_table t = {0};
    bp_status s = read_table(text, len, path, &opt, &t, err);
    if (s != BP_OK) return s;
    const size_t n_targets = opt.target == BP_TARGET_VALUES  ? (opt.n_targets ? opt.n_targets : 1)
                             : opt.target == BP_TARGET_CLASS ? 1
                                                             : 0;
    if (t.cols <= n_targets) {
        s = bp_fail(err, BP_ERR_FORMAT, "%s:%zu:1: %zu column%s, but %zu target column%s and at least one input are needed",
                    path, t.lines[0], t.cols, t.cols == 1 ? "" : "s", n_targets, n_targets == 1 ? "" : "s");
        bp_csv_table_free(&t);
        return s;
    }
    size_t n_out = n_targets, *index = NULL;
    char **names = NULL;
    if (opt.target == BP_TARGET_CLASS) {
        index = calloc(t.rows, sizeof *index);
        s = index ? read_classes(&t, path, &opt, len, index, &n_out, &names, err)
                  : bp_fail(err, BP_ERR_NOMEM, "%s: out of memory", path);
    }
    if (s == BP_OK) s = fill_dataset(&t, t.cols - n_targets, n_out, index, names, path, out, err);
    free(index);
    free(names);
    bp_csv_table_free(&t);
    return s;
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

/* One sample's targets: its class (by name, quoted, when there are names) or values. */
static void write_targets(bp_buffer *b, const bp_dataset *d, const float *y, size_t n_out, int classes)
{
    if (!classes) {
        for (size_t i = 0; y && i < n_out; i++) {
            bp_buffer_append(b, ",", 1);
            bp_buffer_float(b, y[i]);
        }
        return;
    }
    const long k = one_hot_class(y, n_out);
    const char *name = bp_dataset_class_name(d, (size_t)k);
    if (!name) {
        bp_buffer_printf(b, ",%ld", k);
        return;
    }
    /* Always quoted, so that no name can be mistaken for syntax or for a number. */
    bp_buffer_append(b, ",", 1);
    bp_buffer_csv_field(b, name, 1);
}

bp_status bp_dataset_write_csv(const bp_dataset *d, const char *path, bp_error *err)
{
    if (!d || !path) return bp_fail(err, BP_ERR_ARG, "no data set or path given");
    const size_t n = bp_dataset_count(d), n_in = bp_dataset_inputs(d), n_out = bp_dataset_outputs(d);
    const float *x = bp_dataset_x_const(d), *y = bp_dataset_y_const(d);
    /* Class data (every row one-hot, more than one output) is written as one label column. */
    int classes = n_out > 1;
    for (size_t r = 0; r < n && classes; r++)
        if (one_hot_class(y + r * n_out, n_out) < 0) classes = 0;
    bp_buffer b = {0};
    for (size_t r = 0; r < n; r++) {
        for (size_t i = 0; i < n_in; i++) {
            if (i) bp_buffer_append(&b, ",", 1);
            bp_buffer_float(&b, x[r * n_in + i]);
        }
        write_targets(&b, d, y ? y + r * n_out : NULL, n_out, classes);
        bp_buffer_append(&b, "\n", 1);
    }
    bp_status s = b.failed ? bp_fail(err, BP_ERR_NOMEM, "out of memory writing %s", path)
                           : bp_write_file_atomic(path, b.data, b.len, err);
    bp_buffer_free(&b);
    return s;
}
