/*
 * test_training.c - optimizers, schedules, clipping and early stopping, and the
 * data-set operations training relies on (text classes, splits, normalization,
 * model files carrying preprocessing and class names).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backprop.h"
#include "core/optimizer.h"
#include "test.h"

/* One parameter p with C = 1/2 (w x - y)^2: a 1-1 identity network without bias.
   With x = 1, y = 0 the gradient is exactly w, so every rule can be followed by hand. */
static bp_net *scalar_net(float w)
{
    size_t sizes[] = {1, 1};
    bp_net_config c = {1, sizes, BP_ACT_IDENTITY, BP_ACT_IDENTITY, BP_LOSS_MSE, 0, 1, NULL, 0};
    bp_net *net = NULL;
    CHECK(bp_net_create(&c, &net, NULL) == BP_OK, "create");
    if (net) bp_net_params(net)[0] = w;
    return net;
}

static double run_steps(bp_train_config tc, float w0, int steps)
{
    bp_net *net = scalar_net(w0);
    bp_trainer *t = NULL;
    double w = NAN;
    const float x = 1, y = 0;
    if (net && bp_trainer_create(net, &tc, &t) == BP_OK) {
        for (int i = 0; i < steps; i++) CHECK(bp_trainer_step(t, &x, &y, 1, NULL) == BP_OK, "step");
        w = bp_net_params(net)[0];
    }
    bp_trainer_free(t);
    bp_net_free(net);
    return w;
}

void test_optimizers_by_hand(void)
{
    /* SGD: w <- w - 0.1 w, twice: 1 -> 0.9 -> 0.81. */
    CHECK_NEAR(run_steps((bp_train_config){.learning_rate = 0.1}, 1.0f, 2), 0.81, 1e-6);
    /* Momentum 0.5: v = 1, w = 0.9; v = 0.5 + 0.9 = 1.4, w = 0.9 - 0.14 = 0.76. */
    CHECK_NEAR(run_steps((bp_train_config){.learning_rate = 0.1, .optimizer = BP_OPT_MOMENTUM, .momentum = 0.5},
                         1.0f, 2), 0.76, 1e-6);
    /* Nesterov 0.5: v = 1, w = 1 - 0.1 (1 + 0.5) = 0.85. */
    CHECK_NEAR(run_steps((bp_train_config){.learning_rate = 0.1, .optimizer = BP_OPT_NESTEROV, .momentum = 0.5},
                         1.0f, 1), 0.85, 1e-6);
    /* Adam's first step moves every weight by lr (times g / |g|): 1 - 0.01. */
    CHECK_NEAR(run_steps((bp_train_config){.learning_rate = 0.01, .optimizer = BP_OPT_ADAM}, 1.0f, 1), 0.99, 1e-5);
    /* Adam's second step: m = 0.1*0.99 + 0.9*0.1*1... computed in double below. */
    {
        double w = 1.0, m = 0, v = 0, lr = 0.01, b1 = 0.9, b2 = 0.999;
        for (int t = 1; t <= 3; t++) {
            double g = w;
            m = b1 * m + (1 - b1) * g;
            v = b2 * v + (1 - b2) * g * g;
            w -= lr * (m / (1 - pow(b1, t))) / (sqrt(v / (1 - pow(b2, t))) + 1e-8);
        }
        CHECK_NEAR(run_steps((bp_train_config){.learning_rate = 0.01, .optimizer = BP_OPT_ADAM}, 1.0f, 3), w, 1e-5);
    }
    /* AdamW decays the weight first: w = 1 - 0.01*0.5*1 = 0.995, then Adam's step of 0.01. */
    CHECK_NEAR(run_steps((bp_train_config){.learning_rate = 0.01, .optimizer = BP_OPT_ADAMW, .weight_decay = 0.5},
                         1.0f, 1), 0.985, 1e-5);
    /* L2 weight decay on SGD: g = w + 0.5 w = 1.5, w = 1 - 0.15. */
    CHECK_NEAR(run_steps((bp_train_config){.learning_rate = 0.1, .weight_decay = 0.5}, 1.0f, 1), 0.85, 1e-6);
    /* RPROP: steps of 0.1, then 0.12 while the sign holds: 1 -> 0.9 -> 0.78 -> 0.636. */
    CHECK_NEAR(run_steps((bp_train_config){.optimizer = BP_OPT_RPROP}, 1.0f, 3), 0.636, 1e-5);
    /* RPROP overshoot: from 0.05 the first step lands at -0.05 (sign change), the next
       step is skipped and the step size halves, then it moves back by 0.05: 0.0. */
    CHECK_NEAR(run_steps((bp_train_config){.optimizer = BP_OPT_RPROP}, 0.05f, 3), 0.0, 1e-6);
    /* Clipping: g = 10 clipped to norm 1: w = 10 - 0.1. */
    CHECK_NEAR(run_steps((bp_train_config){.learning_rate = 0.1, .clip_norm = 1}, 10.0f, 1), 9.9, 1e-5);
}

/* iRPROP- as published (Igel and Huesken), which docs/OPTIMIZERS.md promises and FANN 2.2
   departs from: four weights followed through bp_update_apply by hand. A gradient that
   keeps its sign grows the step by 1.2 up to 50; one that flips halves it, down to 1e-6,
   and skips that update; the step after a skip neither grows nor shrinks (the product
   with the zeroed previous gradient is 0, where FANN's ">= 0" grows it); a weight whose
   gradient is zero stays where it is (FANN moves it up by its step). */
void test_rprop_rule_by_hand(void)
{
    enum { N = 4, STEPS = 80 };
    float w[N] = {0}, g[N], prev[N], step[N];
    bp_update u = {.kind = BP_OPT_RPROP, .state1 = prev, .state2 = step};
    bp_update_init_state(&u, N);
    CHECK(step[0] == 0.1f && prev[0] == 0.0f, "rprop starts with steps of 0.1");
    float expect_w0 = 0.0f, expect_step0 = 0.1f;
    const float grown = 0.1f * 1.2f;
    for (int t = 1; t <= STEPS; t++) {
        g[0] = 1.0f;                      /* the same sign every time */
        g[1] = 0.0f;                      /* no gradient at all */
        g[2] = t % 2 ? 1.0f : -1.0f;      /* a flip every time */
        g[3] = t <= 2 ? -1.0f : 0.0f;     /* two steps the same way, then nothing */
        if (t > 1) expect_step0 = fminf(expect_step0 * 1.2f, 50.0f);
        expect_w0 -= expect_step0;
        bp_update_apply(&u, w, g, N);
        CHECK(w[0] == expect_w0 && step[0] == expect_step0, "rprop step %d: same sign grows the step", t);
        CHECK(w[1] == 0.0f && step[1] == 0.1f, "rprop step %d: a zero gradient neither moves nor grows", t);
        if (t == 2) CHECK(w[2] == -0.1f && step[2] == 0.05f, "rprop: a flip halves the step and skips the update");
        if (t == 3) CHECK(w[2] == -0.15f && step[2] == 0.05f, "rprop: the step after a skip keeps its size");
        if (t == 1) CHECK(w[3] == 0.1f && step[3] == 0.1f, "rprop: the first step is 0.1, not grown");
        if (t == 2) CHECK(w[3] == 0.1f + grown && step[3] == grown, "rprop: then 0.12");
    }
    CHECK(step[0] == 50.0f, "rprop: the step stops growing at 50 (%g)", step[0]);
    CHECK(step[2] == 1e-6f, "rprop: the step stops shrinking at 1e-6 (%g)", step[2]);
    CHECK(w[3] == 0.1f + grown && step[3] == grown, "rprop: no gradient, no move");
}

/* The same rule with FANN's two settings moved (bp_train_config.rprop_step0 and
   rprop_step_max, here in bp_update): every step starts at 0.05 and grows by 1.2 to at
   most 0.3, halves to at least 1e-6 as before. Followed by hand: 0.05, 0.06, 0.072,
   0.0864, 0.10368, ... until 0.3 caps it (the eleventh step would be 0.3096). */
void test_rprop_steps_set_by_hand(void)
{
    enum { N = 3, STEPS = 40 };
    float w[N] = {0}, g[N], prev[N], step[N];
    bp_update u = {.kind = BP_OPT_RPROP, .state1 = prev, .state2 = step, .rprop_step0 = 0.05f,
                   .rprop_step_max = 0.3f};
    bp_update_init_state(&u, N);
    CHECK(step[0] == 0.05f && step[2] == 0.05f, "rprop starts with steps of rprop_step0 (%g)", step[0]);
    float expect_w0 = 0.0f, expect_step0 = 0.05f;
    int capped_at = 0;
    for (int t = 1; t <= STEPS; t++) {
        g[0] = -1.0f;                  /* the same sign every time: the step grows to 0.3 */
        g[1] = 0.0f;                   /* no gradient: no move, the step stays 0.05 */
        g[2] = t % 2 ? 1.0f : -1.0f;   /* a flip every other step: halved from 0.05 */
        if (t > 1) expect_step0 = fminf(expect_step0 * 1.2f, 0.3f);
        if (expect_step0 == 0.3f && !capped_at) capped_at = t;
        expect_w0 += expect_step0;
        bp_update_apply(&u, w, g, N);
        CHECK(w[0] == expect_w0 && step[0] == expect_step0, "rprop step %d: %g at step %g, expected %g at %g", t,
              (double)w[0], (double)step[0], (double)expect_w0, (double)expect_step0);
        CHECK(w[1] == 0.0f && step[1] == 0.05f, "rprop step %d: a zero gradient keeps its first step", t);
        if (t == 1) CHECK(w[2] == -0.05f, "rprop: the first step is rprop_step0 (%g)", (double)w[2]);
        if (t == 2) CHECK(w[2] == -0.05f && step[2] == 0.025f, "rprop: a flip halves rprop_step0 and skips");
    }
    CHECK(capped_at == 11, "0.05 x 1.2^10 = 0.31 > 0.3: capped at step 11, not %d", capped_at);
    CHECK(step[0] == 0.3f, "rprop: the step stops growing at rprop_step_max (%g)", (double)step[0]);
    CHECK(step[2] == 1e-6f, "rprop: the step still stops shrinking at 1e-6 (%g)", (double)step[2]);
}

/* The settings through the trainer: the scalar net of run_steps, whose gradient is w.
   Explicit defaults give the bits of zeros; others move by their own steps; bad values
   are refused. */
void test_rprop_step_settings(void)
{
    /* 1 -> 0.95 -> 0.89 -> 0.818: steps 0.05, 0.06, 0.072. */
    CHECK_NEAR(run_steps((bp_train_config){.optimizer = BP_OPT_RPROP, .rprop_step0 = 0.05}, 1.0f, 3), 0.818, 1e-6);
    /* Largest 0.055: 0.05, then 0.055 twice: 1 -> 0.95 -> 0.895 -> 0.84. */
    CHECK_NEAR(run_steps((bp_train_config){.optimizer = BP_OPT_RPROP, .rprop_step0 = 0.05, .rprop_step_max = 0.055},
                         1.0f, 3), 0.84, 1e-6);
    const double zeros = run_steps((bp_train_config){.optimizer = BP_OPT_RPROP}, 1.0f, 60);
    const double given = run_steps((bp_train_config){.optimizer = BP_OPT_RPROP, .rprop_step0 = 0.1,
                                                     .rprop_step_max = 50}, 1.0f, 60);
    CHECK(zeros == given, "explicit defaults 0.1 and 50 give the bits of zeros: %.9g vs %.9g", zeros, given);
    const struct {
        double step0, step_max;
    } bad[] = {{-0.1, 0}, {0, -1}, {1e-7, 0}, {0, 1e-7}, {NAN, 0}, {0, NAN}, {INFINITY, 0}, {0, INFINITY},
               {1e31, 1e31}, {0.5, 0.25}, {60, 0}, {0, 0.05}};
    size_t sizes[] = {1, 1};
    bp_net_config c = {1, sizes, BP_ACT_IDENTITY, BP_ACT_IDENTITY, BP_LOSS_MSE, 0, 1, NULL, 0};
    bp_net *net = NULL;
    if (bp_net_create(&c, &net, NULL) != BP_OK) return;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bp_train_config tc = {.optimizer = BP_OPT_RPROP, .rprop_step0 = bad[i].step0, .rprop_step_max = bad[i].step_max};
        bp_trainer *t = NULL;
        CHECK(bp_trainer_create(net, &tc, &t) == BP_ERR_ARG && !t, "rprop steps %g and %g refused", bad[i].step0,
              bad[i].step_max);
        bp_trainer_free(t);
    }
    bp_train_config ok = {.optimizer = BP_OPT_RPROP, .rprop_step0 = 1e-6, .rprop_step_max = 1e-6};
    bp_trainer *t = NULL;
    CHECK(bp_trainer_create(net, &ok, &t) == BP_OK, "steps of exactly 1e-6 are allowed");
    bp_trainer_free(t);
    bp_net_free(net);
}

/* Optimizer state below this magnitude is flushed to zero (optimizer.c). */
static float flushed(float x) { return fabsf(x) < 1e-30f ? 0.0f : x; }

/* The update rules written plainly, one element at a time: what optimizer.c's
   vectorized loops must reproduce bit for bit. */
static void naive_update(bp_update *u, float *w, float *g, size_t n)
{
    u->step++;
    float *s1 = u->state1, *s2 = u->state2, lr = u->lr, mu = u->momentum, wd = u->weight_decay;
    double c1 = 1.0 - pow(u->beta1, (double)u->step), c2 = 1.0 - pow(u->beta2, (double)u->step);
    float step = (float)(u->lr * sqrt(c2) / c1), eps = (float)(u->epsilon * sqrt(c2));
    for (size_t i = 0; i < n; i++) {
        if (wd != 0.0f && u->kind != BP_OPT_ADAMW) g[i] += wd * w[i];
        switch (u->kind) {
        case BP_OPT_SGD: w[i] -= lr * g[i]; break;
        case BP_OPT_MOMENTUM: s1[i] = flushed(mu * s1[i] + g[i]); w[i] -= lr * s1[i]; break;
        case BP_OPT_NESTEROV: s1[i] = flushed(mu * s1[i] + g[i]); w[i] -= lr * (g[i] + mu * s1[i]); break;
        case BP_OPT_ADAMW:
        case BP_OPT_ADAM:
            if (u->kind == BP_OPT_ADAMW) w[i] -= lr * wd * w[i];
            s1[i] = flushed(u->beta1 * s1[i] + (1.0f - u->beta1) * g[i]);
            s2[i] = flushed(u->beta2 * s2[i] + (1.0f - u->beta2) * g[i] * g[i]);
            w[i] -= step * s1[i] / (sqrtf(s2[i]) + eps);
            break;
        default: break;
        }
    }
}

void test_optimizer_loops_match_plain_code(void)
{
    const bp_optimizer kinds[] = {BP_OPT_SGD, BP_OPT_MOMENTUM, BP_OPT_NESTEROV, BP_OPT_ADAM, BP_OPT_ADAMW};
    const size_t sizes[] = {1, 7, 8, 9, 15, 16, 17, 37, 1000};
    enum { MAX = 1000 };
    float *a = malloc(12 * MAX * sizeof(float));
    CHECK(a != NULL, "memory");
    if (!a) return;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (int decay = 0; decay < 2; decay++) {
                size_t n = sizes[si];
                /* Three copies of everything: w, g, state1, state2 for the loops the CPU
                   picks (AVX-512 where it has it), the portable loops, and the plain code. */
                float *w1 = a, *g1 = a + MAX, *m1 = a + 2 * MAX, *v1 = a + 3 * MAX;
                float *w2 = a + 4 * MAX, *g2 = a + 5 * MAX, *m2 = a + 6 * MAX, *v2 = a + 7 * MAX;
                float *w3 = a + 8 * MAX, *g3 = a + 9 * MAX, *m3 = a + 10 * MAX, *v3 = a + 11 * MAX;
                unsigned long long r = 99 + n;
                for (size_t i = 0; i < n; i++) {
                    r = r * 6364136223846793005ull + 1442695040888963407ull;
                    w1[i] = w2[i] = w3[i] = (float)((r >> 40) & 0xFFFF) / 32768.0f - 1.0f;
                    /* Every third element starts with state about to decay below the floor. */
                    m1[i] = m2[i] = m3[i] = i % 3 ? 0.0f : 1.05e-30f;
                    v1[i] = v2[i] = v3[i] = i % 3 ? 0.0f : 1.0e-30f;
                }
                bp_update u1 = {kinds[k], 0.05f, 0.9f, 0.9f, 0.999f, 1e-8f, decay ? 0.01f : 0.0f, 0, m1, v1, 0, 0, 0, 0, 0};
                bp_update u2 = u1, u3 = u1;
                u2.state1 = m2, u2.state2 = v2, u2.portable = 1;
                u3.state1 = m3, u3.state2 = v3;
                int same = 1;
                for (int t = 0; t < 3; t++) {
                    for (size_t i = 0; i < n; i++)
                        g1[i] = g2[i] = g3[i] = i % 3 ? 0.5f * w1[i] - 0.1f * (float)(i % 5) : 0.0f;
                    bp_update_apply(&u1, w1, g1, n);
                    bp_update_apply(&u2, w2, g2, n);
                    naive_update(&u3, w3, g3, n);
                    for (int c = 0; c < 2; c++) {
                        const float *w = c ? w2 : w1, *m = c ? m2 : m1, *v = c ? v2 : v1;
                        same &= memcmp(w, w3, n * sizeof(float)) == 0 && memcmp(m, m3, n * sizeof(float)) == 0 &&
                                memcmp(v, v3, n * sizeof(float)) == 0;
                    }
                }
                CHECK(same, "%s, n = %zu, decay %d: the same bits as the plain loop", bp_optimizer_name(kinds[k]), n,
                      decay);
                /* The state that had nothing but decay (no gradient, no L2 term) was flushed
                   to zero, not left to sink into the subnormals. */
                if (kinds[k] != BP_OPT_SGD && !decay) CHECK(m1[0] == 0.0f, "%s: decayed state flushed", bp_optimizer_name(kinds[k]));
            }
    /* Momentum's fused weight step: the velocity's tiny entries flushed, W moved by lr v. */
    for (int portable = 0; portable < 2; portable++) {
        float w[19], v[19];
        for (int i = 0; i < 19; i++) w[i] = 1.0f, v[i] = i % 2 ? 2.0f : 5e-31f;
        bp_velocity_step(w, v, 19, 0.5f, portable);
        int ok = 1;
        for (int i = 0; i < 19; i++) ok &= i % 2 ? v[i] == 2.0f && w[i] == 0.0f : v[i] == 0.0f && w[i] == 1.0f;
        CHECK(ok, "bp_velocity_step (portable %d)", portable);
    }
    /* Clipping's norm (summed in eight lanes) and rescaling, against the plain loops. */
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        double plain = 0.0;
        for (size_t i = 0; i < n; i++) {
            a[i] = a[MAX + i] = (float)(i % 13) * 0.37f - 2.0f;
            plain += (double)a[i] * a[i];
        }
        plain = sqrt(plain);
        CHECK(fabs(bp_norm2(a, n) - plain) <= 1e-12 * plain, "norm of %zu: %.17g against %.17g", n, bp_norm2(a, n),
              plain);
        bp_scale_block(a, n, 0.3f);
        int same = 1;
        for (size_t i = 0; i < n; i++) same &= a[i] == a[MAX + i] * 0.3f;
        CHECK(same, "rescaling %zu floats", n);
    }
    free(a);
}

void test_schedules_and_warmup(void)
{
    bp_net *net = scalar_net(1.0f);
    if (!net) return;
    bp_dataset *d = NULL;
    CHECK(bp_dataset_create(4, 1, 1, &d) == BP_OK, "data");
    struct {
        bp_train_config c;
        double expect[4]; /* learning rate at the start of epochs 0..3 */
    } cases[] = {
        {{.learning_rate = 1, .schedule = BP_SCHEDULE_STEP, .step_epochs = 2, .gamma = 0.5}, {1, 1, 0.5, 0.5}},
        {{.learning_rate = 1, .schedule = BP_SCHEDULE_COSINE, .epochs = 2}, {1, 0.5, 0, 0}},
        {{.learning_rate = 1, .warmup_epochs = 2}, {0, 0.5, 1, 1}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        bp_trainer *t = NULL;
        cases[k].c.batch_size = 4;
        CHECK(bp_trainer_create(net, &cases[k].c, &t) == BP_OK, "trainer %zu", k);
        for (int e = 0; t && e < 4; e++) {
            CHECK_NEAR(bp_trainer_learning_rate(t), cases[k].expect[e], 1e-12);
            CHECK(bp_trainer_epoch(t, d, NULL) == BP_OK, "epoch");
        }
        bp_trainer_free(t);
    }
    bp_train_config bad = {.schedule = BP_SCHEDULE_COSINE};
    bp_trainer *t = NULL;
    CHECK(bp_trainer_create(net, &bad, &t) == BP_ERR_ARG, "cosine needs epochs");
    bad = (bp_train_config){.momentum = 1.5};
    CHECK(bp_trainer_create(net, &bad, &t) == BP_ERR_ARG, "momentum >= 1");
    bad = (bp_train_config){.learning_rate = NAN};
    CHECK(bp_trainer_create(net, &bad, &t) == BP_ERR_ARG, "NaN learning rate");
    bp_dataset_free(d);
    bp_net_free(net);
}

void test_early_stopping_keeps_best(void)
{
    bp_net *net = scalar_net(1.0f);
    bp_trainer *t = NULL;
    bp_train_config tc = {.learning_rate = 0.1};
    if (!net || bp_trainer_create(net, &tc, &t) != BP_OK) goto done;
    const double losses[] = {5, 3, 4, 4, 4};
    int stop = 0;
    for (int e = 0; e < 5 && !stop; e++) {
        bp_net_params(net)[0] = (float)(e + 1); /* stands in for training */
        CHECK(bp_trainer_observe(t, losses[e], 2, &stop) == BP_OK, "observe");
        CHECK(stop == (e == 3), "stop after two epochs without improvement (epoch %d: %d)", e, stop);
    }
    CHECK(bp_trainer_restore_best(t) == BP_OK, "restore");
    CHECK(bp_net_params(net)[0] == 2.0f, "the parameters of the best epoch come back");
done:
    bp_trainer_free(t);
    bp_net_free(net);
}

static const char *temp_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/bp-training-%ld-%s", (long)getpid(), name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

void test_csv_text_classes_and_mapping(void)
{
    const char *path = temp_file("iris.csv", "a,b,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n7,8,versicolor\n");
    bp_dataset *d = NULL, *t = NULL;
    bp_error err = {0};
    CHECK(bp_dataset_read_csv(path, NULL, &d, &err) == BP_OK, "read: %s", err.message);
    if (d) {
        CHECK(bp_dataset_outputs(d) == 3 && bp_dataset_inputs(d) == 2, "3 classes, 2 inputs");
        CHECK(strcmp(bp_dataset_class_name(d, 0), "setosa") == 0 &&
              strcmp(bp_dataset_class_name(d, 2), "virginica") == 0, "sorted names");
        const float *y = bp_dataset_y_const(d);
        CHECK(y[1 * 3 + 2] == 1 && y[3 * 3 + 1] == 1, "one-hot by name");
        /* A test file maps through the training names, whatever its own classes. */
        const char *names[] = {"setosa", "versicolor", "virginica"};
        const char *tpath = temp_file("iris-test.csv", "9,9,virginica\n8,8,setosa\n");
        bp_csv_options o = {BP_TARGET_CLASS, 3, 0, names};
        CHECK(bp_dataset_read_csv(tpath, &o, &t, &err) == BP_OK, "test read: %s", err.message);
        if (t) CHECK(bp_dataset_y_const(t)[2] == 1 && bp_dataset_outputs(t) == 3, "mapped");
        bp_dataset_free(t);
        t = NULL;
        const char *bad = temp_file("iris-bad.csv", "9,9,virginica\n8,8,rose\n");
        CHECK(bp_dataset_read_csv(bad, &o, &t, &err) == BP_ERR_FORMAT, "unknown class");
        CHECK(strstr(err.message, ":2:5: class \"rose\"") != NULL, "line and column: %s", err.message);
        remove(tpath);
        remove(bad);
    }
    const char *frac = temp_file("frac.csv", "x,y,label\n1,2,0\n3,4,1.5\n");
    CHECK(bp_dataset_read_csv(frac, NULL, &t, &err) == BP_ERR_FORMAT, "fractional label");
    CHECK(strstr(err.message, "frac.csv:3:5: class label 1.5") != NULL, "message: %s", err.message);
    remove(frac);
    remove(path);
    bp_dataset_free(d);
}

void test_split_and_normalization(void)
{
    bp_dataset *d = NULL, *a = NULL, *b = NULL;
    CHECK(bp_dataset_create(10, 2, 1, &d) == BP_OK, "create");
    if (!d) return;
    for (int i = 0; i < 10; i++) {
        bp_dataset_x(d)[2 * i] = (float)i;
        bp_dataset_x(d)[2 * i + 1] = 7.0f; /* constant input */
        bp_dataset_y(d)[i] = (float)i;
    }
    CHECK(bp_dataset_split(d, 0.3, 1, &a, &b) == BP_OK, "split");
    if (a && b) {
        CHECK(bp_dataset_count(a) == 7 && bp_dataset_count(b) == 3, "7 + 3");
        /* Every sample lands on exactly one side, with its target. */
        int seen[10] = {0};
        for (size_t i = 0; i < 7; i++) seen[(int)bp_dataset_x(a)[2 * i]]++;
        for (size_t i = 0; i < 3; i++) seen[(int)bp_dataset_x(b)[2 * i]]++;
        for (int i = 0; i < 10; i++) CHECK(seen[i] == 1, "sample %d seen %d times", i, seen[i]);
        CHECK(bp_dataset_y(b)[0] == bp_dataset_x(b)[0], "targets travel with inputs");
    }
    float shift[2], scale[2];
    CHECK(bp_dataset_input_stats(d, BP_NORMALIZE_MINMAX, shift, scale) == BP_OK, "minmax");
    CHECK(shift[0] == 0 && fabsf(scale[0] - 1.0f / 9) < 1e-7f && scale[1] == 1, "minmax values");
    CHECK(bp_dataset_input_stats(d, BP_NORMALIZE_STANDARDIZE, shift, scale) == BP_OK, "standardize");
    CHECK(fabsf(shift[0] - 4.5f) < 1e-6f && fabsf(scale[0] - (float)(1 / sqrt(8.25))) < 1e-6f, "mean, 1/sd");
    bp_dataset_apply_transform(d, shift, scale);
    double mean = 0, var = 0;
    for (int i = 0; i < 10; i++) mean += bp_dataset_x(d)[2 * i] / 10.0;
    for (int i = 0; i < 10; i++) var += pow(bp_dataset_x(d)[2 * i] - mean, 2) / 10.0;
    CHECK(fabs(mean) < 1e-6 && fabs(var - 1) < 1e-5, "standardized: mean %g var %g", mean, var);
    CHECK(bp_dataset_split(d, 0.0, 1, &a, &b) == BP_ERR_ARG || (a && b), "empty side refused");
    bp_dataset_free(a);
    bp_dataset_free(b);
    bp_dataset_free(d);
}

void test_model_keeps_preprocessing_and_classes(void)
{
    size_t sizes[] = {2, 3, 3};
    bp_net_config c = {2, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 1, NULL, 0};
    bp_net *net = NULL, *back = NULL;
    CHECK(bp_net_create(&c, &net, NULL) == BP_OK, "create");
    if (!net) return;
    const float shift[] = {1.5f, -2}, scale[] = {0.25f, 4};
    const char *names[] = {"cat", "dog \"rex\"", ""};
    CHECK(bp_net_set_input_transform(net, shift, scale) == BP_OK, "transform");
    CHECK(bp_net_set_class_names(net, names, 3) == BP_OK, "names");
    CHECK(bp_net_set_class_names(net, names, 2) == BP_ERR_ARG, "wrong count");
    char path[128];
    snprintf(path, sizeof path, "/tmp/bp-training-%ld.bpm", (long)getpid());
    bp_error err = {0};
    CHECK(bp_net_save(net, path, &err) == BP_OK, "save: %s", err.message);
    CHECK(bp_net_load(path, &back, &err) == BP_OK, "load: %s", err.message);
    if (back) {
        const float *s2, *k2;
        CHECK(bp_net_get_input_transform(back, &s2, &k2) == 1, "has a transform");
        CHECK(s2[0] == 1.5f && s2[1] == -2 && k2[0] == 0.25f && k2[1] == 4, "the same transform");
        CHECK(strcmp(bp_net_class_name(back, 1), "dog \"rex\"") == 0 && strcmp(bp_net_class_name(back, 2), "") == 0,
              "the same names");
        float x[] = {3.5f, -1};
        bp_net_apply_input_transform(back, x, 1);
        CHECK(x[0] == 0.5f && x[1] == 4, "applied");
    }
    remove(path);
    bp_net_free(back);
    bp_net_free(net);
}

/* Train one epoch on data and return the network's parameters (n of them, copied). */
static int train_on(const bp_dataset *data, float *params, size_t n)
{
    size_t sizes[] = {3, 5, 2};
    bp_net_config c = {2, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 7, NULL, 0};
    bp_net *net = NULL;
    bp_trainer *t = NULL;
    int ok = bp_net_create(&c, &net, NULL) == BP_OK && bp_net_param_count(net) == n &&
             bp_trainer_create(net, &(bp_train_config){.learning_rate = 0.1, .batch_size = 4, .seed = 3,
                                                       .optimizer = BP_OPT_ADAM}, &t) == BP_OK &&
             bp_trainer_epoch(t, data, NULL) == BP_OK;
    if (ok) memcpy(params, bp_net_params(net), n * sizeof *params);
    bp_trainer_free(t);
    bp_net_free(net);
    return ok;
}

void test_dataset_wrap_reads_the_callers_memory(void)
{
    enum { N = 37, IN = 3, OUT = 2, P = 3 * 5 + 5 + 5 * 2 + 2 };
    float x[N * IN], y[N * OUT], x0[N * IN], y0[N * OUT];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < IN; k++) x[i * IN + k] = (float)sin(i * 1.7 + k);
        y[i * OUT] = x[i * IN] > 0;
        y[i * OUT + 1] = 1 - y[i * OUT];
    }
    memcpy(x0, x, sizeof x);
    memcpy(y0, y, sizeof y);
    bp_dataset *w = NULL, *c = NULL, *sub = NULL;
    CHECK(bp_dataset_wrap(N, IN, OUT, x, y, &w) == BP_OK, "wrap");
    CHECK(bp_dataset_create(N, IN, OUT, &c) == BP_OK, "create");
    if (!w || !c) goto done;
    memcpy(bp_dataset_x(c), x, sizeof x);
    memcpy(bp_dataset_y(c), y, sizeof y);
    CHECK(bp_dataset_count(w) == N && bp_dataset_inputs(w) == IN && bp_dataset_outputs(w) == OUT, "shape");
    CHECK(bp_dataset_x_const(w) == x && bp_dataset_y_const(w) == y, "no copy: the caller's arrays");
    CHECK(bp_dataset_x(w) == NULL && bp_dataset_y(w) == NULL, "no writable pointer into borrowed memory");
    float shift[IN] = {0}, scale[IN] = {1, 1, 1};
    CHECK(bp_dataset_apply_transform(w, shift, scale) == BP_ERR_ARG, "a transform is refused");
    /* The same training on the borrowed and on the copied data gives the same bits. */
    float pw[P], pc[P];
    CHECK(train_on(w, pw, P) && train_on(c, pc, P), "train on both");
    CHECK(memcmp(pw, pc, sizeof pw) == 0, "same model from borrowed and copied data");
    CHECK(memcmp(x, x0, sizeof x) == 0 && memcmp(y, y0, sizeof y) == 0, "the caller's arrays are unchanged");
    /* A subset is an ordinary, writable copy. */
    size_t idx[] = {4, 0};
    CHECK(bp_dataset_subset(w, idx, 2, &sub) == BP_OK && bp_dataset_x(sub) != NULL, "subset");
    if (sub) CHECK(bp_dataset_x(sub)[0] == x[4 * IN] && bp_dataset_y(sub)[3] == y[1], "subset values");
    /* Bad arguments. */
    bp_dataset *bad = (bp_dataset *)&bad;
    CHECK(bp_dataset_wrap(N, IN, OUT, x, NULL, &bad) == BP_ERR_ARG && bad == NULL, "targets missing");
    CHECK(bp_dataset_wrap(N, IN, 0, x, y, &bad) == BP_ERR_ARG, "targets without outputs");
    CHECK(bp_dataset_wrap(0, IN, OUT, x, y, &bad) == BP_ERR_ARG, "no samples");
    CHECK(bp_dataset_wrap(N, IN, OUT, NULL, y, &bad) == BP_ERR_ARG, "no inputs");
    CHECK(bp_dataset_wrap((size_t)-1, 2, 0, x, NULL, &bad) == BP_ERR_ARG, "size overflow");
done:
    bp_dataset_free(sub);
    bp_dataset_free(c);
    bp_dataset_free(w); /* frees the data set, not x and y (ASan would see a bad free) */
}
