/*
 * dataset.c - the in-memory data set: inputs and targets as two contiguous
 * float32 blocks, and reading one from CSV.
 *
 * Parsing CSV text is csv.c's job; this file only turns a parsed table into
 * inputs and targets (one-hot encoding class labels), checking sizes first.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "net_internal.h"

struct bp_dataset {
    size_t n, n_in, n_out;
    float *x, *y;
};

bp_status bp_dataset_create(size_t n, size_t n_in, size_t n_out, bp_dataset **out)
{
    if (!out) return BP_ERR_ARG;
    *out = NULL;
    if (n == 0 || n_in == 0 || n_out == 0) return BP_ERR_ARG;
    size_t nx, ny, bx, by;
    if (bp_mul_overflows(n, n_in, &nx) || bp_mul_overflows(n, n_out, &ny) ||
        bp_mul_overflows(nx, sizeof(float), &bx) || bp_mul_overflows(ny, sizeof(float), &by))
        return BP_ERR_NOMEM;
    bp_dataset *d = calloc(1, sizeof *d);
    if (!d) return BP_ERR_NOMEM;
    d->x = bp_alloc_aligned(bx);
    d->y = bp_alloc_aligned(by);
    if (!d->x || !d->y) {
        bp_dataset_free(d);
        return BP_ERR_NOMEM;
    }
    memset(d->x, 0, bx);
    memset(d->y, 0, by);
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
    free(d);
}

size_t bp_dataset_count(const bp_dataset *d) { return d ? d->n : 0; }
size_t bp_dataset_inputs(const bp_dataset *d) { return d ? d->n_in : 0; }
size_t bp_dataset_outputs(const bp_dataset *d) { return d ? d->n_out : 0; }
float *bp_dataset_x(bp_dataset *d) { return d ? d->x : NULL; }
float *bp_dataset_y(bp_dataset *d) { return d ? d->y : NULL; }
const float *bp_dataset_x_const(const bp_dataset *d) { return d ? d->x : NULL; }
const float *bp_dataset_y_const(const bp_dataset *d) { return d ? d->y : NULL; }

/* Classes are limited so a typo (a real number in the label column) cannot ask
   for gigabytes of one-hot targets. */
#define MAX_CLASSES 65536

bp_status bp_dataset_read_csv(const char *path, const bp_csv_options *options, bp_dataset **out,
                              bp_error *err)
{
    if (!path || !out) return bp_fail(err, BP_ERR_ARG, "no file or output given");
    *out = NULL;
    bp_csv_options opt = {BP_TARGET_CLASS, 0, 0};
    if (options) opt = *options;
    bp_csv_read_options ro = {0};
    ro.header = opt.header;
    bp_csv_table t = {0};
    bp_status s = bp_csv_read_file(path, &ro, &t, err);
    if (s != BP_OK) return s;

    size_t n_targets = opt.target == BP_TARGET_VALUES ? (opt.n_targets ? opt.n_targets : 1) : 1;
    if (t.cols <= n_targets) {
        bp_csv_table_free(&t);
        return bp_fail(err, BP_ERR_FORMAT, "%s: %zu column%s, but %zu target column%s and at least one input are needed",
                       path, t.cols, t.cols == 1 ? "" : "s", n_targets, n_targets == 1 ? "" : "s");
    }
    size_t n_in = t.cols - n_targets;
    size_t n_out = n_targets;
    if (opt.target == BP_TARGET_CLASS) {
        /* Labels must be whole numbers 0..K-1. */
        long max_label = -1;
        for (size_t r = 0; r < t.rows; r++) {
            double v = t.values[r * t.cols + n_in];
            if (v < 0 || v != floor(v) || v >= MAX_CLASSES) {
                bp_status st = bp_fail(err, BP_ERR_FORMAT,
                                       "%s: data row %zu: class label %g in the last column is not a whole number from 0 to %d",
                                       path, r + 1, v, MAX_CLASSES - 1);
                bp_csv_table_free(&t);
                return st;
            }
            if ((long)v > max_label) max_label = (long)v;
        }
        n_out = opt.n_targets ? opt.n_targets : (size_t)max_label + 1;
        if ((size_t)max_label >= n_out) {
            bp_csv_table_free(&t);
            return bp_fail(err, BP_ERR_FORMAT, "%s: class label %ld is out of range for %zu classes",
                           path, max_label, n_out);
        }
        if (n_out < 2) n_out = 2; /* a single class still needs two outputs to mean anything */
    }
    bp_dataset *d = NULL;
    s = bp_dataset_create(t.rows, n_in, n_out, &d);
    if (s != BP_OK) {
        bp_csv_table_free(&t);
        return bp_fail(err, s, "%s: cannot hold %zu samples in memory", path, t.rows);
    }
    for (size_t r = 0; r < t.rows; r++) {
        const float *row = t.values + r * t.cols;
        memcpy(d->x + r * n_in, row, n_in * sizeof(float));
        if (opt.target == BP_TARGET_CLASS)
            d->y[r * n_out + (size_t)row[n_in]] = 1.0f;
        else
            memcpy(d->y + r * n_out, row + n_in, n_out * sizeof(float));
    }
    bp_csv_table_free(&t);
    *out = d;
    return BP_OK;
}
