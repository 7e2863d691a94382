/*
 * trainer.c - the training loop: batches from a data set, backward, update.
 *
 * Data flows one way: data set -> shuffled batch -> backward pass (forward,
 * loss, backward; passes.c) -> gradient clipping -> optimizer (optimizer.c).
 * Per-sample (batch 1), mini-batch and full-batch descent are the same loop
 * with different batch sizes; the learning rate follows the schedule per step.
 * How a run is computed (on the GPU, the tiny per-sample path, data-parallel,
 * the update fused into the backward pass, or the general way) is decided in
 * one place, plan.c; this file carries the plan out and keeps the books:
 * position in the epoch, losses, steps, early stopping. Buffers are allocated
 * when the trainer is made or the first time a batch size is seen, never per
 * step. The trainer's state goes to checkpoints as a bp_trainer_state
 * (trainer.h); io/checkpoint.c writes it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activation.h"
#include "cuda/cuda.h"
#include "lbfgs.h"
#include "memory.h"
#include "network.h"
#include "optimizer.h"
#include "parallel.h"
#include "passes.h"
#include "plan.h"
#include "precision.h"
#include "rng.h"
#include "status.h"
#include "tiny_sgd.h"
#include "trainer.h"

struct bp_trainer {
    bp_net *net;
    bp_train_config config;   /* defaults applied */
    bp_update update;         /* the rule and its state blocks */
    bp_lbfgs *lbfgs;          /* L-BFGS's history and line search (lbfgs.c), or NULL */
    int converged;            /* L-BFGS has stopped */
    bp_rng rng;
    size_t *order;            /* sample order of the current epoch */
    size_t order_n;
    float *xb, *yb;           /* the gathered batch */
    size_t batch_capacity;
    size_t epoch;             /* epochs completed */
    double epoch_progress;    /* fraction of the current epoch done, for the schedule */
    size_t position;          /* samples of the current epoch already trained on */
    double epoch_loss;        /* sum of per-sample losses of the current epoch so far */
    size_t epoch_steps;       /* steps of the current epoch so far */
    size_t steps;             /* steps since training began */
    float *best;              /* early stopping: the best parameters so far (or NULL) */
    double best_loss;
    size_t bad_epochs;
    bp_cuda *gpu;             /* bp_trainer_set_device(CUDA): the GPU trainer, or NULL */
    char device_message[256]; /* what the device last reported: why a run failed, or its profile */
};

/* ------------------------------------------------------------ settings */

static int bad(double v) { return !isfinite(v) || v < 0; }

/* Check c and fill in the defaults for its zeros; 0 when it is invalid. */
static int resolve_config(bp_train_config *c)
{
    if ((unsigned)c->optimizer > BP_OPT_LBFGS || (unsigned)c->schedule > BP_SCHEDULE_COSINE ||
        (unsigned)c->reduction > BP_REDUCE_SUM || bad(c->learning_rate) || bad(c->momentum) ||
        c->momentum >= 1 || bad(c->beta1) || c->beta1 >= 1 || bad(c->beta2) || c->beta2 >= 1 ||
        bad(c->epsilon) || bad(c->weight_decay) || bad(c->clip_norm) || bad(c->step_epochs) ||
        bad(c->gamma) || bad(c->min_lr) || bad(c->warmup_epochs) || bad(c->tolerance) || c->lbfgs_history > 1000)
        return 0;
    const int adam = c->optimizer == BP_OPT_ADAM || c->optimizer == BP_OPT_ADAMW;
    if (c->learning_rate == 0) c->learning_rate = adam ? 0.001 : 0.1;
    if (c->optimizer == BP_OPT_SGD && c->momentum > 0) c->optimizer = BP_OPT_MOMENTUM;
    if ((c->optimizer == BP_OPT_MOMENTUM || c->optimizer == BP_OPT_NESTEROV) && c->momentum == 0)
        c->momentum = 0.9;
    if (c->beta1 == 0) c->beta1 = 0.9;
    if (c->beta2 == 0) c->beta2 = 0.999;
    if (c->epsilon == 0) c->epsilon = 1e-8;
    if (c->step_epochs == 0) c->step_epochs = 10;
    if (c->gamma == 0) c->gamma = 0.1;
    if (c->schedule == BP_SCHEDULE_COSINE && c->epochs == 0) return 0;
    if (c->allreduce && (c->ranks < 1 || c->rank >= c->ranks)) return 0;
    if (!c->allreduce) c->rank = 0, c->ranks = 1;
    if (!c->allreduce_start != !c->allreduce_wait) return 0;
    /* RPROP's steps: each from the smallest step to a float-safe 1e30, the first no larger
       than the largest. Filled in for every optimizer, so a checkpoint stores numbers. */
    if (c->rprop_step0 == 0) c->rprop_step0 = BP_RPROP_STEP0;
    if (c->rprop_step_max == 0) c->rprop_step_max = BP_RPROP_STEP_MAX;
    if (!(c->rprop_step0 >= BP_RPROP_STEP_MIN && c->rprop_step0 <= 1e30) ||
        !(c->rprop_step_max >= BP_RPROP_STEP_MIN && c->rprop_step_max <= 1e30) || c->rprop_step0 > c->rprop_step_max)
        return 0;
    /* RPROP adapts to the sign of the whole-data-set gradient: full batch only. */
    if (c->optimizer == BP_OPT_RPROP) {
        c->batch_size = 0;
        c->reduction = BP_REDUCE_SUM; /* RPROP ignores the scale; FANN sums too */
    }
    /* L-BFGS minimizes the mean loss over the whole data set (lbfgs.c). */
    if (c->optimizer == BP_OPT_LBFGS) {
        c->batch_size = 0;
        c->reduction = BP_REDUCE_MEAN;
        if (c->lbfgs_history == 0) c->lbfgs_history = 10;
        if (c->tolerance == 0) c->tolerance = 1e-4;
        if (c->max_evaluations == 0) c->max_evaluations = 15000;
    }
    return 1;
}

bp_status bp_trainer_create(bp_net *net, const bp_train_config *config, bp_trainer **out)
{
    if (!net || !config || !out) return BP_ERR_ARG;
    *out = NULL;
    bp_train_config c = *config;
    if (!resolve_config(&c)) return BP_ERR_ARG;
    /* Dropout makes the loss random, which L-BFGS's line search cannot work with. */
    if (c.optimizer == BP_OPT_LBFGS && net->has_dropout) return BP_ERR_ARG;
    const bp_status precision_ok = bp_precision_check(c.precision);
    if (precision_ok != BP_OK) return precision_ok;
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
    t->update.rprop_step0 = (float)c.rprop_step0;
    t->update.rprop_step_max = (float)c.rprop_step_max;
    const int blocks = bp_update_state_blocks(c.optimizer);
    const size_t n = net->n_params;
    if (blocks >= 1) t->update.state1 = malloc(n * sizeof(float));
    if (blocks >= 2) t->update.state2 = malloc(n * sizeof(float));
    if ((blocks >= 1 && !t->update.state1) || (blocks >= 2 && !t->update.state2)) {
        bp_trainer_free(t);
        return BP_ERR_NOMEM;
    }
    bp_update_init_state(&t->update, n);
    if (c.optimizer == BP_OPT_LBFGS &&
        !(t->lbfgs = bp_lbfgs_create(n, c.lbfgs_history, c.tolerance, c.max_evaluations))) {
        bp_trainer_free(t);
        return BP_ERR_NOMEM;
    }
    bp_rng_seed(&t->rng, c.seed);
    t->best_loss = INFINITY;
    *out = t;
    return BP_OK;
}

void bp_trainer_free(bp_trainer *t)
{
    if (!t) return;
    bp_cuda_free(t->gpu);
    bp_lbfgs_free(t->lbfgs);
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
size_t bp_trainer_steps_done(const bp_trainer *t) { return t ? t->steps : 0; }

double bp_trainer_learning_rate(const bp_trainer *t)
{
    return t ? schedule_at(&t->config, (double)t->epoch + t->epoch_progress) : 0.0;
}

bp_status bp_trainer_get_config(const bp_trainer *t, bp_train_config *out)
{
    if (!t || !out) return BP_ERR_ARG;
    *out = t->config;
    return BP_OK;
}

bp_status bp_trainer_set_learning_rate(bp_trainer *t, double learning_rate)
{
    if (!t || !isfinite(learning_rate) || learning_rate <= 0) return BP_ERR_ARG;
    if (t->gpu) return BP_ERR_UNSUPPORTED;
    /* Every CPU path reads the base rate from the config at each step (through
       schedule_at, or directly on the tiny path), so this is all a change needs. */
    t->config.learning_rate = learning_rate;
    return BP_OK;
}

/* ---------------------------------------------------------------- one step */

/* The update from the gradient block: clip its norm if asked, take the scheduled
   learning rate, apply the optimizer. */
static bp_status apply_gradient(bp_trainer *t)
{
    bp_net *net = t->net;
    if (t->config.clip_norm > 0) {
        /* Rescale the whole gradient, keeping its direction, when it is too long. */
        double norm = bp_norm2(net->grads, net->n_params);
        if (!isfinite(norm)) return BP_ERR_NUMERIC;
        if (norm > t->config.clip_norm) bp_scale_block(net->grads, net->n_params, (float)(t->config.clip_norm / norm));
    }
    t->update.lr = (float)bp_trainer_learning_rate(t);
    bp_update_apply(&t->update, net->params, net->grads, net->n_params);
    return BP_OK;
}

/* BP_PLAN_LAYERWISE: the update of the layer the backward pass just finished. */
static void update_layer(void *context, size_t offset, size_t n)
{
    bp_trainer *t = context;
    bp_update_range(&t->update, t->net->params, t->net->grads, offset, n);
}

static bp_status step_in_precision(bp_trainer *t, const float *x, const float *y, size_t m, double *loss);

bp_status bp_trainer_step(bp_trainer *t, const float *x, const float *y, size_t m, double *loss)
{
    if (!t || !x || !y || m == 0) return BP_ERR_ARG;
    if (t->lbfgs) return BP_ERR_UNSUPPORTED; /* an iteration is over the whole data set */
    const int saved = bp_precision_enter(t->net, t->config.precision);
    const bp_status s = step_in_precision(t, x, y, m, loss);
    bp_precision_leave(t->net, saved);
    return s;
}

static bp_status step_in_precision(bp_trainer *t, const float *x, const float *y, size_t m, double *loss)
{
    bp_net *net = t->net;
    double l = 0.0;
    /* This step's dropout masks: from the run's seed and the step count (checkpointed). */
    const bp_dropout drop = {t->config.seed, t->update.step, NULL};
    const bp_dropout *dropout = net->has_dropout ? &drop : NULL;
    if (bp_plan_step(&t->config) == BP_PLAN_FUSED) {
        bp_fused_step step = {(float)bp_trainer_learning_rate(t), t->update.momentum, t->update.weight_decay,
                              t->update.kind == BP_OPT_MOMENTUM ? t->update.state1 : NULL};
        t->update.step++;
        bp_status s = bp_net_backward_dropout(net, x, y, m, t->config.reduction, &l, &step, dropout);
        if (loss) *loss = l;
        /* Refused before any update (a batch too large, say): not a step. A NaN loss is
           counted, so that steps_done names the step that diverged. */
        if (s != BP_OK && s != BP_ERR_NUMERIC) t->update.step--;
        return s;
    }
    if (bp_plan_step(&t->config) == BP_PLAN_LAYERWISE) {
        t->update.lr = (float)bp_trainer_learning_rate(t);
        bp_update_begin(&t->update);
        const bp_layer_hook after = {update_layer, t};
        bp_status s = bp_net_backward_layerwise(net, x, y, m, t->config.reduction, &l, &after, dropout);
        if (loss) *loss = l;
        if (s != BP_OK) t->update.step--; /* no layer was updated (a NaN loss stops it first) */
        return s;
    }
    bp_status s = bp_net_backward_dropout(net, x, y, m, t->config.reduction, &l, NULL, dropout);
    if (loss) *loss = l;
    if (s != BP_OK) return s;
    if (!isfinite(l)) return BP_ERR_NUMERIC; /* never apply a step computed from NaN */
    return apply_gradient(t);
}

/* ------------------------------------------------------------------ a run */

/* The data set being trained on, as plain arrays. */
typedef struct {
    const float *x, *y;
    size_t n, n_in, n_out;
} epoch_data;

static bp_status ensure_buffers(bp_trainer *t, size_t n, size_t batch, size_t n_in, size_t n_out)
{
    if (!t->order || t->order_n != n) {
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

/* Samples [lo, hi) of the batch that starts at epoch position `start`, in this
   epoch's order, copied into the contiguous buffers xb and yb. */
static void gather(bp_trainer *t, const epoch_data *d, size_t start, size_t lo, size_t hi)
{
    for (size_t k = lo; k < hi; k++) {
        size_t i = t->config.no_shuffle ? start + k : t->order[start + k];
        memcpy(t->xb + (k - lo) * d->n_in, d->x + i * d->n_in, d->n_in * sizeof(float));
        memcpy(t->yb + (k - lo) * d->n_out, d->y + i * d->n_out, d->n_out * sizeof(float));
    }
}

/* A step of m samples with batch loss `loss` (mean or sum as configured) is done. */
static void count_step(bp_trainer *t, size_t m, double loss)
{
    /* Back to a per-sample sum whatever the reduction, so epochs compare. */
    t->epoch_loss += t->config.reduction == BP_REDUCE_SUM ? loss : loss * (double)m;
    t->epoch_steps++;
    t->position += m;
}

/* Tells the caller's callback; 1 when it asks to stop. */
static int report_progress(const bp_trainer *t, size_t n)
{
    return t->config.on_step && t->config.on_step(t->config.context, t->position, n) != 0;
}

/* BP_PLAN_CUDA: the whole run on the GPU; the parameters come back at its end. */
static bp_status run_on_gpu(bp_trainer *t, const epoch_data *d, size_t batch, size_t max_steps)
{
    bp_cuda_result r;
    bp_status s = bp_cuda_run(t->gpu, t->net->params, t->update.state1, d->x, d->y, d->n, d->n_in, d->n_out,
                              t->order, t->position, batch, max_steps, &r, t->device_message,
                              sizeof t->device_message);
    if (s != BP_OK) return s;
    t->steps += r.steps;
    t->epoch_steps += r.steps;
    t->update.step += r.steps;
    t->position += r.samples;
    t->epoch_loss += r.loss_sum;
    if (!isfinite(r.loss_sum)) return BP_ERR_NUMERIC;
    report_progress(t, d->n);
    return BP_OK;
}

/* Samples the tiny-network path trains between two calls of on_step. */
#define TINY_CHUNK 4096

/* BP_PLAN_TINY_SGD: chunks of samples through tiny_sgd.c. */
static bp_status run_tiny(bp_trainer *t, const epoch_data *d, size_t max_steps)
{
    size_t done = 0;
    while (t->position < d->n && (max_steps == 0 || done < max_steps)) {
        const size_t start = t->position;
        size_t count = d->n - start < TINY_CHUNK ? d->n - start : TINY_CHUNK;
        if (max_steps && count > max_steps - done) count = max_steps - done;
        /* In file order the samples are simply the next `count` rows. */
        const int ordered = t->config.no_shuffle;
        double loss = bp_tiny_sgd_epoch(t->net, ordered ? d->x + start * d->n_in : d->x,
                                        ordered ? d->y + start * d->n_out : d->y, ordered ? NULL : t->order + start,
                                        count, (float)t->config.learning_rate, (float)t->config.weight_decay);
        t->update.step += count;
        t->steps += count;
        t->epoch_steps += count;
        t->position += count;
        done += count;
        t->epoch_loss += loss;
        if (!isfinite(loss)) return BP_ERR_NUMERIC;
        if (report_progress(t, d->n)) break;
    }
    return BP_OK;
}

/* One data-parallel step: this process's share [lo, hi) of the batch of m samples
   at epoch position start, the gradient summed over all processes, then the update. */
static bp_status parallel_step(bp_trainer *t, const epoch_data *d, size_t start, size_t m, double *loss)
{
    const size_t lo = m * t->config.rank / t->config.ranks, hi = m * (t->config.rank + 1) / t->config.ranks;
    gather(t, d, start, lo, hi);
    bp_status s = bp_parallel_gradient(t->net, &t->config, t->xb, t->yb, hi - lo, m, loss);
    return s != BP_OK ? s : apply_gradient(t);
}

/* One step on this process alone: the batch's rows gathered (or pointed at), then
   bp_trainer_step. */
static bp_status local_step(bp_trainer *t, const epoch_data *d, size_t start, size_t m, double *loss)
{
    const float *xs = d->x + start * d->n_in, *ys = d->y + start * d->n_out;
    if (!t->config.no_shuffle && m == 1) {
        /* One sample needs no gathering: point at it. */
        xs = d->x + t->order[start] * d->n_in;
        ys = d->y + t->order[start] * d->n_out;
    } else if (!t->config.no_shuffle) {
        /* Gather the batch's rows into contiguous buffers (m x n_in, m x n_out). */
        gather(t, d, start, 0, m);
        xs = t->xb;
        ys = t->yb;
    }
    bp_status s = bp_trainer_step(t, xs, ys, m, loss);
    return s == BP_OK && !isfinite(*loss) ? BP_ERR_NUMERIC : s;
}

/* BP_PLAN_PARALLEL, BP_PLAN_FUSED, BP_PLAN_LAYERWISE and BP_PLAN_GENERAL: step after
   step on the CPU (bp_trainer_step tells the last three apart). */
static bp_status run_steps(bp_trainer *t, const epoch_data *d, size_t batch, size_t max_steps, int parallel)
{
    for (size_t done = 0; t->position < d->n && (max_steps == 0 || done < max_steps); done++) {
        const size_t start = t->position, m = d->n - start < batch ? d->n - start : batch;
        t->epoch_progress = (double)start / (double)d->n;
        double loss = 0.0;
        t->steps++; /* counted first, so that after a failure steps_done names the step */
        bp_status s = parallel ? parallel_step(t, d, start, m, &loss) : local_step(t, d, start, m, &loss);
        if (s != BP_OK) return s;
        count_step(t, m, loss);
        if (report_progress(t, d->n)) break;
    }
    return BP_OK;
}

/* BP_PLAN_LBFGS: one iteration over the whole data set; the epoch is done in one go. */
static bp_status run_lbfgs(bp_trainer *t, const epoch_data *d)
{
    if (t->config.ranks > 1) return BP_ERR_UNSUPPORTED; /* no data-parallel L-BFGS (lbfgs.c) */
    const bp_lbfgs_problem problem = {d->x, d->y, d->n, d->n_in, d->n_out, t->config.weight_decay};
    double loss = 0.0;
    int stepped = 0;
    bp_status s = bp_lbfgs_iterate(t->lbfgs, t->net, &problem, &loss, &stepped);
    if (s != BP_OK) return s;
    t->converged = bp_lbfgs_converged(t->lbfgs);
    t->steps += (size_t)stepped;
    t->epoch_steps += (size_t)stepped;
    t->update.step += (uint64_t)stepped;
    t->position = d->n;
    t->epoch_loss = loss * (double)d->n;
    report_progress(t, d->n);
    return BP_OK;
}

/* The end of a run: the statistics, and the books closed when the epoch ended. */
static void finish_run(bp_trainer *t, size_t n, bp_epoch_stats *stats)
{
    const int complete = t->position >= n;
    if (stats) {
        stats->loss = t->position ? t->epoch_loss / (double)t->position : 0.0;
        stats->steps = t->epoch_steps;
        stats->samples = t->position;
        stats->complete = complete;
        stats->converged = t->converged;
    }
    if (complete) {
        t->epoch++;
        t->epoch_progress = 0.0;
        t->position = 0;
    }
}

bp_status bp_trainer_run(bp_trainer *t, const bp_dataset *data, size_t max_steps, bp_epoch_stats *stats)
{
    if (!t || !data) return BP_ERR_ARG;
    bp_net *net = t->net;
    const epoch_data d = {bp_dataset_x_const(data), bp_dataset_y_const(data), bp_dataset_count(data),
                          bp_dataset_inputs(data), bp_dataset_outputs(data)};
    if (d.n_in != net->sizes[0] || d.n_out != net->sizes[net->n_layers]) return BP_ERR_ARG;
    /* A checkpoint made on another data set cannot continue on this one. */
    if (t->order && t->order_n != d.n && t->position > 0) return BP_ERR_ARG;
    const size_t batch = t->config.batch_size == 0 || t->config.batch_size > d.n ? d.n : t->config.batch_size;
    bp_status s = ensure_buffers(t, d.n, batch, d.n_in, d.n_out);
    if (s != BP_OK) return s;
    if (t->position == 0) {
        if (!t->config.no_shuffle) bp_rng_shuffle(&t->rng, t->order, d.n);
        t->epoch_loss = 0.0;
        t->epoch_steps = 0;
    }
    const bp_plan_inputs in = {&t->config, net, batch, t->gpu != NULL};
    const bp_plan plan = bp_plan_choose(&in);
    /* Data-parallel processes would each need the masks of their rows of the global
       batch: not done yet. */
    if (plan == BP_PLAN_PARALLEL && net->has_dropout) return BP_ERR_UNSUPPORTED;
    const int saved = bp_precision_enter(net, t->config.precision);
    switch (plan) {
    case BP_PLAN_CUDA: s = run_on_gpu(t, &d, batch, max_steps); break;
    case BP_PLAN_TINY_SGD: s = run_tiny(t, &d, max_steps); break;
    case BP_PLAN_PARALLEL:
    case BP_PLAN_FUSED:
    case BP_PLAN_LAYERWISE:
    case BP_PLAN_GENERAL: s = run_steps(t, &d, batch, max_steps, plan == BP_PLAN_PARALLEL); break;
    case BP_PLAN_LBFGS: s = run_lbfgs(t, &d); break;
    }
    bp_precision_leave(net, saved);
    if (s != BP_OK) return s;
    finish_run(t, d.n, stats);
    return BP_OK;
}

bp_status bp_trainer_epoch(bp_trainer *t, const bp_dataset *data, bp_epoch_stats *stats)
{
    return bp_trainer_run(t, data, 0, stats);
}

/* ------------------------------------------------- callbacks and processes */

void bp_trainer_set_callback(bp_trainer *t, int (*on_step)(void *, size_t, size_t), void *context)
{
    if (!t) return;
    t->config.on_step = on_step;
    t->config.context = context;
}

bp_status bp_trainer_set_parallel(bp_trainer *t, size_t rank, size_t ranks,
                                  int (*allreduce)(void *, float *, size_t), void *context)
{
    if (!t || (allreduce && (ranks < 1 || rank >= ranks))) return BP_ERR_ARG;
    t->config.allreduce = allreduce;
    t->config.allreduce_context = context;
    t->config.rank = allreduce ? rank : 0;
    t->config.ranks = allreduce ? ranks : 1;
    return BP_OK;
}

bp_status bp_trainer_set_precision(bp_trainer *t, bp_precision precision)
{
    if (!t) return BP_ERR_ARG;
    const bp_status s = bp_precision_check(precision);
    if (s == BP_OK) t->config.precision = precision;
    return s;
}

bp_status bp_trainer_set_overlap(bp_trainer *t, int (*start)(void *, float *, size_t), int (*wait)(void *))
{
    if (!t || !start != !wait) return BP_ERR_ARG;
    t->config.allreduce_start = start;
    t->config.allreduce_wait = wait;
    return BP_OK;
}

/* ------------------------------------------------------------------ devices */

/* Why the CUDA path cannot train with these settings yet, or NULL when it can. */
static const char *cuda_refuses(const bp_trainer *t)
{
    const bp_train_config *c = &t->config;
    if (c->schedule != BP_SCHEDULE_CONSTANT || c->warmup_epochs > 0) return "learning-rate schedules or warm-up";
    if (c->clip_norm > 0) return "gradient clipping";
    if (c->ranks > 1) return "several processes (mpirun)";
    if (t->net->has_dropout) return "dropout";
    return NULL;
}

/* What the GPU needs to know of the network and the update rule. */
static bp_cuda_model cuda_model_of(const bp_trainer *t, const bp_device_options *o)
{
    const bp_net *net = t->net;
    bp_cuda_model m = {0};
    m.n_layers = net->n_layers;
    memcpy(m.sizes, net->sizes, (net->n_layers + 1) * sizeof(size_t));
    m.hidden = net->hidden;
    m.output = net->output;
    m.leaky_slope = BP_LEAKY_SLOPE;
    m.loss = net->loss;
    m.bias = net->bias;
    m.n_params = net->n_params;
    m.reduction = t->config.reduction;
    m.momentum = t->update.kind == BP_OPT_MOMENTUM;
    m.lr = t->update.lr;
    m.mu = t->update.momentum;
    m.weight_decay = t->update.weight_decay;
    m.tf32 = o->tf32 != 0;
    m.path = o->cuda_path;
    m.fused_tail = o->fused_tail;
    m.fused_carry = !o->fused_no_carry;
    m.head = !o->no_head;
    m.profile = o->profile != 0;
    return m;
}

bp_status bp_trainer_set_device(bp_trainer *t, const bp_device_options *options, bp_error *err)
{
    if (!t) return bp_fail(err, BP_ERR_ARG, "no trainer given");
    bp_device_options o = {0};
    if (options) o = *options;
    if (o.device == BP_DEVICE_CPU) {
        bp_cuda_free(t->gpu);
        t->gpu = NULL;
        return BP_OK;
    }
    if (o.device != BP_DEVICE_CUDA) return bp_fail(err, BP_ERR_ARG, "unknown device %d", (int)o.device);
    if ((unsigned)o.cuda_path > BP_CUDA_PATH_FUSED || o.fused_tail < 0)
        return bp_fail(err, BP_ERR_ARG, "unknown CUDA path %d or fused tail %d", (int)o.cuda_path, o.fused_tail);
    if (t->update.kind != BP_OPT_SGD && t->update.kind != BP_OPT_MOMENTUM)
        return bp_fail(err, BP_ERR_UNSUPPORTED, "the CUDA path trains with sgd or momentum so far, not %s; "
                       "train on the CPU", bp_optimizer_name(t->update.kind));
    const char *no = cuda_refuses(t);
    if (no) return bp_fail(err, BP_ERR_UNSUPPORTED, "the CUDA path does not do %s yet; train on the CPU", no);
    const bp_cuda_model m = cuda_model_of(t, &o);
    bp_cuda *gpu = NULL;
    bp_status s = bp_cuda_create(&m, &gpu, err);
    if (s != BP_OK) return s;
    bp_cuda_free(t->gpu);
    t->gpu = gpu;
    return BP_OK;
}

bp_device bp_trainer_device(const bp_trainer *t) { return t && t->gpu ? BP_DEVICE_CUDA : BP_DEVICE_CPU; }

const char *bp_trainer_device_message(const bp_trainer *t) { return t ? t->device_message : ""; }

int bp_cuda_devices(void) { return bp_cuda_device_count(); }

/* ----------------------------------------------------------- early stopping */

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

bp_status bp_trainer_get_best(const bp_trainer *t, double *best_loss, size_t *epochs_since)
{
    if (!t) return BP_ERR_ARG;
    const int has = t->best && isfinite(t->best_loss);
    if (best_loss) *best_loss = has ? t->best_loss : INFINITY;
    if (epochs_since) *epochs_since = has ? t->bad_epochs : 0;
    return BP_OK;
}

/* ------------------------------------------------------- checkpoint state */

bp_net *bp_trainer_net(const bp_trainer *t) { return t ? t->net : NULL; }

void bp_trainer_get_state(const bp_trainer *t, bp_trainer_state *out)
{
    memset(out, 0, sizeof *out);
    out->config = t->config;
    for (int i = 0; i < 4; i++) out->rng[i] = t->rng.s[i];
    out->epoch = t->epoch;
    out->position = t->position;
    out->epoch_steps = t->epoch_steps;
    out->steps = t->steps;
    out->update_step = t->update.step;
    out->epoch_loss = t->epoch_loss;
    out->epoch_progress = t->epoch_progress;
    out->order = t->order;
    out->order_n = t->order ? t->order_n : 0;
    out->n_params = t->net->n_params;
    out->state_blocks = bp_update_state_blocks(t->update.kind);
    out->state[0] = t->update.state1;
    out->state[1] = t->update.state2;
    out->best = t->best;
    out->best_loss = t->best_loss;
    out->bad_epochs = t->bad_epochs;
    if (t->lbfgs) {
        out->has_lbfgs = 1;
        bp_lbfgs_get_state(t->lbfgs, &out->lbfgs);
    }
}

/* What is wrong with a saved state, or NULL. */
static const char *state_problem(const bp_net *net, const bp_trainer_state *s)
{
    bp_train_config c = s->config;
    if (!resolve_config(&c)) return "invalid training settings";
    if (s->n_params != net->n_params) return "its parameter count is not the model's";
    if (s->state_blocks != bp_update_state_blocks(c.optimizer))
        return "its optimizer state does not match its optimizer";
    for (size_t i = 0; i < s->order_n; i++)
        if (s->order[i] >= s->order_n) return "its sample order names a sample beyond the data set";
    if (s->order_n && s->position > s->order_n) return "its position lies beyond the end of the epoch";
    /* xoshiro256** never leaves the all-zero state, in which it returns 0 forever
       (and the next shuffle would never end); seeding never produces it, so a file
       that holds it was not written by a trainer. */
    if ((s->rng[0] | s->rng[1] | s->rng[2] | s->rng[3]) == 0)
        return "the random generator's state is all zero, which no run produces";
    if (s->has_lbfgs != (c.optimizer == BP_OPT_LBFGS)) return "its L-BFGS state does not match its optimizer";
    return NULL;
}

/* Copies the arrays of a saved state into a new trainer. */
static bp_status copy_state_arrays(bp_trainer *t, const bp_trainer_state *s)
{
    const size_t n = s->n_params;
    if (s->order_n) {
        t->order = malloc(s->order_n * sizeof(size_t));
        if (!t->order) return BP_ERR_NOMEM;
        memcpy(t->order, s->order, s->order_n * sizeof(size_t));
        t->order_n = s->order_n;
    }
    if (s->state_blocks >= 1) memcpy(t->update.state1, s->state[0], n * sizeof(float));
    if (s->state_blocks >= 2) memcpy(t->update.state2, s->state[1], n * sizeof(float));
    if (s->best) {
        t->best = malloc(n * sizeof(float));
        if (!t->best) return BP_ERR_NOMEM;
        memcpy(t->best, s->best, n * sizeof(float));
    }
    return BP_OK;
}

bp_status bp_trainer_from_state(bp_net *net, const bp_trainer_state *s, bp_trainer **out, char *why,
                                size_t why_len)
{
    *out = NULL;
    const char *problem = state_problem(net, s);
    if (problem) {
        snprintf(why, why_len, "trainer state: %s", problem);
        return BP_ERR_FORMAT;
    }
    bp_trainer *t = NULL;
    if (bp_trainer_create(net, &s->config, &t) != BP_OK || copy_state_arrays(t, s) != BP_OK) {
        bp_trainer_free(t);
        snprintf(why, why_len, "out of memory");
        return BP_ERR_NOMEM;
    }
    for (int i = 0; i < 4; i++) t->rng.s[i] = s->rng[i];
    t->epoch = s->epoch;
    t->position = s->position;
    t->epoch_steps = s->epoch_steps;
    t->steps = s->steps;
    t->update.step = s->update_step;
    t->epoch_loss = s->epoch_loss;
    t->epoch_progress = s->epoch_progress;
    t->best_loss = s->best_loss;
    t->bad_epochs = s->bad_epochs;
    if (t->lbfgs && bp_lbfgs_set_state(t->lbfgs, &s->lbfgs) != BP_OK) {
        bp_trainer_free(t);
        snprintf(why, why_len, "trainer state: its L-BFGS history is not that of a run (curvature not positive)");
        return BP_ERR_FORMAT;
    }
    t->converged = t->lbfgs && bp_lbfgs_converged(t->lbfgs);
    *out = t;
    return BP_OK;
}
