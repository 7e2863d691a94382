/*
 * test_checkpoint.c - exact resume: training interrupted by a checkpoint (at an
 * epoch boundary or in the middle of an epoch) and resumed from the file ends
 * with bitwise the same parameters as training straight through, for every
 * optimizer (each keeps different state) and for the tiny-network path.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backprop.h"
#include "io/bytes.h"
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
        /* Steps capped at 0.04 from the third epoch on: only right if the checkpoint keeps it. */
        {.optimizer = BP_OPT_RPROP, .seed = 4, .rprop_step0 = 0.03, .rprop_step_max = 0.04},
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

/* Checkpoints written before the RPROP steps were settings (trainer state version 2) still
   load, and mean the default steps: a version 3 file turned into version 2 by hand (its
   last 16 bytes, the two steps, cut; version, lengths and checksum fixed) resumes to the
   bits of the version 3 file. */
void test_checkpoint_version_2_still_loads(void)
{
    size_t sizes[] = {3, 5, 2};
    bp_net_config c = {2, sizes, BP_ACT_TANH, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, 3, NULL, 0};
    const bp_train_config tc = {.optimizer = BP_OPT_RPROP, .seed = 4};
    bp_net *net = NULL;
    bp_trainer *t = NULL;
    bp_dataset *d = make_data(40, 3);
    char v3[128], v2[128];
    snprintf(v3, sizeof v3, "/tmp/bp-ckpt-v3-%ld.bpm", (long)getpid());
    snprintf(v2, sizeof v2, "/tmp/bp-ckpt-v2-%ld.bpm", (long)getpid());
    bp_epoch_stats st;
    bp_error err = {0};
    int ok = d && bp_net_create(&c, &net, NULL) == BP_OK && bp_trainer_create(net, &tc, &t) == BP_OK &&
             bp_trainer_run(t, d, 0, &st) == BP_OK && bp_checkpoint_save(t, v3, NULL, 0, &err) == BP_OK;
    bp_trainer_free(t);
    bp_net_free(net);
    CHECK(ok, "version 3 checkpoint written: %s", err.message);
    /* The file: 24-byte header, chunks (4-byte tag, u64 length, payload), CRC-32; the
       trainer's chunk is the last one when there are no user bytes. */
    FILE *f = fopen(v3, "rb");
    unsigned char bytes[8192];
    size_t n = f ? fread(bytes, 1, sizeof bytes, f) : 0;
    if (f) fclose(f);
    size_t at = 24, trnr = 0;
    while (ok && at + 12 <= n - 4) {
        const uint64_t len = bp_get_u64(bytes + at + 4);
        if (memcmp(bytes + at, "trnr", 4) == 0) trnr = at;
        at += 12 + (size_t)len;
    }
    ok = ok && trnr && at == n - 4 && bp_get_u32(bytes + trnr + 12) == 3;
    CHECK(ok, "found the version 3 trainer state");
    if (ok) {
        n -= 16;
        bp_put_u64(bytes + trnr + 4, bp_get_u64(bytes + trnr + 4) - 16);
        bp_put_u32(bytes + trnr + 12, 2);
        bp_put_u64(bytes + 16, n);
        bp_put_u32(bytes + n - 4, bp_crc32(0, bytes, n - 4));
        f = fopen(v2, "wb");
        ok = f && fwrite(bytes, 1, n, f) == n;
        if (f) fclose(f);
    }
    float params[2][64];
    const char *paths[2] = {v3, v2};
    for (int k = 0; ok && k < 2; k++) {
        net = NULL, t = NULL;
        ok = bp_checkpoint_load(paths[k], &net, &t, NULL, NULL, &err) == BP_OK;
        CHECK(ok, "loads %s: %s", paths[k], err.message);
        for (int e = 0; ok && e < 30; e++) ok = bp_trainer_run(t, d, 0, &st) == BP_OK;
        if (ok) memcpy(params[k], bp_net_params(net), bp_net_param_count(net) * sizeof(float));
        bp_trainer_free(t);
        bp_net_free(net);
    }
    CHECK(ok && memcmp(params[0], params[1], (3 * 5 + 5 + 5 * 2 + 2) * sizeof(float)) == 0,
          "version 2 resumes with the default steps");
    remove(v3);
    remove(v2);
    bp_dataset_free(d);
}

/* Save t as a checkpoint and load it back into *net and *trainer; 0 (after a failed
   check) when either step fails. */
static int round_trip(const bp_trainer *t, bp_net **net, bp_trainer **trainer)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/bp-ckpt-trip-%ld.bpm", (long)getpid());
    bp_error err = {0};
    const int ok = bp_checkpoint_save(t, path, NULL, 0, &err) == BP_OK &&
                   bp_checkpoint_load(path, net, trainer, NULL, NULL, &err) == BP_OK;
    CHECK(ok, "round trip: %s", err.message);
    remove(path);
    return ok;
}

/* bp_trainer_get_config: the settings with their defaults filled in, and after a
   checkpoint round trip the same ones (what `train --resume` checks options against). */
void test_checkpoint_keeps_the_settings(void)
{
    size_t sizes[] = {3, 4, 2};
    bp_net_config c = {2, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 3, NULL, 0};
    bp_net *net = NULL, *net2 = NULL;
    bp_trainer *t = NULL, *t2 = NULL;
    bp_train_config tc = {.optimizer = BP_OPT_ADAM, .batch_size = 16, .seed = 42, .schedule = BP_SCHEDULE_COSINE,
                          .epochs = 9, .min_lr = 1e-5, .weight_decay = 0.25};
    bp_train_config got = {0}, back = {0};
    CHECK(bp_trainer_get_config(NULL, &got) == BP_ERR_ARG, "NULL trainer");
    int ok = bp_net_create(&c, &net, NULL) == BP_OK && bp_trainer_create(net, &tc, &t) == BP_OK;
    CHECK(ok, "created");
    if (!ok) goto out;
    CHECK(bp_trainer_get_config(t, NULL) == BP_ERR_ARG, "NULL out");
    CHECK(bp_trainer_get_config(t, &got) == BP_OK, "get");
    CHECK(got.optimizer == BP_OPT_ADAM && got.learning_rate == 0.001, "adam's default rate filled in: %g",
          got.learning_rate);
    CHECK(got.beta1 == 0.9 && got.beta2 == 0.999 && got.epsilon == 1e-8, "adam's defaults");
    CHECK(got.batch_size == 16 && got.seed == 42 && got.epochs == 9 && got.min_lr == 1e-5 &&
              got.weight_decay == 0.25 && got.schedule == BP_SCHEDULE_COSINE, "given settings kept");
    CHECK(bp_trainer_set_learning_rate(t, 0.003) == BP_OK, "set rate");
    if (!round_trip(t, &net2, &t2)) goto out;
    CHECK(bp_trainer_get_config(t2, &back) == BP_OK, "get after load");
    CHECK(back.learning_rate == 0.003, "the rate last set: %g", back.learning_rate);
    CHECK(back.optimizer == got.optimizer && back.batch_size == got.batch_size && back.seed == got.seed &&
              back.schedule == got.schedule && back.epochs == got.epochs && back.min_lr == got.min_lr &&
              back.weight_decay == got.weight_decay && back.beta2 == got.beta2 && back.reduction == got.reduction &&
              back.rprop_step0 == got.rprop_step0,
          "the loaded trainer's settings are the saved one's");
out:
    bp_trainer_free(t2);
    bp_net_free(net2);
    bp_trainer_free(t);
    bp_net_free(net);
}

/* bp_trainer_get_best: early stopping's books as observe keeps them, and the same after a
   checkpoint round trip, so a resumed run knows whether its patience had run out. */
void test_checkpoint_keeps_early_stopping(void)
{
    size_t sizes[] = {3, 4, 2};
    bp_net_config c = {2, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 3, NULL, 0};
    bp_net *net = NULL, *net2 = NULL;
    bp_trainer *t = NULL, *t2 = NULL;
    bp_train_config tc = {.learning_rate = 0.1, .batch_size = 8, .seed = 1};
    double best = 0;
    size_t since = 99;
    int stop = 0;
    CHECK(bp_trainer_get_best(NULL, &best, &since) == BP_ERR_ARG, "NULL trainer");
    int ok = bp_net_create(&c, &net, NULL) == BP_OK && bp_trainer_create(net, &tc, &t) == BP_OK;
    CHECK(ok, "created");
    if (!ok) goto out;
    CHECK(bp_trainer_get_best(t, &best, &since) == BP_OK && best == INFINITY && since == 0, "nothing observed yet");
    CHECK(bp_trainer_get_best(t, NULL, NULL) == BP_OK, "NULL outputs");
    bp_trainer_observe(t, 0.5, 3, &stop);
    bp_trainer_observe(t, 0.25, 3, &stop);
    bp_trainer_observe(t, 0.75, 3, &stop);
    bp_trainer_observe(t, 0.5, 3, &stop);
    CHECK(bp_trainer_get_best(t, &best, &since) == BP_OK && best == 0.25 && since == 2 && !stop,
          "best 0.25, two epochs since: %g %zu", best, since);
    if (!round_trip(t, &net2, &t2)) goto out;
    best = 0, since = 0;
    CHECK(bp_trainer_get_best(t2, &best, &since) == BP_OK && best == 0.25 && since == 2,
          "the loaded trainer's books: %g %zu", best, since);
    bp_trainer_observe(t2, 0.3, 3, &stop);
    CHECK(stop, "the third epoch without improvement after the round trip stops");
out:
    bp_trainer_free(t2);
    bp_net_free(net2);
    bp_trainer_free(t);
    bp_net_free(net);
}
