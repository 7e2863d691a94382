/*
 * train.c - the training loop: batches from a data set, backward, update.
 *
 * Data flows one way: data set -> shuffled batch -> bp_net_backward (forward,
 * loss, backward) -> gradient clipping -> optimizer (optimizer.c). Per-sample
 * (batch 1), mini-batch and full-batch descent are the same loop with
 * different batch sizes. The learning rate follows the schedule per step.
 * Early stopping keeps a copy of the best parameters. Buffers are allocated
 * when the trainer is made or the first time a batch size is seen, never per
 * step.
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
    bp_update update;       /* the rule and its state blocks */
    bp_rng rng;
    size_t *order;          /* sample order of the current epoch */
    size_t order_n;
    float *xb, *yb;         /* the gathered batch */
    size_t batch_capacity;
    size_t epoch;           /* epochs completed */
    double epoch_progress;  /* fraction of the current epoch done, for the schedule */
    float *best;            /* early stopping: the best parameters so far (or NULL) */
    double best_loss;
    size_t bad_epochs;
};

static int bad(double v) { return !isfinite(v) || v < 0; }

bp_status bp_trainer_create(bp_net *net, const bp_train_config *config, bp_trainer **out)
{
    if (!net || !config || !out) return BP_ERR_ARG;
    *out = NULL;
    bp_train_config c = *config;
    if ((unsigned)c.optimizer > BP_OPT_RPROP || (unsigned)c.schedule > BP_SCHEDULE_COSINE ||
        (unsigned)c.reduction > BP_REDUCE_SUM || bad(c.learning_rate) || bad(c.momentum) ||
        c.momentum >= 1 || bad(c.beta1) || c.beta1 >= 1 || bad(c.beta2) || c.beta2 >= 1 ||
        bad(c.epsilon) || bad(c.weight_decay) || bad(c.clip_norm) || bad(c.step_epochs) ||
        bad(c.gamma) || bad(c.min_lr) || bad(c.warmup_epochs))
        return BP_ERR_ARG;
    /* Defaults for the zeros. */
    int adam = c.optimizer == BP_OPT_ADAM || c.optimizer == BP_OPT_ADAMW;
    if (c.learning_rate == 0) c.learning_rate = adam ? 0.001 : 0.1;
    if (c.optimizer == BP_OPT_SGD && c.momentum > 0) c.optimizer = BP_OPT_MOMENTUM;
    if ((c.optimizer == BP_OPT_MOMENTUM || c.optimizer == BP_OPT_NESTEROV) && c.momentum == 0)
        c.momentum = 0.9;
    if (c.beta1 == 0) c.beta1 = 0.9;
    if (c.beta2 == 0) c.beta2 = 0.999;
    if (c.epsilon == 0) c.epsilon = 1e-8;
    if (c.step_epochs == 0) c.step_epochs = 10;
    if (c.gamma == 0) c.gamma = 0.1;
    if (c.schedule == BP_SCHEDULE_COSINE && c.epochs == 0) return BP_ERR_ARG;
    /* RPROP adapts to the sign of the whole-data-set gradient: full batch only. */
    if (c.optimizer == BP_OPT_RPROP) {
        c.batch_size = 0;
        c.reduction = BP_REDUCE_SUM; /* RPROP ignores the scale; FANN sums too */
    }

    bp_trainer *t = calloc(1, sizeof *t);
    if (!t) return BP_ERR_NOMEM;
    t->net = net;
    t->config = c;
    t->update.kind = c.optimizer;
    t->update.lr = (float)c.learning_rate;
    t->update.momentum = (float)c.momentum;
    t->update.beta1 = (float)c.beta1;
    t->update.beta2 = (float)c.beta2;
    t->update.epsilon = (float)c.epsilon;
    t->update.weight_decay = (float)c.weight_decay;
    int blocks = bp_update_state_blocks(c.optimizer);
    size_t n = net->n_params;
    if (blocks >= 1) t->update.state1 = malloc(n * sizeof(float));
    if (blocks >= 2) t->update.state2 = malloc(n * sizeof(float));
    if ((blocks >= 1 && !t->update.state1) || (blocks >= 2 && !t->update.state2)) {
        bp_trainer_free(t);
        return BP_ERR_NOMEM;
    }
    bp_update_init_state(&t->update, n);
    bp_rng_seed(&t->rng, c.seed);
    t->best_loss = INFINITY;
    *out = t;
    return BP_OK;
}

void bp_trainer_free(bp_trainer *t)
{
    if (!t) return;
    free(t->update.state1);
    free(t->update.state2);
    free(t->order);
    free(t->best);
    bp_free_aligned(t->xb);
    bp_free_aligned(t->yb);
    free(t);
}

/* The learning rate at a fractional epoch position e (0 = the start of training). */
static double schedule_at(const bp_train_config *c, double e)
{
    double lr = c->learning_rate;
    switch (c->schedule) {
    case BP_SCHEDULE_CONSTANT: break;
    case BP_SCHEDULE_STEP: lr *= pow(c->gamma, floor(e / c->step_epochs)); break;
    case BP_SCHEDULE_COSINE: {
        double f = e / (double)c->epochs;
        if (f > 1) f = 1;
        lr = c->min_lr + (lr - c->min_lr) * 0.5 * (1.0 + cos(3.14159265358979323846 * f));
        break;
    }
    }
    if (c->warmup_epochs > 0 && e < c->warmup_epochs) lr *= e / c->warmup_epochs;
    return lr;
}

size_t bp_trainer_epochs_done(const bp_trainer *t) { return t ? t->epoch : 0; }

double bp_trainer_learning_rate(const bp_trainer *t)
{
    return t ? schedule_at(&t->config, (double)t->epoch + t->epoch_progress) : 0.0;
}

bp_status bp_trainer_step(bp_trainer *t, const float *x, const float *y, size_t m, double *loss)
{
    if (!t || !x || !y || m == 0) return BP_ERR_ARG;
    bp_net *net = t->net;
    double l = 0.0;
    bp_optimizer kind = t->update.kind;
    /* Gradient descent and momentum fold into the backward pass itself (dense.c) when
       nothing needs the whole gradient first (clipping needs its norm). */
    if (t->config.clip_norm == 0 &&
        (kind == BP_OPT_SGD || (kind == BP_OPT_MOMENTUM && t->update.weight_decay == 0.0f))) {
        bp_fused_step step = {(float)bp_trainer_learning_rate(t), t->update.momentum, t->update.weight_decay,
                              kind == BP_OPT_MOMENTUM ? t->update.state1 : NULL};
        t->update.step++;
        bp_status s = bp_net_backward_step(net, x, y, m, t->config.reduction, &l, &step);
        if (loss) *loss = l;
        return s;
    }
    bp_status s = bp_net_backward(net, x, y, m, t->config.reduction, &l);
    if (loss) *loss = l;
    if (s != BP_OK) return s;
    if (t->config.clip_norm > 0) {
        /* Rescale the whole gradient, keeping its direction, when it is too long. */
        double norm = bp_norm2(net->grads, net->n_params);
        if (!isfinite(norm)) return BP_ERR_NUMERIC;
        if (norm > t->config.clip_norm) {
            float f = (float)(t->config.clip_norm / norm);
            for (size_t i = 0; i < net->n_params; i++) net->grads[i] *= f;
        }
    }
    t->update.lr = (float)bp_trainer_learning_rate(t);
    bp_update_apply(&t->update, net->params, net->grads, net->n_params);
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
        t->epoch_progress = (double)start / (double)n;
        const float *xs = x + start * n_in, *ys = y + start * n_out;
        if (!t->config.no_shuffle && m == 1) {
            /* One sample needs no gathering: point at it. */
            xs = x + t->order[start] * n_in;
            ys = y + t->order[start] * n_out;
        } else if (!t->config.no_shuffle) {
            /* Gather the batch's rows into contiguous buffers (m x n_in, m x n_out). */
            for (size_t k = 0; k < m; k++) {
                size_t i = t->order[start + k];
                memcpy(t->xb + k * n_in, x + i * n_in, n_in * sizeof(float));
                memcpy(t->yb + k * n_out, y + i * n_out, n_out * sizeof(float));
            }
            xs = t->xb;
            ys = t->yb;
        }
        double loss = 0.0;
        s = bp_trainer_step(t, xs, ys, m, &loss);
        if (s != BP_OK) return s;
        /* Back to a per-sample sum whatever the reduction, so epochs compare. */
        loss_sum += t->config.reduction == BP_REDUCE_SUM ? loss : loss * (double)m;
        steps++;
        if (t->config.on_step) t->config.on_step(t->config.context, start + m, n);
    }
    t->epoch++;
    t->epoch_progress = 0.0;
    if (stats) {
        stats->loss = loss_sum / (double)n;
        stats->steps = steps;
        stats->samples = n;
    }
    return isfinite(loss_sum) ? BP_OK : BP_ERR_NUMERIC;
}

bp_status bp_trainer_observe(bp_trainer *t, double validation_loss, size_t patience, int *stop)
{
    if (!t) return BP_ERR_ARG;
    if (stop) *stop = 0;
    if (!t->best) {
        t->best = malloc(t->net->n_params * sizeof(float));
        if (!t->best) return BP_ERR_NOMEM;
    }
    if (validation_loss < t->best_loss) {
        t->best_loss = validation_loss;
        t->bad_epochs = 0;
        memcpy(t->best, t->net->params, t->net->n_params * sizeof(float));
    } else {
        t->bad_epochs++;
        if (stop && patience > 0 && t->bad_epochs >= patience) *stop = 1;
    }
    return BP_OK;
}

bp_status bp_trainer_restore_best(bp_trainer *t)
{
    if (!t || !t->best || !isfinite(t->best_loss)) return BP_ERR_ARG;
    memcpy(t->net->params, t->best, t->net->n_params * sizeof(float));
    return BP_OK;
}
