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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/bytes.h"
#include "cuda/cuda.h"
#include "io/fileio.h"
#include "network.h"
#include "optimizer.h"
#include "rng.h"
#include "tiny_sgd.h"

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
    size_t position;        /* samples of the current epoch already trained on */
    double epoch_loss;      /* sum of per-sample losses of the current epoch so far */
    size_t epoch_steps;     /* steps of the current epoch so far */
    size_t steps;           /* steps since training began */
    float *best;            /* early stopping: the best parameters so far (or NULL) */
    double best_loss;
    size_t bad_epochs;
    bp_cuda *gpu;           /* bp_trainer_set_device(CUDA): the GPU trainer, or NULL */
    char device_message[256]; /* what the device last reported: why a run failed, or its profile */
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
    if (c.allreduce && (c.ranks < 1 || c.rank >= c.ranks)) return BP_ERR_ARG;
    if (!c.allreduce) c.rank = 0, c.ranks = 1;
    if (!c.allreduce_start != !c.allreduce_wait) return BP_ERR_ARG;
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
    bp_cuda_free(t->gpu);
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
    if (!isfinite(l)) return BP_ERR_NUMERIC; /* never apply a step computed from NaN */
    return apply_gradient(t);
}

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

static bp_status parallel_step(bp_trainer *t, const float *x, const float *y, size_t local_m, size_t m,
                               double *loss);

/* Samples [lo, hi) of the batch that starts at epoch position `start`, in this
   epoch's order, copied into the contiguous buffers xb and yb. */
static void gather(bp_trainer *t, const float *x, const float *y, size_t start, size_t lo, size_t hi,
                   size_t n_in, size_t n_out)
{
    for (size_t k = lo; k < hi; k++) {
        size_t i = t->config.no_shuffle ? start + k : t->order[start + k];
        memcpy(t->xb + (k - lo) * n_in, x + i * n_in, n_in * sizeof(float));
        memcpy(t->yb + (k - lo) * n_out, y + i * n_out, n_out * sizeof(float));
    }
}

/* Samples the tiny-network path trains between two calls of on_step. */
#define TINY_CHUNK 4096

bp_status bp_trainer_run(bp_trainer *t, const bp_dataset *data, size_t max_steps, bp_epoch_stats *stats)
{
    if (!t || !data) return BP_ERR_ARG;
    bp_net *net = t->net;
    size_t n = bp_dataset_count(data), n_in = bp_dataset_inputs(data), n_out = bp_dataset_outputs(data);
    if (n_in != net->sizes[0] || n_out != net->sizes[net->n_layers]) return BP_ERR_ARG;
    /* A checkpoint made on another data set cannot continue on this one. */
    if (t->order && t->order_n != n && t->position > 0) return BP_ERR_ARG;
    size_t batch = t->config.batch_size == 0 || t->config.batch_size > n ? n : t->config.batch_size;
    bp_status s = ensure_buffers(t, n, batch, n_in, n_out);
    if (s != BP_OK) return s;
    if (t->position == 0) {
        if (!t->config.no_shuffle) bp_rng_shuffle(&t->rng, t->order, n);
        t->epoch_loss = 0.0;
        t->epoch_steps = 0;
    }

    const float *x = bp_dataset_x_const(data), *y = bp_dataset_y_const(data);
    size_t done_steps = 0;
    int stop = 0;
    if (t->gpu) {
        /* The whole run on the GPU (cuda/cuda.h); the parameters come back at its end. */
        bp_cuda_result r;
        s = bp_cuda_run(t->gpu, net->params, t->update.state1, x, y, n, n_in, n_out, t->order, t->position,
                        batch, max_steps, &r, t->device_message, sizeof t->device_message);
        if (s != BP_OK) return s;
        t->steps += r.steps;
        t->epoch_steps += r.steps;
        t->update.step += r.steps;
        t->position += r.samples;
        t->epoch_loss += r.loss_sum;
        if (!isfinite(r.loss_sum)) return BP_ERR_NUMERIC;
        if (t->config.on_step) t->config.on_step(t->config.context, t->position, n);
    }
    /* Tiny networks trained one sample at a time take the fused path of tiny_sgd.c. */
    int parallel = t->config.ranks > 1;
    int small = !parallel && batch == 1 && t->update.kind == BP_OPT_SGD && t->config.clip_norm == 0 &&
                t->config.schedule == BP_SCHEDULE_CONSTANT && t->config.warmup_epochs == 0 &&
                bp_tiny_sgd_applies(net);
    /* On the CPU: step after step (the GPU has done its run above). */
    while (!t->gpu && t->position < n && !stop && (max_steps == 0 || done_steps < max_steps)) {
        size_t start = t->position;
        if (small) {
            size_t count = n - start < TINY_CHUNK ? n - start : TINY_CHUNK;
            if (max_steps && count > max_steps - done_steps) count = max_steps - done_steps;
            /* In file order the samples are simply the next `count` rows. */
            int ordered = t->config.no_shuffle;
            double loss = bp_tiny_sgd_epoch(net, ordered ? x + start * n_in : x, ordered ? y + start * n_out : y,
                                             ordered ? NULL : t->order + start, count,
                                             (float)t->config.learning_rate, (float)t->config.weight_decay);
            t->update.step += count;
            t->steps += count;
            t->epoch_steps += count;
            t->position += count;
            done_steps += count;
            t->epoch_loss += loss;
            if (!isfinite(loss)) return BP_ERR_NUMERIC;
        } else {
            size_t m = n - start < batch ? n - start : batch;
            t->epoch_progress = (double)start / (double)n;
            const float *xs = x + start * n_in, *ys = y + start * n_out;
            if (parallel) {
                /* This process's share of the global batch: samples [lo, hi) of it. */
                size_t lo = m * t->config.rank / t->config.ranks, hi = m * (t->config.rank + 1) / t->config.ranks;
                gather(t, x, y, start, lo, hi, n_in, n_out);
                double loss = 0.0;
                t->steps++;
                s = parallel_step(t, t->xb, t->yb, hi - lo, m, &loss);
                if (s != BP_OK) return s;
                t->epoch_loss += t->config.reduction == BP_REDUCE_SUM ? loss : loss * (double)m;
                t->epoch_steps++;
                t->position += m;
                done_steps++;
                if (t->config.on_step && t->config.on_step(t->config.context, t->position, n)) stop = 1;
                continue;
            }
            if (!t->config.no_shuffle && m == 1) {
                /* One sample needs no gathering: point at it. */
                xs = x + t->order[start] * n_in;
                ys = y + t->order[start] * n_out;
            } else if (!t->config.no_shuffle) {
                /* Gather the batch's rows into contiguous buffers (m x n_in, m x n_out). */
                gather(t, x, y, start, 0, m, n_in, n_out);
                xs = t->xb;
                ys = t->yb;
            }
            double loss = 0.0;
            t->steps++;
            s = bp_trainer_step(t, xs, ys, m, &loss);
            if (s == BP_OK && !isfinite(loss)) s = BP_ERR_NUMERIC;
            if (s != BP_OK) return s;
            /* Back to a per-sample sum whatever the reduction, so epochs compare. */
            t->epoch_loss += t->config.reduction == BP_REDUCE_SUM ? loss : loss * (double)m;
            t->epoch_steps++;
            t->position += m;
            done_steps++;
        }
        if (t->config.on_step && t->config.on_step(t->config.context, t->position, n)) stop = 1;
    }
    int complete = t->position >= n;
    if (stats) {
        stats->loss = t->position ? t->epoch_loss / (double)t->position : 0.0;
        stats->steps = t->epoch_steps;
        stats->samples = t->position;
        stats->complete = complete;
    }
    if (complete) {
        t->epoch++;
        t->epoch_progress = 0.0;
        t->position = 0;
    }
    return BP_OK;
}

bp_status bp_trainer_epoch(bp_trainer *t, const bp_dataset *data, bp_epoch_stats *stats)
{
    return bp_trainer_run(t, data, 0, stats);
}

size_t bp_trainer_steps_done(const bp_trainer *t) { return t ? t->steps : 0; }

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

bp_status bp_trainer_set_overlap(bp_trainer *t, int (*start)(void *, float *, size_t), int (*wait)(void *))
{
    if (!t || !start != !wait) return BP_ERR_ARG;
    t->config.allreduce_start = start;
    t->config.allreduce_wait = wait;
    return BP_OK;
}

/* An overlapped step's gradient hook: start summing a finished piece of the block
   (the top layer's last piece runs on to the loss slot, set here). */
typedef struct {
    bp_trainer *t;
    const double *loss;
} overlap_step;

static int start_piece(void *context, float *values, size_t n)
{
    overlap_step *o = context;
    bp_net *net = o->t->net;
    if (values + n == net->grads + net->n_params) {
        net->grads[net->n_params] = (float)*o->loss;
        n++;
    }
    return o->t->config.allreduce_start(o->t->config.allreduce_context, values, n);
}

/* One data-parallel step: this process's share x, y (local_m samples, possibly none)
   of a global batch of m. Local gradients are sums, already divided by m for a
   mean; the processes add them up in place in the gradient block, the batch's
   summed loss riding along in the block's spare slot (net_internal.h), so the sums
   carry both and nothing is copied: one allreduce after the backward pass, or
   (allreduce_start) one per piece of each layer, each started as soon as the
   backward pass has written it. Then every process applies the same update. */
static bp_status parallel_step(bp_trainer *t, const float *x, const float *y, size_t local_m, size_t m,
                               double *loss)
{
    bp_net *net = t->net;
    const bp_train_config *c = &t->config;
    size_t n = net->n_params;
    double local_loss = 0.0;
    const float scale = c->reduction == BP_REDUCE_SUM ? 1.0f : 1.0f / (float)m;
    overlap_step o = {t, &local_loss};
    bp_gradient_hook hook = {start_piece, &o};
    bp_status s = BP_OK;
    if (local_m > 0)
        s = bp_net_backward_scaled(net, x, y, local_m, scale, &local_loss, c->allreduce_start ? &hook : NULL);
    else
        s = bp_net_zero_gradient(net, c->allreduce_start ? &hook : NULL);
    if (c->allreduce_start) {
        /* Wait even after a failure: a sum may still be writing into the block. */
        if (c->allreduce_wait(c->allreduce_context) != 0 && (s == BP_OK || s == BP_ERR_NUMERIC)) s = BP_ERR_IO;
        if (s != BP_OK && s != BP_ERR_NUMERIC) return s;
    } else {
        if (s != BP_OK && s != BP_ERR_NUMERIC) return s;
        net->grads[n] = (float)local_loss;
        if (c->allreduce(c->allreduce_context, net->grads, n + 1) != 0) return BP_ERR_IO;
    }
    *loss = (double)net->grads[n] * (double)scale;
    if (!isfinite(*loss)) return BP_ERR_NUMERIC;
    return apply_gradient(t);
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
    const bp_train_config *c = &t->config;
    if (t->update.kind != BP_OPT_SGD && t->update.kind != BP_OPT_MOMENTUM)
        return bp_fail(err, BP_ERR_UNSUPPORTED, "the CUDA path trains with sgd or momentum so far, not %s; "
                       "train on the CPU", bp_optimizer_name(t->update.kind));
    const char *no = c->schedule != BP_SCHEDULE_CONSTANT || c->warmup_epochs > 0 ? "learning-rate schedules or warm-up"
                     : c->clip_norm > 0                                          ? "gradient clipping"
                     : c->ranks > 1                                              ? "several processes (mpirun)"
                                                                                 : NULL;
    if (no) return bp_fail(err, BP_ERR_UNSUPPORTED, "the CUDA path does not do %s yet; train on the CPU", no);
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
    m.reduction = c->reduction;
    m.momentum = t->update.kind == BP_OPT_MOMENTUM;
    m.lr = t->update.lr;
    m.mu = t->update.momentum;
    m.weight_decay = t->update.weight_decay;
    m.tf32 = o.tf32 != 0;
    m.path = o.cuda_path;
    m.fused_tail = o.fused_tail;
    m.fused_carry = !o.fused_no_carry;
    m.head = !o.no_head;
    m.profile = o.profile != 0;
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

void bp_trainer_set_callback(bp_trainer *t, int (*on_step)(void *, size_t, size_t), void *context)
{
    if (!t) return;
    t->config.on_step = on_step;
    t->config.context = context;
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

/* ------------------------------------------------------- checkpoint state */

/* The trainer's whole state as bytes (little-endian), for checkpoint.c. Layout, version 1:
   u32 version; u32 optimizer, schedule, reduction, no_shuffle; u64 batch_size, epochs, seed;
   11 f64 (learning_rate, momentum, beta1, beta2, epsilon, weight_decay, clip_norm,
   step_epochs, gamma, min_lr, warmup_epochs); 4 u64 RNG state; u64 epoch, position,
   epoch_steps, steps, update step; f64 epoch_loss, epoch_progress; u64 order_n and the
   order; u64 n_params, u32 state blocks, the blocks as f32; u32 has_best, f64 best_loss,
   u64 bad_epochs, and the best parameters as f32 when has_best. */
#define TRAINER_STATE_VERSION 1u

static void w32(bp_buffer *b, uint32_t v)
{
    unsigned char x[4];
    bp_put_u32(x, v);
    bp_buffer_append(b, x, 4);
}

static void w64(bp_buffer *b, uint64_t v)
{
    unsigned char x[8];
    bp_put_u64(x, v);
    bp_buffer_append(b, x, 8);
}

static void wf64(bp_buffer *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    w64(b, u);
}

static void wfloats(bp_buffer *b, const float *v, size_t n)
{
    unsigned char x[4];
    for (size_t i = 0; i < n; i++) {
        bp_put_f32(x, v[i]);
        bp_buffer_append(b, x, 4);
    }
}

void bp_trainer_encode(const bp_trainer *t, bp_buffer *b)
{
    const bp_train_config *c = &t->config;
    size_t n = t->net->n_params;
    w32(b, TRAINER_STATE_VERSION);
    w32(b, (uint32_t)c->optimizer);
    w32(b, (uint32_t)c->schedule);
    w32(b, (uint32_t)c->reduction);
    w32(b, (uint32_t)c->no_shuffle);
    w64(b, c->batch_size);
    w64(b, c->epochs);
    w64(b, c->seed);
    const double d[11] = {c->learning_rate, c->momentum, c->beta1, c->beta2, c->epsilon, c->weight_decay,
                          c->clip_norm, c->step_epochs, c->gamma, c->min_lr, c->warmup_epochs};
    for (int i = 0; i < 11; i++) wf64(b, d[i]);
    for (int i = 0; i < 4; i++) w64(b, t->rng.s[i]);
    w64(b, t->epoch);
    w64(b, t->position);
    w64(b, t->epoch_steps);
    w64(b, t->steps);
    w64(b, t->update.step);
    wf64(b, t->epoch_loss);
    wf64(b, t->epoch_progress);
    w64(b, t->order ? t->order_n : 0);
    for (size_t i = 0; t->order && i < t->order_n; i++) w64(b, t->order[i]);
    int blocks = bp_update_state_blocks(t->update.kind);
    w64(b, n);
    w32(b, (uint32_t)blocks);
    if (blocks >= 1) wfloats(b, t->update.state1, n);
    if (blocks >= 2) wfloats(b, t->update.state2, n);
    w32(b, t->best ? 1u : 0u);
    wf64(b, t->best_loss);
    w64(b, t->bad_epochs);
    if (t->best) wfloats(b, t->best, n);
}

/* A bounds-checked reader over the state bytes. */
typedef struct {
    const unsigned char *p;
    size_t len, pos;
    int bad;
} reader;

static const unsigned char *take(reader *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint32_t r32(reader *r)
{
    const unsigned char *p = take(r, 4);
    return p ? bp_get_u32(p) : 0;
}

static uint64_t r64(reader *r)
{
    const unsigned char *p = take(r, 8);
    return p ? bp_get_u64(p) : 0;
}

static double rf64(reader *r)
{
    uint64_t u = r64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static int rfloats(reader *r, float *dst, size_t n)
{
    if (n > (r->len - r->pos) / 4) {
        r->bad = 1;
        return 0;
    }
    const unsigned char *p = take(r, 4 * n);
    for (size_t i = 0; p && i < n; i++) dst[i] = bp_get_f32(p + 4 * i);
    return p != NULL;
}

bp_status bp_trainer_decode(bp_net *net, const unsigned char *data, size_t len, bp_trainer **out,
                            char *why, size_t why_len)
{
    *out = NULL;
    reader r = {data, len, 0, 0};
    if (r32(&r) != TRAINER_STATE_VERSION) {
        snprintf(why, why_len, "unknown trainer state version");
        return BP_ERR_UNSUPPORTED;
    }
    bp_train_config c = {0};
    c.optimizer = (bp_optimizer)r32(&r);
    c.schedule = (bp_schedule)r32(&r);
    c.reduction = (bp_reduction)r32(&r);
    c.no_shuffle = (int)r32(&r);
    c.batch_size = (size_t)r64(&r);
    c.epochs = (size_t)r64(&r);
    c.seed = r64(&r);
    double *d[11] = {&c.learning_rate, &c.momentum, &c.beta1, &c.beta2, &c.epsilon, &c.weight_decay,
                     &c.clip_norm, &c.step_epochs, &c.gamma, &c.min_lr, &c.warmup_epochs};
    for (int i = 0; i < 11; i++) *d[i] = rf64(&r);
    if (r.bad) {
        snprintf(why, why_len, "trainer state cut short");
        return BP_ERR_FORMAT;
    }
    bp_trainer *t = NULL;
    bp_status s = bp_trainer_create(net, &c, &t);
    if (s != BP_OK) {
        snprintf(why, why_len, "invalid training settings in the trainer state");
        return s == BP_ERR_NOMEM ? s : BP_ERR_FORMAT;
    }
    for (int i = 0; i < 4; i++) t->rng.s[i] = r64(&r);
    t->epoch = (size_t)r64(&r);
    t->position = (size_t)r64(&r);
    t->epoch_steps = (size_t)r64(&r);
    t->steps = (size_t)r64(&r);
    t->update.step = r64(&r);
    t->epoch_loss = rf64(&r);
    t->epoch_progress = rf64(&r);
    uint64_t order_n = r64(&r);
    if (!r.bad && order_n > 0) {
        if (order_n > (r.len - r.pos) / 8) {
            r.bad = 1;
        } else {
            t->order = malloc((size_t)order_n * sizeof(size_t));
            if (!t->order) {
                bp_trainer_free(t);
                snprintf(why, why_len, "out of memory");
                return BP_ERR_NOMEM;
            }
            t->order_n = (size_t)order_n;
            for (size_t i = 0; i < t->order_n; i++) {
                uint64_t v = r64(&r);
                if (v >= order_n) r.bad = 1;
                t->order[i] = (size_t)v;
            }
        }
    }
    uint64_t n = r64(&r);
    uint32_t blocks = r32(&r);
    if (!r.bad && (n != net->n_params || (int)blocks != bp_update_state_blocks(t->update.kind))) r.bad = 1;
    if (!r.bad && blocks >= 1) rfloats(&r, t->update.state1, (size_t)n);
    if (!r.bad && blocks >= 2) rfloats(&r, t->update.state2, (size_t)n);
    uint32_t has_best = r32(&r);
    t->best_loss = rf64(&r);
    t->bad_epochs = (size_t)r64(&r);
    if (!r.bad && has_best) {
        t->best = malloc(net->n_params * sizeof(float));
        if (!t->best) {
            bp_trainer_free(t);
            snprintf(why, why_len, "out of memory");
            return BP_ERR_NOMEM;
        }
        rfloats(&r, t->best, net->n_params);
    }
    if (r.bad || r.pos != r.len || has_best > 1 || (t->order && t->position > t->order_n)) {
        bp_trainer_free(t);
        snprintf(why, why_len, "malformed trainer state near byte %zu of the chunk", r.pos);
        return BP_ERR_FORMAT;
    }
    /* xoshiro256** never leaves the all-zero state, in which it returns 0 forever
       (and the next shuffle would never end); seeding never produces it, so a file
       that holds it was not written by a trainer. */
    if ((t->rng.s[0] | t->rng.s[1] | t->rng.s[2] | t->rng.s[3]) == 0) {
        bp_trainer_free(t);
        snprintf(why, why_len, "trainer state: the random generator's state is all zero, which no run produces");
        return BP_ERR_FORMAT;
    }
    *out = t;
    return BP_OK;
}

bp_net *bp_trainer_net(const bp_trainer *t) { return t ? t->net : NULL; }
