/*
 * test_column_sums.c - the bias sums of a dense layer (dense.c's add_column_sums,
 * behind dC/db, the fused SGD step's b and momentum's vb) bit for bit against the
 * plain loop they promise: each column from keep * b (or 0), then + c delta[s][j]
 * row by row, a multiply and an add in float. Widths on both sides of the 64-column
 * blocks that the fast loop works in; test_layers.c checks the same steps against
 * the double-precision reference on narrower layers.
 */
#include <stdlib.h>
#include <string.h>

#include "core/dense.h"
#include "test.h"

static float column_uniform(uint64_t *s) { return (float)((bp_test_next(s) >> 40) / 8388608.0) - 1.0f; }

/* The promised order, one column at a time. */
static void plain_sums(float *out, float keep, const float *delta, size_t m, size_t n, float c)
{
    for (size_t j = 0; j < n; j++) {
        float sum = keep == 0.0f ? 0.0f : keep == 1.0f ? out[j] : keep * out[j];
        for (size_t s = 0; s < m; s++) {
            const float term = c * delta[s * n + j];
            sum = sum + term;
        }
        out[j] = sum;
    }
}

void test_dense_bias_sums_bitwise(void)
{
    uint64_t s = 11;
    float *workspace = malloc(BP_GEMM_WORKSPACE_FLOATS * sizeof(float));
    float *workspace_list[1] = {workspace};
    const bp_gemm_team team = {NULL, workspace_list, 0};
    const size_t ms[] = {1, 3, 64}, ns[] = {1, 10, 63, 64, 65, 128, 130};
    CHECK(workspace != NULL, "out of memory");
    for (size_t mi = 0; workspace && mi < sizeof ms / sizeof ms[0]; mi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            const size_t m = ms[mi], n_out = ns[ni], n_in = 5;
            float *delta = malloc(m * n_out * sizeof(float)), *a_prev = malloc(m * n_in * sizeof(float));
            float *W = malloc(n_out * n_in * sizeof(float)), *vW = malloc(n_out * n_in * sizeof(float));
            float *gW = malloc(n_out * n_in * sizeof(float)), *b = malloc(n_out * sizeof(float));
            float *want = malloc(n_out * sizeof(float)), *vb = malloc(n_out * sizeof(float));
            CHECK(delta && a_prev && W && vW && gW && b && want && vb, "out of memory");
            if (delta && a_prev && W && vW && gW && b && want && vb) {
                for (size_t i = 0; i < m * n_out; i++) delta[i] = column_uniform(&s);
                for (size_t i = 0; i < m * n_in; i++) a_prev[i] = column_uniform(&s);
                for (size_t i = 0; i < n_out * n_in; i++) W[i] = column_uniform(&s), vW[i] = 0.0f;
                /* dC/db = scale sum_s delta[s]. */
                const float scale = 1.0f / (float)m;
                memset(want, 0, n_out * sizeof(float));
                plain_sums(want, 0.0f, delta, m, n_out, scale);
                bp_dense_gradient(gW, b, delta, a_prev, m, n_in, n_out, scale, &team);
                CHECK(memcmp(b, want, n_out * sizeof(float)) == 0, "dC/db, m %zu n %zu: not the plain sum's bits",
                      m, n_out);
                /* SGD with decay: b <- (1 - lr wd) b - lr scale sum_s delta[s]. */
                const float lr = 0.1f, wd = 0.01f;
                for (size_t j = 0; j < n_out; j++) b[j] = want[j] = column_uniform(&s);
                plain_sums(want, 1.0f - lr * wd, delta, m, n_out, -lr * scale);
                bp_dense_sgd_step(W, b, delta, a_prev, m, n_in, n_out, scale, lr, wd, &team);
                CHECK(memcmp(b, want, n_out * sizeof(float)) == 0, "SGD's b, m %zu n %zu: not the plain sum's bits",
                      m, n_out);
                /* Momentum's vb <- mu vb + scale sum_s delta[s] (then b moves by it). */
                const float mu = 0.9f;
                for (size_t j = 0; j < n_out; j++) vb[j] = want[j] = column_uniform(&s);
                plain_sums(want, mu, delta, m, n_out, scale);
                bp_dense_momentum_step(W, b, vW, vb, delta, a_prev, m, n_in, n_out, scale, lr, mu, &team);
                for (size_t j = 0; j < n_out; j++)
                    if (want[j] > -1e-30f && want[j] < 1e-30f) want[j] = 0.0f; /* the flush bp_velocity_step does */
                CHECK(memcmp(vb, want, n_out * sizeof(float)) == 0,
                      "momentum's vb, m %zu n %zu: not the plain sum's bits", m, n_out);
            }
            free(delta), free(a_prev), free(W), free(vW), free(gW), free(b), free(want), free(vb);
        }
    free(workspace);
}
