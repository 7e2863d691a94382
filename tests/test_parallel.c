/*
 * test_parallel.c - data-parallel training has the meaning of one process: N
 * trainers in N threads, each training on its share of every batch and summing
 * gradients through an allreduce made of barriers, end with the
 * model one trainer gets alone (within float rounding), for N = 1, 2, 3, for
 * batches that do not divide evenly or leave a rank without samples, and with the
 * sums overlapped with the backward pass (in pieces). And the pieces themselves:
 * a backward pass that announces its gradient piece by piece gives the bits of one
 * that does not (with the built-in GEMM; OpenBLAS within rounding), in pieces that
 * tile the block.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backprop.h"
#include "core/passes.h"
#include "test.h"

#define MAX_RANKS 3

/* The allreduce of N threads: each puts its values in its own row, and after a
   barrier every thread adds the rows up in rank order, so all get the same bits
   (the contract bp_train_config states, and MPI_Allreduce keeps). */
typedef struct {
    pthread_barrier_t barrier;
    float *rows; /* MAX_RANKS x n */
    size_t n, ranks;
} shared_reduce;

typedef struct {
    shared_reduce *shared;
    size_t rank;
    /* Overlapped sums: the gradient block (n floats plus the loss slot) and the start
       of the part of it already started this step, which each piece must end at. */
    const float *block;
    size_t block_n;
    const float *covered;
    int pieces_ok;
} rank_reduce;

static int thread_allreduce(void *context, float *values, size_t n)
{
    rank_reduce *me = context;
    shared_reduce *r = me->shared;
    if (n > r->n) return -1;
    memcpy(r->rows + me->rank * r->n, values, n * sizeof(float));
    pthread_barrier_wait(&r->barrier);
    for (size_t i = 0; i < n; i++) {
        float sum = 0.0f;
        for (size_t k = 0; k < r->ranks; k++) sum += r->rows[k * r->n + i];
        values[i] = sum;
    }
    /* Everyone has read the rows before anyone writes the next step's. */
    pthread_barrier_wait(&r->barrier);
    return 0;
}

/* allreduce_start as the library calls it: the pieces must come last layer first,
   each ending where the one before began, the first at the loss slot. This one sums
   at once (every rank starts the same pieces), so allreduce_wait has only to check
   that the pieces covered the whole block. */
static int thread_sum_start(void *context, float *values, size_t n)
{
    rank_reduce *me = context;
    if (me->covered == me->block) me->covered = me->block + me->block_n + 1; /* a new step */
    me->pieces_ok &= n > 0 && values + n == me->covered && values >= me->block;
    me->covered = values;
    return thread_allreduce(context, values, n);
}

static int thread_sum_wait(void *context)
{
    rank_reduce *me = context;
    me->pieces_ok &= me->covered == me->block;
    return 0;
}

typedef struct {
    size_t rank, ranks;
    bp_optimizer optimizer;
    int overlap;  /* sum the gradient in pieces during the backward pass */
    size_t batch;
    rank_reduce reduce;
    float params[2048];
    size_t n;
    int ok;
} worker;

static void *train_worker(void *arg)
{
    worker *w = arg;
    size_t sizes[] = {5, 12, 3};
    bp_net_config c = {2, sizes, BP_ACT_TANH, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 11, NULL, 0};
    bp_train_config tc = {.learning_rate = w->optimizer == BP_OPT_ADAM ? 0.01 : 0.2, .optimizer = w->optimizer,
                          .batch_size = w->batch, .seed = 4};
    if (w->ranks > 1) {
        tc.rank = w->rank;
        tc.ranks = w->ranks;
        tc.allreduce = thread_allreduce;
        tc.allreduce_context = &w->reduce;
        if (w->overlap) tc.allreduce_start = thread_sum_start, tc.allreduce_wait = thread_sum_wait;
    }
    bp_net *net = NULL;
    bp_trainer *t = NULL;
    bp_dataset *d = NULL;
    w->ok = bp_net_create(&c, &net, NULL) == BP_OK && bp_dataset_create(101, 5, 3, &d) == BP_OK &&
            bp_trainer_create(net, &tc, &t) == BP_OK;
    if (w->ok) {
        w->reduce.block = w->reduce.covered = bp_net_grads(net);
        w->reduce.block_n = bp_net_param_count(net);
        w->reduce.pieces_ok = 1;
    }
    if (w->ok) {
        unsigned long long s = 17; /* every rank holds the same data, as every MPI rank reads it */
        for (size_t i = 0; i < 101; i++) {
            float sum = 0;
            for (int k = 0; k < 5; k++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                float v = (float)((s >> 40) & 0xFFFF) / 65536.0f - 0.5f;
                bp_dataset_x(d)[i * 5 + k] = v;
                sum += v * (float)(k + 1);
            }
            bp_dataset_y(d)[i * 3 + (sum > 0.5f ? 2 : sum > -0.5f ? 1 : 0)] = 1;
        }
        for (int e = 0; e < 3 && w->ok; e++) w->ok = bp_trainer_epoch(t, d, NULL) == BP_OK;
        w->n = bp_net_param_count(net);
        memcpy(w->params, bp_net_params(net), w->n * sizeof(float));
    }
    bp_trainer_free(t);
    bp_net_free(net);
    bp_dataset_free(d);
    return NULL;
}

void test_parallel_training_means_one_process(void)
{
    /* Batch 2 on 3 ranks leaves one rank without samples in every step. */
    const struct {
        bp_optimizer optimizer;
        int overlap;
        size_t batch;
    } cases[] = {{BP_OPT_SGD, 0, 7}, {BP_OPT_ADAM, 0, 7}, {BP_OPT_SGD, 1, 7}, {BP_OPT_ADAM, 1, 2}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        worker alone = {.rank = 0, .ranks = 1, .optimizer = cases[k].optimizer, .batch = cases[k].batch};
        train_worker(&alone);
        CHECK(alone.ok, "single process");
        for (size_t ranks = 1; ranks <= MAX_RANKS; ranks++) {
            shared_reduce r;
            r.n = 4096;
            r.ranks = ranks;
            r.rows = calloc(MAX_RANKS * r.n, sizeof(float));
            pthread_barrier_init(&r.barrier, NULL, (unsigned)ranks);
            worker w[MAX_RANKS];
            pthread_t th[MAX_RANKS];
            for (size_t i = 0; i < ranks; i++)
                w[i] = (worker){.rank = i, .ranks = ranks, .optimizer = cases[k].optimizer,
                                .overlap = cases[k].overlap, .batch = cases[k].batch, .reduce = {.shared = &r, .rank = i}};
            int started = 1;
            for (size_t i = 0; i < ranks; i++) started &= pthread_create(&th[i], NULL, train_worker, &w[i]) == 0;
            CHECK(started, "threads");
            for (size_t i = 0; started && i < ranks; i++) pthread_join(th[i], NULL);
            double worst = 0, scale = 0;
            for (size_t i = 0; i < ranks; i++) {
                CHECK(w[i].ok && w[i].n == alone.n, "rank %zu of %zu ran", i, ranks);
                /* The pieces of an overlapped step tile the block, last layer first. */
                CHECK(!cases[k].overlap || ranks == 1 || w[i].reduce.pieces_ok, "rank %zu of %zu: pieces", i, ranks);
                /* Every rank holds the same model... */
                CHECK(memcmp(w[i].params, w[0].params, w[0].n * sizeof(float)) == 0, "rank %zu agrees with rank 0", i);
            }
            /* ...and it is the single-process model within float rounding. */
            for (size_t p = 0; p < alone.n; p++) {
                worst = fmax(worst, fabs((double)w[0].params[p] - alone.params[p]));
                scale = fmax(scale, fabs((double)alone.params[p]));
            }
            CHECK(worst <= 1e-5 * scale, "%s%s, batch %zu, %zu ranks: max difference %g of scale %g",
                  bp_optimizer_name(cases[k].optimizer), cases[k].overlap ? " overlapped" : "", cases[k].batch,
                  ranks, worst, scale);
            pthread_barrier_destroy(&r.barrier);
            free(r.rows);
        }
    }
}

/* The pieces a backward pass announces: where each starts, how long it is, and what
   it held when announced (a copy into `seen`, at the piece's place in the block). */
typedef struct {
    const float *start[16];
    size_t n[16], count;
    const float *block;
    float *seen;
} piece_log;

static int log_piece(void *context, float *values, size_t n)
{
    piece_log *log = context;
    if (log->count < 16) {
        log->start[log->count] = values;
        log->n[log->count] = n;
    }
    log->count++;
    if (log->seen && values >= log->block) memcpy(log->seen + (values - log->block), values, n * sizeof(float));
    return 0;
}

/* Pieces must tile [block, block + n) from the top down, each ending where the one
   before began. */
static int tiles_block(const piece_log *log, const float *block, size_t n)
{
    const float *end = block + n;
    for (size_t i = 0; i < log->count && i < 16; i++) {
        if (log->n[i] == 0 || log->start[i] + log->n[i] != end) return 0;
        end = log->start[i];
    }
    return log->count <= 16 && end == block;
}

void test_gradient_pieces_give_the_same_bits(void)
{
    /* Layer 1 (784 x 300 + 300 floats) comes in 3 pieces, the small layers whole. */
    size_t sizes[] = {784, 300, 40, 10}, m = 17;
    bp_net_config c = {3, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 5, NULL, 0};
    float *x = malloc(m * 784 * sizeof(float)), *y = calloc(m * 10, sizeof(float));
    CHECK(x && y, "memory");
    for (size_t i = 0; x && i < m * 784; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f;
    for (size_t s = 0; y && s < m; s++) y[s * 10 + s % 10] = 1.0f;
    for (int threads = 1; x && y && threads <= 3; threads += 2) {
        bp_net *net = NULL;
        CHECK(bp_net_create(&c, &net, NULL) == BP_OK && bp_net_set_threads(net, threads, NULL) == BP_OK, "net");
        if (!net) break;
        size_t n = bp_net_param_count(net);
        float *whole = malloc(n * sizeof(float)), *seen = calloc(n, sizeof(float));
        double loss_whole = 0, loss_pieces = 0;
        CHECK(whole && seen && bp_net_backward_scaled(net, x, y, m, 0.25f, &loss_whole, NULL) == BP_OK, "backward");
        if (whole) memcpy(whole, bp_net_grads(net), n * sizeof(float));
        for (size_t i = 0; i < n; i++) bp_net_grads(net)[i] = -12345.0f; /* what a piece must not still hold */
        piece_log log = {{0}, {0}, 0, bp_net_grads(net), seen};
        bp_gradient_hook hook = {log_piece, &log};
        CHECK(bp_net_backward_scaled(net, x, y, m, 0.25f, &loss_pieces, &hook) == BP_OK, "backward in pieces");
        CHECK(log.count == 5, "%d threads: %zu pieces, expected 3 + 1 + 1", threads, log.count);
        CHECK(tiles_block(&log, bp_net_grads(net), n), "%d threads: the pieces tile the block", threads);
#ifndef BP_OPENBLAS
        CHECK(whole && memcmp(whole, bp_net_grads(net), n * sizeof(float)) == 0 && loss_whole == loss_pieces,
              "%d threads: the same bits in pieces as in one product", threads);
#else
        /* make BLAS=openblas: OpenBLAS may add in another order for a block of rows than
           for the whole product, so the pieces agree within float rounding only. */
        double worst = 0, scale = 0;
        for (size_t i = 0; whole && i < n; i++) {
            worst = fmax(worst, fabs((double)whole[i] - bp_net_grads(net)[i]));
            scale = fmax(scale, fabs((double)whole[i]));
        }
        CHECK(whole && worst <= 1e-5 * scale && loss_whole == loss_pieces,
              "%d threads: pieces within %g of one product (largest %g)", threads, worst, scale);
#endif
        /* Each piece was final when announced: nothing wrote it afterwards. */
        CHECK(seen && memcmp(seen, bp_net_grads(net), n * sizeof(float)) == 0, "%d threads: pieces final when announced",
              threads);
        /* A process with no samples announces the same pieces, of zeros. */
        piece_log zeros = {{0}, {0}, 0, NULL, NULL};
        hook.context = &zeros;
        CHECK(bp_net_zero_gradient(net, &hook) == BP_OK && zeros.count == log.count &&
                  memcmp(zeros.start, log.start, sizeof log.start) == 0 && memcmp(zeros.n, log.n, sizeof log.n) == 0,
              "zero gradient: the same pieces");
        int all_zero = 1;
        for (size_t i = 0; i < n; i++) all_zero &= bp_net_grads(net)[i] == 0.0f;
        CHECK(all_zero, "zero gradient: zeros");
        free(whole);
        free(seen);
        bp_net_free(net);
    }
    free(x);
    free(y);
}
