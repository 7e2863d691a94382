/*
 * dataset.c - the in-memory data set: inputs and targets as two contiguous
 * float32 blocks, optional class names, and the operations on whole data sets
 * (subsets, the validation split, input normalization).
 *
 * Reading and writing files is io/'s job (dataset_csv.c, idx.c, fann.c), through
 * the public functions below: nothing here knows a file format.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "rng.h"
#include "status.h"

struct bp_dataset {
    size_t n, n_in, n_out;
    float *x, *y;        /* n x n_in, n x n_out (y NULL when n_out is 0) */
    char **class_names;  /* n_out names or NULL: one block, pointers then strings */
    int borrowed;        /* x and y are the caller's (bp_dataset_wrap): read, never
                            written or freed here */
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

bp_status bp_dataset_wrap(size_t n, size_t n_in, size_t n_out, const float *x, const float *y,
                          bp_dataset **out)
{
    if (!out) return BP_ERR_ARG;
    *out = NULL;
    size_t nx, ny;
    if (n == 0 || n_in == 0 || !x || (n_out > 0) != (y != NULL) || bp_mul_overflows(n, n_in, &nx) ||
        bp_mul_overflows(n, n_out, &ny))
        return BP_ERR_ARG;
    bp_dataset *d = calloc(1, sizeof *d);
    if (!d) return BP_ERR_NOMEM;
    /* The const is kept by the accessors: bp_dataset_x and _y give no pointer to
       borrowed memory, and nothing else in the library writes a data set. */
    d->x = (float *)(uintptr_t)x;
    d->y = (float *)(uintptr_t)y;
    d->n = n;
    d->n_in = n_in;
    d->n_out = n_out;
    d->borrowed = 1;
    *out = d;
    return BP_OK;
}

void bp_dataset_free(bp_dataset *d)
{
    if (!d) return;
    if (!d->borrowed) {
        bp_free_aligned(d->x);
        bp_free_aligned(d->y);
    }
    free(d->class_names);
    free(d);
}

size_t bp_dataset_count(const bp_dataset *d) { return d ? d->n : 0; }
size_t bp_dataset_inputs(const bp_dataset *d) { return d ? d->n_in : 0; }
size_t bp_dataset_outputs(const bp_dataset *d) { return d ? d->n_out : 0; }
float *bp_dataset_x(bp_dataset *d) { return d && !d->borrowed ? d->x : NULL; }
float *bp_dataset_y(bp_dataset *d) { return d && !d->borrowed ? d->y : NULL; }
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

/* ------------------------------------------------------- subsets and splits */

bp_status bp_dataset_subset(const bp_dataset *d, const size_t *idx, size_t n, bp_dataset **out)
{
    if (!d || !idx || !out || n == 0) return BP_ERR_ARG;
    *out = NULL;
    /* A count no data set could hold is refused before idx is read that far. */
    size_t bytes;
    if (bp_mul_overflows(n, (d->n_in + d->n_out) * sizeof(float), &bytes)) return BP_ERR_NOMEM;
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
        /* An infinite or NaN input (the sum of finite floats cannot overflow a double), or a range too narrow for a float's 1 / range, would make
           every transformed value NaN or infinite: refuse it here, where the cause is. */
        if (!isfinite(sum) || !isfinite(shift[i]) || !isfinite(scale[i])) return BP_ERR_NUMERIC;
    }
    return BP_OK;
}

bp_status bp_dataset_apply_transform(bp_dataset *d, const float *shift, const float *scale)
{
    if (!d || !shift || !scale || d->borrowed) return BP_ERR_ARG;
    for (size_t r = 0; r < d->n; r++) {
        float *x = d->x + r * d->n_in;
        for (size_t i = 0; i < d->n_in; i++) x[i] = (x[i] - shift[i]) * scale[i];
    }
    return BP_OK;
}
