/*
 * reference.h - the reference loss in extended precision, for gradcheck.c.
 *
 * The public bp_reference_loss rounds its result to double; finite
 * differences need the unrounded value, so they call this one.
 */
#ifndef BP_REFERENCE_H
#define BP_REFERENCE_H

#include "backprop_verify.h"

/* The loss for parameters `params` (long double, the parameter block's layout). */
bp_status bp_reference_loss_ext(const bp_net *net, const long double *params, const float *x,
                                const float *y, size_t m, bp_reduction reduction, long double *loss);

#endif
