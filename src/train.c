/*
 * train.c - the training loop: batches from a data set, backward, update.
 *
 * Data flows one way: data set -> shuffled batch -> bp_net_backward (forward,
 * loss, backward) -> optimizer. Per-sample (batch 1), mini-batch and
 * full-batch descent are the same loop with different batch sizes. Buffers
 * for gathering a batch are allocated once, the first time a batch size is
 * seen, never per step.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "optimizer.h"
#include "rng.h"

struct bp_trainer {
    bp_net *net;
    bp_train_config config;
    bp_rng rng;
    float *velocity;        /* momentum state, one per parameter (NULL without momentum) */
    size_t *order;          /* sample order of the current epoch */
    size_t order_n;
    float *xb, *yb;         /* the gathered batch */
    size_t batch_capacity;
    size_t epoch;
};

bp_status bp_trainer_create(bp_net *net, const bp_train_config *config, bp_trainer **out)
{
    if (!net || !config || !out) return BP_ERR_ARG;
    *out = NULL;
    if (!(config->learning_rate >= 0) || !isfinite(config->learning_rate) ||
        !(config->momentum >= 0 && config->momentum < 1) ||
        (unsigned)config->reduction > BP_REDUCE_SUM)
        return BP_ERR_ARG;
    bp_trainer *t = calloc(1, sizeof *t);
    if (!t) return BP_ERR_NOMEM;
    t->net = net;
    t->config = *config;
    if (t->config.learning_rate == 0) t->config.learning_rate = 0.1;
    bp_rng_seed(&t->rng, config->seed);
    if (config->momentum > 0) {
        t->velocity = calloc(net->n_params, sizeof(float));
        if (!t->velocity) {
            free(t);
            return BP_ERR_NOMEM;
        }
    }
    *out = t;
    return BP_OK;
}

void bp_trainer_free(bp_trainer *t)
{
    if (!t) return;
    free(t->velocity);
    free(t->order);
    bp_free_aligned(t->xb);
    bp_free_aligned(t->yb);
    free(t);
}

bp_status bp_trainer_step(bp_trainer *t, const float *x, const float *y, size_t m, double *loss)
{
    if (!t || !x || !y || m == 0) return BP_ERR_ARG;
    double l = 0.0;
    bp_status s = bp_net_backward(t->net, x, y, m, t->config.reduction, &l);
    if (loss) *loss = l;
    if (s != BP_OK) return s;
    bp_sgd_update(t->net->params, t->net->grads, t->velocity, t->net->n_params,
                  (float)t->config.learning_rate, (float)t->config.momentum);
    return BP_OK;
}

static bp_status ensure_buffers(bp_trainer *t, size_t n, size_t batch, size_t n_in, size_t n_out)
{
    if (t->order_n != n) {
        size_t *order = malloc(n * sizeof(size_t));
        if (!order) return BP_ERR_NOMEM;
        for (size_t i = 0; i < n; i++) order[i] = i;
        free(t->order);
        t->order = order;
        t->order_n = n;
    }
    if (batch > t->batch_capacity) {
        size_t nx, ny;
        if (bp_mul_overflows(batch, n_in * sizeof(float), &nx) ||
            bp_mul_overflows(batch, n_out * sizeof(float), &ny))
            return BP_ERR_NOMEM;
        float *xb = bp_alloc_aligned(nx), *yb = bp_alloc_aligned(ny);
        if (!xb || !yb) {
            bp_free_aligned(xb);
            bp_free_aligned(yb);
            return BP_ERR_NOMEM;
        }
        bp_free_aligned(t->xb);
        bp_free_aligned(t->yb);
        t->xb = xb;
        t->yb = yb;
        t->batch_capacity = batch;
    }
    return BP_OK;
}

bp_status bp_trainer_epoch(bp_trainer *t, const bp_dataset *data, bp_epoch_stats *stats)
{
    if (!t || !data) return BP_ERR_ARG;
    bp_net *net = t->net;
    size_t n = bp_dataset_count(data), n_in = bp_dataset_inputs(data), n_out = bp_dataset_outputs(data);
    if (n_in != net->sizes[0] || n_out != net->sizes[net->n_layers]) return BP_ERR_ARG;
    size_t batch = t->config.batch_size == 0 || t->config.batch_size > n ? n : t->config.batch_size;
    bp_status s = ensure_buffers(t, n, batch, n_in, n_out);
    if (s != BP_OK) return s;
    if (!t->config.no_shuffle) bp_rng_shuffle(&t->rng, t->order, n);

    const float *x = bp_dataset_x_const(data), *y = bp_dataset_y_const(data);
    double loss_sum = 0.0;
    size_t steps = 0;
    for (size_t start = 0; start < n; start += batch) {
        size_t m = n - start < batch ? n - start : batch;
        /* Gather the batch's rows into contiguous buffers (m x n_in, m x n_out). */
        for (size_t k = 0; k < m; k++) {
            size_t i = t->order[start + k];
            memcpy(t->xb + k * n_in, x + i * n_in, n_in * sizeof(float));
            memcpy(t->yb + k * n_out, y + i * n_out, n_out * sizeof(float));
        }
        double loss = 0.0;
        s = bp_trainer_step(t, t->xb, t->yb, m, &loss);
        if (s != BP_OK) return s;
        /* Back to a per-sample sum whatever the reduction, so epochs compare. */
        loss_sum += t->config.reduction == BP_REDUCE_SUM ? loss : loss * (double)m;
        steps++;
    }
    t->epoch++;
    if (stats) {
        stats->loss = loss_sum / (double)n;
        stats->steps = steps;
        stats->samples = n;
    }
    return BP_OK;
}
