/*
 * test_learning_rate.c - bp_trainer_set_learning_rate: a new base rate takes effect at
 * the next step on every CPU path (general, fused, tiny), under a schedule, and in a
 * checkpoint; invalid rates are refused. Followed by hand on a one-weight network.
 */
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "backprop.h"
#include "test.h"

/* C = 1/2 (w x - y)^2 on a 1-1 identity network without bias: with x = 1, y = 0 the
   gradient is exactly w, so a plain SGD step is w <- w (1 - eta). */
static bp_net *one_weight(float w)
{
    size_t sizes[] = {1, 1};
    bp_net_config c = {1, sizes, BP_ACT_IDENTITY, BP_ACT_IDENTITY, BP_LOSS_MSE, 0, 1, NULL, 0};
    bp_net *net = NULL;
    CHECK(bp_net_create(&c, &net, NULL) == BP_OK, "create");
    if (net) bp_net_params(net)[0] = w;
    return net;
}

void test_set_learning_rate_by_hand(void)
{
    const float x = 1, y = 0;
    /* Steps through bp_trainer_step, eta 0.1 then 0.5. SGD: 1 -> 0.9 -> 0.45. Momentum
       0.5 (fused into the backward pass, as SGD is): v = 1, w = 0.9; v = 0.5 + 0.9,
       w = 0.9 - 0.5 * 1.4 = 0.2. Nesterov 0.5 (the general path): v = 1, w = 1 - 0.1 (1 +
       0.5) = 0.85; v = 0.5 + 0.85 = 1.35, w = 0.85 - 0.5 (0.85 + 0.675) = 0.0875. */
    const struct {
        bp_train_config c;
        double expect;
    } cases[] = {
        {{.learning_rate = 0.1}, 0.45},
        {{.learning_rate = 0.1, .optimizer = BP_OPT_MOMENTUM, .momentum = 0.5}, 0.2},
        {{.learning_rate = 0.1, .optimizer = BP_OPT_NESTEROV, .momentum = 0.5}, 0.0875},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        bp_net *net = one_weight(1.0f);
        bp_trainer *t = NULL;
        if (net && bp_trainer_create(net, &cases[k].c, &t) == BP_OK) {
            CHECK(bp_trainer_step(t, &x, &y, 1, NULL) == BP_OK, "step");
            CHECK(bp_trainer_set_learning_rate(t, 0.5) == BP_OK, "set");
            CHECK_NEAR(bp_trainer_learning_rate(t), 0.5, 1e-12);
            CHECK(bp_trainer_step(t, &x, &y, 1, NULL) == BP_OK, "step");
            CHECK_NEAR(bp_net_params(net)[0], cases[k].expect, 1e-6);
        }
        bp_trainer_free(t);
        bp_net_free(net);
    }
}

void test_set_learning_rate_epochs_schedule_checkpoint(void)
{
    bp_net *net = one_weight(1.0f);
    bp_dataset *d = NULL;
    bp_trainer *t = NULL, *back = NULL;
    bp_net *net_back = NULL;
    if (!net || bp_dataset_create(1, 1, 1, &d) != BP_OK) goto done;
    bp_dataset_x(d)[0] = 1; /* y stays 0 */
    /* Batch 1 on a 1-1 network is the tiny per-sample path; a step schedule halves
       eta every epoch, and it keeps doing so on top of the new base rate. */
    bp_train_config c = {.learning_rate = 0.1, .batch_size = 1, .schedule = BP_SCHEDULE_STEP, .step_epochs = 1,
                         .gamma = 0.5};
    if (bp_trainer_create(net, &c, &t) != BP_OK) goto done;
    CHECK(bp_trainer_epoch(t, d, NULL) == BP_OK, "epoch 1"); /* eta 0.1: w = 0.9 */
    CHECK(bp_trainer_set_learning_rate(t, 0.8) == BP_OK, "set");
    CHECK_NEAR(bp_trainer_learning_rate(t), 0.4, 1e-12);     /* 0.8 * 0.5^1 */
    CHECK(bp_trainer_epoch(t, d, NULL) == BP_OK, "epoch 2"); /* eta 0.4: w = 0.54 */
    CHECK_NEAR(bp_net_params(net)[0], 0.54, 1e-6);
    char path[64];
    snprintf(path, sizeof path, "/tmp/bp-lr-%ld.bpm", (long)getpid());
    {
        bp_error err = {0};
        CHECK(bp_checkpoint_save(t, path, NULL, 0, &err) == BP_OK, "save: %s", err.message);
        CHECK(bp_checkpoint_load(path, &net_back, &back, NULL, NULL, &err) == BP_OK, "load: %s", err.message);
        if (back) CHECK_NEAR(bp_trainer_learning_rate(back), 0.8 * 0.25, 1e-12);
        remove(path);
    }
    CHECK(bp_trainer_set_learning_rate(t, 0) == BP_ERR_ARG, "zero");
    CHECK(bp_trainer_set_learning_rate(t, -1) == BP_ERR_ARG, "negative");
    CHECK(bp_trainer_set_learning_rate(t, NAN) == BP_ERR_ARG, "NaN");
    CHECK(bp_trainer_set_learning_rate(t, INFINITY) == BP_ERR_ARG, "infinity");
    CHECK(bp_trainer_set_learning_rate(NULL, 0.1) == BP_ERR_ARG, "no trainer");
    CHECK_NEAR(bp_trainer_learning_rate(t), 0.8 * 0.25, 1e-12);
done:
    bp_trainer_free(back);
    bp_net_free(net_back);
    bp_trainer_free(t);
    bp_net_free(net);
    bp_dataset_free(d);
}
