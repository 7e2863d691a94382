/*
 * pool.c - the worker team of pool.h, on POSIX threads and C11 atomics.
 *
 * A job is published by bumping `generation` under the lock, after fn, ctx and
 * parts are written; a worker that sees the new generation (spinning, or woken
 * from the condition variable) runs its piece and counts `pending` down. The
 * caller runs piece 0 itself, then waits for `pending` to reach zero, spinning
 * first and sleeping after. The lock is only touched to sleep and to wake, so
 * a job whose workers are still spinning costs two atomic operations per
 * thread.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity, CPU_ISSET */
#endif
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* Polls before sleeping: about 100 microseconds of pause instructions, long
   enough to cover the element-wise work between two products of a training
   step, short enough that an idle pool is asleep almost at once. */
enum { SPIN_LIMIT = 4000 };

struct bp_pool {
    int threads;
    pthread_t *workers;   /* threads - 1 of them */
    pthread_mutex_t lock;
    pthread_cond_t wake;  /* a new generation, or stop */
    pthread_cond_t done;  /* pending reached zero */
    bp_pool_fn fn;
    void *ctx;
    int parts;
    int stop;
    atomic_uint generation;
    atomic_int pending;
};

typedef struct {
    bp_pool *pool;
    int index;
} worker_arg;

static void *worker_main(void *arg_)
{
    worker_arg *arg = arg_;
    bp_pool *pool = arg->pool;
    const int index = arg->index;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        for (int spin = 0; g == seen && spin < SPIN_LIMIT; spin++) {
            CPU_RELAX();
            g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&pool->lock);
            while ((g = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&pool->wake, &pool->lock);
            pthread_mutex_unlock(&pool->lock);
        }
        seen = g;
        /* stop, fn, ctx and parts were written before the generation was released. */
        if (pool->stop) return NULL;
        if (index < pool->parts) pool->fn(pool->ctx, index);
        if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool->lock);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->lock);
        }
    }
}

/* Publishes what the workers should do next (a job, or stop) as a new generation. */
static void publish(bp_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    atomic_store_explicit(&pool->pending, pool->threads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
}

bp_pool *bp_pool_create(int threads)
{
    if (threads < 1) return NULL;
    bp_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->workers = calloc((size_t)threads, sizeof *pool->workers);
    if (!pool->workers) {
        free(pool);
        return NULL;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->pending, 0);
    pool->threads = 1;
    for (int i = 1; i < threads; i++) {
        worker_arg *arg = malloc(sizeof *arg);
        if (!arg) break;
        arg->pool = pool;
        arg->index = i;
        if (pthread_create(&pool->workers[i - 1], NULL, worker_main, arg) != 0) {
            free(arg);
            break;
        }
        pool->threads++;
    }
    if (pool->threads < threads) {
        bp_pool_free(pool);
        return NULL;
    }
    return pool;
}

void bp_pool_free(bp_pool *pool)
{
    if (!pool) return;
    pool->stop = 1;
    if (pool->threads > 1) publish(pool);
    for (int i = 1; i < pool->threads; i++) pthread_join(pool->workers[i - 1], NULL);
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->workers);
    free(pool);
}

int bp_pool_threads(const bp_pool *pool) { return pool ? pool->threads : 1; }

void bp_pool_run(bp_pool *pool, int parts, bp_pool_fn fn, void *ctx)
{
    if (!pool || pool->threads == 1 || parts <= 1) {
        for (int i = 0; i < parts; i++) fn(ctx, i);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    pool->parts = parts;
    publish(pool);
    fn(ctx, 0);
    for (int spin = 0; spin < SPIN_LIMIT * 4; spin++) {
        if (atomic_load_explicit(&pool->pending, memory_order_acquire) == 0) return;
        CPU_RELAX();
    }
    pthread_mutex_lock(&pool->lock);
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) != 0)
        pthread_cond_wait(&pool->done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}

#if defined(__linux__)
/* The first CPU named in a sysfs list such as "3,35" or "0-1": the core's id. */
static int first_sibling(int cpu)
{
    char path[96];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
    FILE *f = fopen(path, "r");
    if (!f) return cpu;
    int first = cpu;
    if (fscanf(f, "%d", &first) != 1) first = cpu;
    fclose(f);
    return first;
}
#endif

int bp_pool_default_threads(void)
{
#if defined(__linux__)
    cpu_set_t mask;
    if (sched_getaffinity(0, sizeof mask, &mask) == 0) {
        /* A core is counted at its first sibling (its id); ids are CPU numbers. */
        unsigned char counted[CPU_SETSIZE] = {0};
        int cores = 0;
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
            if (!CPU_ISSET(cpu, &mask)) continue;
            int core = first_sibling(cpu);
            if (core < 0 || core >= CPU_SETSIZE) core = cpu;
            cores += !counted[core];
            counted[core] = 1;
        }
        if (cores > 0) return cores;
    }
#endif
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)(online > 4096 ? 4096 : online) : 1;
}
