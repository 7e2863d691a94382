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

/* RPROP's growth and shrink factors, as FANN and the original paper use them; its first
   and largest steps are settings (bp_update), their defaults in optimizer.h. */
#define RPROP_INCREASE 1.2f
#define RPROP_DECREASE 0.5f

static float rprop_step0(const bp_update *u) { return u->rprop_step0 > 0.0f ? u->rprop_step0 : BP_RPROP_STEP0; }

static float rprop_step_max(const bp_update *u)
{
    return u->rprop_step_max > 0.0f ? u->rprop_step_max : BP_RPROP_STEP_MAX;
}

int bp_update_state_blocks(bp_optimizer kind)
{
    switch (kind) {
    case BP_OPT_SGD:
    case BP_OPT_LBFGS: return 0; /* its state is lbfgs.c's */
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
        u->state2[i] = u->kind == BP_OPT_RPROP ? rprop_step0(u) : 0.0f;
    u->step = 0;
}

/* The loops below are written so that GCC and clang vectorize them at -O2: each
   is a function of its own with restrict pointers (no array may overlap another),
   and its main loop runs a multiple of 16 times (so no scalar remainder is needed
   inside it), the rest finishing in a second loop. Vector and scalar arithmetic
   round alike here (no FMA contraction: ISO C mode in GCC, -ffp-contract=off for
   clang, set by the Makefile; sqrt and division exact),
   so the bits do not depend on which loop an element falls in, nor on the vector
   width. The Makefile builds this file with -fno-math-errno, without which sqrtf
   is not vectorized.

   Each loop body is written once (an always-inlined *_body function) and compiled
   twice: portably (SSE2 on x86-64, four lanes) and, on x86-64, for AVX-512F
   (sixteen lanes, the width the GEMM's micro-kernel uses), picked per call from
   what the CPU reports, as gemm.c picks its kernels. */
#if defined(__GNUC__) || defined(__clang__)
#define BP_NOINLINE __attribute__((noinline))
#define BP_INLINE static inline __attribute__((always_inline))
#else
#define BP_NOINLINE
#define BP_INLINE static inline
#endif
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(BP_NO_SIMD)
#define BP_WIDE_LOOPS 1
#define BP_WIDE __attribute__((noinline, target("avx512f")))
#endif

/* Both compilations of a loop: name##_portable and (on x86-64) name##_wide. */
#ifdef BP_WIDE_LOOPS
#define BOTH_WIDTHS(name, params, args)                                \
    static BP_NOINLINE void name##_portable params { name##_body args; } \
    static BP_WIDE void name##_wide params { name##_body args; }
#define PICK(portable, name) (wide_cpu(portable) ? name##_wide : name##_portable)
static int wide_cpu(int portable) { return !portable && __builtin_cpu_supports("avx512f"); }
#else
#define BOTH_WIDTHS(name, params, args) \
    static BP_NOINLINE void name##_portable params { name##_body args; }
#define PICK(portable, name) ((void)(portable), name##_portable)
#endif

/* Optimizer state (velocity, Adam's moments) below this magnitude is set to zero.
   The state of a parameter whose gradient stays zero (a border pixel's weights, a
   dead ReLU's) decays geometrically, mu^t or beta^t, and without this it would
   sink into the subnormal floats below 1.2e-38, where every multiplication by the
   decay rate takes a slow microcode path on x86 (momentum ran at half speed on
   Fashion-MNIST). 1e-30 keeps the decayed value mu * v above the subnormal range
   for any decay rate above 1e-8. What it changes in the weights is below a
   rounding error: a step lr * v with |v| < 1e-30 moves no weight larger than
   about 1e-23 (docs/OPTIMIZERS.md). */
#define STATE_FLOOR 1e-30f

BP_INLINE float flush(float x) { return fabsf(x) < STATE_FLOOR ? 0.0f : x; }

/* y <- y + c x: plain gradient descent (W + (-lr) g, the same bits as W - lr g) and
   L2 decay into the gradient (g + wd W). */
BP_INLINE void axpy_body(size_t n, float c, const float *restrict x, float *restrict y)
{
    size_t i = 0, n16 = n & ~(size_t)15;
    for (; i < n16; i++) y[i] += c * x[i];
    for (; i < n; i++) y[i] += c * x[i];
}
BOTH_WIDTHS(axpy, (size_t n, float c, const float *restrict x, float *restrict y), (n, c, x, y))

/* Plain descent with L2 decay in the same pass: W <- W - lr (g + wd W). The sum is
   rounded before the step, as when the decay was a pass of its own (g <- g + wd W,
   then W <- W - lr g), so the bits are the same; the gradient block is only read. */
#define SGD_L2_STEP(i) (w[i] += c * (g[i] + wd * w[i]))
BP_INLINE void sgd_l2_body(size_t n, float c, float wd, const float *restrict g, float *restrict w)
{
    size_t i = 0, n16 = n & ~(size_t)15;
    for (; i < n16; i++) SGD_L2_STEP(i);
    for (; i < n; i++) SGD_L2_STEP(i);
}
BOTH_WIDTHS(sgd_l2, (size_t n, float c, float wd, const float *restrict g, float *restrict w), (n, c, wd, g, w))

/* The rules below take their gradient G as a macro argument: G_PLAIN, or G_L2 with the
   L2 decay term from the weight before this step changes it. Each body holds both loops
   written out, chosen once per call: without decay nothing is added (0 W is not always 0:
   -0 + 0 is +0, and a NaN weight would leak into g). One level of always-inlined body
   per compiled loop, as everywhere in this file: nested inline helpers lost the restrict
   qualifiers and left GCC 12's loops scalar (measured: Nesterov 1.3x slower). */
#define G_PLAIN(i) g[i]
#define G_L2(i) (g[i] + wd * w[i])

/* v <- mu v + g (flushed);  W <- W - lr v */
#define MOMENTUM_STEP(i, G) (v[i] = flush(mu * v[i] + G(i)), w[i] -= lr * v[i])
BP_INLINE void momentum_body(size_t n, float lr, float mu, float wd, const float *restrict g, float *restrict v,
                             float *restrict w)
{
    size_t i = 0, n16 = n & ~(size_t)15;
    if (wd != 0.0f) {
        for (; i < n16; i++) MOMENTUM_STEP(i, G_L2);
        for (; i < n; i++) MOMENTUM_STEP(i, G_L2);
        return;
    }
    for (; i < n16; i++) MOMENTUM_STEP(i, G_PLAIN);
    for (; i < n; i++) MOMENTUM_STEP(i, G_PLAIN);
}
BOTH_WIDTHS(momentum, (size_t n, float lr, float mu, float wd, const float *restrict g, float *restrict v,
                       float *restrict w),
            (n, lr, mu, wd, g, v, w))

/* v <- mu v + g (flushed);  W <- W - lr (g + mu v)  (Nesterov's look-ahead; G is read
   before W changes, so both uses see the same gradient) */
#define NESTEROV_STEP(i, G) (v[i] = flush(mu * v[i] + G(i)), w[i] -= lr * (G(i) + mu * v[i]))
BP_INLINE void nesterov_body(size_t n, float lr, float mu, float wd, const float *restrict g, float *restrict v,
                             float *restrict w)
{
    size_t i = 0, n16 = n & ~(size_t)15;
    if (wd != 0.0f) {
        for (; i < n16; i++) NESTEROV_STEP(i, G_L2);
        for (; i < n; i++) NESTEROV_STEP(i, G_L2);
        return;
    }
    for (; i < n16; i++) NESTEROV_STEP(i, G_PLAIN);
    for (; i < n; i++) NESTEROV_STEP(i, G_PLAIN);
}
BOTH_WIDTHS(nesterov, (size_t n, float lr, float mu, float wd, const float *restrict g, float *restrict v,
                       float *restrict w),
            (n, lr, mu, wd, g, v, w))

/* v <- flush(v);  W <- W - lr v: momentum's weight step once its velocity was
   computed by the fused backward pass (dense.c). */
#define VELOCITY_STEP(i) (v[i] = flush(v[i]), w[i] -= lr * v[i])
BP_INLINE void velocity_body(size_t n, float lr, float *restrict v, float *restrict w)
{
    size_t i = 0, n16 = n & ~(size_t)15;
    for (; i < n16; i++) VELOCITY_STEP(i);
    for (; i < n; i++) VELOCITY_STEP(i);
}
static BP_NOINLINE void velocity_portable(size_t n, float lr, float *restrict v, float *restrict w)
{
    velocity_body(n, lr, v, w);
}
#ifdef BP_WIDE_LOOPS
/* The same, writing v back only where it is flushed (an AVX-512 masked store): the
   product has just written v, and most steps flush nothing, so this saves writing the
   whole velocity block a second time. */
#define VELOCITY_STEP_SPARSE(i)                      \
    do {                                             \
        float x = v[i];                              \
        if (fabsf(x) < STATE_FLOOR) v[i] = x = 0.0f; \
        w[i] -= lr * x;                              \
    } while (0)
static BP_WIDE void velocity_wide(size_t n, float lr, float *restrict v, float *restrict w)
{
    size_t i = 0, n16 = n & ~(size_t)15;
    for (; i < n16; i++) VELOCITY_STEP_SPARSE(i);
    for (; i < n; i++) VELOCITY_STEP_SPARSE(i);
}
#endif

void bp_velocity_step(float *w, float *v, size_t n, float lr, int portable)
{
    PICK(portable, velocity)(n, lr, v, w);
}

void bp_sgd_update(float *params, const float *grads, float *velocity, size_t n, float lr,
                   float momentum_)
{
    if (!velocity || momentum_ == 0.0f) PICK(0, axpy)(n, -lr, grads, params);
    else PICK(0, momentum)(n, lr, momentum_, 0.0f, grads, velocity, params);
}

/* Adam's moments and step: g (with L2 decay g + wd W);  m <- b1 m + (1 - b1) g;
   v <- b2 v + (1 - b2) g^2 (both flushed);  W <- W - step m / (sqrt(v) + eps).
   AdamW (decay != 0) first shrinks W by decay W instead (wd is then 0). */
#define ADAM_STEP(i, G)                                               \
    do {                                                              \
        m[i] = flush(b1 * m[i] + (1.0f - b1) * G(i));                 \
        v[i] = flush(b2 * v[i] + (1.0f - b2) * G(i) * G(i));          \
        w[i] -= step * m[i] / (sqrtf(v[i]) + eps);                    \
    } while (0)
#define ADAMW_STEP(i)              \
    do {                           \
        w[i] -= decay * w[i];      \
        ADAM_STEP(i, G_PLAIN);     \
    } while (0)
BP_INLINE void adam_body(size_t n, float b1, float b2, float step, float eps, float decay, float wd,
                         const float *restrict g, float *restrict m, float *restrict v, float *restrict w)
{
    size_t i = 0, n16 = n & ~(size_t)15;
    if (decay != 0.0f) {
        for (; i < n16; i++) ADAMW_STEP(i);
        for (; i < n; i++) ADAMW_STEP(i);
    } else if (wd != 0.0f) {
        for (; i < n16; i++) ADAM_STEP(i, G_L2);
        for (; i < n; i++) ADAM_STEP(i, G_L2);
    } else {
        for (; i < n16; i++) ADAM_STEP(i, G_PLAIN);
        for (; i < n; i++) ADAM_STEP(i, G_PLAIN);
    }
}
BOTH_WIDTHS(adam, (size_t n, float b1, float b2, float step, float eps, float decay, float wd, const float *restrict g,
                   float *restrict m, float *restrict v, float *restrict w),
            (n, b1, b2, step, eps, decay, wd, g, m, v, w))

static void adam(const bp_update *u, float *params, const float *grads, size_t offset, size_t n, float decay,
                 float wd)
{
    PICK(u->portable, adam)(n, u->beta1, u->beta2, u->adam_step, u->adam_eps, decay, wd, grads, u->state1 + offset,
                            u->state2 + offset, params);
}

static void rprop(const bp_update *u, float *params, float *grads, size_t offset, size_t n)
{
    float *prev = u->state1 + offset, *delta = u->state2 + offset;
    const float largest = rprop_step_max(u);
    for (size_t i = 0; i < n; i++) {
        float g = grads[i], sign = prev[i] * g;
        if (sign > 0.0f) {
            delta[i] = fminf(delta[i] * RPROP_INCREASE, largest);
        } else if (sign < 0.0f) {
            /* The last step jumped over a minimum: shrink, and skip this update (iRPROP-). */
            delta[i] = fmaxf(delta[i] * RPROP_DECREASE, BP_RPROP_STEP_MIN);
            g = 0.0f;
        }
        if (g > 0.0f) params[i] -= delta[i];
        else if (g < 0.0f) params[i] += delta[i];
        prev[i] = g;
    }
}

void bp_update_apply(bp_update *u, float *params, float *grads, size_t n)
{
    bp_update_begin(u);
    bp_update_range(u, params, grads, 0, n);
}

void bp_update_begin(bp_update *u)
{
    u->step++;
    /* Adam's bias correction folded into the step size, as in the Adam paper's section 2. */
    double c1 = 1.0 - pow(u->beta1, (double)u->step), c2 = 1.0 - pow(u->beta2, (double)u->step);
    u->adam_step = (float)(u->lr * sqrt(c2) / c1);
    u->adam_eps = (float)(u->epsilon * sqrt(c2));
}

void bp_update_range(const bp_update *u, float *params, float *grads, size_t offset, size_t n)
{
    params += offset;
    grads += offset;
    /* L2 decay, d/dW (wd/2 ||W||^2) = wd W, is added to the gradient inside each rule's
       loop (one pass over the block, the gradient only read); AdamW decays W instead. */
    const float wd = u->weight_decay;
    switch (u->kind) {
    case BP_OPT_SGD:
        if (wd != 0.0f) PICK(u->portable, sgd_l2)(n, -u->lr, wd, grads, params);
        else PICK(u->portable, axpy)(n, -u->lr, grads, params);
        break;
    case BP_OPT_MOMENTUM:
        PICK(u->portable, momentum)(n, u->lr, u->momentum, wd, grads, u->state1 + offset, params);
        break;
    case BP_OPT_NESTEROV:
        PICK(u->portable, nesterov)(n, u->lr, u->momentum, wd, grads, u->state1 + offset, params);
        break;
    case BP_OPT_ADAMW:
        /* Decoupled decay: shrink the weights, independent of the gradient's scale. */
        adam(u, params, grads, offset, n, u->lr * wd, 0.0f);
        break;
    case BP_OPT_ADAM:
        adam(u, params, grads, offset, n, 0.0f, wd);
        break;
    case BP_OPT_RPROP:
        if (wd != 0.0f) PICK(u->portable, axpy)(n, wd, params, grads); /* its own pass: g <- g + wd W */
        rprop(u, params, grads, offset, n);
        break;
    case BP_OPT_LBFGS: /* not a rule on one gradient: lbfgs.c */
        break;
    }
}

double bp_norm2(const float *v, size_t n)
{
    /* Eight running sums, one per lane, added up at the end: the compiler vectorizes
       these, where one running sum (whose order it must keep) stays scalar. The order
       is fixed, so the norm is the same on every run. */
    double lane[8] = {0}, s = 0.0;
    size_t i = 0, n8 = n & ~(size_t)7;
    for (; i < n8; i += 8)
        for (size_t k = 0; k < 8; k++) lane[k] += (double)v[i + k] * v[i + k];
    for (size_t k = 0; k < 8; k++) s += lane[k];
    for (; i < n; i++) s += (double)v[i] * v[i];
    return sqrt(s);
}

void bp_scale_block(float *v, size_t n, float f)
{
    size_t i = 0, n8 = n & ~(size_t)7;
    for (; i < n8; i++) v[i] *= f;
    for (; i < n; i++) v[i] *= f;
}
