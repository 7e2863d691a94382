/*
 * test_dropout.c - inverted dropout: the masks (their rate, their scale, their
 * seed), what training does with them and what inference does without them,
 * and model files that keep the probabilities. The gradient with a fixed mask
 * is checked three ways in test_gradients.c; thread-count invariance in
 * test_team.c; exact resume in test_checkpoint.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backprop.h"
#include "io/bytes.h"
#include "core/network.h"
#include "core/passes.h"
#include "test.h"

static bp_dataset *blobs(size_t n)
{
    bp_dataset *d = NULL;
    if (bp_dataset_create(n, 6, 3, &d) != BP_OK) return NULL;
    uint64_t r = 11;
    for (size_t s = 0; s < n; s++) {
        size_t k = (size_t)(bp_test_next(&r) % 3);
        for (size_t i = 0; i < 6; i++)
            bp_dataset_x(d)[s * 6 + i] = (float)(bp_test_next(&r) % 1000) / 1000.0f + (i % 3 == k ? 1.0f : 0.0f);
        bp_dataset_y(d)[s * 3 + k] = 1.0f;
    }
    return d;
}

static bp_net *make(const double *dropout)
{
    size_t sizes[] = {6, 40, 30, 3};
    bp_net_config c = {3, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 4, dropout, 0};
    bp_net *net = NULL;
    CHECK(bp_net_create(&c, &net, NULL) == BP_OK, "create");
    return net;
}

/* Two epochs of SGD (batch 16) from the same start; the final parameters. */
static int train(const double *dropout, bp_train_config tc, float *out)
{
    bp_net *net = make(dropout);
    bp_dataset *d = blobs(96);
    bp_trainer *t = NULL;
    int ok = net && d && bp_trainer_create(net, &tc, &t) == BP_OK;
    for (int e = 0; ok && e < 2; e++) ok = bp_trainer_epoch(t, d, NULL) == BP_OK;
    if (ok) memcpy(out, bp_net_params(net), bp_net_param_count(net) * sizeof(float));
    bp_trainer_free(t);
    bp_net_free(net);
    bp_dataset_free(d);
    return ok;
}

enum { N_PARAMS = 6 * 40 + 40 + 40 * 30 + 30 + 30 * 3 + 3 };

void test_dropout_masks(void)
{
    const double p[] = {0.25, 0.5};
    bp_net *net = make(p);
    bp_dataset *d = blobs(200);
    if (!net || !d) return;
    const bp_dropout drop = {7, 3, NULL};
    double loss = 0;
    CHECK(bp_net_backward_dropout(net, bp_dataset_x(d), bp_dataset_y(d), 200, BP_REDUCE_MEAN, &loss, NULL, &drop) ==
              BP_OK, "backward with dropout");
    for (size_t l = 1; l <= 2; l++) {
        const bp_layer *layer = &net->layers[l];
        size_t count = 200 * layer->n_out, zeros = 0, other = 0;
        const float keep = (float)(1.0 / (1.0 - p[l - 1]));
        for (size_t i = 0; i < count; i++) {
            zeros += layer->mask[i] == 0.0f;
            other += layer->mask[i] != 0.0f && layer->mask[i] != keep;
            if (layer->out[i] != layer->a[i] * layer->mask[i]) other++;
        }
        const double rate = (double)zeros / (double)count;
        /* 8,000 and 6,000 draws: a standard deviation under 0.007. */
        CHECK(fabs(rate - p[l - 1]) < 0.03, "layer %zu drops %.3f of its units, p = %g", l, rate, p[l - 1]);
        CHECK(other == 0, "layer %zu: every kept unit scaled by 1/(1-p) and passed on", l);
    }
    /* The same seed and step draw the same masks; another step draws others. */
    float *first = malloc(200 * 40 * sizeof(float));
    if (first) {
        memcpy(first, net->layers[1].mask, 200 * 40 * sizeof(float));
        bp_net_backward_dropout(net, bp_dataset_x(d), bp_dataset_y(d), 200, BP_REDUCE_MEAN, &loss, NULL, &drop);
        CHECK(memcmp(first, net->layers[1].mask, 200 * 40 * sizeof(float)) == 0, "same seed and step, same masks");
        const bp_dropout next = {7, 4, NULL};
        bp_net_backward_dropout(net, bp_dataset_x(d), bp_dataset_y(d), 200, BP_REDUCE_MEAN, &loss, NULL, &next);
        CHECK(memcmp(first, net->layers[1].mask, 200 * 40 * sizeof(float)) != 0, "the next step, other masks");
        free(first);
    }
    bp_net_free(net);
    bp_dataset_free(d);
}

void test_dropout_training_and_inference(void)
{
    static float none[N_PARAMS], zero[N_PARAMS], half[N_PARAMS], again[N_PARAMS], other[N_PARAMS];
    const double p0[] = {0, 0}, p5[] = {0.5, 0.5};
    const bp_train_config tc = {.learning_rate = 0.1, .batch_size = 16, .seed = 2};
    bp_train_config tc2 = tc;
    tc2.seed = 3;
    CHECK(train(NULL, tc, none) && train(p0, tc, zero) && train(p5, tc, half) && train(p5, tc, again) &&
              train(p5, tc2, other),
          "training ran");
    CHECK(memcmp(none, zero, sizeof none) == 0, "p = 0 is no dropout, bit for bit");
    CHECK(memcmp(none, half, sizeof none) != 0, "p = 0.5 changes training");
    CHECK(memcmp(half, again, sizeof half) == 0, "same seed, same run");
    CHECK(memcmp(half, other, sizeof half) != 0, "another seed, other masks");

    /* The general plan (clipping that never bites) draws the same masks as the fused one. */
    bp_train_config general = tc;
    general.clip_norm = 1e30;
    static float via_general[N_PARAMS];
    CHECK(train(p5, general, via_general), "general plan ran");
    double worst = 0;
    for (size_t i = 0; i < N_PARAMS; i++) worst = fmax(worst, fabs(via_general[i] - half[i]));
    CHECK(worst < 1e-4, "fused and general plans agree with dropout (off by %g)", worst);

    /* Inference ignores dropout: the same weights give the same outputs. */
    bp_net *plain = make(NULL), *dropped = make(p5);
    bp_dataset *d = blobs(32);
    if (plain && dropped && d) {
        static float a[32 * 3], b[32 * 3];
        CHECK(bp_net_forward(plain, bp_dataset_x(d), 32, a) == BP_OK &&
                  bp_net_forward(dropped, bp_dataset_x(d), 32, b) == BP_OK && memcmp(a, b, sizeof a) == 0,
              "forward pass without dropout");
        bp_metrics m1, m2;
        CHECK(bp_net_evaluate(plain, d, &m1) == BP_OK && bp_net_evaluate(dropped, d, &m2) == BP_OK &&
                  m1.loss == m2.loss,
              "evaluation without dropout");
    }
    bp_net_free(plain);
    bp_net_free(dropped);
    bp_dataset_free(d);
    /* L-BFGS needs a deterministic loss. */
    bp_net *net = make(p5);
    bp_trainer *t = NULL;
    bp_train_config lb = {.optimizer = BP_OPT_LBFGS};
    CHECK(net && bp_trainer_create(net, &lb, &t) == BP_ERR_ARG && !t, "lbfgs with dropout is refused");
    bp_net_free(net);
}

void test_dropout_in_model_files(void)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/bp-dropout-%ld.bpm", (long)getpid());
    const double p[] = {0.125, 0.5};
    bp_net *net = make(p), *back = NULL;
    bp_error err = {0};
    if (!net) return;
    CHECK(bp_net_dropout(net, 1) == 0.125 && bp_net_dropout(net, 2) == 0.5 && bp_net_dropout(net, 3) == 0 &&
              bp_net_dropout(net, 0) == 0,
          "bp_net_dropout");
    CHECK(bp_net_save(net, path, &err) == BP_OK && bp_net_load(path, &back, &err) == BP_OK, "round trip: %s",
          err.message);
    if (back) {
        CHECK(bp_net_dropout(back, 1) == 0.125 && bp_net_dropout(back, 2) == 0.5, "the probabilities come back");
        bp_net *copy = NULL;
        CHECK(bp_net_clone(back, &copy) == BP_OK && bp_net_dropout(copy, 2) == 0.5, "and survive a clone");
        bp_net_free(copy);
    }
    bp_net_free(back);
    back = NULL;
    /* A model without dropout has no "drop" chunk, as before: files stay what they were. */
    bp_net *plain = make(NULL);
    FILE *f = NULL;
    if (plain && bp_net_save(plain, path, &err) == BP_OK && (f = fopen(path, "rb"))) {
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf, f);
        int found = 0;
        for (size_t i = 0; i + 4 <= n; i++) found |= memcmp(buf + i, "drop", 4) == 0;
        CHECK(!found, "no drop chunk without dropout");
        fclose(f);
        CHECK(bp_net_load(path, &back, &err) == BP_OK && bp_net_dropout(back, 1) == 0, "loads without dropout");
    }
    bp_net_free(back);
    bp_net_free(plain);
    /* Out of range, refused where the network is made. */
    const double bad[] = {0.5, 1.0};
    size_t sizes[] = {6, 40, 30, 3};
    bp_net_config c = {3, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 4, bad, 0};
    bp_net *refused = NULL;
    CHECK(bp_net_create(&c, &refused, &err) == BP_ERR_ARG && strstr(err.message, "dropout"), "p = 1 refused: %s",
          err.message);
    bp_net_free(net);
    remove(path);
}

/* explain shows what dropout does, in the text and in the JSON's network. */
void test_dropout_explained(void)
{
    const double p[] = {0.125, 0};
    bp_net *net = make(p);
    if (!net) return;
    char *text = NULL;
    bp_explain_options o = {0};
    CHECK(bp_net_explain(net, NULL, NULL, &o, &text, NULL) == BP_OK && text, "explain");
    if (text) {
        CHECK(strstr(text, ", dropout 0.125,0\n") != NULL, "the header names the probabilities");
        CHECK(strstr(text, "a~^1 = a^1 (.) r^1 / (1 - 0.125)") != NULL, "layer 1's equation");
        CHECK(strstr(text, "delta^1 = (W^2)^T delta^2 (.) r^1 / (1 - 0.125) (.) relu'(z^1)") != NULL,
              "layer 1's delta");
        CHECK(strstr(text, "a~^2") == NULL, "no equation for a layer without dropout");
    }
    bp_free(text);
    text = NULL;
    o.format = BP_EXPLAIN_JSON;
    CHECK(bp_net_explain(net, NULL, NULL, &o, &text, NULL) == BP_OK && text, "explain as JSON");
    if (text) CHECK(strstr(text, "\"dropout\": [0.125, 0]") != NULL, "JSON: %.200s", text);
    bp_free(text);
    bp_net_free(net);
}

/* A damaged drop chunk (a probability of 1.5, the checksum made right again) is
   refused with the byte offset and what is wrong, not loaded. */
void test_dropout_chunk_refused_when_bad(void)
{
    const double p[] = {0.25, 0.5};
    bp_net *net = make(p);
    char path[128];
    snprintf(path, sizeof path, "/tmp/bp-dropout-bad-%ld.bpm", (long)getpid());
    bp_error err = {0};
    if (!net || bp_net_save(net, path, &err) != BP_OK) {
        bp_net_free(net);
        return;
    }
    bp_net_free(net);
    FILE *f = fopen(path, "rb");
    static unsigned char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    size_t at = 0;
    for (size_t i = 24; i + 4 <= n && !at; i++)
        if (memcmp(buf + i, "drop", 4) == 0) at = i;
    CHECK(at > 0 && n > 16, "the model has a drop chunk");
    if (!at) return;
    bp_put_f32(buf + at + 12 + 4, 1.5f); /* tag, u64 length, u32 count, then p^1 */
    bp_put_u32(buf + n - 4, bp_crc32(0, buf, n - 4));
    bp_net *back = NULL;
    CHECK(bp_net_load_memory(buf, n, "bad.bpm", &back, &err) == BP_ERR_FORMAT && !back, "refused");
    CHECK(strstr(err.message, "bad.bpm: byte") && strstr(err.message, "dropout 1.5 is outside [0, 1)"), "message: %s",
          err.message);
    /* A count that is not the network's hidden layers. */
    bp_put_f32(buf + at + 12 + 4, 0.25f);
    bp_put_u32(buf + at + 12, 3);
    bp_put_u32(buf + n - 4, bp_crc32(0, buf, n - 4));
    CHECK(bp_net_load_memory(buf, n, "bad.bpm", &back, &err) == BP_ERR_FORMAT && !back, "count refused");
    bp_net_free(back);
    remove(path);
}
