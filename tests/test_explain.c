/*
 * test_explain.c - bp_net_explain (src/io/explain.c): the equations name every
 * layer with its shapes, and a sample's numbers are the engine's: each delta^l
 * equals the plain reference layer's backward pass, dW the engine's gradient,
 * and the step W - eta dW; JSON keeps every float exactly.
 */
#include <stdlib.h>
#include <string.h>

#include "backprop.h"
#include "core/activation.h"
#include "core/dense_reference.h"
#include "test.h"

/* The n numbers of the first array after `key` at or after `from` (rows flattened). */
static int json_numbers(const char *from, const char *key, float *out, size_t n)
{
    const char *p = strstr(from, key);
    if (!p) return 0;
    p += strlen(key);
    for (size_t i = 0; i < n; i++) {
        while (*p && (*p == ' ' || *p == '[' || *p == ',' || *p == ':')) p++;
        char *end;
        out[i] = strtof(p, &end);
        if (end == p) return 0;
        p = end;
        while (*p == ']') p++;
    }
    return 1;
}

/* The equations alone: every layer's forward line with its shapes, no numbers. */
void test_explain_equations(void)
{
    size_t sizes[] = {3, 5, 4, 2};
    bp_net_config c = {3, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 3, NULL, 0};
    bp_net *net = NULL;
    CHECK(bp_net_create(&c, &net, NULL) == BP_OK, "network");
    if (!net) return;
    char *text = NULL;
    bp_explain_options o = {.batch = 64};
    CHECK(bp_net_explain(net, NULL, NULL, &o, &text, NULL) == BP_OK && text, "explain");
    if (text) {
        CHECK(strstr(text, "Network 3-5-4-2: hidden tanh, output softmax, loss ce") != NULL, "%s", text);
        CHECK(strstr(text, "z^2 = W^2 a^1 + b^2          [4 x 1] = [4 x 5] [5 x 1] + [4 x 1]") != NULL, "z^2");
        CHECK(strstr(text, "delta^3 = a^3 - y") != NULL, "the canonical delta^L");
        CHECK(strstr(text, "Mini-batch of 64 samples") != NULL, "the batch size");
        CHECK(strstr(text, "The numbers") == NULL, "no numbers without a sample");
    }
    bp_free(text);
    bp_explain_options bad = {.format = (bp_explain_format)7};
    text = NULL;
    CHECK(bp_net_explain(net, NULL, NULL, &bad, &text, NULL) == BP_ERR_ARG && !text, "an unknown format");
    const float x[3] = {0};
    CHECK(bp_net_explain(net, x, NULL, NULL, &text, NULL) == BP_ERR_ARG, "inputs without targets");
    bp_net_free(net);
}

/* A sample's numbers against the reference layers, on a network without biases
   (where delta^l cannot be read off dC/db^l) and MSE through a sigmoid output. */
void test_explain_numbers_are_the_engines(void)
{
    size_t sizes[] = {3, 4, 2};
    bp_net_config c = {2, sizes, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_MSE, 0, 9, NULL, 0};
    bp_net *net = NULL;
    CHECK(bp_net_create(&c, &net, NULL) == BP_OK, "network");
    if (!net) return;
    const float x[3] = {0.5f, -1.0f, 2.0f}, y[2] = {0.25f, 0.75f};
    const double lr = 0.5;
    float *W1, *W2;
    bp_net_layer_view(net, 1, &W1, NULL, NULL, NULL);
    bp_net_layer_view(net, 2, &W2, NULL, NULL, NULL);
    /* The reference: forward, delta^2 = (a - y) (.) sigmoid'(a), backward. */
    float z1[4], a1[4], z2[2], a2[2], d2[2], d1[4], gW2[8], gW1[12];
    bp_dense_forward_reference(z1, a1, x, W1, NULL, 1, 3, 4, BP_ACT_SIGMOID);
    bp_dense_forward_reference(z2, a2, a1, W2, NULL, 1, 4, 2, BP_ACT_SIGMOID);
    for (int i = 0; i < 2; i++) d2[i] = (a2[i] - y[i]) * bp_g_prime(BP_ACT_SIGMOID, a2[i]);
    bp_dense_backward_reference(d1, gW2, NULL, d2, W2, a1, BP_ACT_SIGMOID, 1, 4, 2, 1.0f);
    bp_dense_backward_reference(NULL, gW1, NULL, d1, W1, x, BP_ACT_SIGMOID, 1, 3, 4, 1.0f);
    float W1_before[12];
    memcpy(W1_before, W1, sizeof W1_before);

    char *json = NULL;
    bp_explain_options o = {.format = BP_EXPLAIN_JSON, .learning_rate = lr};
    CHECK(bp_net_explain(net, x, y, &o, &json, NULL) == BP_OK && json, "explain");
    if (json) {
        const char *l1 = strstr(json, "\"layer\": 1"), *l2 = strstr(json, "\"layer\": 2");
        float v[12];
        CHECK(l1 && l2, "both layers: %s", json);
        if (l1 && l2) {
            CHECK(json_numbers(l2, "\"delta\"", v, 2) && fabsf(v[0] - d2[0]) < 1e-6f && fabsf(v[1] - d2[1]) < 1e-6f,
                  "delta^2 %g %g against %g %g", v[0], v[1], d2[0], d2[1]);
            CHECK(json_numbers(l1, "\"delta\"", v, 4), "delta^1");
            for (int i = 0; i < 4; i++) CHECK(fabsf(v[i] - d1[i]) < 1e-6f, "delta^1_%d %g against %g", i, v[i], d1[i]);
            CHECK(json_numbers(l1, "\"dW\"", v, 12), "dW^1");
            for (int i = 0; i < 12; i++) CHECK(fabsf(v[i] - gW1[i]) < 1e-6f, "dW^1_%d %g against %g", i, v[i], gW1[i]);
            CHECK(json_numbers(l1, "\"W_next\"", v, 12), "W^1 after the step");
            for (int i = 0; i < 12; i++)
                CHECK(fabsf(v[i] - (W1_before[i] - (float)lr * gW1[i])) < 1e-6f, "W_next^1_%d %g", i, v[i]);
            /* The JSON floats read back exactly: a^1 is the engine's own. */
            const float *a_engine;
            bp_net_layer_activations(net, 1, NULL, &a_engine);
            CHECK(json_numbers(l1, "\"a\"", v, 4), "a^1");
            for (int i = 0; i < 4; i++) CHECK(v[i] == a_engine[i], "a^1_%d %.9g against %.9g", i, v[i], a_engine[i]);
        }
        CHECK(memcmp(W1, W1_before, sizeof W1_before) == 0, "explaining a step does not take it");
    }
    bp_free(json);
    bp_net_free(net);
}
