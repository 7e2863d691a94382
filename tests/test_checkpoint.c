/*
 * test_checkpoint.c - exact resume: training interrupted by a checkpoint (at an
 * epoch boundary or in the middle of an epoch) and resumed from the file ends
 * with bitwise the same parameters as training straight through, for every
 * optimizer (each keeps different state) and for the tiny-network path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backprop.h"
#include "test.h"

static bp_dataset *make_data(size_t n, size_t n_in)
{
    bp_dataset *d = NULL;
    if (bp_dataset_create(n, n_in, 2, &d) != BP_OK) return NULL;
    unsigned long long s = 99;
    for (size_t i = 0; i < n; i++) {
        float sum = 0;
        for (size_t j = 0; j < n_in; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            float v = (float)((s >> 40) & 0xFFFFFF) / 16777216.0f;
            bp_dataset_x(d)[i * n_in + j] = v;
            sum += v;
        }
        bp_dataset_y(d)[i * 2 + (sum > 0.5f * (float)n_in)] = 1.0f;
    }
    return d;
}

/* Train `epochs` epochs. With split, checkpoint at the start of epoch 2 (after
   split_steps steps of it when split_steps > 0), free everything, load the file and go
   on. Copies the final parameters. */
static int train(bp_train_config tc, size_t hidden, size_t epochs, int split, size_t split_steps,
                 float *out, size_t *n_out)
{
    size_t sizes[] = {3, hidden, 2};
    /* Plain SGD with momentum 0.5 marks the run that also drops units: its masks come
       from the seed and the step count, which the checkpoint must carry over. */
    const double dropout[] = {0.3};
    bp_net_config c = {2, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 3, tc.momentum == 0.5 ? dropout : NULL, 0};
    bp_net *net = NULL;
    bp_trainer *t = NULL;
    bp_dataset *d = make_data(50, 3);
    int ok = d && bp_net_create(&c, &net, NULL) == BP_OK && bp_trainer_create(net, &tc, &t) == BP_OK;
    char path[128];
    snprintf(path, sizeof path, "/tmp/bp-ckpt-%ld.bpm", (long)getpid());
    for (size_t e = 1; ok && e <= epochs; e++) {
        bp_epoch_stats st;
        if (split && e == 2) {
            if (split_steps) ok = bp_trainer_run(t, d, split_steps, &st) == BP_OK && !st.complete;
            bp_error err = {0};
            const char note[] = "history";
            ok = ok && bp_checkpoint_save(t, path, note, sizeof note, &err) == BP_OK;
            bp_trainer_free(t);
            bp_net_free(net);
            t = NULL;
            net = NULL;
            void *user = NULL;
            size_t user_len = 0;
            ok = ok && bp_checkpoint_load(path, &net, &t, &user, &user_len, &err) == BP_OK;
            CHECK(ok, "checkpoint round trip: %s", err.message);
            CHECK(user && user_len == sizeof note && memcmp(user, note, user_len) == 0, "user bytes");
            free(user);
            /* A checkpoint is also a model. */
            bp_net *as_model = NULL;
            CHECK(bp_net_load(path, &as_model, &err) == BP_OK, "loads as a model: %s", err.message);
            bp_net_free(as_model);
            remove(path);
        }
        ok = ok && bp_trainer_run(t, d, 0, &st) == BP_OK && st.complete;
    }
    if (ok) {
        *n_out = bp_net_param_count(net);
        memcpy(out, bp_net_params(net), *n_out * sizeof(float));
    }
    bp_trainer_free(t);
    bp_net_free(net);
    bp_dataset_free(d);
    return ok;
}

void test_checkpoint_resume_is_exact(void)
{
    const bp_train_config configs[] = {
        {.learning_rate = 0.1, .batch_size = 8, .seed = 1},
        {.learning_rate = 0.1, .batch_size = 1, .seed = 1},  /* the tiny-network path */
        {.learning_rate = 0.05, .optimizer = BP_OPT_MOMENTUM, .batch_size = 8, .seed = 2},
        {.learning_rate = 0.05, .optimizer = BP_OPT_NESTEROV, .batch_size = 8, .seed = 2, .weight_decay = 0.01},
        {.learning_rate = 0.01, .optimizer = BP_OPT_ADAM, .batch_size = 8, .seed = 3, .clip_norm = 1},
        {.learning_rate = 0.01, .optimizer = BP_OPT_ADAMW, .batch_size = 8, .seed = 3, .weight_decay = 0.1},
        {.optimizer = BP_OPT_RPROP, .seed = 4},
        {.optimizer = BP_OPT_LBFGS, .seed = 4, .lbfgs_history = 3, .weight_decay = 0.001},
        {.learning_rate = 0.2, .batch_size = 8, .seed = 5, .schedule = BP_SCHEDULE_COSINE, .epochs = 4,
         .warmup_epochs = 1},
        {.learning_rate = 0.1, .batch_size = 8, .seed = 6, .momentum = 0.5}, /* with dropout */
    };
    for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
        float straight[64], resumed[64];
        size_t n1 = 0, n2 = 0;
        int a = train(configs[k], 7, 4, 0, 0, straight, &n1);
        /* Mid-epoch (3 steps in) and at the epoch boundary; RPROP and L-BFGS take one step
           per epoch. */
        const int whole = configs[k].optimizer == BP_OPT_RPROP || configs[k].optimizer == BP_OPT_LBFGS;
        for (size_t split = whole ? 0 : 3;; split = 0) {
            int b = train(configs[k], 7, 4, 1, split, resumed, &n2);
            CHECK(a && b && n1 == n2, "config %zu split %zu ran", k, split);
            if (a && b)
                CHECK(memcmp(straight, resumed, n1 * sizeof(float)) == 0, "config %zu split %zu: bitwise the same", k, split);
            if (split == 0) break;
        }
    }
}

void test_checkpoint_refuses_damage_and_models(void)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/bp-ckpt-model-%ld.bpm", (long)getpid());
    size_t sizes[] = {2, 3, 2};
    bp_net_config c = {2, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 1, NULL, 0};
    bp_net *net = NULL, *n2 = NULL;
    bp_trainer *t = NULL;
    bp_error err = {0};
    if (bp_net_create(&c, &net, NULL) != BP_OK) return;
    CHECK(bp_net_save(net, path, &err) == BP_OK, "save");
    CHECK(bp_checkpoint_load(path, &n2, &t, NULL, NULL, &err) == BP_ERR_FORMAT && !n2 && !t, "a model is not a checkpoint");
    CHECK(strstr(err.message, "not a checkpoint") != NULL, "message: %s", err.message);
    bp_train_config tc = {.learning_rate = 0.1, .optimizer = BP_OPT_ADAM};
    CHECK(bp_trainer_create(net, &tc, &t) == BP_OK, "trainer");
    {
        bp_net_params(net)[0] = 0.0f / 0.0f;
        CHECK(bp_checkpoint_save(t, path, NULL, 0, &err) == BP_ERR_NUMERIC, "NaN parameters are never saved");
    }
    bp_trainer_free(t);
    bp_net_free(net);
    remove(path);
}
