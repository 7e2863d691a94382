/*
 * test_plan.c - the one place that decides how a run trains (src/core/plan.c):
 * each plan is chosen exactly when its conditions hold.
 */
#include <string.h>

#include "backprop.h"
#include "core/plan.h"
#include "test.h"

static bp_plan plan_of(const bp_train_config *c, const bp_net *net, size_t batch, int on_gpu)
{
    const bp_plan_inputs in = {c, net, batch, on_gpu};
    return bp_plan_choose(&in);
}

void test_plan_choice(void)
{
    size_t tiny[] = {2, 3, 2}, wide[] = {2, 33, 2};
    bp_net_config tc = {2, tiny, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, 1, NULL, 0};
    bp_net_config wc = {2, wide, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, 1, NULL, 0};
    bp_net *small = NULL, *big = NULL;
    CHECK(bp_net_create(&tc, &small, NULL) == BP_OK && bp_net_create(&wc, &big, NULL) == BP_OK, "set-up");
    if (!small || !big) goto done;
    const bp_train_config sgd = {.optimizer = BP_OPT_SGD, .ranks = 1};
    bp_train_config c = sgd;

    CHECK(plan_of(&c, small, 1, 1) == BP_PLAN_CUDA, "a trainer on the GPU runs there");
    CHECK(plan_of(&c, small, 1, 0) == BP_PLAN_TINY_SGD, "per-sample SGD on a tiny network");
    CHECK(plan_of(&c, big, 1, 0) == BP_PLAN_FUSED, "a layer wider than 32: not the tiny path");
    CHECK(plan_of(&c, small, 2, 0) == BP_PLAN_FUSED, "mini-batches: not the tiny path");
    c.ranks = 2;
    CHECK(plan_of(&c, small, 1, 0) == BP_PLAN_PARALLEL, "two processes");
    c = sgd, c.schedule = BP_SCHEDULE_COSINE;
    CHECK(plan_of(&c, small, 1, 0) == BP_PLAN_FUSED, "a schedule: not the tiny path");
    c = sgd, c.warmup_epochs = 1;
    CHECK(plan_of(&c, small, 1, 0) == BP_PLAN_FUSED, "warm-up: not the tiny path");
    c = sgd, c.weight_decay = 0.1;
    CHECK(plan_of(&c, small, 1, 0) == BP_PLAN_TINY_SGD, "the tiny path decays weights too");
    CHECK(plan_of(&c, small, 8, 0) == BP_PLAN_FUSED, "SGD's decay folds into the product");
    c = sgd, c.clip_norm = 1;
    CHECK(plan_of(&c, small, 1, 0) == BP_PLAN_GENERAL, "clipping needs the whole gradient");
    c = sgd, c.optimizer = BP_OPT_MOMENTUM;
    CHECK(plan_of(&c, small, 1, 0) == BP_PLAN_FUSED, "momentum folds into the product");
    c.weight_decay = 0.1;
    CHECK(plan_of(&c, small, 8, 0) == BP_PLAN_LAYERWISE, "momentum with decay goes layer by layer");
    const bp_optimizer others[] = {BP_OPT_NESTEROV, BP_OPT_ADAM, BP_OPT_ADAMW, BP_OPT_RPROP};
    for (size_t i = 0; i < 4; i++) {
        c = sgd, c.optimizer = others[i];
        CHECK(plan_of(&c, small, 1, 0) == BP_PLAN_LAYERWISE, "%s: layer by layer", bp_optimizer_name(others[i]));
        CHECK(bp_plan_step(&c) == BP_PLAN_LAYERWISE, "%s: one step layer by layer", bp_optimizer_name(others[i]));
        c.clip_norm = 1;
        CHECK(bp_plan_step(&c) == BP_PLAN_GENERAL, "%s with clipping: the general way", bp_optimizer_name(others[i]));
    }
    c = sgd, c.optimizer = BP_OPT_LBFGS;
    CHECK(plan_of(&c, small, 8, 0) == BP_PLAN_LBFGS, "L-BFGS has its own loop");
    c = sgd;
    CHECK(bp_plan_step(&c) == BP_PLAN_FUSED, "one SGD step is fused");
    /* Every plan has its own name. */
    for (int a = BP_PLAN_CUDA; a <= BP_PLAN_LBFGS; a++)
        for (int b = a + 1; b <= BP_PLAN_LBFGS; b++)
            CHECK(strcmp(bp_plan_name((bp_plan)a), bp_plan_name((bp_plan)b)) != 0, "plans %d and %d", a, b);
done:
    bp_net_free(small);
    bp_net_free(big);
}

/* The optimizer applied layer by layer during the backward pass gives the bits of
   applying it to the whole gradient block after the pass (clipping at a norm never
   reached forces the latter), for every element-wise rule, with decay and dropout. */
void test_plan_layerwise_matches_general(void)
{
    enum { N = 96 };
    bp_dataset *d = NULL;
    CHECK(bp_dataset_create(N, 5, 3, &d) == BP_OK, "data");
    if (!d) return;
    uint64_t r = 3;
    for (size_t i = 0; i < N * 5; i++) bp_dataset_x(d)[i] = (float)(bp_test_next(&r) % 1000) / 500.0f - 1.0f;
    for (size_t i = 0; i < N; i++) bp_dataset_y(d)[i * 3 + bp_test_next(&r) % 3] = 1.0f;
    const bp_train_config configs[] = {
        {.optimizer = BP_OPT_ADAM, .batch_size = 16, .seed = 1},
        {.optimizer = BP_OPT_ADAMW, .batch_size = 16, .seed = 1, .weight_decay = 0.01},
        {.optimizer = BP_OPT_NESTEROV, .batch_size = 16, .seed = 1, .learning_rate = 0.05},
        {.optimizer = BP_OPT_MOMENTUM, .batch_size = 16, .seed = 1, .learning_rate = 0.05, .weight_decay = 0.01},
        {.optimizer = BP_OPT_RPROP, .seed = 1},
        /* L2 decay inside Adam's and Nesterov's loops (scikit-learn's alpha) */
        {.optimizer = BP_OPT_ADAM, .batch_size = 16, .seed = 1, .weight_decay = 0.01},
        {.optimizer = BP_OPT_NESTEROV, .batch_size = 16, .seed = 1, .learning_rate = 0.05, .weight_decay = 0.01},
    };
    const double dropout[] = {0.2, 0.1};
    for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
        float params[2][200];
        size_t n = 0;
        for (int general = 0; general < 2; general++) {
            size_t sizes[] = {5, 9, 7, 3};
            bp_net_config nc = {3, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 2, k % 2 ? dropout : NULL, 0};
            bp_net *net = NULL;
            bp_trainer *t = NULL;
            bp_train_config tc = configs[k];
            if (general) tc.clip_norm = 1e30;
            CHECK(bp_plan_step(&tc) == (general ? BP_PLAN_GENERAL : BP_PLAN_LAYERWISE), "config %zu: plan", k);
            int ok = bp_net_create(&nc, &net, NULL) == BP_OK && bp_trainer_create(net, &tc, &t) == BP_OK;
            for (int e = 0; ok && e < 3; e++) ok = bp_trainer_epoch(t, d, NULL) == BP_OK;
            CHECK(ok, "config %zu trained", k);
            n = ok ? bp_net_param_count(net) : 0;
            if (ok) memcpy(params[general], bp_net_params(net), n * sizeof(float));
            bp_trainer_free(t);
            bp_net_free(net);
        }
        CHECK(n > 0 && memcmp(params[0], params[1], n * sizeof(float)) == 0, "config %zu (%s): bitwise the same", k,
              bp_optimizer_name(configs[k].optimizer));
    }
    bp_dataset_free(d);
}
