/*
 * test_net.c - networks as objects: configuration checks, initialization,
 * determinism, numerical stability, model files and training.
 */
/* bp_crc32 (io/bytes.h) hands zlib at most this many bytes per call: 7 here, so its loop
   runs on small data. */
#define BP_CRC32_PIECE ((size_t)7)

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backprop.h"
#include "core/memory.h"
#include "core/rng.h"
#include "io/bytes.h"
#include "test.h"

static bp_net *net_of(size_t L, size_t *sizes, bp_activation h, bp_activation o, bp_loss loss,
                      int bias, uint64_t seed)
{
    bp_net_config c = {L, sizes, h, o, loss, bias, seed, NULL, 0};
    bp_net *net = NULL;
    bp_error err = {0};
    bp_status s = bp_net_create(&c, &net, &err);
    CHECK(s == BP_OK, "create: %s", err.message);
    return net;
}

/* bp_alloc_aligned: every block 64-byte aligned and whole; from 2 MiB on,
   aligned to 2 MiB (where huge pages are asked for), the sizes either side of
   the boundary included. */
void test_aligned_blocks(void)
{
    static const size_t sizes[] = {0, 1, 63, 64, 100, (2u << 20) - 64, (2u << 20) - 1, 2u << 20, (3u << 20) + 5,
                                   9u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = bp_alloc_aligned(sizes[i]);
        CHECK(p != NULL, "%zu bytes: out of memory", sizes[i]);
        if (!p) continue;
        CHECK((uintptr_t)p % 64 == 0, "%zu bytes at %p: not 64-byte aligned", sizes[i], (void *)p);
        if (sizes[i] >= (2u << 20))
            CHECK((uintptr_t)p % (2u << 20) == 0, "%zu bytes at %p: not 2 MiB aligned", sizes[i], (void *)p);
        memset(p, 0xA5, sizes[i]);
        size_t bad = 0;
        for (size_t j = 0; j < sizes[i]; j++) bad += p[j] != 0xA5;
        CHECK(bad == 0, "%zu bytes: %zu changed", sizes[i], bad);
        bp_free_aligned(p);
    }
}

void test_config_rejects_bad_networks(void)
{
    size_t sizes[] = {2, 3, 2}, zero[] = {2, 0, 2}, one_out[] = {2, 3, 1};
    bp_net *net = NULL;
    bp_error err = {0};
    bp_net_config c = {2, sizes, BP_ACT_RELU, BP_ACT_SIGMOID, BP_LOSS_CE, 1, 1, NULL, 0};
    CHECK(bp_net_create(&c, &net, &err) == BP_ERR_ARG && !net, "ce needs softmax");
    CHECK(strstr(err.message, "softmax") != NULL, "message: %s", err.message);
    c.loss = BP_LOSS_BCE, c.output = BP_ACT_SOFTMAX;
    CHECK(bp_net_create(&c, &net, &err) == BP_ERR_ARG, "bce needs sigmoid");
    c.loss = BP_LOSS_MSE, c.hidden = BP_ACT_SOFTMAX;
    CHECK(bp_net_create(&c, &net, &err) == BP_ERR_ARG, "softmax hidden");
    c.hidden = BP_ACT_RELU, c.sizes = zero;
    CHECK(bp_net_create(&c, &net, &err) == BP_ERR_ARG, "zero width");
    c.sizes = one_out, c.output = BP_ACT_SOFTMAX;
    CHECK(bp_net_create(&c, &net, &err) == BP_ERR_ARG, "softmax of one unit");
    c.sizes = sizes, c.n_layers = 0;
    CHECK(bp_net_create(&c, &net, &err) == BP_ERR_ARG, "no layers");
    c.n_layers = BP_MAX_LAYERS + 1;
    CHECK(bp_net_create(&c, &net, &err) == BP_ERR_ARG, "too many layers");
    CHECK(bp_net_create(NULL, &net, NULL) == BP_ERR_ARG, "null config");
    c.n_layers = 2;
    c.output = BP_ACT_SIGMOID;
    CHECK(bp_net_create(&c, NULL, NULL) == BP_ERR_ARG, "null out");
    /* Widths whose product overflows are refused before any allocation. */
    size_t huge[] = {BP_MAX_WIDTH, BP_MAX_WIDTH, BP_MAX_WIDTH, BP_MAX_WIDTH, BP_MAX_WIDTH};
    bp_net_config h = {4, huge, BP_ACT_RELU, BP_ACT_IDENTITY, BP_LOSS_MSE, 1, 1, NULL, 0};
    bp_status s = bp_net_create(&h, &net, &err);
    CHECK(s == BP_ERR_NOMEM || s == BP_ERR_ARG || (s == BP_OK && net), "huge network: %d", (int)s);
    bp_net_free(net);
    CHECK(bp_net_forward(NULL, NULL, 1, NULL) == BP_ERR_ARG, "null net");
    CHECK(strcmp(bp_status_message(BP_ERR_FORMAT), "malformed or damaged file") == 0, "message");
    bp_activation a;
    CHECK(bp_activation_parse("leaky-relu", &a) == BP_OK && a == BP_ACT_LEAKY_RELU, "parse");
    CHECK(bp_activation_parse("swish", &a) == BP_ERR_ARG, "unknown name");
}

void test_init_is_seeded_and_scaled(void)
{
    size_t sizes[] = {400, 300, 10};
    bp_net *a = net_of(2, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 42);
    bp_net *b = net_of(2, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 42);
    bp_net *c = net_of(2, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 43);
    if (!a || !b || !c) goto done;
    size_t P = bp_net_param_count(a);
    CHECK(memcmp(bp_net_params(a), bp_net_params(b), P * sizeof(float)) == 0, "same seed, same bits");
    CHECK(memcmp(bp_net_params(a), bp_net_params(c), P * sizeof(float)) != 0, "other seed differs");
    /* He: Var(W^1) = 2 / n_in; Xavier uniform: Var(W^2) = 2 / (n_in + n_out). */
    float *W1, *W2, *b1;
    bp_net_layer_view(a, 1, &W1, &b1, NULL, NULL);
    bp_net_layer_view(a, 2, &W2, NULL, NULL, NULL);
    double v1 = 0, v2 = 0, bsum = 0;
    for (size_t i = 0; i < 300 * 400; i++) v1 += (double)W1[i] * W1[i];
    for (size_t i = 0; i < 10 * 300; i++) v2 += (double)W2[i] * W2[i];
    for (size_t i = 0; i < 300; i++) bsum += fabs(b1[i]);
    v1 /= 300 * 400, v2 /= 10 * 300;
    CHECK(fabs(v1 - 2.0 / 400) < 0.05 * 2.0 / 400, "He variance %g", v1);
    CHECK(fabs(v2 - 2.0 / 310) < 0.1 * 2.0 / 310, "Xavier variance %g", v2);
    CHECK(bsum == 0, "biases start at zero");
done:
    bp_net_free(a), bp_net_free(b), bp_net_free(c);
}

/* FNV-1a over a block's bytes. */
static uint64_t fnv1a(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* bp_net_config.init_range: 0 keeps He and Xavier to the bit (hashes of a 5-7-3 network,
   seed 9, taken from the library before the option existed); r > 0 draws every weight
   and bias in turn, r (2u - 1) from the seed's generator, whatever the activations; bad
   ranges are refused with a message. */
void test_init_range(void)
{
    size_t sizes[] = {5, 7, 3};
    bp_net *xavier = net_of(2, sizes, BP_ACT_TANH, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, 9);
    bp_net *he = net_of(2, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 9);
    if (xavier && he) {
        const size_t bytes = bp_net_param_count(he) * sizeof(float);
        CHECK(fnv1a(bp_net_params(xavier), bytes) == 0x8e6d61c8904de8ecull, "init_range 0: Xavier's old bits");
        CHECK(fnv1a(bp_net_params(he), bytes) == 0xac730193419bf910ull, "init_range 0: He's old bits");
    }
    bp_net_free(xavier), bp_net_free(he);

    const double ranges[] = {0.1, 0.7, 3};
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        const double r = ranges[k];
        bp_net_config c = {2, sizes, BP_ACT_TANH, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, 9, NULL, r};
        bp_net *a = NULL, *b = NULL, *other = NULL, *relu = NULL;
        bp_error err = {0};
        CHECK(bp_net_create(&c, &a, &err) == BP_OK, "init_range %g: %s", r, err.message);
        CHECK(bp_net_create(&c, &b, &err) == BP_OK, "init_range %g again", r);
        c.seed = 10;
        CHECK(bp_net_create(&c, &other, &err) == BP_OK, "init_range %g, seed 10", r);
        c.seed = 9, c.hidden = BP_ACT_RELU, c.output = BP_ACT_SOFTMAX, c.loss = BP_LOSS_CE;
        CHECK(bp_net_create(&c, &relu, &err) == BP_OK, "init_range %g, relu", r);
        if (a && b && other && relu) {
            const size_t n = bp_net_param_count(a);
            const float *p = bp_net_params(a);
            CHECK(memcmp(p, bp_net_params(b), n * sizeof(float)) == 0, "init_range %g: same seed, same bits", r);
            CHECK(memcmp(p, bp_net_params(other), n * sizeof(float)) != 0, "init_range %g: another seed differs", r);
            CHECK(memcmp(p, bp_net_params(relu), n * sizeof(float)) == 0, "init_range %g: activations do not matter", r);
            bp_rng rng;
            bp_rng_seed(&rng, 9);
            size_t outside = 0, differ = 0, zero_biases = 0;
            float largest = 0;
            for (size_t i = 0; i < n; i++) {
                const float expect = (float)(r * (2.0 * bp_rng_uniform(&rng) - 1.0));
                differ += p[i] != expect;
                outside += !(fabsf(p[i]) <= (float)r);
                largest = fmaxf(largest, fabsf(p[i]));
            }
            for (size_t l = 1; l <= 2; l++) {
                float *bias = NULL;
                bp_net_layer_view(a, l, NULL, &bias, NULL, NULL);
                for (size_t i = 0; i < sizes[l]; i++) zero_biases += bias[i] == 0.0f;
            }
            CHECK(differ == 0, "init_range %g: %zu of %zu parameters are not r (2u - 1) in block order", r, differ, n);
            CHECK(outside == 0, "init_range %g: %zu parameters outside [-r, r]", r, outside);
            CHECK(largest > 0.8f * (float)r, "init_range %g: the largest |w| is only %g", r, (double)largest);
            CHECK(zero_biases == 0, "init_range %g: %zu biases left at zero", r, zero_biases);
        }
        bp_net_free(a), bp_net_free(b), bp_net_free(other), bp_net_free(relu);
    }

    const double bad[] = {-0.1, -1e-300, NAN, INFINITY, -INFINITY, 1e31};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        bp_net_config c = {2, sizes, BP_ACT_TANH, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, 9, NULL, bad[k]};
        bp_net *net = NULL;
        bp_error err = {0};
        CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "init_range %g refused", bad[k]);
        CHECK(strstr(err.message, "initialization range") != NULL, "message: %s", err.message);
        CHECK(bp_net_create(&c, &net, NULL) == BP_ERR_ARG && !net, "init_range %g: no network", bad[k]);
    }
}

void test_losses_stay_finite(void)
{
    /* Logits of +-1000 would overflow exp() in float; the losses must stay finite. */
    size_t sizes[] = {1, 3};
    bp_net *ce = net_of(1, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 1);
    bp_net *bce = net_of(1, sizes, BP_ACT_RELU, BP_ACT_SIGMOID, BP_LOSS_BCE, 1, 1);
    if (!ce || !bce) goto done;
    float *W, *b;
    bp_net_layer_view(ce, 1, &W, &b, NULL, NULL);
    W[0] = 1000, W[1] = -1000, W[2] = 0, b[0] = b[1] = b[2] = 0;
    const float x[] = {1}, y_ce[] = {0, 1, 0};
    double loss = 0;
    CHECK(bp_net_backward(ce, x, y_ce, 1, BP_REDUCE_MEAN, &loss) == BP_OK, "ce backward");
    CHECK(isfinite(loss) && fabs(loss - 2000) < 1e-3, "ce loss %g", loss);
    for (int i = 0; i < 3; i++) CHECK(isfinite(bp_net_grads(ce)[i]), "ce grad %d", i);
    bp_net_layer_view(bce, 1, &W, &b, NULL, NULL);
    W[0] = 1000, W[1] = -1000, W[2] = 0, b[0] = b[1] = b[2] = 0;
    const float y_bce[] = {0, 1, 1};
    CHECK(bp_net_backward(bce, x, y_bce, 1, BP_REDUCE_MEAN, &loss) == BP_OK, "bce backward");
    CHECK(isfinite(loss) && fabs(loss - (2000 + log(2.0))) < 1e-3, "bce loss %g", loss);
    float out[3];
    CHECK(bp_net_forward(bce, x, 1, out) == BP_OK, "forward");
    CHECK(out[0] == 1.0f && out[1] == 0.0f && out[2] == 0.5f, "sigmoid saturates cleanly");
done:
    bp_net_free(ce), bp_net_free(bce);
}

static char *temp_path(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "/tmp/bp-test-%ld-%s", (long)getpid(), name);
    return buf;
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

void test_model_file_round_trip_and_damage(void)
{
    size_t sizes[] = {5, 7, 3};
    bp_net *net = net_of(2, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 7), *back = NULL;
    if (!net) return;
    const char *path = temp_path("model.bpm");
    bp_error err = {0};
    CHECK(bp_net_save(net, path, &err) == BP_OK, "save: %s", err.message);
    CHECK(bp_net_load(path, &back, &err) == BP_OK, "load: %s", err.message);
    if (back) {
        CHECK(bp_net_layer_count(back) == 2 && bp_net_width(back, 1) == 7, "shape");
        CHECK(bp_net_hidden_activation(back) == BP_ACT_TANH && bp_net_loss_function(back) == BP_LOSS_CE, "kinds");
        CHECK(memcmp(bp_net_params(net), bp_net_params(back), bp_net_param_count(net) * 4) == 0,
              "bitwise the same parameters");
    }
    bp_net_free(back);
    size_t size = 0;
    unsigned char *bytes = slurp(path, &size);
    CHECK(bytes != NULL && size > 40, "read back");
    if (bytes) {
        /* Every truncation is refused, with a message naming the file. */
        for (size_t n = 0; n < size; n += (n < 64 ? 1 : 37)) {
            bp_net *t = NULL;
            bp_status s = bp_net_load_memory(bytes, n, "cut.bpm", &t, &err);
            CHECK(s != BP_OK && !t, "truncated to %zu bytes accepted", n);
            CHECK(strstr(err.message, "cut.bpm") != NULL, "message names the file: %s", err.message);
            bp_net_free(t);
        }
        /* Every single bit flip is caught (by the checksum if nothing else). */
        for (size_t i = 0; i < size; i++) {
            for (int bit = 0; bit < 8; bit += 3) {
                bytes[i] ^= (unsigned char)(1 << bit);
                bp_net *t = NULL;
                bp_status s = bp_net_load_memory(bytes, size, "flip.bpm", &t, &err);
                CHECK(s != BP_OK && !t, "bit %d of byte %zu flipped and accepted", bit, i);
                bp_net_free(t);
                bytes[i] ^= (unsigned char)(1 << bit);
            }
        }
        bp_net *t = NULL;
        CHECK(bp_net_load_memory(bytes, size, "ok.bpm", &t, &err) == BP_OK, "intact copy loads");
        bp_net_free(t);
        memcpy(bytes, "PK\3\4", 4);
        CHECK(bp_net_load_memory(bytes, size, "zip.bpm", &t, &err) == BP_ERR_FORMAT, "magic");
        CHECK(strstr(err.message, "not a backprop model") != NULL, "magic message: %s", err.message);
        free(bytes);
    }
    CHECK(bp_net_load("/nonexistent/dir/x.bpm", &back, &err) == BP_ERR_IO, "missing file");
    CHECK(strstr(err.message, "/nonexistent/dir/x.bpm") != NULL, "names it: %s", err.message);
    CHECK(bp_net_load("/tmp", &back, &err) == BP_ERR_IO, "a directory");
    CHECK(bp_net_save(net, "/nonexistent/dir/x.bpm", &err) == BP_ERR_IO, "unwritable");
    remove(path);
    bp_net_free(net);
}

/* Two-class problem: is a point inside a circle? */
static bp_dataset *circle_data(size_t n, uint64_t seed)
{
    bp_dataset *d = NULL;
    if (bp_dataset_create(n, 2, 2, &d) != BP_OK) return NULL;
    float *x = bp_dataset_x(d), *y = bp_dataset_y(d);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float u = (float)((s >> 40) & 0xFFFFFF) / 16777216.0f;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float v = (float)((s >> 40) & 0xFFFFFF) / 16777216.0f;
        int in = (u - .5f) * (u - .5f) + (v - .5f) * (v - .5f) < .09f;
        x[2 * i] = u, x[2 * i + 1] = v;
        y[2 * i] = (float)in, y[2 * i + 1] = (float)!in;
    }
    return d;
}

static double train_accuracy(size_t batch, double lr, double momentum, size_t epochs, float *out_params,
                             size_t out_n)
{
    size_t sizes[] = {2, 8, 2};
    bp_net *net = net_of(2, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 3);
    bp_dataset *train = circle_data(1000, 1), *test = circle_data(500, 2);
    bp_trainer *t = NULL;
    bp_train_config tc = {.learning_rate = lr, .momentum = momentum, .batch_size = batch, .seed = 5};
    double acc = -1;
    if (net && train && test && bp_trainer_create(net, &tc, &t) == BP_OK) {
        bp_metrics m;
        for (size_t e = 0; e < epochs; e++) CHECK(bp_trainer_epoch(t, train, NULL) == BP_OK, "epoch");
        CHECK(bp_net_evaluate(net, test, &m) == BP_OK, "evaluate");
        acc = m.accuracy;
        if (out_params) memcpy(out_params, bp_net_params(net), out_n * sizeof(float));
    }
    bp_trainer_free(t);
    bp_net_free(net);
    bp_dataset_free(train);
    bp_dataset_free(test);
    return acc;
}

void test_training_per_sample_minibatch_full_batch(void)
{
    double per_sample = train_accuracy(1, 0.01, 0, 100, NULL, 0);
    double mini = train_accuracy(16, 0.5, 0, 60, NULL, 0);
    double momentum = train_accuracy(16, 0.02, 0.9, 40, NULL, 0);
    double full = train_accuracy(0, 0.5, 0.9, 400, NULL, 0);
    CHECK(per_sample >= 0.94, "per-sample accuracy %.3f", per_sample); /* last-iterate SGD noise: 0.955-0.975 over seeds */
    CHECK(mini >= 0.95, "mini-batch accuracy %.3f", mini);
    CHECK(momentum >= 0.95, "momentum accuracy %.3f", momentum);
    CHECK(full >= 0.9, "full-batch accuracy %.3f", full);
}

void test_training_is_reproducible(void)
{
    float a[42], b[42]; /* 2*8 + 8 + 8*2 + 2 parameters */
    train_accuracy(8, 0.3, 0.5, 3, a, 42);
    train_accuracy(8, 0.3, 0.5, 3, b, 42);
    CHECK(memcmp(a, b, sizeof a) == 0, "same seeds, bitwise the same model");
}

void test_full_batch_step_matches_gradient(void)
{
    /* One full-batch epoch without shuffling is exactly W <- W - eta dC/dW. */
    size_t sizes[] = {2, 4, 2};
    bp_net *net = net_of(2, sizes, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_MSE, 1, 2);
    bp_dataset *d = circle_data(50, 3);
    bp_trainer *t = NULL;
    bp_train_config tc = {.learning_rate = 0.7, .batch_size = 0, .no_shuffle = 1, .seed = 1};
    if (!net || !d || bp_trainer_create(net, &tc, &t) != BP_OK) goto done;
    size_t P = bp_net_param_count(net);
    float before[64], grad[64];
    memcpy(before, bp_net_params(net), P * 4);
    CHECK(bp_net_backward(net, bp_dataset_x(d), bp_dataset_y(d), 50, BP_REDUCE_MEAN, NULL) == BP_OK, "grad");
    memcpy(grad, bp_net_grads(net), P * 4);
    bp_epoch_stats st;
    CHECK(bp_trainer_epoch(t, d, &st) == BP_OK && st.steps == 1 && st.samples == 50, "one step");
    /* The trainer fuses the update into the backward product (alpha = -eta/m), so the
       rounding differs from computing the gradient first: equal to float precision. */
    for (size_t i = 0; i < P; i++) CHECK_NEAR(bp_net_params(net)[i], before[i] - 0.7f * grad[i], 1e-6);
done:
    bp_trainer_free(t);
    bp_net_free(net);
    bp_dataset_free(d);
}

/* The fused SGD and momentum steps (update inside the backward pass) against the plain
   path (gradient block, then optimizer), forced by a clipping threshold never reached. */
void test_fused_steps_match_plain_steps(void)
{
    const bp_optimizer kinds[] = {BP_OPT_SGD, BP_OPT_MOMENTUM};
    for (int k = 0; k < 2; k++)
        for (int wd = 0; wd <= 1; wd++) {
            float fused[64], plain[64];
            for (int variant = 0; variant < 2; variant++) {
                size_t sizes[] = {2, 5, 3, 2};
                bp_net_config c = {3, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 4, NULL, 0};
                bp_net *net = NULL;
                bp_dataset *d = circle_data(40, 9);
                bp_trainer *t = NULL;
                bp_train_config tc = {.learning_rate = 0.3, .optimizer = kinds[k], .momentum = 0.8,
                                      .batch_size = 8, .seed = 2, .weight_decay = wd ? 0.01 : 0,
                                      .clip_norm = variant ? 1e30 : 0};
                if (bp_net_create(&c, &net, NULL) == BP_OK && d && bp_trainer_create(net, &tc, &t) == BP_OK) {
                    for (int e = 0; e < 3; e++) CHECK(bp_trainer_epoch(t, d, NULL) == BP_OK, "epoch");
                    memcpy(variant ? plain : fused, bp_net_params(net), bp_net_param_count(net) * sizeof(float));
                }
                size_t P = net ? bp_net_param_count(net) : 0;
                bp_trainer_free(t);
                bp_net_free(net);
                bp_dataset_free(d);
                if (variant)
                    for (size_t i = 0; i < P; i++) CHECK_NEAR(fused[i], plain[i], 1e-5);
            }
        }
}

void test_crc32_known_values(void)
{
    /* The standard check value of CRC-32, the model files' checksum (zlib's crc32), in one
       call and in two; and bp_crc32's pieces agree with zlib's one call. */
    CHECK(bp_crc32(0, "123456789", 9) == 0xCBF43926u, "check value");
    CHECK(bp_crc32(bp_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u, "continued");
    CHECK(bp_crc32(0, "", 0) == 0, "empty");
    unsigned char big[1000];
    for (int i = 0; i < 1000; i++) big[i] = (unsigned char)(i * 7);
    uLong whole = crc32(0, big, 1000);
    CHECK(bp_crc32(0, big, 1000) == whole, "pieces of %zu bytes against one call", BP_CRC32_PIECE);
    CHECK(bp_crc32(bp_crc32(0, big, 333), big + 333, 667) == whole, "continued");
}
