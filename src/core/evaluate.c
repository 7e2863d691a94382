/*
 * evaluate.c - loss, accuracy and mean squared error of a network on a data set.
 *
 * Runs the forward pass in chunks so memory stays bounded whatever the data
 * set's size; it never touches the gradients.
 */
#include <math.h>

#include "loss.h"
#include "network.h"

#define EVAL_CHUNK 256

static size_t argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

bp_status bp_net_evaluate(bp_net *net, const bp_dataset *data, bp_metrics *metrics)
{
    if (!net || !data || !metrics) return BP_ERR_ARG;
    size_t n = bp_dataset_count(data), n_in = bp_dataset_inputs(data), n_out = bp_dataset_outputs(data);
    if (n_in != net->sizes[0] || n_out != net->sizes[net->n_layers]) return BP_ERR_ARG;
    const float *x = bp_dataset_x_const(data), *y = bp_dataset_y_const(data);

    /* Classification when every target is one-hot (or 0/1 with a single output). */
    int classify = 1;
    for (size_t i = 0; i < n && classify; i++) {
        size_t ones = 0;
        for (size_t k = 0; k < n_out; k++) {
            float v = y[i * n_out + k];
            if (v == 1.0f) ones++;
            else if (v != 0.0f) classify = 0;
        }
        if (n_out > 1 && ones != 1) classify = 0;
    }

    double loss = 0.0, sq = 0.0;
    size_t correct = 0;
    for (size_t start = 0; start < n; start += EVAL_CHUNK) {
        size_t m = n - start < EVAL_CHUNK ? n - start : EVAL_CHUNK;
        const float *xs = x + start * n_in, *ys = y + start * n_out;
        bp_status s = bp_net_forward(net, xs, m, NULL);
        if (s != BP_OK) return s;
        const bp_layer *top = &net->layers[net->n_layers];
        loss += bp_loss_sum(net->loss, top->z, top->a, ys, m, n_out);
        for (size_t k = 0; k < m; k++) {
            const float *a = top->a + k * n_out, *t = ys + k * n_out;
            for (size_t i = 0; i < n_out; i++) sq += ((double)a[i] - t[i]) * ((double)a[i] - t[i]);
            if (classify) {
                if (n_out == 1)
                    correct += (a[0] >= 0.5f) == (t[0] == 1.0f);
                else
                    correct += argmax(a, n_out) == argmax(t, n_out);
            }
        }
    }
    metrics->samples = n;
    metrics->loss = loss / (double)n;
    metrics->mse = sq / ((double)n * (double)n_out);
    metrics->accuracy = classify ? (double)correct / (double)n : -1.0;
    return isfinite(metrics->loss) ? BP_OK : BP_ERR_NUMERIC;
}
