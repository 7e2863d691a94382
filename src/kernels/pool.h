/*
 * pool.h - a fixed team of worker threads that runs one job at a time.
 *
 * A pool is created once (by bp_net_set_threads) and then only woken: a job is
 * a function and a context, run as `parts` numbered pieces, piece 0 on the
 * calling thread and piece i on worker i. Which thread runs which piece is
 * fixed, never decided by timing, so a job whose pieces write disjoint results
 * gives the same bits on every run.
 *
 * Between jobs the workers spin for a short while (a training step starts its
 * next product within microseconds) and then sleep on a condition variable,
 * so an idle pool costs nothing. Nothing is global: two pools are two
 * independent teams.
 */
#ifndef BP_POOL_H
#define BP_POOL_H

typedef struct bp_pool bp_pool;

/* One piece of a job: `part` is 0 .. parts-1. */
typedef void (*bp_pool_fn)(void *ctx, int part);

/* A team of `threads` threads counting the caller (threads - 1 workers are
   started). NULL when a thread or the memory could not be had. */
bp_pool *bp_pool_create(int threads);

/* Stops and joins the workers. NULL is fine. */
void bp_pool_free(bp_pool *pool);

/* Threads in the team, the caller included (1 for NULL). */
int bp_pool_threads(const bp_pool *pool);

/* Runs fn(ctx, 0) .. fn(ctx, parts - 1), piece i on thread i, and returns when
   all are done. parts <= bp_pool_threads(pool); with a NULL pool parts must be 1.
   Not re-entrant: one job at a time per pool. */
void bp_pool_run(bp_pool *pool, int parts, bp_pool_fn fn, void *ctx);

/* Physical cores this process may run on: CPUs in its affinity mask, with
   hyperthread siblings counted once (Linux sysfs); the online CPU count where
   that cannot be read. At least 1. */
int bp_pool_default_threads(void);

#endif
