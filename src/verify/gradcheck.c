/*
 * gradcheck.c - verification path 3: central finite differences of the loss,
 * and the error measure used to compare gradients.
 *
 * The loss comes from the extended-precision forward pass in reference.c, and
 * the difference is taken before rounding to double, so the step h can be
 * small (1e-6 by default: truncation error O(h^2) ~ 1e-12) while rounding
 * stays far below the 1e-7 agreement the tests ask for.
 */
#include <math.h>
#include <stdlib.h>

#include "core/network.h"
#include "reference.h"

bp_status bp_finite_difference_gradient(const bp_net *net, const float *x, const float *y,
                                        size_t m, bp_reduction reduction, double h, double *grad)
{
    if (!net || !x || !y || !grad || m == 0 || !(h > 0 && isfinite(h))) return BP_ERR_ARG;
    size_t n = net->n_params;
    long double *p = malloc(n * sizeof(long double));
    if (!p) return BP_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) p[i] = net->params[i];
    bp_status s = BP_OK;
    for (size_t i = 0; i < n && s == BP_OK; i++) {
        long double saved = p[i], up = 0.0L, down = 0.0L;
        p[i] = saved + h;
        s = bp_reference_loss_ext(net, p, x, y, m, reduction, &up);
        p[i] = saved - h;
        if (s == BP_OK) s = bp_reference_loss_ext(net, p, x, y, m, reduction, &down);
        p[i] = saved;
        /* (C(p + h) - C(p - h)) / 2h: error O(h^2), against O(h) one-sided. */
        grad[i] = (double)((up - down) / (2.0L * h));
    }
    free(p);
    return s;
}

double bp_relative_error(const double *a, const double *b, size_t n)
{
    double diff = 0.0, scale = 0.0;
    if (n > 0 && (!a || !b)) return INFINITY; /* nothing to compare is no agreement either */
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (isnan(d)) return INFINITY; /* a NaN must never look like agreement */
        diff = d > diff ? d : diff;
        scale = fabs(a[i]) > scale ? fabs(a[i]) : scale;
        scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
    }
    return scale > 0 ? diff / scale : 0.0;
}
