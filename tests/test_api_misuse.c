/*
 * test_api_misuse.c - every BP_API function called the way a careless caller would:
 * NULL handles, NULL out-pointers, zero and huge sizes (SIZE_MAX, counts whose product
 * overflows), mismatched widths, layer numbers out of range, NaN and infinity in settings,
 * enum values out of range. Each call must return an error status (or the safe value its
 * doc comment names: 0, NULL, "") and never crash, hang or write through NULL; the suite
 * also runs under `make sanitize`.
 *
 * Left out on purpose, because no check inside the library can catch it: a handle used
 * after it was freed, a trainer used after its network was freed (backprop.h: free the
 * trainer first), buffers shorter than the sizes the caller claims. A second trainer on a
 * network that already has one is legal and is tested here.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backprop.h"
#include "backprop_verify.h"
#include "test.h"

/* A small 3-4-2 softmax network that every test below abuses. */
static bp_net *make_net(void)
{
    static const size_t sizes[] = {3, 4, 2};
    bp_net_config config = {.n_layers = 2, .sizes = sizes, .hidden = BP_ACT_TANH,
                            .output = BP_ACT_SOFTMAX, .loss = BP_LOSS_CE, .bias = 1, .seed = 7};
    bp_net *net = NULL;
    if (bp_net_create(&config, &net, NULL) != BP_OK) return NULL;
    return net;
}

static const float sample_x[3 * 4] = {0.1f, 0.2f, 0.3f, -1, 0, 1, 2, 2, 2, 0.5f, -0.5f, 0};
static const float sample_y[2 * 4] = {1, 0, 0, 1, 1, 0, 0, 1};

void test_api_misuse_names_and_enums(void)
{
    /* Out-of-range enum values give a name string, never NULL or garbage. */
    CHECK(bp_status_message((bp_status)-1) != NULL, "status -1");
    CHECK(bp_status_message((bp_status)1000) != NULL, "status 1000");
    CHECK(bp_activation_name((bp_activation)99) != NULL, "activation 99");
    CHECK(bp_activation_name((bp_activation)-1) != NULL, "activation -1");
    CHECK(bp_loss_name((bp_loss)99) != NULL, "loss 99");
    CHECK(bp_reduction_name((bp_reduction)99) != NULL, "reduction 99");
    CHECK(bp_optimizer_name((bp_optimizer)99) != NULL, "optimizer 99");
    CHECK(bp_schedule_name((bp_schedule)99) != NULL, "schedule 99");
    CHECK(bp_precision_kernel((bp_precision)99) == NULL, "precision 99 has no kernel");
    CHECK(bp_precision_kernel((bp_precision)-1) == NULL, "precision -1 has no kernel");

    bp_activation act = BP_ACT_RELU;
    bp_loss loss = BP_LOSS_MSE;
    bp_reduction red = BP_REDUCE_MEAN;
    bp_optimizer opt = BP_OPT_SGD;
    bp_schedule sched = BP_SCHEDULE_CONSTANT;
    CHECK(bp_activation_parse(NULL, &act) == BP_ERR_ARG, "NULL name");
    CHECK(bp_activation_parse("relu", NULL) == BP_OK, "NULL out: a check only");
    CHECK(bp_activation_parse("", &act) == BP_ERR_ARG, "empty name");
    CHECK(bp_activation_parse("relu\xff", &act) == BP_ERR_ARG, "non-UTF-8 name");
    CHECK(bp_loss_parse(NULL, &loss) == BP_ERR_ARG, "NULL name");
    CHECK(bp_loss_parse("mse", NULL) == BP_OK && bp_loss_parse("nope", NULL) == BP_ERR_ARG, "NULL out");
    CHECK(bp_reduction_parse(NULL, &red) == BP_ERR_ARG, "NULL name");
    CHECK(bp_reduction_parse("mean", NULL) == BP_OK, "NULL out");
    CHECK(bp_optimizer_parse(NULL, &opt) == BP_ERR_ARG, "NULL name");
    CHECK(bp_optimizer_parse("adam", NULL) == BP_OK, "NULL out");
    CHECK(bp_schedule_parse(NULL, &sched) == BP_ERR_ARG, "NULL name");
    CHECK(bp_schedule_parse("cosine", NULL) == BP_OK, "NULL out");
    CHECK(act == BP_ACT_RELU && loss == BP_LOSS_MSE && red == BP_REDUCE_MEAN && opt == BP_OPT_SGD &&
              sched == BP_SCHEDULE_CONSTANT,
          "a failed parse leaves *out alone");
    CHECK(bp_default_threads() >= 1, "at least one thread");
    CHECK(bp_cuda_devices() >= 0, "device count");
    bp_free(NULL);
}

void test_api_misuse_net_config(void)
{
    size_t sizes[] = {3, 4, 2};
    bp_net_config good = {.n_layers = 2, .sizes = sizes, .hidden = BP_ACT_RELU,
                          .output = BP_ACT_SOFTMAX, .loss = BP_LOSS_CE, .bias = 1};
    bp_error err = {0};
    bp_net *net = (bp_net *)&err; /* must be left alone or set to NULL, never freed */
    CHECK(bp_net_config_check(NULL, &err) == BP_ERR_ARG, "NULL config");
    CHECK(bp_net_config_check(NULL, NULL) == BP_ERR_ARG, "NULL config, NULL err");
    CHECK(bp_net_create(NULL, &net, &err) == BP_ERR_ARG, "NULL config");
    CHECK(bp_net_create(&good, NULL, &err) == BP_ERR_ARG, "NULL out");

    bp_net_config c = good;
    c.sizes = NULL;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "NULL sizes");
    c = good, c.n_layers = 0;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "no layers");
    c = good, c.n_layers = SIZE_MAX;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "SIZE_MAX layers");
    c = good, c.n_layers = BP_MAX_LAYERS + 1;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "65 layers");
    size_t zero[] = {3, 0, 2}, huge[] = {3, SIZE_MAX, 2}, wide[] = {BP_MAX_WIDTH, BP_MAX_WIDTH, 2};
    c = good, c.sizes = zero;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "zero width");
    c = good, c.sizes = huge;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "SIZE_MAX width");
    /* 2^24 x 2^24 weights: every width allowed, the product too large to allocate. */
    c = good, c.sizes = wide;
    net = NULL;
    bp_status s = bp_net_create(&c, &net, &err);
    CHECK(s == BP_ERR_NOMEM || s == BP_ERR_ARG, "2^48 weights: status %d", (int)s);
    CHECK(net == NULL, "no network");
    c = good, c.hidden = (bp_activation)99;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "hidden 99");
    c = good, c.hidden = (bp_activation)-1;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "hidden -1");
    c = good, c.hidden = BP_ACT_SOFTMAX;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "softmax hidden");
    c = good, c.output = (bp_activation)99;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "output 99");
    c = good, c.loss = (bp_loss)99;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "loss 99");
    c = good, c.loss = BP_LOSS_BCE;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "BCE without sigmoid");
    double bad_p[] = {NAN};
    c = good, c.dropout = bad_p;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "NaN dropout");
    bad_p[0] = 1.0;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "dropout 1");
    bad_p[0] = -0.5;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "negative dropout");
    bad_p[0] = INFINITY;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "infinite dropout");
    c = good, c.init_range = NAN;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "NaN init range");
    c.init_range = INFINITY;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "infinite init range");
    c.init_range = -1;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "negative init range");
    c.init_range = 1e31;
    CHECK(bp_net_config_check(&c, &err) == BP_ERR_ARG, "init range above 1e30");
    c.init_range = 1e30;
    CHECK(bp_net_config_check(&c, NULL) == BP_OK, "init range 1e30 is allowed");
    CHECK(bp_net_config_check(&good, NULL) == BP_OK, "the good config");
}

void test_api_misuse_null_net(void)
{
    /* Every call that takes a network, given NULL. */
    float x[12] = {0}, y[8] = {0}, out[8];
    double loss = 42;
    float *W = NULL, *b = NULL, *gW = NULL, *gb = NULL;
    const float *cz = NULL, *ca = NULL;
    bp_net *copy = NULL;
    bp_net_free(NULL);
    CHECK(bp_net_clone(NULL, &copy) == BP_ERR_ARG && copy == NULL, "clone NULL");
    CHECK(bp_net_set_threads(NULL, 2, NULL) == BP_ERR_ARG, "threads on NULL");
    CHECK(bp_net_threads(NULL) == 0, "threads of NULL");
    CHECK(bp_net_layer_count(NULL) == 0, "layers of NULL");
    CHECK(bp_net_width(NULL, 0) == 0, "width of NULL");
    CHECK(bp_net_hidden_activation(NULL) == BP_ACT_IDENTITY, "hidden of NULL");
    CHECK(bp_net_output_activation(NULL) == BP_ACT_IDENTITY, "output of NULL");
    CHECK(bp_net_loss_function(NULL) == BP_LOSS_MSE, "loss of NULL");
    CHECK(bp_net_has_bias(NULL) == 0, "bias of NULL");
    CHECK(bp_net_dropout(NULL, 1) == 0, "dropout of NULL");
    CHECK(bp_net_set_dropout_mask(NULL, NULL, 0) == BP_ERR_ARG, "mask on NULL");
    CHECK(bp_net_param_count(NULL) == 0, "params of NULL");
    CHECK(bp_net_params(NULL) == NULL && bp_net_params_const(NULL) == NULL && bp_net_grads(NULL) == NULL,
          "blocks of NULL");
    CHECK(bp_net_layer_view(NULL, 1, &W, &b, &gW, &gb) == BP_ERR_ARG, "view of NULL");
    CHECK(bp_net_layer_activations(NULL, 1, &cz, &ca) == BP_ERR_ARG, "activations of NULL");
    CHECK(bp_net_forward(NULL, x, 1, out) == BP_ERR_ARG, "forward NULL");
    CHECK(bp_net_backward(NULL, x, y, 1, BP_REDUCE_MEAN, &loss) == BP_ERR_ARG, "backward NULL");
    CHECK(bp_net_compute_loss(NULL, x, y, 1, BP_REDUCE_MEAN, &loss) == BP_ERR_ARG, "loss NULL");
    CHECK(bp_net_set_input_transform(NULL, x, x) == BP_ERR_ARG, "transform on NULL");
    CHECK(bp_net_get_input_transform(NULL, &cz, &ca) == 0, "transform of NULL");
    bp_net_apply_input_transform(NULL, x, 1);
    const char *names[] = {"a", "b"};
    CHECK(bp_net_set_class_names(NULL, names, 2) == BP_ERR_ARG, "names on NULL");
    CHECK(bp_net_class_name(NULL, 0) == NULL, "name of NULL");
    CHECK(bp_net_save(NULL, "/tmp/bp-misuse-never.bpm", NULL) == BP_ERR_ARG, "save NULL");
    CHECK(access("/tmp/bp-misuse-never.bpm", F_OK) != 0, "nothing written");
    bp_metrics metrics;
    CHECK(bp_net_evaluate(NULL, NULL, &metrics) == BP_ERR_ARG, "evaluate NULL");
    char *text = NULL;
    CHECK(bp_net_explain(NULL, NULL, NULL, NULL, &text, NULL) == BP_ERR_ARG && text == NULL, "explain NULL");
    void *bytes = NULL;
    size_t size = 0;
    CHECK(bp_net_export(NULL, NULL, &bytes, &size, NULL) == BP_ERR_ARG && bytes == NULL, "export NULL");
    bp_qnet *q = NULL;
    CHECK(bp_qnet_create(NULL, NULL, &q, NULL) == BP_ERR_ARG && q == NULL, "quantize NULL");
    bp_trainer *trainer = NULL;
    bp_train_config tc = {0};
    CHECK(bp_trainer_create(NULL, &tc, &trainer) == BP_ERR_ARG && trainer == NULL, "trainer on NULL");
    double grad[64];
    CHECK(bp_reference_gradient(NULL, x, y, 1, BP_REDUCE_MEAN, &loss, grad) == BP_ERR_ARG, "reference NULL");
    CHECK(bp_finite_difference_gradient(NULL, x, y, 1, BP_REDUCE_MEAN, 1e-3, grad) == BP_ERR_ARG, "fd NULL");
    CHECK(bp_reference_loss(NULL, NULL, x, y, 1, BP_REDUCE_MEAN, &loss) == BP_ERR_ARG, "ref loss NULL");
    CHECK(loss == 42, "loss untouched");
}

void test_api_misuse_net_calls(void)
{
    bp_net *net = make_net();
    CHECK(net != NULL, "network");
    if (!net) return;
    float out[8], x[12];
    memcpy(x, sample_x, sizeof x);
    double loss = 0;
    const size_t params = bp_net_param_count(net);

    /* Shape queries out of range. */
    CHECK(bp_net_width(net, 3) == 0 && bp_net_width(net, SIZE_MAX) == 0, "width past L");
    CHECK(bp_net_dropout(net, 0) == 0 && bp_net_dropout(net, 2) == 0 && bp_net_dropout(net, SIZE_MAX) == 0,
          "dropout outside 1..L-1");
    CHECK(bp_net_class_name(net, 0) == NULL && bp_net_class_name(net, SIZE_MAX) == NULL, "no names");

    /* Threads out of range keep the old setting. */
    CHECK(bp_net_set_threads(net, -1, NULL) == BP_ERR_ARG, "threads -1");
    CHECK(bp_net_set_threads(net, 257, NULL) == BP_ERR_ARG, "threads 257");
    CHECK(bp_net_set_threads(net, 1 << 30, NULL) == BP_ERR_ARG, "threads 2^30");
    CHECK(bp_net_threads(net) == 1, "still one thread");

    /* Views: layer 0, L + 1, SIZE_MAX; NULL out-pointers are allowed (nothing written). */
    float *W = NULL, *b = NULL, *gW = NULL, *gb = NULL;
    CHECK(bp_net_layer_view(net, 0, &W, &b, &gW, &gb) == BP_ERR_ARG, "view 0");
    CHECK(bp_net_layer_view(net, 3, &W, &b, &gW, &gb) == BP_ERR_ARG, "view 3");
    CHECK(bp_net_layer_view(net, SIZE_MAX, &W, &b, &gW, &gb) == BP_ERR_ARG, "view SIZE_MAX");
    CHECK(bp_net_layer_view(net, 1, NULL, NULL, NULL, NULL) == BP_OK, "view with NULL outs");
    const float *z = NULL, *a = NULL;
    CHECK(bp_net_layer_activations(net, 0, &z, &a) == BP_ERR_ARG, "activations 0");
    CHECK(bp_net_layer_activations(net, 3, &z, &a) == BP_ERR_ARG, "activations 3");
    /* Before any pass there is nothing to view; either an error or NULL views. */
    bp_status s = bp_net_layer_activations(net, 2, &z, &a);
    CHECK(s != BP_OK || (z == NULL && a == NULL) || (z != NULL && a != NULL), "activations before a pass");
    CHECK(bp_net_layer_activations(net, 1, NULL, NULL) == BP_ERR_ARG, "no pass yet");

    /* Passes: NULL x, m = 0, SIZE_MAX samples (m x n overflows), NULL y or loss. */
    CHECK(bp_net_forward(net, NULL, 1, out) == BP_ERR_ARG, "forward NULL x");
    CHECK(bp_net_forward(net, x, 0, out) == BP_ERR_ARG, "forward m = 0");
    s = bp_net_forward(net, x, SIZE_MAX, out);
    CHECK(s == BP_ERR_NOMEM || s == BP_ERR_ARG, "forward SIZE_MAX: %d", (int)s);
    s = bp_net_forward(net, x, SIZE_MAX / 2, out);
    CHECK(s == BP_ERR_NOMEM || s == BP_ERR_ARG, "forward SIZE_MAX / 2: %d", (int)s);
    CHECK(bp_net_forward(net, x, 4, NULL) == BP_OK, "forward without out is allowed");
    CHECK(bp_net_layer_activations(net, 1, NULL, NULL) == BP_OK, "NULL outs are allowed after a pass");
    CHECK(bp_net_layer_activations(net, 2, &z, &a) == BP_OK && z && a, "views after a pass");
    CHECK(bp_net_backward(net, NULL, sample_y, 1, BP_REDUCE_MEAN, &loss) == BP_ERR_ARG, "backward NULL x");
    CHECK(bp_net_backward(net, x, NULL, 1, BP_REDUCE_MEAN, &loss) == BP_ERR_ARG, "backward NULL y");
    CHECK(bp_net_backward(net, x, sample_y, 0, BP_REDUCE_MEAN, &loss) == BP_ERR_ARG, "backward m = 0");
    s = bp_net_backward(net, x, sample_y, SIZE_MAX, BP_REDUCE_MEAN, &loss);
    CHECK(s == BP_ERR_NOMEM || s == BP_ERR_ARG, "backward SIZE_MAX: %d", (int)s);
    CHECK(bp_net_backward(net, x, sample_y, 4, (bp_reduction)99, &loss) == BP_ERR_ARG, "reduction 99");
    CHECK(bp_net_backward(net, x, sample_y, 4, (bp_reduction)-1, &loss) == BP_ERR_ARG, "reduction -1");
    CHECK(bp_net_backward(net, x, sample_y, 4, BP_REDUCE_MEAN, NULL) == BP_OK, "backward without loss");
    CHECK(bp_net_compute_loss(net, x, sample_y, 4, BP_REDUCE_MEAN, NULL) == BP_ERR_ARG, "loss NULL out");
    CHECK(bp_net_compute_loss(net, NULL, sample_y, 4, BP_REDUCE_MEAN, &loss) == BP_ERR_ARG, "loss NULL x");
    CHECK(bp_net_compute_loss(net, x, NULL, 4, BP_REDUCE_MEAN, &loss) == BP_ERR_ARG, "loss NULL y");
    CHECK(bp_net_compute_loss(net, x, sample_y, 0, BP_REDUCE_MEAN, &loss) == BP_ERR_ARG, "loss m = 0");
    s = bp_net_compute_loss(net, x, sample_y, SIZE_MAX, BP_REDUCE_MEAN, &loss);
    CHECK(s == BP_ERR_NOMEM || s == BP_ERR_ARG, "loss SIZE_MAX: %d", (int)s);
    CHECK(bp_net_compute_loss(net, x, sample_y, 4, (bp_reduction)7, &loss) == BP_ERR_ARG, "loss reduction 7");

    /* NaN inputs are a caller's choice: the pass runs, the loss says NaN, nothing crashes. */
    float nan_x[12];
    for (int i = 0; i < 12; i++) nan_x[i] = NAN;
    s = bp_net_compute_loss(net, nan_x, sample_y, 4, BP_REDUCE_MEAN, &loss);
    CHECK(s == BP_ERR_NUMERIC || (s == BP_OK && isnan(loss)), "NaN inputs: %d", (int)s);

    /* Dropout masks: none asked for on this network (no dropout), wrong sizes. */
    float mask[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(bp_net_set_dropout_mask(net, mask, 0) == BP_ERR_ARG, "mask m = 0");
    s = bp_net_set_dropout_mask(net, mask, SIZE_MAX);
    CHECK(s == BP_ERR_ARG || s == BP_ERR_NOMEM, "mask SIZE_MAX: %d", (int)s);
    CHECK(bp_net_set_dropout_mask(net, NULL, 0) == BP_OK, "removing no masks is fine");
    CHECK(bp_net_set_dropout_mask(net, mask, 4) == BP_OK, "masks for m = 4");
    /* With masks for 4 samples, other batch sizes are refused. */
    CHECK(bp_net_backward(net, x, sample_y, 2, BP_REDUCE_MEAN, &loss) == BP_ERR_ARG, "m = 2 with masks of 4");
    CHECK(bp_net_set_dropout_mask(net, NULL, 4) == BP_OK, "remove masks");
    CHECK(bp_net_backward(net, x, sample_y, 2, BP_REDUCE_MEAN, &loss) == BP_OK, "m = 2 without masks");

    /* Transforms: one NULL of two; NaN and infinite values. */
    float shift[3] = {0, 0, 0}, scale[3] = {1, 1, 1};
    CHECK(bp_net_set_input_transform(net, shift, NULL) == BP_ERR_ARG, "shift without scale");
    CHECK(bp_net_set_input_transform(net, NULL, scale) == BP_ERR_ARG, "scale without shift");
    shift[1] = NAN;
    CHECK(bp_net_set_input_transform(net, shift, scale) == BP_ERR_NUMERIC, "NaN shift");
    shift[1] = 0, scale[2] = INFINITY;
    CHECK(bp_net_set_input_transform(net, shift, scale) == BP_ERR_NUMERIC, "infinite scale");
    CHECK(bp_net_get_input_transform(net, NULL, NULL) == 0, "no transform stored");
    scale[2] = 2;
    CHECK(bp_net_set_input_transform(net, shift, scale) == BP_OK, "a good transform");
    CHECK(bp_net_get_input_transform(net, NULL, NULL) == 1, "NULL out-pointers are allowed");
    /* A refused transform leaves the stored one as it was. */
    float bad_scale[3] = {1, NAN, 1};
    const float *kept_shift = NULL, *kept_scale = NULL;
    CHECK(bp_net_set_input_transform(net, shift, bad_scale) == BP_ERR_NUMERIC, "NaN scale");
    CHECK(bp_net_get_input_transform(net, &kept_shift, &kept_scale) == 1 && kept_scale[2] == 2,
          "the old transform is kept");
    bp_net_apply_input_transform(net, NULL, 4);
    bp_net_apply_input_transform(net, x, 0);
    CHECK(memcmp(x, sample_x, sizeof x) == 0, "m = 0 changes nothing");
    CHECK(bp_net_set_input_transform(net, NULL, NULL) == BP_OK, "remove it");

    /* Class names: wrong count, NULL entries, SIZE_MAX. */
    const char *two[] = {"left", "right"}, *with_null[] = {"left", NULL};
    CHECK(bp_net_set_class_names(net, two, 3) == BP_ERR_ARG, "3 names for 2 outputs");
    CHECK(bp_net_set_class_names(net, two, SIZE_MAX) == BP_ERR_ARG, "SIZE_MAX names");
    CHECK(bp_net_set_class_names(net, two, 0) == BP_ERR_ARG, "0 names");
    CHECK(bp_net_set_class_names(net, with_null, 2) == BP_ERR_ARG, "a NULL name");
    CHECK(bp_net_set_class_names(net, two, 2) == BP_OK, "two names");
    CHECK(bp_net_class_name(net, 2) == NULL && bp_net_class_name(net, SIZE_MAX) == NULL, "name past n_L");
    CHECK(bp_net_set_class_names(net, NULL, 0) == BP_OK, "remove them");
    CHECK(bp_net_class_name(net, 0) == NULL, "removed");

    /* Clone with NULL out. */
    CHECK(bp_net_clone(net, NULL) == BP_ERR_ARG, "clone NULL out");

    /* Verification: NULL buffers, m = 0, h not a positive finite number. */
    double grad[64], ref_loss = 0;
    CHECK(params <= 64, "small enough for grad");
    CHECK(bp_reference_gradient(net, x, sample_y, 4, BP_REDUCE_MEAN, &ref_loss, NULL) == BP_ERR_ARG, "NULL grad");
    CHECK(bp_reference_gradient(net, NULL, sample_y, 4, BP_REDUCE_MEAN, &ref_loss, grad) == BP_ERR_ARG, "NULL x");
    CHECK(bp_reference_gradient(net, x, NULL, 4, BP_REDUCE_MEAN, &ref_loss, grad) == BP_ERR_ARG, "NULL y");
    CHECK(bp_reference_gradient(net, x, sample_y, 0, BP_REDUCE_MEAN, &ref_loss, grad) == BP_ERR_ARG, "m = 0");
    CHECK(bp_reference_gradient(net, x, sample_y, 4, (bp_reduction)9, &ref_loss, grad) == BP_ERR_ARG, "red 9");
    CHECK(bp_reference_gradient(net, x, sample_y, 4, BP_REDUCE_MEAN, NULL, grad) == BP_OK, "NULL loss allowed");
    CHECK(bp_finite_difference_gradient(net, x, sample_y, 4, BP_REDUCE_MEAN, 0, grad) == BP_ERR_ARG, "h = 0");
    CHECK(bp_finite_difference_gradient(net, x, sample_y, 4, BP_REDUCE_MEAN, -1e-3, grad) == BP_ERR_ARG, "h < 0");
    CHECK(bp_finite_difference_gradient(net, x, sample_y, 4, BP_REDUCE_MEAN, NAN, grad) == BP_ERR_ARG, "h NaN");
    CHECK(bp_finite_difference_gradient(net, x, sample_y, 4, BP_REDUCE_MEAN, INFINITY, grad) == BP_ERR_ARG,
          "h infinite");
    CHECK(bp_finite_difference_gradient(net, x, sample_y, 4, BP_REDUCE_MEAN, 1e-3, NULL) == BP_ERR_ARG, "NULL grad");
    CHECK(bp_finite_difference_gradient(net, x, sample_y, 0, BP_REDUCE_MEAN, 1e-3, grad) == BP_ERR_ARG, "m = 0");
    CHECK(bp_reference_loss(net, NULL, x, sample_y, 4, BP_REDUCE_MEAN, NULL) == BP_ERR_ARG, "NULL loss out");
    CHECK(bp_reference_loss(net, NULL, x, sample_y, 0, BP_REDUCE_MEAN, &ref_loss) == BP_ERR_ARG, "m = 0");
    CHECK(bp_reference_loss(net, NULL, NULL, sample_y, 4, BP_REDUCE_MEAN, &ref_loss) == BP_ERR_ARG, "NULL x");
    CHECK(bp_reference_loss(net, NULL, x, sample_y, 4, (bp_reduction)5, &ref_loss) == BP_ERR_ARG, "red 5");
    CHECK(bp_relative_error(NULL, NULL, 0) == 0, "no values");
    CHECK(isinf(bp_relative_error(NULL, grad, 4)) && isinf(bp_relative_error(grad, NULL, 4)),
          "NULL never looks like agreement");
    const double zeros[2] = {0, 0};
    CHECK(bp_relative_error(zeros, zeros, 2) == 0, "all zero");

    /* Save: NULL path, empty path, a folder, a path whose folder is missing. */
    bp_error err = {0};
    CHECK(bp_net_save(net, NULL, &err) == BP_ERR_ARG, "save NULL path");
    CHECK(bp_net_save(net, "", &err) != BP_OK, "save empty path");
    CHECK(bp_net_save(net, "/tmp", &err) != BP_OK, "save onto a folder");
    CHECK(bp_net_save(net, "/nonexistent-dir/x/model.bpm", &err) == BP_ERR_IO, "save in a missing folder");
    CHECK(strstr(err.message, "/nonexistent-dir/x/model.bpm") != NULL, "names the path: %s", err.message);

    /* Explain: NULL text; x without y; NaN learning rate; format out of range. */
    char *text = NULL;
    bp_explain_options eo = {0};
    CHECK(bp_net_explain(net, NULL, NULL, NULL, NULL, &err) == BP_ERR_ARG, "explain NULL text");
    CHECK(bp_net_explain(net, x, NULL, NULL, &text, &err) == BP_ERR_ARG && text == NULL, "x without y");
    CHECK(bp_net_explain(net, NULL, sample_y, NULL, &text, &err) == BP_ERR_ARG && text == NULL, "y without x");
    eo.format = (bp_explain_format)9;
    CHECK(bp_net_explain(net, NULL, NULL, &eo, &text, &err) == BP_ERR_ARG && text == NULL, "format 9");
    eo.format = BP_EXPLAIN_TEXT, eo.learning_rate = NAN;
    CHECK(bp_net_explain(net, x, sample_y, &eo, &text, &err) == BP_ERR_ARG && text == NULL, "NaN eta");
    eo.learning_rate = -INFINITY;
    CHECK(bp_net_explain(net, x, sample_y, &eo, &text, &err) == BP_ERR_ARG && text == NULL, "-inf eta");
    eo.learning_rate = 0, eo.batch = SIZE_MAX;
    CHECK(bp_net_explain(net, NULL, NULL, &eo, &text, &err) == BP_OK && text != NULL, "batch SIZE_MAX is text");
    bp_free(text);
    text = NULL;
    eo.batch = 0, eo.sample_name = "\xff\xfe bad \"name\"", eo.format = BP_EXPLAIN_JSON;
    CHECK(bp_net_explain(net, x, sample_y, &eo, &text, &err) == BP_OK && text != NULL, "odd sample name");
    bp_free(text);

    /* Export: NULL outs, format out of range, a C name that is no identifier. */
    void *bytes = NULL;
    size_t size = 0;
    bp_export_options xo = {0};
    CHECK(bp_net_export(net, &xo, NULL, &size, &err) == BP_ERR_ARG, "NULL data");
    CHECK(bp_net_export(net, &xo, &bytes, NULL, &err) == BP_ERR_ARG && bytes == NULL, "NULL size");
    xo.format = (bp_export_format)9;
    CHECK(bp_net_export(net, &xo, &bytes, &size, &err) == BP_ERR_ARG && bytes == NULL, "format 9");
    xo.format = BP_EXPORT_C, xo.name = "1 bad-name";
    CHECK(bp_net_export(net, &xo, &bytes, &size, &err) == BP_ERR_ARG && bytes == NULL, "bad C name");
    xo.name = "";
    CHECK(bp_net_export(net, &xo, &bytes, &size, &err) == BP_ERR_ARG && bytes == NULL, "empty C name");
    xo.name = NULL, xo.source = "*/ int evil; /*\n\xff";
    CHECK(bp_net_export(net, &xo, &bytes, &size, &err) == BP_OK && bytes != NULL, "odd source");
    if (bytes) CHECK(strstr((const char *)bytes, "*/ int evil") == NULL, "source cannot end the comment");
    bp_free(bytes);

    /* Evaluate: NULL data, NULL metrics, widths that do not match. */
    bp_dataset *wrong = NULL, *right = NULL;
    CHECK(bp_dataset_create(4, 5, 2, &wrong) == BP_OK, "wrong widths");
    CHECK(bp_dataset_create(4, 3, 2, &right) == BP_OK, "right widths");
    bp_metrics metrics;
    CHECK(bp_net_evaluate(net, NULL, &metrics) == BP_ERR_ARG, "evaluate NULL data");
    CHECK(bp_net_evaluate(net, right, NULL) == BP_ERR_ARG, "evaluate NULL metrics");
    CHECK(bp_net_evaluate(net, wrong, &metrics) == BP_ERR_ARG, "evaluate wrong widths");
    bp_dataset *no_targets = NULL;
    CHECK(bp_dataset_create(4, 3, 0, &no_targets) == BP_OK, "no targets");
    CHECK(bp_net_evaluate(net, no_targets, &metrics) == BP_ERR_ARG, "evaluate without targets");

    /* Quantize: NULL calibration, wrong widths, NULL out; qnet forward misuse. */
    bp_qnet *q = NULL;
    CHECK(bp_qnet_create(net, NULL, &q, &err) == BP_ERR_ARG && q == NULL, "no calibration");
    CHECK(bp_qnet_create(net, wrong, &q, &err) == BP_ERR_ARG && q == NULL, "calibration of other width");
    CHECK(bp_qnet_create(net, right, NULL, &err) == BP_ERR_ARG, "NULL out");
    memcpy(bp_dataset_x(right), sample_x, sizeof sample_x);
    CHECK(bp_qnet_create(net, right, &q, &err) == BP_OK && q != NULL, "quantize: %s", err.message);
    if (q) {
        CHECK(bp_qnet_forward(NULL, x, 1, out) == BP_ERR_ARG, "qnet NULL");
        CHECK(bp_qnet_forward(q, NULL, 1, out) == BP_ERR_ARG, "qnet NULL x");
        CHECK(bp_qnet_forward(q, x, 1, NULL) == BP_ERR_ARG, "qnet NULL out");
        CHECK(bp_qnet_forward(q, NULL, 0, NULL) == BP_OK, "qnet m = 0 is nothing to do");
        s = bp_qnet_forward(q, x, SIZE_MAX, out);
        CHECK(s == BP_ERR_ARG || s == BP_ERR_NOMEM, "qnet SIZE_MAX: %d", (int)s);
        float nan_in[3] = {NAN, INFINITY, -INFINITY};
        s = bp_qnet_forward(q, nan_in, 1, out);
        CHECK(s == BP_OK || s == BP_ERR_NUMERIC || s == BP_ERR_ARG, "qnet NaN: %d", (int)s);
        /* Exporting a quantization of another shape is refused. */
        bp_net *other = NULL;
        size_t other_sizes[] = {3, 5, 2};
        bp_net_config oc = {.n_layers = 2, .sizes = other_sizes, .hidden = BP_ACT_RELU,
                            .output = BP_ACT_SOFTMAX, .loss = BP_LOSS_CE, .bias = 1};
        CHECK(bp_net_create(&oc, &other, NULL) == BP_OK, "other");
        bp_export_options qo = {.format = BP_EXPORT_C, .int8 = q};
        bytes = NULL;
        CHECK(bp_net_export(other, &qo, &bytes, &size, &err) == BP_ERR_ARG && bytes == NULL,
              "int8 of another network");
        bp_free(bytes);
        bp_net_free(other);
    }
    bp_qnet_free(q);
    bp_qnet_free(NULL);
    bp_dataset_free(wrong);
    bp_dataset_free(right);
    bp_dataset_free(no_targets);
    bp_net_free(net);
}

void test_api_misuse_datasets(void)
{
    bp_dataset *data = NULL;
    CHECK(bp_dataset_create(1, 1, 1, NULL) == BP_ERR_ARG, "NULL out");
    CHECK(bp_dataset_create(0, 3, 1, &data) == BP_ERR_ARG && data == NULL, "no samples");
    CHECK(bp_dataset_create(4, 0, 1, &data) == BP_ERR_ARG && data == NULL, "no inputs");
    bp_status s = bp_dataset_create(SIZE_MAX, 3, 1, &data);
    CHECK((s == BP_ERR_NOMEM || s == BP_ERR_ARG) && data == NULL, "SIZE_MAX samples: %d", (int)s);
    s = bp_dataset_create((size_t)1 << 40, (size_t)1 << 40, 1, &data);
    CHECK((s == BP_ERR_NOMEM || s == BP_ERR_ARG) && data == NULL, "2^80 inputs: %d", (int)s);
    s = bp_dataset_create(1 << 20, 1 << 20, (size_t)1 << 30, &data);
    CHECK((s == BP_ERR_NOMEM || s == BP_ERR_ARG) && data == NULL, "2^50 targets: %d", (int)s);
    float x[6] = {1, 2, 3, 4, 5, 6}, y[2] = {0, 1};
    CHECK(bp_dataset_wrap(2, 3, 1, NULL, y, &data) == BP_ERR_ARG, "wrap NULL x");
    CHECK(bp_dataset_wrap(2, 3, 1, x, NULL, &data) == BP_ERR_ARG, "wrap NULL y with targets");
    CHECK(bp_dataset_wrap(2, 3, 1, x, y, NULL) == BP_ERR_ARG, "wrap NULL out");
    CHECK(bp_dataset_wrap(0, 3, 1, x, y, &data) == BP_ERR_ARG, "wrap no samples");
    s = bp_dataset_wrap(SIZE_MAX, SIZE_MAX, 1, x, y, &data);
    CHECK(s == BP_ERR_NOMEM || s == BP_ERR_ARG, "wrap with an overflowing size: %d", (int)s);

    /* NULL data sets: queries give 0 / NULL, calls give BP_ERR_ARG. */
    bp_dataset_free(NULL);
    CHECK(bp_dataset_count(NULL) == 0 && bp_dataset_inputs(NULL) == 0 && bp_dataset_outputs(NULL) == 0,
          "sizes of NULL");
    CHECK(bp_dataset_x(NULL) == NULL && bp_dataset_y(NULL) == NULL && bp_dataset_x_const(NULL) == NULL &&
              bp_dataset_y_const(NULL) == NULL,
          "blocks of NULL");
    CHECK(bp_dataset_class_name(NULL, 0) == NULL, "name of NULL");
    const char *names[] = {"a", "b"};
    CHECK(bp_dataset_set_class_names(NULL, names, 2) == BP_ERR_ARG, "names on NULL");
    bp_error err = {0};
    CHECK(bp_dataset_write_csv(NULL, "/tmp/bp-misuse-never.csv", &err) == BP_ERR_ARG, "write NULL");
    CHECK(bp_dataset_write_fann(NULL, "/tmp/bp-misuse-never.data", &err) == BP_ERR_ARG, "write NULL");
    CHECK(access("/tmp/bp-misuse-never.csv", F_OK) != 0 && access("/tmp/bp-misuse-never.data", F_OK) != 0,
          "nothing written");
    size_t idx[2] = {0, 1};
    bp_dataset *sub = NULL, *second = NULL;
    CHECK(bp_dataset_subset(NULL, idx, 2, &sub) == BP_ERR_ARG && sub == NULL, "subset of NULL");
    CHECK(bp_dataset_split(NULL, 0.5, 1, &sub, &second) == BP_ERR_ARG && sub == NULL, "split NULL");
    float shift[3], scale[3];
    CHECK(bp_dataset_input_stats(NULL, BP_NORMALIZE_MINMAX, shift, scale) == BP_ERR_ARG, "stats NULL");
    CHECK(bp_dataset_apply_transform(NULL, shift, scale) == BP_ERR_ARG, "transform NULL");

    /* A real data set, misused. */
    CHECK(bp_dataset_create(4, 3, 2, &data) == BP_OK, "create");
    if (!data) return;
    memcpy(bp_dataset_x(data), sample_x, sizeof sample_x);
    memcpy(bp_dataset_y(data), sample_y, sizeof sample_y);
    CHECK(bp_dataset_class_name(data, 0) == NULL && bp_dataset_class_name(data, SIZE_MAX) == NULL, "no names");
    CHECK(bp_dataset_set_class_names(data, names, 3) == BP_ERR_ARG, "3 names for 2 outputs");
    CHECK(bp_dataset_set_class_names(data, NULL, 2) == BP_OK, "NULL names: none");
    const char *with_null[] = {"a", NULL};
    CHECK(bp_dataset_set_class_names(data, with_null, 2) == BP_ERR_ARG, "a NULL name");
    CHECK(bp_dataset_set_class_names(data, names, 2) == BP_OK, "two names");
    CHECK(bp_dataset_class_name(data, 2) == NULL, "name past the outputs");
    CHECK(bp_dataset_set_class_names(data, NULL, 0) == BP_OK && bp_dataset_class_name(data, 0) == NULL, "removed");
    CHECK(bp_dataset_set_class_names(data, names, 2) == BP_OK, "named again");

    size_t far[2] = {0, 4}, huge_idx[1] = {SIZE_MAX};
    CHECK(bp_dataset_subset(data, NULL, 2, &sub) == BP_ERR_ARG && sub == NULL, "NULL idx");
    CHECK(bp_dataset_subset(data, far, 2, &sub) == BP_ERR_ARG && sub == NULL, "index past the end");
    CHECK(bp_dataset_subset(data, huge_idx, 1, &sub) == BP_ERR_ARG && sub == NULL, "index SIZE_MAX");
    CHECK(bp_dataset_subset(data, idx, 0, &sub) == BP_ERR_ARG && sub == NULL, "no indices");
    CHECK(bp_dataset_subset(data, idx, 2, NULL) == BP_ERR_ARG, "NULL out");
    s = bp_dataset_subset(data, idx, SIZE_MAX, &sub);
    CHECK(s != BP_OK && sub == NULL, "SIZE_MAX indices: %d", (int)s);

    CHECK(bp_dataset_split(data, NAN, 1, &sub, &second) == BP_ERR_ARG && sub == NULL, "NaN fraction");
    CHECK(bp_dataset_split(data, INFINITY, 1, &sub, &second) == BP_ERR_ARG && sub == NULL, "inf fraction");
    CHECK(bp_dataset_split(data, -0.5, 1, &sub, &second) == BP_ERR_ARG && sub == NULL, "negative fraction");
    CHECK(bp_dataset_split(data, 1.5, 1, &sub, &second) == BP_ERR_ARG && sub == NULL, "fraction above 1");
    CHECK(bp_dataset_split(data, 0.5, 1, NULL, &second) == BP_ERR_ARG, "NULL first");
    CHECK(bp_dataset_split(data, 0.5, 1, &sub, NULL) == BP_ERR_ARG && sub == NULL, "NULL second");
    s = bp_dataset_split(data, 0.01, 1, &sub, &second);
    CHECK(s == BP_ERR_ARG || s == BP_OK, "a fraction leaving nothing: %d", (int)s);
    bp_dataset_free(sub);
    bp_dataset_free(second);
    sub = second = NULL;

    CHECK(bp_dataset_input_stats(data, (bp_normalize)9, shift, scale) == BP_ERR_ARG, "normalize 9");
    CHECK(bp_dataset_input_stats(data, BP_NORMALIZE_MINMAX, NULL, scale) == BP_ERR_ARG, "NULL shift");
    CHECK(bp_dataset_input_stats(data, BP_NORMALIZE_MINMAX, shift, NULL) == BP_ERR_ARG, "NULL scale");
    CHECK(bp_dataset_apply_transform(data, NULL, scale) == BP_ERR_ARG, "NULL shift");
    CHECK(bp_dataset_apply_transform(data, shift, NULL) == BP_ERR_ARG, "NULL scale");
    /* Stats of an input holding inf: an error or a finite transform, never NaN stored silently. */
    bp_dataset_x(data)[0] = INFINITY;
    s = bp_dataset_input_stats(data, BP_NORMALIZE_STANDARDIZE, shift, scale);
    CHECK(s == BP_ERR_NUMERIC, "stats over an infinite input: %d", (int)s);
    s = bp_dataset_input_stats(data, BP_NORMALIZE_MINMAX, shift, scale);
    CHECK(s == BP_ERR_NUMERIC, "min-max over an infinite input: %d", (int)s);
    /* A range of one subnormal step: 1 / range is no float. */
    for (int r = 0; r < 4; r++) bp_dataset_x(data)[r * 3] = r == 0 ? 1e-45f : 0.0f;
    s = bp_dataset_input_stats(data, BP_NORMALIZE_MINMAX, shift, scale);
    CHECK(s == BP_ERR_NUMERIC, "min-max over a subnormal range: %d", (int)s);
    bp_dataset_x(data)[0] = 0.1f;

    /* Writers: NULL path, a folder. */
    CHECK(bp_dataset_write_csv(data, NULL, &err) == BP_ERR_ARG, "write_csv NULL path");
    CHECK(bp_dataset_write_fann(data, NULL, &err) == BP_ERR_ARG, "write_fann NULL path");
    CHECK(bp_dataset_write_csv(data, "/tmp", &err) != BP_OK, "write_csv onto a folder");
    CHECK(bp_dataset_write_csv(data, "", &err) != BP_OK, "write_csv empty path");

    /* A wrapped data set is read-only. */
    bp_dataset *wrapped = NULL;
    CHECK(bp_dataset_wrap(2, 3, 1, x, y, &wrapped) == BP_OK, "wrap");
    CHECK(bp_dataset_x(wrapped) == NULL && bp_dataset_y(wrapped) == NULL, "read-only");
    float sh[3] = {0}, sc[3] = {1, 1, 1};
    CHECK(bp_dataset_apply_transform(wrapped, sh, sc) == BP_ERR_ARG, "transform refused");
    CHECK(bp_dataset_wrap(2, 3, 0, x, NULL, &sub) == BP_OK && bp_dataset_y_const(sub) == NULL, "wrap inputs only");
    bp_dataset_free(sub);
    bp_dataset_free(wrapped);
    bp_dataset_free(data);
}

void test_api_misuse_readers(void)
{
    bp_dataset *data = NULL;
    bp_error err = {0};
    bp_csv_options opt = {0};
    CHECK(bp_dataset_read_csv(NULL, &opt, &data, &err) == BP_ERR_ARG && data == NULL, "csv NULL path");
    CHECK(bp_dataset_read_csv("/dev/null", &opt, NULL, &err) == BP_ERR_ARG, "csv NULL out");
    CHECK(bp_dataset_read_csv("", &opt, &data, &err) != BP_OK && data == NULL, "csv empty path");
    CHECK(bp_dataset_read_csv("/tmp", &opt, &data, &err) != BP_OK && data == NULL, "csv folder");
    CHECK(bp_dataset_read_csv("/dev/null", &opt, &data, &err) != BP_OK && data == NULL, "csv empty file");
    CHECK(bp_dataset_read_csv("/nonexistent/\xff\xfe.csv", &opt, &data, &err) == BP_ERR_IO && data == NULL,
          "csv non-UTF-8 missing path");
    CHECK(err.message[0] != 0 && strlen(err.message) < sizeof err.message, "a message");
    CHECK(bp_dataset_read_csv_memory(NULL, 10, "x", &opt, &data, &err) == BP_ERR_ARG, "NULL text, len 10");
    CHECK(bp_dataset_read_csv_memory("", 0, "x", &opt, &data, &err) != BP_OK && data == NULL, "empty text");
    CHECK(bp_dataset_read_csv_memory("1,0\n", 4, NULL, &opt, &data, &err) == BP_OK || data == NULL,
          "NULL name does not crash");
    bp_dataset_free(data);
    data = NULL;
    const char *text = "1,2,0\n3,4,1\n";
    CHECK(bp_dataset_read_csv_memory(text, strlen(text), "t", &opt, NULL, &err) == BP_ERR_ARG, "NULL out");
    bp_csv_options bad = {.target = (bp_target_kind)9};
    CHECK(bp_dataset_read_csv_memory(text, strlen(text), "t", &bad, &data, &err) == BP_ERR_ARG && data == NULL,
          "target kind 9");
    bad = (bp_csv_options){.target = BP_TARGET_VALUES, .n_targets = SIZE_MAX};
    CHECK(bp_dataset_read_csv_memory(text, strlen(text), "t", &bad, &data, &err) != BP_OK && data == NULL,
          "SIZE_MAX targets");
    bad = (bp_csv_options){.target = BP_TARGET_VALUES, .n_targets = 3};
    CHECK(bp_dataset_read_csv_memory(text, strlen(text), "t", &bad, &data, &err) != BP_OK && data == NULL,
          "as many targets as columns");
    bad = (bp_csv_options){.target = BP_TARGET_CLASS, .n_targets = SIZE_MAX};
    CHECK(bp_dataset_read_csv_memory(text, strlen(text), "t", &bad, &data, &err) != BP_OK && data == NULL,
          "SIZE_MAX classes");
    bad = (bp_csv_options){.header = 7};
    CHECK(bp_dataset_read_csv_memory(text, strlen(text), "t", &bad, &data, &err) == BP_ERR_ARG && data == NULL,
          "header 7");
    const char *no_names[] = {"a", NULL};
    bad = (bp_csv_options){.target = BP_TARGET_CLASS, .n_targets = 2, .class_names = no_names};
    const char *labelled = "1,2,a\n3,4,a\n";
    CHECK(bp_dataset_read_csv_memory(labelled, strlen(labelled), "t", &bad, &data, &err) == BP_ERR_ARG &&
              data == NULL,
          "a NULL class name");
    bp_dataset_free(data);
    data = NULL;
    bad = (bp_csv_options){.target = BP_TARGET_CLASS, .n_targets = 0, .class_names = no_names};
    CHECK(bp_dataset_read_csv_memory(labelled, strlen(labelled), "t", &bad, &data, &err) == BP_ERR_ARG &&
              data == NULL,
          "names without a count");
    bp_dataset_free(data);
    data = NULL;

    CHECK(bp_dataset_read_idx(NULL, NULL, 0, &data, &err) == BP_ERR_ARG && data == NULL, "idx NULL images");
    CHECK(bp_dataset_read_idx("/dev/null", NULL, 0, NULL, &err) == BP_ERR_ARG, "idx NULL out");
    CHECK(bp_dataset_read_idx("/dev/null", NULL, 0, &data, &err) != BP_OK && data == NULL, "idx empty");
    CHECK(bp_dataset_read_idx("/nonexistent.idx", NULL, SIZE_MAX, &data, &err) != BP_OK && data == NULL,
          "idx SIZE_MAX classes");
    CHECK(bp_dataset_read_fann(NULL, &data, &err) == BP_ERR_ARG && data == NULL, "fann NULL path");
    CHECK(bp_dataset_read_fann("/dev/null", NULL, &err) == BP_ERR_ARG, "fann NULL out");
    CHECK(bp_dataset_read_fann("/dev/null", &data, &err) != BP_OK && data == NULL, "fann empty");

    bp_net *net = (bp_net *)&err;
    CHECK(bp_net_load(NULL, &net, &err) == BP_ERR_ARG, "load NULL path");
    CHECK(bp_net_load("/dev/null", NULL, &err) == BP_ERR_ARG, "load NULL out");
    net = NULL;
    CHECK(bp_net_load("/dev/null", &net, &err) != BP_OK && net == NULL, "load empty");
    CHECK(bp_net_load("/tmp", &net, &err) != BP_OK && net == NULL, "load a folder");
    CHECK(bp_net_load_memory(NULL, 100, "m", &net, &err) == BP_ERR_ARG && net == NULL, "NULL bytes, 100");
    CHECK(bp_net_load_memory("", 0, "m", &net, &err) != BP_OK && net == NULL, "no bytes");
    CHECK(bp_net_load_memory(NULL, 0, "m", &net, &err) == BP_ERR_ARG && net == NULL, "NULL bytes, 0");
    CHECK(bp_net_load_memory("\x89" "BPM", 4, NULL, &net, &err) != BP_OK && net == NULL, "NULL name");
    CHECK(bp_net_load_memory("abc", 3, "m", NULL, &err) == BP_ERR_ARG, "NULL out");

    bp_trainer *trainer = NULL;
    void *user = NULL;
    size_t user_len = 0;
    CHECK(bp_checkpoint_load(NULL, &net, &trainer, &user, &user_len, &err) == BP_ERR_ARG, "ckpt NULL path");
    CHECK(bp_checkpoint_load("/dev/null", NULL, &trainer, &user, &user_len, &err) == BP_ERR_ARG, "NULL net out");
    CHECK(bp_checkpoint_load("/dev/null", &net, NULL, &user, &user_len, &err) == BP_ERR_ARG, "NULL trainer out");
    CHECK(bp_checkpoint_load("/dev/null", &net, &trainer, &user, &user_len, &err) != BP_OK && net == NULL &&
              trainer == NULL,
          "ckpt empty file");

    /* A plain model is not a checkpoint: refused with a message, nothing returned. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/bp-misuse-model-%ld.bpm", (long)getpid());
    bp_net *model = make_net();
    CHECK(model && bp_net_save(model, path, &err) == BP_OK, "save");
    CHECK(bp_checkpoint_load(path, &net, &trainer, &user, &user_len, &err) != BP_OK && net == NULL &&
              trainer == NULL && user == NULL,
          "a model is not a checkpoint");
    CHECK(strstr(err.message, path) != NULL, "names the file: %s", err.message);
    /* user and user_len are optional. */
    bp_train_config tc = {.batch_size = 2};
    CHECK(bp_trainer_create(model, &tc, &trainer) == BP_OK, "trainer");
    CHECK(bp_checkpoint_save(NULL, path, NULL, 0, &err) == BP_ERR_ARG, "save NULL trainer");
    CHECK(bp_checkpoint_save(trainer, NULL, NULL, 0, &err) == BP_ERR_ARG, "save NULL path");
    CHECK(bp_checkpoint_save(trainer, path, NULL, 5, &err) == BP_ERR_ARG, "NULL user, 5 bytes");
    CHECK(bp_checkpoint_save(trainer, path, "u", SIZE_MAX, &err) != BP_OK, "SIZE_MAX user bytes");
    CHECK(bp_checkpoint_save(trainer, path, "u", 1, &err) == BP_OK, "save");
    bp_trainer *t2 = NULL;
    CHECK(bp_checkpoint_load(path, &net, &t2, NULL, NULL, &err) == BP_OK && net && t2, "NULL user outs");
    bp_trainer_free(t2);
    bp_net_free(net);
    bp_trainer_free(trainer);
    bp_net_free(model);
    remove(path);
}

/* One process's allreduce: the sum over one process is the values themselves. */
static int sum_alone(void *context, float *values, size_t n)
{
    (void)context, (void)values, (void)n;
    return 0;
}

static int start_alone(void *context, float *values, size_t n) { return sum_alone(context, values, n); }

static int wait_alone(void *context)
{
    (void)context;
    return 0;
}

static int count_steps(void *context, size_t done, size_t total)
{
    (void)done, (void)total;
    ++*(int *)context;
    return 0;
}

void test_api_misuse_trainer(void)
{
    bp_net *net = make_net();
    CHECK(net != NULL, "network");
    if (!net) return;
    bp_train_config good = {.learning_rate = 0.1, .batch_size = 2, .seed = 3};
    bp_trainer *trainer = NULL;
    CHECK(bp_trainer_create(net, NULL, &trainer) == BP_ERR_ARG || (bp_trainer_free(trainer), 1),
          "NULL config: an error or the defaults");
    trainer = NULL;
    CHECK(bp_trainer_create(net, &good, NULL) == BP_ERR_ARG, "NULL out");

    /* Settings that must be refused: NaN, infinity, negatives, enums out of range. */
    struct {
        const char *what;
        bp_train_config config;
    } bad[] = {
        {"NaN eta", {.learning_rate = NAN}},
        {"inf eta", {.learning_rate = INFINITY}},
        {"negative eta", {.learning_rate = -0.1}},
        {"NaN momentum", {.momentum = NAN}},
        {"momentum 1", {.optimizer = BP_OPT_MOMENTUM, .momentum = 1.0}},
        {"negative momentum", {.momentum = -0.5}},
        {"NaN beta1", {.optimizer = BP_OPT_ADAM, .beta1 = NAN}},
        {"beta2 2", {.optimizer = BP_OPT_ADAM, .beta2 = 2}},
        {"negative epsilon", {.optimizer = BP_OPT_ADAM, .epsilon = -1}},
        {"NaN weight decay", {.weight_decay = NAN}},
        {"inf weight decay", {.weight_decay = INFINITY}},
        {"NaN clip", {.clip_norm = NAN}},
        {"negative clip", {.clip_norm = -1}},
        {"reduction 9", {.reduction = (bp_reduction)9}},
        {"optimizer 99", {.optimizer = (bp_optimizer)99}},
        {"optimizer -1", {.optimizer = (bp_optimizer)-1}},
        {"schedule 9", {.schedule = (bp_schedule)9}},
        {"cosine without epochs", {.schedule = BP_SCHEDULE_COSINE}},
        {"NaN gamma", {.schedule = BP_SCHEDULE_STEP, .gamma = NAN}},
        {"NaN step epochs", {.schedule = BP_SCHEDULE_STEP, .step_epochs = NAN}},
        {"inf min lr", {.schedule = BP_SCHEDULE_COSINE, .epochs = 5, .min_lr = INFINITY}},
        {"NaN warm-up", {.warmup_epochs = NAN}},
        {"negative warm-up", {.warmup_epochs = -1}},
        {"precision 9", {.precision = (bp_precision)9}},
        {"rank >= ranks", {.rank = 2, .ranks = 2, .allreduce = NULL}},
        {"lbfgs history SIZE_MAX", {.optimizer = BP_OPT_LBFGS, .lbfgs_history = SIZE_MAX}},
        {"NaN tolerance", {.optimizer = BP_OPT_LBFGS, .tolerance = NAN}},
        {"NaN rprop step", {.optimizer = BP_OPT_RPROP, .rprop_step0 = NAN}},
        {"rprop step0 > max", {.optimizer = BP_OPT_RPROP, .rprop_step0 = 10, .rprop_step_max = 1}},
        {"inf rprop max", {.optimizer = BP_OPT_RPROP, .rprop_step_max = INFINITY}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        trainer = NULL;
        bp_status s = bp_trainer_create(net, &bad[i].config, &trainer);
        /* rank >= ranks without allreduce: one process, the rank fields ignored; accepted. */
        if (i == 24) {
            CHECK(s == BP_OK || s == BP_ERR_ARG, "%s: %d", bad[i].what, (int)s);
        } else {
            CHECK(s == BP_ERR_ARG && trainer == NULL, "%s: status %d", bad[i].what, (int)s);
        }
        bp_trainer_free(trainer);
    }

    /* NULL trainers: queries give 0, calls give BP_ERR_ARG. */
    double loss = 0;
    bp_epoch_stats stats;
    bp_train_config got;
    int stop = 0;
    bp_trainer_free(NULL);
    CHECK(bp_trainer_step(NULL, sample_x, sample_y, 2, &loss) == BP_ERR_ARG, "step NULL");
    CHECK(bp_trainer_epoch(NULL, NULL, &stats) == BP_ERR_ARG, "epoch NULL");
    CHECK(bp_trainer_run(NULL, NULL, 0, &stats) == BP_ERR_ARG, "run NULL");
    CHECK(bp_trainer_epochs_done(NULL) == 0 && bp_trainer_steps_done(NULL) == 0, "counts of NULL");
    CHECK(bp_trainer_learning_rate(NULL) == 0, "eta of NULL");
    CHECK(bp_trainer_get_config(NULL, &got) == BP_ERR_ARG, "config of NULL");
    CHECK(bp_trainer_set_learning_rate(NULL, 0.1) == BP_ERR_ARG, "set eta on NULL");
    CHECK(bp_trainer_observe(NULL, 1.0, 3, &stop) == BP_ERR_ARG, "observe NULL");
    CHECK(bp_trainer_restore_best(NULL) == BP_ERR_ARG, "restore NULL");
    bp_trainer_set_callback(NULL, NULL, NULL);
    CHECK(bp_trainer_set_parallel(NULL, 0, 1, NULL, NULL) == BP_ERR_ARG, "parallel NULL");
    CHECK(bp_trainer_set_overlap(NULL, NULL, NULL) == BP_ERR_ARG, "overlap NULL");
    CHECK(bp_trainer_set_precision(NULL, BP_PRECISION_FP32) == BP_ERR_ARG, "precision NULL");
    bp_device_options dev = {0};
    CHECK(bp_trainer_set_device(NULL, &dev, NULL) == BP_ERR_ARG, "device NULL");
    CHECK(bp_trainer_device(NULL) == BP_DEVICE_CPU, "device of NULL");
    CHECK(bp_trainer_device_message(NULL) != NULL, "message of NULL is a string");

    /* A real trainer, misused. */
    trainer = NULL;
    CHECK(bp_trainer_create(net, &good, &trainer) == BP_OK, "trainer");
    if (!trainer) {
        bp_net_free(net);
        return;
    }
    CHECK(bp_trainer_get_config(trainer, NULL) == BP_ERR_ARG, "NULL config out");
    CHECK(bp_trainer_get_best(NULL, NULL, NULL) == BP_ERR_ARG, "books of NULL");
    CHECK(bp_trainer_get_best(trainer, NULL, NULL) == BP_OK, "books with both outs NULL");
    CHECK(bp_trainer_step(trainer, NULL, sample_y, 2, &loss) == BP_ERR_ARG, "step NULL x");
    CHECK(bp_trainer_step(trainer, sample_x, NULL, 2, &loss) == BP_ERR_ARG, "step NULL y");
    CHECK(bp_trainer_step(trainer, sample_x, sample_y, 0, &loss) == BP_ERR_ARG, "step m = 0");
    bp_status s = bp_trainer_step(trainer, sample_x, sample_y, SIZE_MAX, &loss);
    CHECK(s == BP_ERR_ARG || s == BP_ERR_NOMEM, "step SIZE_MAX: %d", (int)s);
    CHECK(bp_trainer_step(trainer, sample_x, sample_y, 2, NULL) == BP_OK, "step without loss");
    CHECK(bp_trainer_steps_done(trainer) == 0, "bp_trainer_step is not counted: %zu", bp_trainer_steps_done(trainer));
    CHECK(bp_trainer_set_learning_rate(trainer, NAN) == BP_ERR_ARG, "eta NaN");
    CHECK(bp_trainer_set_learning_rate(trainer, INFINITY) == BP_ERR_ARG, "eta inf");
    CHECK(bp_trainer_set_learning_rate(trainer, 0) == BP_ERR_ARG, "eta 0");
    CHECK(bp_trainer_set_learning_rate(trainer, -1) == BP_ERR_ARG, "eta -1");
    CHECK(bp_trainer_learning_rate(trainer) == 0.1, "eta kept: %g", bp_trainer_learning_rate(trainer));
    CHECK(bp_trainer_observe(trainer, NAN, 3, &stop) == BP_ERR_ARG || stop == 0, "NaN validation loss");
    CHECK(bp_trainer_observe(trainer, 1.0, 3, NULL) == BP_OK, "observe: stop may be NULL");
    CHECK(bp_trainer_restore_best(trainer) == BP_OK, "restore after a finite observation");
    CHECK(bp_trainer_set_precision(trainer, (bp_precision)9) == BP_ERR_ARG, "precision 9");
    CHECK(bp_trainer_set_precision(trainer, (bp_precision)-1) == BP_ERR_ARG, "precision -1");
    CHECK(bp_trainer_set_parallel(trainer, 2, 2, sum_alone, NULL) == BP_ERR_ARG, "rank 2 of 2");
    CHECK(bp_trainer_set_parallel(trainer, 0, 0, sum_alone, NULL) == BP_ERR_ARG, "no ranks");
    CHECK(bp_trainer_set_parallel(trainer, SIZE_MAX, SIZE_MAX, sum_alone, NULL) == BP_ERR_ARG, "rank SIZE_MAX");
    CHECK(bp_trainer_set_overlap(trainer, start_alone, NULL) == BP_ERR_ARG, "start without wait");
    CHECK(bp_trainer_set_overlap(trainer, NULL, wait_alone) == BP_ERR_ARG, "wait without start");
    CHECK(bp_trainer_set_parallel(trainer, 0, 1, NULL, NULL) == BP_OK, "clearing parallel");
    CHECK(bp_trainer_set_overlap(trainer, NULL, NULL) == BP_OK, "clear overlap");
    dev.device = (bp_device)9;
    CHECK(bp_trainer_set_device(trainer, &dev, NULL) != BP_OK, "device 9");
    CHECK(bp_trainer_device(trainer) == BP_DEVICE_CPU, "still on the CPU");
    dev = (bp_device_options){.device = BP_DEVICE_CPU, .cuda_path = (bp_cuda_path)9};
    CHECK(bp_trainer_set_device(trainer, &dev, NULL) == BP_OK, "the CPU ignores the CUDA fields");
    CHECK(bp_trainer_set_device(trainer, NULL, NULL) == BP_OK, "NULL options: back to the CPU");

    /* Epochs: NULL data, NULL stats, data of the wrong width. */
    bp_dataset *data = NULL, *wrong = NULL, *inputs_only = NULL;
    CHECK(bp_dataset_create(4, 3, 2, &data) == BP_OK, "data");
    CHECK(bp_dataset_create(4, 3, 3, &wrong) == BP_OK, "wrong");
    CHECK(bp_dataset_create(4, 3, 0, &inputs_only) == BP_OK, "inputs only");
    memcpy(bp_dataset_x(data), sample_x, sizeof sample_x);
    memcpy(bp_dataset_y(data), sample_y, sizeof sample_y);
    CHECK(bp_trainer_epoch(trainer, NULL, &stats) == BP_ERR_ARG, "epoch NULL data");
    CHECK(bp_trainer_epoch(trainer, wrong, &stats) == BP_ERR_ARG, "epoch wrong width");
    CHECK(bp_trainer_epoch(trainer, inputs_only, &stats) == BP_ERR_ARG, "epoch without targets");
    CHECK(bp_trainer_run(trainer, wrong, 1, &stats) == BP_ERR_ARG, "run wrong width");
    CHECK(bp_trainer_epoch(trainer, data, NULL) == BP_OK, "NULL stats allowed");
    CHECK(bp_trainer_run(trainer, data, SIZE_MAX, &stats) == BP_OK, "SIZE_MAX steps: to the end");

    /* Several trainers on one network are legal: each keeps its own state. */
    bp_trainer *second = NULL;
    bp_train_config adam = {.optimizer = BP_OPT_ADAM, .batch_size = 4};
    CHECK(bp_trainer_create(net, &adam, &second) == BP_OK, "second trainer");
    int steps = 0;
    bp_trainer_set_callback(second, count_steps, &steps);
    CHECK(bp_trainer_epoch(second, data, &stats) == BP_OK && stats.steps == 1, "second trains");
    CHECK(steps == 1, "its callback ran: %d", steps);
    CHECK(bp_trainer_epoch(trainer, data, &stats) == BP_OK, "the first still trains");
    CHECK(bp_trainer_steps_done(second) == 1, "second's count is its own");
    CHECK(isfinite(bp_net_params(net)[0]), "parameters finite");
    bp_trainer_free(second);
    CHECK(bp_trainer_epoch(trainer, data, &stats) == BP_OK, "the first trains after the second is freed");

    bp_dataset_free(inputs_only);
    bp_dataset_free(wrong);
    bp_dataset_free(data);
    bp_trainer_free(trainer);
    bp_net_free(net);
}

/* A step refused before it starts (a batch too large to hold) is no step: the next one
   draws the dropout masks and takes the update an untouched trainer would. Checked on the
   fused SGD path (the update inside the backward pass), which counted the refused step. */
void test_api_misuse_refused_step_is_not_counted(void)
{
    static const size_t sizes[] = {3, 4, 2};
    const double dropout[] = {0.5};
    bp_net_config config = {.n_layers = 2, .sizes = sizes, .hidden = BP_ACT_TANH, .output = BP_ACT_SOFTMAX,
                            .loss = BP_LOSS_CE, .bias = 1, .seed = 11, .dropout = dropout};
    bp_net *a = NULL, *b = NULL;
    bp_trainer *ta = NULL, *tb = NULL;
    bp_train_config tc = {.learning_rate = 0.5, .batch_size = 4, .seed = 5};
    CHECK(bp_net_create(&config, &a, NULL) == BP_OK && bp_net_create(&config, &b, NULL) == BP_OK, "nets");
    CHECK(a && b && bp_trainer_create(a, &tc, &ta) == BP_OK && bp_trainer_create(b, &tc, &tb) == BP_OK, "trainers");
    if (!ta || !tb) goto done;
    bp_status s = bp_trainer_step(ta, sample_x, sample_y, SIZE_MAX, NULL);
    CHECK(s == BP_ERR_NOMEM || s == BP_ERR_ARG, "SIZE_MAX samples refused: %d", (int)s);
    double la = 0, lb = 0;
    for (int i = 0; i < 3; i++) {
        CHECK(bp_trainer_step(ta, sample_x, sample_y, 4, &la) == BP_OK, "step a");
        CHECK(bp_trainer_step(tb, sample_x, sample_y, 4, &lb) == BP_OK, "step b");
    }
    CHECK(la == lb, "same losses: %.9g %.9g", la, lb);
    CHECK(memcmp(bp_net_params(a), bp_net_params(b), bp_net_param_count(a) * sizeof(float)) == 0,
          "the refused step changed nothing");
done:
    bp_trainer_free(ta);
    bp_trainer_free(tb);
    bp_net_free(a);
    bp_net_free(b);
}
