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
    bp_net_config tc = {2, tiny, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, 1, NULL};
    bp_net_config wc = {2, wide, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, 1, NULL};
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
    CHECK(plan_of(&c, small, 8, 0) == BP_PLAN_GENERAL, "momentum with decay does not");
    const bp_optimizer others[] = {BP_OPT_NESTEROV, BP_OPT_ADAM, BP_OPT_ADAMW, BP_OPT_RPROP};
    for (size_t i = 0; i < 4; i++) {
        c = sgd, c.optimizer = others[i];
        CHECK(plan_of(&c, small, 1, 0) == BP_PLAN_GENERAL, "%s: the general way", bp_optimizer_name(others[i]));
        CHECK(bp_plan_step(&c) == BP_PLAN_GENERAL, "%s: one step the general way", bp_optimizer_name(others[i]));
    }
    c = sgd;
    CHECK(bp_plan_step(&c) == BP_PLAN_FUSED, "one SGD step is fused");
    /* Every plan has its own name. */
    for (int a = BP_PLAN_CUDA; a <= BP_PLAN_GENERAL; a++)
        for (int b = a + 1; b <= BP_PLAN_GENERAL; b++)
            CHECK(strcmp(bp_plan_name((bp_plan)a), bp_plan_name((bp_plan)b)) != 0, "plans %d and %d", a, b);
done:
    bp_net_free(small);
    bp_net_free(big);
}
