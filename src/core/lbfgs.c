/*
 * lbfgs.c - limited-memory BFGS (Nocedal and Wright, "Numerical Optimization",
 * algorithms 7.4 and 7.5) with a line search for the strong Wolfe conditions
 * (their algorithms 3.5 and 3.6), over the whole training set.
 *
 * One iteration: the direction d = -H g from the two-loop recursion over the
 * stored pairs (s, y) with H_0 = (s'y / y'y) I; then a step length a along d
 * that lowers the loss enough (f(p + a d) <= f(p) + c1 a g'd) and flattens the
 * slope enough (|g(p + a d)'d| <= c2 |g'd|), with c1 = 1e-4 and c2 = 0.9; then
 * the pair s = a d, y = g_new - g is kept if it has positive curvature.
 *
 * Each evaluation of the loss and gradient runs the library's own backward
 * pass (bp_net_backward, summed) over the data set in chunks of a fixed size,
 * in file order, so an evaluation is bitwise the same whatever the thread
 * count. The vectors of the recursion are in double: they are differences of
 * nearby points, where float would lose most of their digits.
 *
 * Left to others: stochastic (mini-batch) L-BFGS, bounds (the B of L-BFGS-B),
 * and data-parallel evaluation; the trainer refuses those combinations.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lbfgs.h"
#include "network.h"

#define WOLFE_C1 1e-4          /* sufficient decrease */
#define WOLFE_C2 0.9           /* curvature: 0.9 is the usual choice for quasi-Newton methods */
#define RELATIVE_DECREASE 2.2e-9 /* scipy's default factr 1e7 times the float epsilon of double */
#define LINE_SEARCH_MAX 25     /* evaluations one line search may make */
#define CHUNK 1024             /* samples per backward pass of an evaluation */

struct bp_lbfgs {
    size_t n, history, max_evaluations;
    double tolerance;
    size_t pairs;              /* pairs held; s and y hold them oldest first */
    double *s, *y, *rho;       /* history x n, history x n, history (1 / y's) */
    double *g;                 /* gradient at the current point (valid when have_g) */
    double *g_trial, *g_lo;    /* the line search's latest gradient, and that of its best point */
    double *d, *p0, *alpha;    /* direction, the point the search starts from, two-loop scalars */
    double f;                  /* objective at the current point */
    double data_loss;          /* its mean data loss, without the penalty */
    int have_g;
    int converged;
    uint64_t evaluations;
};

void bp_lbfgs_free(bp_lbfgs *lb)
{
    if (!lb) return;
    free(lb->s);
    free(lb->y);
    free(lb->rho);
    free(lb->g);
    free(lb->g_trial);
    free(lb->g_lo);
    free(lb->d);
    free(lb->p0);
    free(lb->alpha);
    free(lb);
}

bp_lbfgs *bp_lbfgs_create(size_t n, size_t history, double tolerance, size_t max_evaluations)
{
    if (n == 0 || history == 0 || history > 1000 || n > ((size_t)-1 / sizeof(double)) / history) return NULL;
    bp_lbfgs *lb = calloc(1, sizeof *lb);
    if (!lb) return NULL;
    lb->n = n;
    lb->history = history;
    lb->tolerance = tolerance;
    lb->max_evaluations = max_evaluations;
    lb->s = malloc(history * n * sizeof(double));
    lb->y = malloc(history * n * sizeof(double));
    lb->rho = malloc(history * sizeof(double));
    lb->alpha = malloc(history * sizeof(double));
    lb->g = malloc(n * sizeof(double));
    lb->g_trial = malloc(n * sizeof(double));
    lb->g_lo = malloc(n * sizeof(double));
    lb->d = malloc(n * sizeof(double));
    lb->p0 = malloc(n * sizeof(double));
    if (!lb->s || !lb->y || !lb->rho || !lb->alpha || !lb->g || !lb->g_trial || !lb->g_lo || !lb->d || !lb->p0) {
        bp_lbfgs_free(lb);
        return NULL;
    }
    return lb;
}

int bp_lbfgs_converged(const bp_lbfgs *lb) { return lb->converged; }
uint64_t bp_lbfgs_evaluations(const bp_lbfgs *lb) { return lb->evaluations; }

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ------------------------------------------------------------ evaluation */

/* f = mean loss + wd/2 ||p||^2 and its gradient g at the network's parameters, over
   the data in chunks of CHUNK samples. A non-finite loss gives f = +infinity (the line
   search then shortens the step). */
static bp_status evaluate(bp_lbfgs *lb, bp_net *net, const bp_lbfgs_problem *pr, double *f, double *data_loss,
                          double *g)
{
    const size_t n = lb->n;
    memset(g, 0, n * sizeof(double));
    *f = *data_loss = INFINITY;
    double loss_sum = 0.0;
    lb->evaluations++;
    for (size_t start = 0; start < pr->n_samples; start += CHUNK) {
        const size_t m = pr->n_samples - start < CHUNK ? pr->n_samples - start : CHUNK;
        double l = 0.0;
        bp_status s = bp_net_backward(net, pr->x + start * pr->n_in, pr->y + start * pr->n_out, m,
                                      BP_REDUCE_SUM, &l);
        if (s == BP_ERR_NUMERIC) {
            *f = *data_loss = INFINITY;
            return BP_OK;
        }
        if (s != BP_OK) return s;
        loss_sum += l;
        for (size_t i = 0; i < n; i++) g[i] += net->grads[i];
    }
    const double inv = 1.0 / (double)pr->n_samples, wd = pr->weight_decay;
    double penalty = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double p = net->params[i];
        g[i] = g[i] * inv + wd * p;
        penalty += p * p;
    }
    *data_loss = loss_sum * inv;
    *f = *data_loss + 0.5 * wd * penalty;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(g[i])) *f = INFINITY;
    return BP_OK;
}

/* The network's parameters at p0 + a d, rounded to float. */
static void set_point(const bp_lbfgs *lb, bp_net *net, double a)
{
    for (size_t i = 0; i < lb->n; i++) net->params[i] = (float)(lb->p0[i] + a * lb->d[i]);
}

/* ------------------------------------------------------------- direction */

/* d = -H g by the two-loop recursion (H_0 = gamma I with gamma = s'y / y'y of the
   newest pair; the identity before the first pair). */
static void direction(bp_lbfgs *lb)
{
    const size_t n = lb->n;
    double *q = lb->d;
    for (size_t i = 0; i < n; i++) q[i] = lb->g[i];
    for (size_t k = lb->pairs; k-- > 0;) {
        lb->alpha[k] = lb->rho[k] * dot(lb->s + k * n, q, n);
        const double a = lb->alpha[k], *yk = lb->y + k * n;
        for (size_t i = 0; i < n; i++) q[i] -= a * yk[i];
    }
    if (lb->pairs > 0) {
        const double *sn = lb->s + (lb->pairs - 1) * n, *yn = lb->y + (lb->pairs - 1) * n;
        const double gamma = dot(sn, yn, n) / dot(yn, yn, n);
        for (size_t i = 0; i < n; i++) q[i] *= gamma;
    }
    for (size_t k = 0; k < lb->pairs; k++) {
        const double *sk = lb->s + k * n;
        const double b = lb->alpha[k] - lb->rho[k] * dot(lb->y + k * n, q, n);
        for (size_t i = 0; i < n; i++) q[i] += b * sk[i];
    }
    for (size_t i = 0; i < n; i++) q[i] = -q[i];
}

/* Keep the pair (s, y) = (p - p0, g_new - g), dropping the oldest when full; skipped
   when its curvature s'y is not clearly positive (BFGS needs it to stay positive definite). */
static void remember(bp_lbfgs *lb, const bp_net *net, const double *g_new)
{
    const size_t n = lb->n;
    if (lb->pairs == lb->history) {
        memmove(lb->s, lb->s + n, (lb->history - 1) * n * sizeof(double));
        memmove(lb->y, lb->y + n, (lb->history - 1) * n * sizeof(double));
        memmove(lb->rho, lb->rho + 1, (lb->history - 1) * sizeof(double));
        lb->pairs--;
    }
    double *s = lb->s + lb->pairs * n, *y = lb->y + lb->pairs * n;
    for (size_t i = 0; i < n; i++) {
        s[i] = (double)net->params[i] - lb->p0[i];
        y[i] = g_new[i] - lb->g[i];
    }
    const double sy = dot(s, y, n), yy = dot(y, y, n);
    if (sy > 1e-10 * yy && yy > 0) lb->rho[lb->pairs++] = 1.0 / sy;
}

/* ----------------------------------------------------------- line search */

/* One point of the line search: its step, objective, slope along d. */
typedef struct {
    double a, f, slope, data_loss;
} point;

static bp_status probe(bp_lbfgs *lb, bp_net *net, const bp_lbfgs_problem *pr, double a, point *out)
{
    set_point(lb, net, a);
    out->a = a;
    bp_status s = evaluate(lb, net, pr, &out->f, &out->data_loss, lb->g_trial);
    if (s != BP_OK) return s;
    out->slope = isfinite(out->f) ? dot(lb->g_trial, lb->d, lb->n) : 0.0;
    return BP_OK;
}

/* The minimizer of the cubic through (a, fa, da) and (b, fb, db), kept inside the
   middle 80% of [a, b] (bisection where the cubic has no minimum there). */
static double interpolate(const point *lo, const point *hi)
{
    const double a = lo->a, b = hi->a;
    double t = 0.5 * (a + b);
    if (isfinite(hi->f)) {
        const double d1 = lo->slope + hi->slope - 3.0 * (lo->f - hi->f) / (a - b);
        const double disc = d1 * d1 - lo->slope * hi->slope;
        if (disc >= 0) {
            const double d2 = (b > a ? 1.0 : -1.0) * sqrt(disc);
            const double c = b - (b - a) * (hi->slope + d2 - d1) / (hi->slope - lo->slope + 2.0 * d2);
            if (isfinite(c)) t = c;
        }
    }
    const double left = a < b ? a : b, width = fabs(b - a);
    if (t < left + 0.1 * width) t = left + 0.1 * width;
    if (t > left + 0.9 * width) t = left + 0.9 * width;
    return t;
}

/* Algorithm 3.6: shrink [lo, hi] (lo the best point so far that decreases enough)
   until a point meets both conditions. *best receives it, or lo when the evaluations
   run out. */
static bp_status zoom(bp_lbfgs *lb, bp_net *net, const bp_lbfgs_problem *pr, const point *start, point lo,
                      point hi, int budget, point *best)
{
    for (; budget > 0 && lb->evaluations < lb->max_evaluations; budget--) {
        point t;
        bp_status s = probe(lb, net, pr, interpolate(&lo, &hi), &t);
        if (s != BP_OK) return s;
        if (t.f > start->f + WOLFE_C1 * t.a * start->slope || t.f >= lo.f) {
            hi = t;
            continue;
        }
        memcpy(lb->g_lo, lb->g_trial, lb->n * sizeof(double));
        if (fabs(t.slope) <= -WOLFE_C2 * start->slope) {
            *best = t;
            return BP_OK;
        }
        if (t.slope * (hi.a - lo.a) >= 0) hi = lo;
        lo = t;
    }
    *best = lo;
    return BP_OK;
}

/* Algorithm 3.5: a step along d that meets the strong Wolfe conditions, starting from
   a0 and doubling while the loss still falls and the slope is still steep. best->a is 0
   when no step lowered the loss. The gradient at the step is left in g_lo. */
static bp_status line_search(bp_lbfgs *lb, bp_net *net, const bp_lbfgs_problem *pr, double a0, point *best)
{
    const point start = {0.0, lb->f, dot(lb->g, lb->d, lb->n), lb->data_loss};
    point prev = start, t;
    memcpy(lb->g_lo, lb->g, lb->n * sizeof(double));
    double a = a0;
    for (int i = 0; i < LINE_SEARCH_MAX && lb->evaluations < lb->max_evaluations; i++) {
        bp_status s = probe(lb, net, pr, a, &t);
        if (s != BP_OK) return s;
        const int budget = LINE_SEARCH_MAX - i - 1;
        if (t.f > start.f + WOLFE_C1 * a * start.slope || (i > 0 && t.f >= prev.f))
            return zoom(lb, net, pr, &start, prev, t, budget, best);
        memcpy(lb->g_lo, lb->g_trial, lb->n * sizeof(double));
        if (fabs(t.slope) <= -WOLFE_C2 * start.slope) {
            *best = t;
            return BP_OK;
        }
        if (t.slope >= 0) return zoom(lb, net, pr, &start, t, prev, budget, best);
        prev = t;
        a *= 2.0;
    }
    *best = prev;
    return BP_OK;
}

/* ------------------------------------------------------------- iteration */

static double max_abs(const double *v, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fabs(v[i]) > m ? fabs(v[i]) : m;
    return m;
}

bp_status bp_lbfgs_iterate(bp_lbfgs *lb, bp_net *net, const bp_lbfgs_problem *pr, double *loss, int *stepped)
{
    *stepped = 0;
    if (net->n_params != lb->n || pr->n_samples == 0) return BP_ERR_ARG;
    if (!lb->have_g && !lb->converged) {
        bp_status s = evaluate(lb, net, pr, &lb->f, &lb->data_loss, lb->g);
        if (s != BP_OK) return s;
        if (!isfinite(lb->f)) return BP_ERR_NUMERIC;
        lb->have_g = 1;
    }
    *loss = lb->data_loss;
    if (lb->converged) return BP_OK;
    if (max_abs(lb->g, lb->n) <= lb->tolerance || lb->evaluations >= lb->max_evaluations) {
        lb->converged = 1;
        return BP_OK;
    }
    for (size_t i = 0; i < lb->n; i++) lb->p0[i] = net->params[i];
    direction(lb);
    double a0 = 1.0;
    if (dot(lb->g, lb->d, lb->n) >= 0 || lb->pairs == 0) {
        /* No history, or a direction that does not descend (the history went stale):
           steepest descent, with a first step of length at most 1. */
        lb->pairs = 0;
        direction(lb);
        const double norm = sqrt(dot(lb->d, lb->d, lb->n));
        a0 = norm > 1.0 ? 1.0 / norm : 1.0;
    }
    point best;
    bp_status s = line_search(lb, net, pr, a0, &best);
    if (s != BP_OK) return s;
    if (best.a == 0.0) {
        /* Nothing along d lowered the loss: the point is as good as this search gets. */
        set_point(lb, net, 0.0);
        lb->converged = 1;
        return BP_OK;
    }
    set_point(lb, net, best.a);
    remember(lb, net, lb->g_lo);
    const double before = lb->f;
    memcpy(lb->g, lb->g_lo, lb->n * sizeof(double));
    lb->f = best.f;
    lb->data_loss = best.data_loss;
    *stepped = 1;
    const double scale = fmax(fmax(fabs(before), fabs(best.f)), 1.0);
    if ((before - best.f) / scale <= RELATIVE_DECREASE || max_abs(lb->g, lb->n) <= lb->tolerance ||
        lb->evaluations >= lb->max_evaluations)
        lb->converged = 1;
    return BP_OK;
}

/* ----------------------------------------------------------------- state */

void bp_lbfgs_get_state(const bp_lbfgs *lb, bp_lbfgs_state *out)
{
    memset(out, 0, sizeof *out);
    out->pairs = lb->pairs;
    out->evaluations = lb->evaluations;
    out->converged = lb->converged;
    out->have_gradient = lb->have_g;
    out->loss = lb->f;
    out->data_loss = lb->data_loss;
    out->gradient = lb->g;
    out->s = lb->s;
    out->y = lb->y;
}

bp_status bp_lbfgs_set_state(bp_lbfgs *lb, const bp_lbfgs_state *st)
{
    if (st->pairs > lb->history || (st->pairs && (!st->s || !st->y)) || (st->have_gradient && !st->gradient) ||
        (st->have_gradient && !isfinite(st->loss)))
        return BP_ERR_FORMAT;
    const size_t n = lb->n;
    for (size_t k = 0; k < st->pairs; k++) {
        const double sy = dot(st->s + k * n, st->y + k * n, n);
        if (!(sy > 0) || !isfinite(sy)) return BP_ERR_FORMAT;
    }
    memcpy(lb->s, st->s, st->pairs * n * sizeof(double));
    memcpy(lb->y, st->y, st->pairs * n * sizeof(double));
    for (size_t k = 0; k < st->pairs; k++) lb->rho[k] = 1.0 / dot(lb->s + k * n, lb->y + k * n, n);
    lb->pairs = st->pairs;
    lb->evaluations = st->evaluations;
    lb->converged = st->converged != 0;
    lb->have_g = st->have_gradient != 0;
    if (lb->have_g) memcpy(lb->g, st->gradient, n * sizeof(double));
    lb->f = st->loss;
    lb->data_loss = st->data_loss;
    return BP_OK;
}
