/*
 * backprop_verify.h - the two independent checks of backprop's gradients, public for
 * tests and for anyone who wants to prove a gradient themselves (docs/backprop.md,
 * "Verification, three ways").
 *
 * Both are slow on purpose: they follow the math literally in long double, one sample at
 * a time, and share no code with the fast float32 passes of backprop.h. The program's
 * `gradcheck` and `grad` commands use them; a training loop never should.
 */
#ifndef BACKPROP_VERIFY_H
#define BACKPROP_VERIFY_H

#include "backprop.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The reference gradient: long double (at least double) precision, explicit Jacobians multiplied along the chain
 *  rule (diag(g'(z)), W, and dz/dW), one sample at a time. grad has bp_net_param_count
 *  entries in the parameter block's layout. Slow and obviously correct: for tests only. */
BP_API bp_status bp_reference_gradient(const bp_net *net, const float *x, const float *y, size_t m,
                                       bp_reduction reduction, double *loss, double *grad);

/** Central finite differences of the reference loss (long double, differenced before rounding):
 *  (C(p + h) - C(p - h)) / 2h for every parameter p. */
BP_API bp_status bp_finite_difference_gradient(const bp_net *net, const float *x, const float *y,
                                               size_t m, bp_reduction reduction, double h, double *grad);

/** The reference loss (computed in long double, returned as double), for the parameters given in params (NULL: the net's own). */
BP_API bp_status bp_reference_loss(const bp_net *net, const double *params, const float *x,
                                   const float *y, size_t m, bp_reduction reduction, double *loss);

/** max_i |a_i - b_i| / max(max_i |a_i|, max_i |b_i|): the error relative to the gradient's
 *  own scale. Returns 0 when both are all zero, and infinity when any difference is NaN or
 *  a or b is NULL (with n > 0), so that nothing compared looks like agreement. */
BP_API double bp_relative_error(const double *a, const double *b, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* BACKPROP_VERIFY_H */
