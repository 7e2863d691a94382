/*
 * optimizer.c - SGD, momentum, Nesterov, Adam, AdamW and iRPROP- over the flat
 * parameter block (see optimizer.h).
 *
 * Conventions follow PyTorch's so that results are comparable: momentum and
 * Nesterov keep v <- mu v + g; Adam adds L2 weight decay to the gradient while
 * AdamW decays the weights directly; RPROP is Igel and Huesken's iRPROP-
 * (FANN's default), meant for full-batch training.
 */
#include <math.h>

#include "optimizer.h"

/* RPROP's constants, as FANN and the original paper use them. */
#define RPROP_INCREASE 1.2f
#define RPROP_DECREASE 0.5f
#define RPROP_DELTA_ZERO 0.1f
#define RPROP_DELTA_MIN 1e-6f
#define RPROP_DELTA_MAX 50.0f

int bp_update_state_blocks(bp_optimizer kind)
{
    switch (kind) {
    case BP_OPT_SGD: return 0;
    case BP_OPT_MOMENTUM:
    case BP_OPT_NESTEROV: return 1;
    case BP_OPT_ADAM:
    case BP_OPT_ADAMW:
    case BP_OPT_RPROP: return 2;
    }
    return 0;
}

void bp_update_init_state(bp_update *u, size_t n)
{
    int blocks = bp_update_state_blocks(u->kind);
    for (size_t i = 0; blocks >= 1 && i < n; i++) u->state1[i] = 0.0f;
    for (size_t i = 0; blocks >= 2 && i < n; i++)
        u->state2[i] = u->kind == BP_OPT_RPROP ? RPROP_DELTA_ZERO : 0.0f;
    u->step = 0;
}

void bp_sgd_update(float *params, const float *grads, float *velocity, size_t n, float lr,
                   float momentum)
{
    if (!velocity || momentum == 0.0f) {
        for (size_t i = 0; i < n; i++) params[i] -= lr * grads[i];
        return;
    }
    for (size_t i = 0; i < n; i++) {
        velocity[i] = momentum * velocity[i] + grads[i];
        params[i] -= lr * velocity[i];
    }
}

static void adam(bp_update *u, float *params, const float *grads, size_t n)
{
    float *m = u->state1, *v = u->state2;
    float b1 = u->beta1, b2 = u->beta2;
    /* Bias correction folded into the step size, as in the Adam paper's section 2. */
    double c1 = 1.0 - pow(b1, (double)u->step), c2 = 1.0 - pow(b2, (double)u->step);
    float step = (float)(u->lr * sqrt(c2) / c1);
    float eps = (float)(u->epsilon * sqrt(c2));
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * grads[i];
        v[i] = b2 * v[i] + (1.0f - b2) * grads[i] * grads[i];
        params[i] -= step * m[i] / (sqrtf(v[i]) + eps);
    }
}

static void rprop(bp_update *u, float *params, float *grads, size_t n)
{
    float *prev = u->state1, *delta = u->state2;
    for (size_t i = 0; i < n; i++) {
        float g = grads[i], sign = prev[i] * g;
        if (sign > 0.0f) {
            delta[i] = fminf(delta[i] * RPROP_INCREASE, RPROP_DELTA_MAX);
        } else if (sign < 0.0f) {
            /* The last step jumped over a minimum: shrink, and skip this update (iRPROP-). */
            delta[i] = fmaxf(delta[i] * RPROP_DECREASE, RPROP_DELTA_MIN);
            g = 0.0f;
        }
        if (g > 0.0f) params[i] -= delta[i];
        else if (g < 0.0f) params[i] += delta[i];
        prev[i] = g;
    }
}

void bp_update_apply(bp_update *u, float *params, float *grads, size_t n)
{
    u->step++;
    float wd = u->weight_decay;
    if (wd != 0.0f && u->kind != BP_OPT_ADAMW)
        for (size_t i = 0; i < n; i++) grads[i] += wd * params[i]; /* L2: d/dW (wd/2 ||W||^2) */
    switch (u->kind) {
    case BP_OPT_SGD:
        bp_sgd_update(params, grads, NULL, n, u->lr, 0.0f);
        break;
    case BP_OPT_MOMENTUM:
        bp_sgd_update(params, grads, u->state1, n, u->lr, u->momentum);
        break;
    case BP_OPT_NESTEROV: {
        float *v = u->state1, mu = u->momentum, lr = u->lr;
        for (size_t i = 0; i < n; i++) {
            v[i] = mu * v[i] + grads[i];
            params[i] -= lr * (grads[i] + mu * v[i]);
        }
        break;
    }
    case BP_OPT_ADAMW:
        /* Decoupled decay: shrink the weights, independent of the gradient's scale. */
        for (size_t i = 0; i < n && wd != 0.0f; i++) params[i] -= u->lr * wd * params[i];
        adam(u, params, grads, n);
        break;
    case BP_OPT_ADAM:
        adam(u, params, grads, n);
        break;
    case BP_OPT_RPROP:
        rprop(u, params, grads, n);
        break;
    }
}

double bp_norm2(const float *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    return sqrt(s);
}
