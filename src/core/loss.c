/*
 * loss.c - MSE, softmax cross-entropy and sigmoid binary cross-entropy.
 *
 * CE and BCE are evaluated from the logits z rather than from a: with
 * log-sum-exp and softplus they stay finite for every finite z, where
 * log(a) would hit log(0) once a saturates.
 */
#include <math.h>

#include "activation.h"
#include "loss.h"

/* log(1 + e^x) without overflow. */
static double softplus(double x)
{
    return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

int bp_loss_is_canonical(bp_loss loss, bp_activation output)
{
    return (loss == BP_LOSS_MSE && output == BP_ACT_IDENTITY) ||
           (loss == BP_LOSS_CE && output == BP_ACT_SOFTMAX) ||
           (loss == BP_LOSS_BCE && output == BP_ACT_SIGMOID);
}

/* One sample's softmax cross-entropy: C = -sum y_i log softmax(z)_i = (sum y) lse(z) -
   sum y_i z_i, where lse(z) = log sum_j e^(z_j). The softmax a is already there: at
   the largest logit a = e^(z_max - lse), so lse = z_max - log(a at z_max), and that a
   is at least 1/n, so its logarithm is accurate: one log per sample, no exp.
   Units that tie for the largest logit have the same a (equal logits, equal
   exponentials), so the last of them is taken, found without a branch (the max is a
   maxss; the index moves by a product with the 0 or 1 of the comparison, where GCC
   makes a select into a jump): finding the first one's index by comparisons took a
   branch that mispredicted about once a row, a third of bp_loss_sum's time on digits.
   A NaN logit makes the row's a, and so the loss, NaN whichever unit is taken. */
static inline double ce_row(const float *zr, const float *ar, const float *yr, size_t n)
{
    float z_top = zr[0];
    size_t top = 0;
    double ysum = 0.0, yz = 0.0;
    for (size_t i = 1; i < n; i++) z_top = zr[i] > z_top ? zr[i] : z_top;
    for (size_t i = 1; i < n; i++) top += (i - top) * (size_t)(zr[i] == z_top);
    for (size_t i = 0; i < n; i++) {
        ysum += yr[i];
        yz += (double)yr[i] * zr[i];
    }
    return ysum * ((double)z_top - log((double)ar[top])) - yz;
}

/* Softmax + CE: dC/dz = (sum_i y_i) a - y, which is a - y for targets that sum to 1
   (one-hot or probabilities); the general form keeps any other target right too. */
static inline void ce_delta_row(const float *ar, const float *yr, float *dr, size_t n)
{
    float ysum = 0.0f;
    for (size_t i = 0; i < n; i++) ysum += yr[i];
    for (size_t i = 0; i < n; i++) dr[i] = ysum * ar[i] - yr[i];
}

double bp_loss_sum(bp_loss loss, const float *z, const float *a, const float *y, size_t m, size_t n)
{
    double total = 0.0;
    for (size_t s = 0; s < m; s++) {
        const float *zr = z + s * n, *ar = a + s * n, *yr = y + s * n;
        switch (loss) {
        case BP_LOSS_MSE:
            /* C = 1/2 ||a - y||^2 */
            for (size_t i = 0; i < n; i++) {
                double d = (double)ar[i] - yr[i];
                total += 0.5 * d * d;
            }
            break;
        case BP_LOSS_CE:
            total += ce_row(zr, ar, yr, n);
            break;
        case BP_LOSS_BCE:
            /* -[y log a + (1-y) log(1-a)] with a = sigmoid(z) equals softplus(z) - y z */
            for (size_t i = 0; i < n; i++) total += softplus(zr[i]) - (double)yr[i] * zr[i];
            break;
        }
    }
    return total;
}

void bp_loss_delta(bp_loss loss, bp_activation output, const float *a,
                   const float *y, float *delta, size_t m, size_t n)
{
    size_t count = m * n;
    if (loss == BP_LOSS_CE && output == BP_ACT_SOFTMAX) {
        for (size_t s = 0; s < m; s++) ce_delta_row(a + s * n, y + s * n, delta + s * n, n);
        return;
    }
    /* The other canonical pairs: the output activation's Jacobian cancels against the loss. */
    if (bp_loss_is_canonical(loss, output)) {
        for (size_t i = 0; i < count; i++) delta[i] = a[i] - y[i];
        return;
    }
    /* General case (only MSE reaches here, see bp_net_config_check):
       grad_a C = a - y, then through g'(z^L). */
    for (size_t i = 0; i < count; i++) delta[i] = a[i] - y[i];
    bp_activation_backward(output, a, delta, m, n);
}

double bp_loss_sum_delta(bp_loss loss, bp_activation output, const float *z, const float *a, const float *y,
                         float *delta, size_t m, size_t n)
{
    if (loss != BP_LOSS_CE || output != BP_ACT_SOFTMAX) {
        bp_loss_delta(loss, output, a, y, delta, m, n);
        return bp_loss_sum(loss, z, a, y, m, n);
    }
    /* One pass over the rows instead of two: for rows of 10 the loop and the loads
       cost as much as the arithmetic. */
    double total = 0.0;
    for (size_t s = 0; s < m; s++) {
        total += ce_row(z + s * n, a + s * n, y + s * n, n);
        ce_delta_row(a + s * n, y + s * n, delta + s * n, n);
    }
    return total;
}
