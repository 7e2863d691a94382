/*
 * dense_reference.c - the plain dense layer (see dense_reference.h).
 */
#include <math.h>

#include "activation.h"
#include "dense_reference.h"

/* Softmax of one row, written out: e^(z_i - max) / sum_j e^(z_j - max). */
static void softmax_row(const float *z, float *a, size_t n)
{
    float max = z[0];
    for (size_t i = 1; i < n; i++) max = z[i] > max ? z[i] : max;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += exp((double)z[i] - max);
    for (size_t i = 0; i < n; i++) a[i] = (float)(exp((double)z[i] - max) / sum);
}

void bp_dense_forward_reference(float *z, float *a, const float *a_prev, const float *W, const float *b,
                                size_t m, size_t n_in, size_t n_out, bp_activation g)
{
    for (size_t s = 0; s < m; s++) {
        const float *x = a_prev + s * n_in;
        float *zs = z + s * n_out, *as = a + s * n_out;
        for (size_t i = 0; i < n_out; i++) {
            double sum = b ? b[i] : 0.0;
            for (size_t j = 0; j < n_in; j++) sum += (double)W[i * n_in + j] * x[j];
            zs[i] = (float)sum;
        }
        if (g == BP_ACT_SOFTMAX)
            softmax_row(zs, as, n_out);
        else
            for (size_t i = 0; i < n_out; i++) as[i] = bp_g(g, zs[i]);
    }
}

void bp_dense_backward_reference(float *delta_prev, float *grad_W, float *grad_b, const float *delta,
                                 const float *W, const float *a_prev, bp_activation g_prev, size_t m,
                                 size_t n_in, size_t n_out, float scale)
{
    for (size_t i = 0; i < n_out; i++) {
        for (size_t j = 0; j < n_in; j++) {
            double sum = 0.0;
            for (size_t s = 0; s < m; s++) sum += (double)delta[s * n_out + i] * a_prev[s * n_in + j];
            grad_W[i * n_in + j] = (float)(scale * sum);
        }
        if (grad_b) {
            double sum = 0.0;
            for (size_t s = 0; s < m; s++) sum += delta[s * n_out + i];
            grad_b[i] = (float)(scale * sum);
        }
    }
    for (size_t s = 0; delta_prev && s < m; s++)
        for (size_t j = 0; j < n_in; j++) {
            double sum = 0.0;
            for (size_t i = 0; i < n_out; i++) sum += (double)W[i * n_in + j] * delta[s * n_out + i];
            delta_prev[s * n_in + j] = (float)sum * bp_g_prime(g_prev, a_prev[s * n_in + j]);
        }
}
