/*
 * checkpoint.c - saving and resuming training.
 *
 * A checkpoint is a .bpm model file with two optional chunks added: "trnr",
 * the trainer's complete state, and "user", bytes the caller keeps with it.
 * Because both chunks are optional, every checkpoint is also an ordinary model
 * that eval and predict accept. Writing is atomic, like every file the library
 * writes, so a crash while saving leaves the previous checkpoint intact.
 *
 * What the state holds is the trainer's business (core/trainer.h hands it over
 * as a bp_trainer_state); how it is laid out in bytes is this file's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binary.h"
#include "model_file.h"
#include "core/network.h"
#include "core/status.h"
#include "core/trainer.h"

/* 64 GiB, or what a 32-bit size_t counts (the WebAssembly build). */
#define MAX_CHECKPOINT_SIZE ((size_t)(UINT64_C(1) << 36 < SIZE_MAX ? UINT64_C(1) << 36 : SIZE_MAX))

/* ------------------------------------------------------- the trainer state */

/* The trainer's state as bytes (little-endian). Layout, version 1:
   u32 version; u32 optimizer, schedule, reduction, no_shuffle; u64 batch_size, epochs, seed;
   11 f64 (learning_rate, momentum, beta1, beta2, epsilon, weight_decay, clip_norm,
   step_epochs, gamma, min_lr, warmup_epochs); 4 u64 RNG state; u64 epoch, position,
   epoch_steps, steps, update step; f64 epoch_loss, epoch_progress; u64 order_n and the
   order; u64 n_params, u32 state blocks, the blocks as f32; u32 has_best, f64 best_loss,
   u64 bad_epochs, and the best parameters as f32 when has_best.
   Version 2 (L-BFGS) adds: u64 lbfgs_history, f64 tolerance, u64 max_evaluations; u32
   has_lbfgs, and when set: u64 pairs, u64 evaluations, u32 converged, u32 have_gradient,
   f64 loss, f64 data_loss, the gradient (n_params f64) when have_gradient, then the pairs
   oldest first, all s then all y (pairs x n_params f64 each).
   Version 3 adds at the end: f64 rprop_step0, rprop_step_max.
   Version 1 and 2 states still load (with RPROP's default steps, all they could have used). */
#define TRAINER_STATE_VERSION 3u
#define N_REALS 11

/* The settings' real numbers, in the file's order. */
static double *reals_of(bp_train_config *c, int i)
{
    double *const r[N_REALS] = {&c->learning_rate, &c->momentum, &c->beta1,  &c->beta2,
                                &c->epsilon,       &c->weight_decay, &c->clip_norm, &c->step_epochs,
                                &c->gamma,         &c->min_lr,   &c->warmup_epochs};
    return r[i];
}

static void encode_state(const bp_trainer_state *s, bp_buffer *b)
{
    bp_train_config c = s->config;
    bp_write_u32(b, TRAINER_STATE_VERSION);
    bp_write_u32(b, (uint32_t)c.optimizer);
    bp_write_u32(b, (uint32_t)c.schedule);
    bp_write_u32(b, (uint32_t)c.reduction);
    bp_write_u32(b, (uint32_t)c.no_shuffle);
    bp_write_u64(b, c.batch_size);
    bp_write_u64(b, c.epochs);
    bp_write_u64(b, c.seed);
    for (int i = 0; i < N_REALS; i++) bp_write_f64(b, *reals_of(&c, i));
    for (int i = 0; i < 4; i++) bp_write_u64(b, s->rng[i]);
    bp_write_u64(b, s->epoch);
    bp_write_u64(b, s->position);
    bp_write_u64(b, s->epoch_steps);
    bp_write_u64(b, s->steps);
    bp_write_u64(b, s->update_step);
    bp_write_f64(b, s->epoch_loss);
    bp_write_f64(b, s->epoch_progress);
    bp_write_u64(b, s->order_n);
    for (size_t i = 0; i < s->order_n; i++) bp_write_u64(b, s->order[i]);
    bp_write_u64(b, s->n_params);
    bp_write_u32(b, (uint32_t)s->state_blocks);
    for (int k = 0; k < s->state_blocks; k++) bp_write_f32s(b, s->state[k], s->n_params);
    bp_write_u32(b, s->best ? 1u : 0u);
    bp_write_f64(b, s->best_loss);
    bp_write_u64(b, s->bad_epochs);
    if (s->best) bp_write_f32s(b, s->best, s->n_params);
    bp_write_u64(b, c.lbfgs_history);
    bp_write_f64(b, c.tolerance);
    bp_write_u64(b, c.max_evaluations);
    bp_write_u32(b, s->has_lbfgs ? 1u : 0u);
    if (s->has_lbfgs) {
        const bp_lbfgs_state *l = &s->lbfgs;
        bp_write_u64(b, l->pairs);
        bp_write_u64(b, l->evaluations);
        bp_write_u32(b, l->converged ? 1u : 0u);
        bp_write_u32(b, l->have_gradient ? 1u : 0u);
        bp_write_f64(b, l->loss);
        bp_write_f64(b, l->data_loss);
        for (size_t i = 0; l->have_gradient && i < s->n_params; i++) bp_write_f64(b, l->gradient[i]);
        for (size_t i = 0; i < l->pairs * s->n_params; i++) bp_write_f64(b, l->s[i]);
        for (size_t i = 0; i < l->pairs * s->n_params; i++) bp_write_f64(b, l->y[i]);
    }
    bp_write_f64(b, c.rprop_step0);
    bp_write_f64(b, c.rprop_step_max);
}

/* The arrays a decoded state points into, owned by the decoder. */
typedef struct {
    size_t *order;
    float *blocks[2], *best;
    double *lbfgs; /* gradient, s, y */
} state_arrays;

static void free_arrays(state_arrays *a)
{
    free(a->lbfgs);
    free(a->order);
    free(a->blocks[0]);
    free(a->blocks[1]);
    free(a->best);
}

/* n floats from r into a new array at *dst (NULL on failure; r->bad when cut short). */
static int read_floats(bp_reader *r, size_t n, float **dst)
{
    if (n > (r->len - r->pos) / 4) {
        r->bad = 1;
        return 1;
    }
    *dst = malloc(n ? n * sizeof(float) : 1);
    if (!*dst) return 0;
    bp_read_f32s(r, *dst, n);
    return 1;
}

/* The settings: the state's first fields. */
static void decode_settings(bp_reader *r, bp_train_config *c)
{
    c->optimizer = (bp_optimizer)bp_read_u32(r);
    c->schedule = (bp_schedule)bp_read_u32(r);
    c->reduction = (bp_reduction)bp_read_u32(r);
    c->no_shuffle = (int)bp_read_u32(r);
    c->batch_size = (size_t)bp_read_u64(r);
    c->epochs = (size_t)bp_read_u64(r);
    c->seed = bp_read_u64(r);
    for (int i = 0; i < N_REALS; i++) *reals_of(c, i) = bp_read_f64(r);
}

/* The rest after the settings; 0 when out of memory (r->bad marks a malformed state). */
static int decode_progress(bp_reader *r, bp_trainer_state *s, state_arrays *a)
{
    for (int i = 0; i < 4; i++) s->rng[i] = bp_read_u64(r);
    s->epoch = (size_t)bp_read_u64(r);
    s->position = (size_t)bp_read_u64(r);
    s->epoch_steps = (size_t)bp_read_u64(r);
    s->steps = (size_t)bp_read_u64(r);
    s->update_step = bp_read_u64(r);
    s->epoch_loss = bp_read_f64(r);
    s->epoch_progress = bp_read_f64(r);
    const uint64_t order_n = bp_read_u64(r);
    if (!r->bad && order_n > 0) {
        if (order_n > (r->len - r->pos) / 8) {
            r->bad = 1;
        } else {
            if (!(a->order = malloc((size_t)order_n * sizeof(size_t)))) return 0;
            for (size_t i = 0; i < order_n; i++) a->order[i] = (size_t)bp_read_u64(r);
            s->order = a->order;
            s->order_n = (size_t)order_n;
        }
    }
    s->n_params = (size_t)bp_read_u64(r);
    const uint32_t blocks = bp_read_u32(r);
    s->state_blocks = blocks <= 2 ? (int)blocks : -1;
    for (int k = 0; k < s->state_blocks && !r->bad; k++) {
        if (!read_floats(r, s->n_params, &a->blocks[k])) return 0;
        s->state[k] = a->blocks[k];
    }
    const uint32_t has_best = bp_read_u32(r);
    s->best_loss = bp_read_f64(r);
    s->bad_epochs = (size_t)bp_read_u64(r);
    if (has_best > 1) r->bad = 1;
    if (!r->bad && has_best) {
        if (!read_floats(r, s->n_params, &a->best)) return 0;
        s->best = a->best;
    }
    return 1;
}

/* Version 2's L-BFGS settings and state; 0 when out of memory. */
static int decode_lbfgs(bp_reader *r, bp_trainer_state *s, state_arrays *a)
{
    s->config.lbfgs_history = (size_t)bp_read_u64(r);
    s->config.tolerance = bp_read_f64(r);
    s->config.max_evaluations = (size_t)bp_read_u64(r);
    const uint32_t has = bp_read_u32(r);
    if (has > 1) r->bad = 1;
    if (r->bad || !has) return 1;
    bp_lbfgs_state *l = &s->lbfgs;
    s->has_lbfgs = 1;
    const uint64_t pairs = bp_read_u64(r);
    l->evaluations = bp_read_u64(r);
    l->converged = (int)bp_read_u32(r);
    l->have_gradient = (int)bp_read_u32(r);
    l->loss = bp_read_f64(r);
    l->data_loss = bp_read_f64(r);
    const size_t n = s->n_params, left = (r->len - r->pos) / 8;
    if (r->bad || l->converged > 1 || l->have_gradient > 1 || pairs > 1000 || n == 0 || n > left) {
        r->bad = 1;
        return 1;
    }
    const size_t count = (size_t)(l->have_gradient + 2 * pairs);
    if (count > left / n) {
        r->bad = 1;
        return 1;
    }
    if (!(a->lbfgs = malloc((count ? count : 1) * n * sizeof(double)))) return 0;
    for (size_t i = 0; i < count * n; i++) a->lbfgs[i] = bp_read_f64(r);
    l->pairs = (size_t)pairs;
    l->gradient = l->have_gradient ? a->lbfgs : NULL;
    l->s = a->lbfgs + (size_t)l->have_gradient * n;
    l->y = l->s + l->pairs * n;
    return 1;
}

/* Version 3's RPROP steps (before it they were the defaults, which zeros give); always 1. */
static int decode_rprop(bp_reader *r, bp_train_config *c)
{
    c->rprop_step0 = bp_read_f64(r);
    c->rprop_step_max = bp_read_f64(r);
    return 1;
}

/* A trainer for net from the state's bytes; why says what is wrong on failure. */
static bp_status decode_trainer(bp_net *net, const unsigned char *data, size_t len, bp_trainer **out, char *why,
                                size_t why_len)
{
    *out = NULL;
    bp_reader r = {data, len, 0, 0};
    const uint32_t version = bp_read_u32(&r);
    if (version < 1 || version > TRAINER_STATE_VERSION) {
        snprintf(why, why_len, "unknown trainer state version");
        return BP_ERR_UNSUPPORTED;
    }
    bp_trainer_state s = {0};
    decode_settings(&r, &s.config);
    if (r.bad) {
        snprintf(why, why_len, "trainer state cut short");
        return BP_ERR_FORMAT;
    }
    state_arrays a = {0};
    bp_status st = BP_OK;
    if (!decode_progress(&r, &s, &a) || (version >= 2 && !decode_lbfgs(&r, &s, &a)) ||
        (version >= 3 && !decode_rprop(&r, &s.config))) {
        snprintf(why, why_len, "out of memory");
        st = BP_ERR_NOMEM;
    } else if (r.bad || r.pos != r.len || s.state_blocks < 0) {
        snprintf(why, why_len, "malformed trainer state near byte %zu of the chunk", r.pos);
        st = BP_ERR_FORMAT;
    } else {
        st = bp_trainer_from_state(net, &s, out, why, why_len);
    }
    free_arrays(&a);
    return st;
}

/* ------------------------------------------------------------ checkpoints */

bp_status bp_checkpoint_save(const bp_trainer *t, const char *path, const void *user, size_t user_len,
                             bp_error *err)
{
    if (!t || !path || (!user && user_len)) return bp_fail(err, BP_ERR_ARG, "no trainer or path given");
    const bp_net *net = bp_trainer_net(t);
    /* Never save a diverged state over a good checkpoint. */
    for (size_t i = 0; i < net->n_params; i++)
        if (!(net->params[i] - net->params[i] == 0.0f))
            return bp_fail(err, BP_ERR_NUMERIC, "%s not written: parameter %zu is not a finite number", path, i);
    bp_trainer_state state;
    bp_trainer_get_state(t, &state);
    bp_buffer bytes = {0};
    encode_state(&state, &bytes);
    bp_chunk extra[2] = {{{'t', 'r', 'n', 'r'}, bytes.data, bytes.len}, {{'u', 's', 'e', 'r'}, user, user_len}};
    bp_buffer file;
    bp_model_encode(net, extra, user ? 2 : 1, &file);
    bp_status s = bytes.failed || file.failed ? bp_fail(err, BP_ERR_NOMEM, "out of memory saving %s", path)
                                              : bp_write_file_atomic(path, file.data, file.len, err);
    bp_buffer_free(&bytes);
    bp_buffer_free(&file);
    return s;
}

/* Copies the user chunk (if any and asked for) out of the file's bytes. */
static bp_status take_user(const bp_chunk *found, void **user, size_t *user_len, const char *path, bp_error *err)
{
    if (!user || !found->data) return BP_OK;
    *user = malloc(found->len ? found->len : 1);
    if (!*user) return bp_fail(err, BP_ERR_NOMEM, "out of memory reading %s", path);
    memcpy(*user, found->data, found->len);
    if (user_len) *user_len = found->len;
    return BP_OK;
}

bp_status bp_checkpoint_load(const char *path, bp_net **net_out, bp_trainer **trainer_out, void **user,
                             size_t *user_len, bp_error *err)
{
    if (!path || !net_out || !trainer_out) return bp_fail(err, BP_ERR_ARG, "no path or output given");
    *net_out = NULL;
    *trainer_out = NULL;
    if (user) *user = NULL;
    if (user_len) *user_len = 0;
    unsigned char *data = NULL;
    size_t size = 0;
    bp_status s = bp_read_file(path, MAX_CHECKPOINT_SIZE, &data, &size, err);
    if (s != BP_OK) return s;
    bp_chunk found[2] = {{{'t', 'r', 'n', 'r'}, NULL, 0}, {{'u', 's', 'e', 'r'}, NULL, 0}};
    bp_net *net = NULL;
    s = bp_model_decode(data, size, path, &net, found, 2, err);
    if (s == BP_OK && !found[0].data)
        s = bp_fail(err, BP_ERR_FORMAT, "%s: a model, not a checkpoint: it holds no training state "
                                        "(checkpoints are written by train --checkpoint)", path);
    bp_trainer *t = NULL;
    if (s == BP_OK) {
        char why[200];
        s = decode_trainer(net, found[0].data, found[0].len, &t, why, sizeof why);
        if (s != BP_OK)
            bp_fail(err, s, "%s: byte %zu: %s", path, (size_t)((const unsigned char *)found[0].data - data), why);
    }
    if (s == BP_OK) s = take_user(&found[1], user, user_len, path, err);
    free(data);
    if (s != BP_OK) {
        bp_trainer_free(t);
        bp_net_free(net);
        return s;
    }
    *net_out = net;
    *trainer_out = t;
    return BP_OK;
}
