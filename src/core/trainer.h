/*
 * trainer.h - a trainer's state as plain values, for checkpoints.
 *
 * The trainer (trainer.c) knows what must be saved to continue training
 * exactly; io/checkpoint.c knows how it is laid out in bytes. This struct is
 * the hand-over between the two, so that neither knows the other's job.
 */
#ifndef BP_TRAINER_H
#define BP_TRAINER_H

#include <stdint.h>

#include "backprop.h"
#include "lbfgs.h"

typedef struct {
    /* The settings, defaults applied (callbacks and data-parallel hooks are not state). */
    bp_train_config config;
    uint64_t rng[4];        /* the shuffling generator */
    size_t epoch;           /* epochs completed */
    size_t position;        /* samples of the current epoch already trained on */
    size_t epoch_steps;     /* steps of the current epoch so far */
    size_t steps;           /* steps since training began */
    uint64_t update_step;   /* the optimizer's step count (Adam's bias correction) */
    double epoch_loss;      /* sum of per-sample losses of the current epoch so far */
    double epoch_progress;  /* fraction of the current epoch done, for the schedule */
    const size_t *order;    /* this epoch's sample order (order_n entries), or NULL */
    size_t order_n;
    size_t n_params;        /* floats in each block below */
    int state_blocks;       /* the optimizer's state blocks: 0, 1 or 2 */
    const float *state[2];
    const float *best;      /* early stopping: the best parameters so far, or NULL */
    double best_loss;
    size_t bad_epochs;
    int has_lbfgs;          /* L-BFGS: its history and position (lbfgs.h) follow */
    bp_lbfgs_state lbfgs;
} bp_trainer_state;

/* Views of t's state (valid until t changes). */
void bp_trainer_get_state(const bp_trainer *t, bp_trainer_state *out);

/* A trainer for net that continues from a saved state (everything is copied). On
   failure, BP_ERR_FORMAT (or BP_ERR_NOMEM) and `why` says what is wrong with it. */
bp_status bp_trainer_from_state(bp_net *net, const bp_trainer_state *state, bp_trainer **out, char *why,
                                size_t why_len);

/* The network a trainer trains. */
bp_net *bp_trainer_net(const bp_trainer *t);

#endif
