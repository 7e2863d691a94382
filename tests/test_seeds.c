/*
 * test_seeds.c - the source documents' own networks, with values worked out by
 * hand (the weights are chosen so every number is exact in binary and can be
 * followed with pencil and paper; the arithmetic is in the comments).
 */
#include <string.h>

#include "backprop.h"
#include "test.h"

static bp_net *make(size_t L, size_t *sizes, bp_activation h, bp_activation o, bp_loss loss, int bias)
{
    bp_net_config c = {L, sizes, h, o, loss, bias, 1, NULL, 0};
    bp_net *net = NULL;
    CHECK(bp_net_create(&c, &net, NULL) == BP_OK, "create");
    return net;
}

static void set(float *dst, const float *src, size_t n) { memcpy(dst, src, n * sizeof(float)); }

static void expect(const float *got, const float *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        CHECK(got[i] == want[i], "%s[%zu] = %.9g, expected %.9g", what, i, (double)got[i], (double)want[i]);
}

/* Seed 001: 2-3-2, sigmoid hidden and output, C = 1/2 ||a - y||^2 (general case:
   delta^L = (a - y) (.) sigmoid'(z)). With x = (1, 1), W^1 rows (1,-1), (2,-2), (0,0)
   and zero b^1, every z^1 is 0, so a^1 = 0.5 and sigmoid' = 0.25 everywhere.
   W^2 = [[1,-1,0],[0,0,0]], b^2 = 0 gives z^2 = 0, a^2 = (0.5, 0.5); with y = (1, 0):
     C       = 1/2 (0.25 + 0.25) = 0.25
     delta^2 = (-0.5, 0.5) (.) 0.25 = (-0.125, 0.125)
     dC/dW^2 = delta^2 (a^1)^T = rows (-0.0625 x3), (0.0625 x3)
     delta^1 = W^2^T delta^2 (.) 0.25 = (-0.125, 0.125, 0) (.) 0.25 = (-0.03125, 0.03125, 0)
     dC/dW^1 = delta^1 x^T = rows (-0.03125, -0.03125), (0.03125, 0.03125), (0, 0)
   and one step of gradient descent with eta = 0.5 moves W^2[0][0] from 1 to 1.03125. */
void test_seed001_network(void)
{
    size_t sizes[] = {2, 3, 2};
    bp_net *net = make(2, sizes, BP_ACT_SIGMOID, BP_ACT_SIGMOID, BP_LOSS_MSE, 1);
    if (!net) return;
    float *W1, *b1, *W2, *b2, *gW1, *gb1, *gW2, *gb2;
    bp_net_layer_view(net, 1, &W1, &b1, &gW1, &gb1);
    bp_net_layer_view(net, 2, &W2, &b2, &gW2, &gb2);
    set(W1, (float[]){1, -1, 2, -2, 0, 0}, 6);
    set(b1, (float[]){0, 0, 0}, 3);
    set(W2, (float[]){1, -1, 0, 0, 0, 0}, 6);
    set(b2, (float[]){0, 0}, 2);
    const float x[] = {1, 1}, y[] = {1, 0};
    double loss = -1;
    CHECK(bp_net_backward(net, x, y, 1, BP_REDUCE_MEAN, &loss) == BP_OK, "backward");
    CHECK(loss == 0.25, "loss %.17g", loss);
    expect(gb2, (float[]){-0.125f, 0.125f}, 2, "db2");
    expect(gW2, (float[]){-0.0625f, -0.0625f, -0.0625f, 0.0625f, 0.0625f, 0.0625f}, 6, "dW2");
    expect(gb1, (float[]){-0.03125f, 0.03125f, 0}, 3, "db1");
    expect(gW1, (float[]){-0.03125f, -0.03125f, 0.03125f, 0.03125f, 0, 0}, 6, "dW1");

    bp_train_config tc = {0};
    tc.learning_rate = 0.5;
    tc.batch_size = 1;
    bp_trainer *t = NULL;
    CHECK(bp_trainer_create(net, &tc, &t) == BP_OK, "trainer");
    if (t) {
        CHECK(bp_trainer_step(t, x, y, 1, &loss) == BP_OK, "step");
        CHECK(W2[0] == 1.03125f, "W2[0][0] = %.9g after one step", (double)W2[0]);
        CHECK(W1[0] == 1.015625f, "W1[0][0] = %.9g after one step", (double)W1[0]);
        CHECK(b2[1] == -0.0625f, "b2[1] = %.9g after one step", (double)b2[1]);
    }
    bp_trainer_free(t);
    bp_net_free(net);
}

/* Seed 002's 3-4-2 shape with biases. Seed 002 names ReLU beside the logistic
   function; with ReLU hidden units, an identity output and 1/2 MSE every number
   below is exact. x = (1, 2, -1), W^1 = [[1,0,0],[0,1,0],[0,0,1],[1,1,1]],
   b^1 = (0, -1, 0, 0.5):
     z^1 = (1, 1, -1, 2.5), a^1 = (1, 1, 0, 2.5), relu'(z^1) = (1, 1, 0, 1)
   W^2 = [[1,-1,2,0],[0.5,0,0,1]], b^2 = (0.5, -1):
     z^2 = a^2 = (0.5, 2); y = (1, 1): C = 1/2 (0.25 + 1) = 0.625
     delta^2 = a^2 - y = (-0.5, 1)            (canonical pair: identity + MSE)
     dC/dW^2 = delta^2 (a^1)^T = [[-0.5,-0.5,0,-1.25],[1,1,0,2.5]]
     W^2^T delta^2 = (0, 0.5, -1, 1), delta^1 = (0, 0.5, 0, 1)
     dC/dW^1 = delta^1 x^T = [[0,0,0],[0.5,1,-0.5],[0,0,0],[1,2,-1]] */
void test_seed002_network(void)
{
    size_t sizes[] = {3, 4, 2};
    bp_net *net = make(2, sizes, BP_ACT_RELU, BP_ACT_IDENTITY, BP_LOSS_MSE, 1);
    if (!net) return;
    float *W1, *b1, *W2, *b2, *gW1, *gb1, *gW2, *gb2;
    bp_net_layer_view(net, 1, &W1, &b1, &gW1, &gb1);
    bp_net_layer_view(net, 2, &W2, &b2, &gW2, &gb2);
    set(W1, (float[]){1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1}, 12);
    set(b1, (float[]){0, -1, 0, 0.5f}, 4);
    set(W2, (float[]){1, -1, 2, 0, 0.5f, 0, 0, 1}, 8);
    set(b2, (float[]){0.5f, -1}, 2);
    const float x[] = {1, 2, -1}, y[] = {1, 1};
    float out[2];
    CHECK(bp_net_forward(net, x, 1, out) == BP_OK, "forward");
    expect(out, (float[]){0.5f, 2}, 2, "a2");
    double loss = -1;
    CHECK(bp_net_backward(net, x, y, 1, BP_REDUCE_MEAN, &loss) == BP_OK, "backward");
    CHECK(loss == 0.625, "loss %.17g", loss);
    expect(gb2, (float[]){-0.5f, 1}, 2, "db2");
    expect(gW2, (float[]){-0.5f, -0.5f, 0, -1.25f, 1, 1, 0, 2.5f}, 8, "dW2");
    expect(gb1, (float[]){0, 0.5f, 0, 1}, 4, "db1");
    expect(gW1, (float[]){0, 0, 0, 0.5f, 1, -0.5f, 0, 0, 0, 1, 2, -1}, 12, "dW1");
    bp_net_free(net);
}

/* Seed 003: layers 0..3 of widths 3, 4, 5, 2, no biases (z_(i+1) = W_i a_i), sigmoid
   hidden units and a linear output, gradients summed over the samples. The seed's
   error is (y - z)^2; ours is 1/2 ||a - y||^2, so every gradient here is half the
   seed's. x = (1, 1, 0) and rows of W^1 = (1,-1,0),(2,-2,5),(0,0,0),(-1,1,3) make
   z^1 = 0, a^1 = 0.5; rows of W^2 summing to 0 make z^2 = 0, a^2 = 0.5 (sigmoid' = 0.25).
   W^3 = [[1,1,1,1,1],[2,0,0,0,-2]]: z^3 = (2.5, 0); y = (2, 1):
     C = 1/2 (0.25 + 1) = 0.625 per sample; delta^3 = (0.5, -1)
     dC/dW^3 = delta^3 (a^2)^T = rows (0.25 x5), (-0.5 x5)
     delta^2 = W^3^T delta^3 (.) 0.25 = (-1.5, .5, .5, .5, 2.5) * 0.25
             = (-0.375, 0.125, 0.125, 0.125, 0.625); dC/dW^2 = 0.5 delta^2 in every column
     W^2^T delta^2 = (1.625, -1.375, 0.75, -1), delta^1 = (0.40625, -0.34375, 0.1875, -0.25)
     dC/dW^1 = delta^1 x^T.
   The batch holds the sample twice with reduction "sum", so every value doubles. */
void test_seed003_network(void)
{
    size_t sizes[] = {3, 4, 5, 2};
    bp_net *net = make(3, sizes, BP_ACT_SIGMOID, BP_ACT_IDENTITY, BP_LOSS_MSE, 0);
    if (!net) return;
    float *W1, *W2, *W3, *gW1, *gW2, *gW3, *b;
    bp_net_layer_view(net, 1, &W1, &b, &gW1, NULL);
    CHECK(b == NULL, "no biases");
    bp_net_layer_view(net, 2, &W2, NULL, &gW2, NULL);
    bp_net_layer_view(net, 3, &W3, NULL, &gW3, NULL);
    CHECK(bp_net_param_count(net) == 12 + 20 + 10, "parameter count %zu", bp_net_param_count(net));
    set(W1, (float[]){1, -1, 0, 2, -2, 5, 0, 0, 0, -1, 1, 3}, 12);
    set(W2, (float[]){1, -1, 0, 0, 0, 0, 2, -2, 1, 1, -1, -1, 0, 0, 0, 0, 3, -3, 1, -1}, 20);
    set(W3, (float[]){1, 1, 1, 1, 1, 2, 0, 0, 0, -2}, 10);
    const float x[] = {1, 1, 0, 1, 1, 0}, y[] = {2, 1, 2, 1};
    double loss = -1;
    CHECK(bp_net_backward(net, x, y, 2, BP_REDUCE_SUM, &loss) == BP_OK, "backward");
    CHECK(loss == 1.25, "loss %.17g", loss);
    expect(gW3, (float[]){0.5f, 0.5f, 0.5f, 0.5f, 0.5f, -1, -1, -1, -1, -1}, 10, "dW3");
    float want2[20];
    const float d2[] = {-0.375f, 0.125f, 0.125f, 0.125f, 0.625f};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) want2[i * 4 + j] = 2 * 0.5f * d2[i];
    expect(gW2, want2, 20, "dW2");
    const float d1[] = {0.40625f, -0.34375f, 0.1875f, -0.25f};
    float want1[12];
    for (int i = 0; i < 4; i++) {
        want1[i * 3] = want1[i * 3 + 1] = 2 * d1[i];
        want1[i * 3 + 2] = 0;
    }
    expect(gW1, want1, 12, "dW1");
    bp_net_free(net);
}
