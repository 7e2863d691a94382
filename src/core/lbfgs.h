/*
 * lbfgs.h - limited-memory BFGS over the whole training set (lbfgs.c).
 *
 * L-BFGS is not a rule applied to one gradient like the others in optimizer.c:
 * each iteration evaluates the loss and its gradient over the whole data set
 * several times while its line search looks for a step length. So it has its
 * own plan (plan.c, BP_PLAN_LBFGS), its own loop here, and its own state: the
 * last `history` steps s = p_(k+1) - p_k and gradient changes y = g_(k+1) - g_k,
 * the gradient at the current point and a count of evaluations. The trainer
 * hands that state to checkpoints through bp_lbfgs_state, so a resumed run
 * continues with the same history and takes the same steps.
 */
#ifndef BP_LBFGS_H
#define BP_LBFGS_H

#include <stdint.h>

#include "backprop.h"

typedef struct bp_lbfgs bp_lbfgs;

/* A solver for n parameters keeping `history` pairs; it stops (converged) once the
   largest |dC/dp| is at most `tolerance`, the loss falls by a relative 2.2e-9 or less
   in an iteration (scipy's default factr), or `max_evaluations` evaluations were made. */
bp_lbfgs *bp_lbfgs_create(size_t n, size_t history, double tolerance, size_t max_evaluations);
void bp_lbfgs_free(bp_lbfgs *lb);

/* The objective: the mean loss over the samples x (n_samples x n_0), y, plus
   weight_decay / 2 ||p||^2 over every parameter. */
typedef struct {
    const float *x, *y;
    size_t n_samples, n_in, n_out;
    double weight_decay;
} bp_lbfgs_problem;

/* One iteration from the network's parameters: a direction from the history, a line
   search that satisfies the strong Wolfe conditions, the new parameters written into
   the network. *loss receives the mean data loss at the point the iteration started
   from; *stepped is 0 when the solver had already converged (nothing changes). */
bp_status bp_lbfgs_iterate(bp_lbfgs *lb, bp_net *net, const bp_lbfgs_problem *problem, double *loss,
                           int *stepped);

/* Whether the solver stopped, and the evaluations made so far. */
int bp_lbfgs_converged(const bp_lbfgs *lb);
uint64_t bp_lbfgs_evaluations(const bp_lbfgs *lb);

/* Its state as plain values, for checkpoints: the pairs oldest first. */
typedef struct {
    size_t pairs;             /* pairs held, 0..history */
    uint64_t evaluations;
    int converged;
    int have_gradient;        /* gradient and loss below are those of the current point */
    double loss;              /* the objective at the current point */
    double data_loss;         /* its mean data loss (the objective less the penalty) */
    const double *gradient;   /* n values */
    const double *s, *y;      /* pairs x n values each, oldest pair first */
} bp_lbfgs_state;

/* Views of lb's state, valid until lb changes. */
void bp_lbfgs_get_state(const bp_lbfgs *lb, bp_lbfgs_state *out);
/* Continue from a saved state (copied); BP_ERR_FORMAT if it does not fit lb. */
bp_status bp_lbfgs_set_state(bp_lbfgs *lb, const bp_lbfgs_state *state);

#endif
