/*
 * test_team.c - the worker pool, and products and training shared by 1, 2
 * and 3 threads.
 *
 * The promise under test is strong: a product cut into slices for several
 * threads is bitwise the product one thread computes, because slices are
 * whole tiles of C and K is never cut. So the checks compare bits, and they
 * first make sure the product really is cut (bp_gemm_team_plan), or the
 * comparison would prove nothing.
 */
#include "test.h"

#include "backprop.h"
#include "kernels/gemm.h"
#include "kernels/pool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ pool */

typedef struct {
    int runs[8];
    pthread_t who[8];
} pool_record;

static void record_piece(void *ctx, int part)
{
    pool_record *r = ctx;
    r->runs[part]++;
    r->who[part] = pthread_self();
}

/* Every piece runs exactly once per job, each on its own thread, piece 0 on
   the caller; a thousand jobs in a row (workers spinning and sleeping). */
void test_pool_runs_each_piece_once(void)
{
    for (int threads = 1; threads <= 4; threads++) {
        bp_pool *pool = bp_pool_create(threads);
        CHECK(pool != NULL, "could not create a pool of %d", threads);
        if (!pool) continue;
        CHECK(bp_pool_threads(pool) == threads, "%d threads, not %d", bp_pool_threads(pool), threads);
        for (int job = 0; job < 1000; job++) {
            pool_record r;
            memset(&r, 0, sizeof r);
            int parts = 1 + job % threads;
            bp_pool_run(pool, parts, record_piece, &r);
            int bad = 0;
            for (int p = 0; p < 8; p++) bad += r.runs[p] != (p < parts);
            if (!pthread_equal(r.who[0], pthread_self())) bad++;
            for (int p = 0; p < parts; p++)
                for (int q = 0; q < p; q++) bad += pthread_equal(r.who[p], r.who[q]) != 0;
            CHECK(bad == 0, "threads %d job %d parts %d: %d wrong", threads, job, parts, bad);
            if (bad) break;
        }
        bp_pool_free(pool);
    }
    CHECK(bp_pool_create(0) == NULL, "a pool of 0 threads");
    bp_pool_free(NULL);
    CHECK(bp_pool_threads(NULL) == 1, "a NULL pool is one thread");
    CHECK(bp_pool_default_threads() >= 1, "default threads %d", bp_pool_default_threads());
}

/* --------------------------------------------------------------- products */


static float team_float(uint64_t *s) { return (float)((double)(bp_test_next(s) >> 40) / (double)(1u << 23) - 1.0); }

static const float TEAM_SENTINEL = -777.0f;

typedef struct {
    int ta, tb;
    size_t M, N, K;
    float alpha, beta;
    int epi; /* 0 none, 1 bias + ReLU, 2 bias + leaky, 3 derivative of sigmoid */
} team_case;

/* Runs one product with one thread and with a team, compares bits (C and the
   padding of C), and checks the one-thread result against the naive product.
   Returns the number of slices the team used. */
static int run_team_case(const team_case *tc, bp_pool *pool, float *const *work, uint64_t *rng)
{
    size_t a_rows = tc->ta ? tc->K : tc->M, a_cols = tc->ta ? tc->M : tc->K;
    size_t b_rows = tc->tb ? tc->N : tc->K, b_cols = tc->tb ? tc->K : tc->N;
    size_t lda = a_cols + 1, ldb = b_cols + 3, ldc = tc->N + 5;
    float *A = malloc(a_rows * lda * sizeof *A), *B = malloc(b_rows * ldb * sizeof *B);
    float *C1 = malloc(tc->M * ldc * sizeof *C1), *Ct = malloc(tc->M * ldc * sizeof *Ct);
    float *Cn = malloc(tc->M * ldc * sizeof *Cn);
    float *bias = malloc(tc->N * sizeof *bias), *D = malloc(tc->M * tc->N * sizeof *D);
    int parts = 0;
    CHECK(A && B && C1 && Ct && Cn && bias && D, "out of memory");
    if (!(A && B && C1 && Ct && Cn && bias && D)) goto done;
    for (size_t i = 0; i < a_rows * lda; i++) A[i] = team_float(rng);
    for (size_t i = 0; i < b_rows * ldb; i++) B[i] = team_float(rng);
    for (size_t i = 0; i < tc->M * ldc; i++)
        C1[i] = i % ldc >= tc->N ? TEAM_SENTINEL : team_float(rng);
    memcpy(Ct, C1, tc->M * ldc * sizeof *C1);
    memcpy(Cn, C1, tc->M * ldc * sizeof *C1);
    for (size_t j = 0; j < tc->N; j++) bias[j] = team_float(rng);
    for (size_t i = 0; i < tc->M * tc->N; i++) D[i] = 0.5f + 0.5f * team_float(rng);

    bp_gemm_epilogue e = {bias, BP_EPI_RELU, BP_EPI_NONE, NULL, 0, 0.01f};
    if (tc->epi == 2) e.act = BP_EPI_LEAKY;
    if (tc->epi == 3) e = (bp_gemm_epilogue){NULL, BP_EPI_NONE, BP_EPI_SIGMOID, D, tc->N, 0.01f};
    const bp_gemm_epilogue *epi = tc->epi ? &e : NULL;

    const bp_gemm_team one = {NULL, work, 0};
    const bp_gemm_team team = {pool, work, 0};
    bp_gemm_team_ex(&one, tc->ta, tc->tb, tc->M, tc->N, tc->K, tc->alpha, A, lda, B, ldb,
                    tc->beta, C1, ldc, epi);
    bp_gemm_team_ex(&team, tc->ta, tc->tb, tc->M, tc->N, tc->K, tc->alpha, A, lda, B, ldb,
                    tc->beta, Ct, ldc, epi);
    int split_n;
    size_t step;
    parts = bp_gemm_team_plan(bp_pool_threads(pool), tc->M, tc->N, tc->K, &split_n, &step);

    size_t differ = 0, first = 0;
    for (size_t i = 0; i < tc->M * ldc; i++)
        if (memcmp(&C1[i], &Ct[i], sizeof(float)) != 0 && differ++ == 0) first = i;
    CHECK(differ == 0,
          "ta %d tb %d %zu x %zu x %zu epi %d, %d threads in %d slices: %zu elements differ from one "
          "thread, first C[%zu][%zu] %.9g vs %.9g",
          tc->ta, tc->tb, tc->M, tc->N, tc->K, tc->epi, bp_pool_threads(pool), parts, differ,
          first / ldc, first % ldc, (double)Ct[first], (double)C1[first]);

    /* The one-thread result against the naive product with the epilogue applied. */
    bp_gemm_naive(tc->ta, tc->tb, tc->M, tc->N, tc->K, tc->alpha, A, lda, B, ldb, tc->beta, Cn, ldc);
    size_t bad = 0;
    for (size_t i = 0; i < tc->M; i++) {
        for (size_t j = 0; j < ldc; j++) {
            float want = Cn[i * ldc + j];
            if (j < tc->N && tc->epi == 1) want = want + bias[j] > 0 ? want + bias[j] : 0.0f;
            if (j < tc->N && tc->epi == 2) want = want + bias[j] > 0 ? want + bias[j] : 0.01f * (want + bias[j]);
            if (j < tc->N && tc->epi == 3) want *= D[i * tc->N + j] * (1.0f - D[i * tc->N + j]);
            double tol = j < tc->N ? 1e-4 * (1.0 + (double)tc->K / 64.0) : 0.0;
            bad += !(fabs((double)C1[i * ldc + j] - (double)want) <= tol);
        }
    }
    CHECK(bad == 0, "ta %d tb %d %zu x %zu x %zu epi %d: %zu elements off the naive product",
          tc->ta, tc->tb, tc->M, tc->N, tc->K, tc->epi, bad);
done:
    free(A);
    free(B);
    free(C1);
    free(Ct);
    free(Cn);
    free(bias);
    free(D);
    return parts;
}

/* Shapes that are cut by columns (wide C), by rows (tall C), at awkward sizes
   (slices ending in partial tiles, a last row slice that would be under four
   rows), batch-1 products (the GEMV path), K < 4 (the row-by-row path), and shapes
   too small to cut. */
void test_gemm_team_matches_one_thread(void)
{
    static const size_t shapes[][3] = {
        {64, 256, 784}, {64, 784, 256}, {256, 784, 64},  /* W1's three products */
        {1000, 17, 63}, {127, 65, 1000}, {63, 1000, 127}, /* the sizes */
        {1, 1000, 700}, {2, 4000, 300}, {3, 777, 1000},  /* batch 1 to 3: the small path */
        {601, 31, 64}, {610, 16, 70}, {100, 40, 270},    /* tall, thin, a 4-row remainder */
        {1000, 1000, 3}, {700, 900, 1},                  /* K < 4: rank-1 to rank-3 updates */
        {7, 15, 31}, {16, 16, 16}, {1, 1, 1},            /* too small to cut */
    };
    uint64_t rng = 11;
    float *work[3];
    for (int t = 0; t < 3; t++) work[t] = aligned_alloc(64, (BP_GEMM_WORKSPACE_FLOATS * sizeof(float) + 63) / 64 * 64);
    CHECK(work[0] && work[1] && work[2], "out of memory");
    if (!(work[0] && work[1] && work[2])) goto done;
    for (int threads = 2; threads <= 3; threads++) {
        bp_pool *pool = bp_pool_create(threads);
        CHECK(pool != NULL, "no pool");
        if (!pool) continue;
        int cut = 0, cases = 0;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            for (int t = 0; t < 4; t++) {
                team_case tc = {t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                                s % 3 ? 1.0f : -0.5f, s % 2 ? 0.0f : 0.75f, (int)((s + (size_t)t) % 4)};
                cut += run_team_case(&tc, pool, work, &rng) > 1;
                cases++;
            }
        }
#ifdef BP_OPENBLAS
        /* make BLAS=openblas: OpenBLAS threads by itself; the team never cuts. */
        CHECK(cut == 0, "%d threads: %d of %d products were cut", threads, cut, cases);
#else
        /* All but the last three shapes are big enough to be cut. */
        CHECK(cut == cases - 12, "%d threads: %d of %d products were cut", threads, cut, cases);
#endif
        bp_pool_free(pool);
    }
done:
    for (int t = 0; t < 3; t++) free(work[t]);
}

/* The plan: slices are whole tiles, cover the dimension, never leave a row
   slice under four rows, and a product too small for two threads is not cut. */
void test_gemm_team_plan(void)
{
    int split_n;
    size_t step;
#ifdef BP_OPENBLAS
    CHECK(bp_gemm_team_plan(4, 1000, 1000, 1000, &split_n, &step) == 1, "cut a product for OpenBLAS");
    return;
#endif
    CHECK(bp_gemm_team_plan(1, 1000, 1000, 1000, &split_n, &step) == 1, "one thread cut a product");
    CHECK(bp_gemm_team_plan(4, 8, 8, 8, &split_n, &step) == 1, "a tiny product was cut");
    for (size_t M = 1; M < 300; M += 7) {
        for (int threads = 2; threads <= 5; threads++) {
            size_t N = 3 + M % 50, K = 1 << 14;
            int parts = bp_gemm_team_plan(threads, M, N, K, &split_n, &step);
            size_t dim = split_n ? N : M, granule = split_n ? 16 : 6;
            CHECK(parts >= 1 && parts <= threads, "M %zu: %d slices for %d threads", M, parts, threads);
            if (parts < 2) continue;
            CHECK(step % granule == 0, "M %zu: step %zu is not whole tiles", M, step);
            CHECK((size_t)(parts - 1) * step < dim, "M %zu: slice %d is empty", M, parts - 1);
            if (!split_n)
                CHECK(M - (size_t)(parts - 1) * step >= 4, "M %zu: last row slice has %zu rows", M,
                      M - (size_t)(parts - 1) * step);
        }
    }
}

/* ---------------------------------------------------------------- training */

/* A W1-shaped network (smaller input) trained for two epochs with 1, 2 and 3
   threads, with momentum, with Adam, and with momentum and dropout: the parameters
   are bitwise the same. */
void test_training_threads_bitwise(void)
{
    enum { N = 640, IN = 200 };
    bp_dataset *d = NULL;
    CHECK(bp_dataset_create(N, IN, 10, &d) == BP_OK, "data set");
    if (!d) return;
    uint64_t rng = 5;
    for (size_t i = 0; i < (size_t)N * IN; i++) bp_dataset_x(d)[i] = 0.5f + 0.5f * team_float(&rng);
    for (size_t i = 0; i < N; i++) bp_dataset_y(d)[i * 10 + bp_test_next(&rng) % 10] = 1.0f;
    size_t sizes[] = {IN, 256, 128, 10};
    const double dropout[] = {0.5, 0.2};
    for (int opt = 0; opt < 3; opt++) {
        bp_net_config nc = {3, sizes, BP_ACT_RELU, BP_ACT_SOFTMAX, BP_LOSS_CE, 1, 3, opt == 2 ? dropout : NULL, 0};
        float *first = NULL;
        for (int threads = 1; threads <= 3; threads++) {
            bp_net *net = NULL;
            bp_trainer *tr = NULL;
            bp_train_config tc = {.learning_rate = opt == 1 ? 0.001 : 0.05, .batch_size = 64, .seed = 9,
                                  .momentum = opt == 1 ? 0.0 : 0.9,
                                  .optimizer = opt == 1 ? BP_OPT_ADAM : BP_OPT_SGD};
            int ok = bp_net_create(&nc, &net, NULL) == BP_OK &&
                     bp_net_set_threads(net, threads, NULL) == BP_OK &&
                     bp_net_threads(net) == threads && bp_trainer_create(net, &tc, &tr) == BP_OK;
            CHECK(ok, "threads %d: set-up failed", threads);
            bp_epoch_stats st;
            for (int e = 0; ok && e < 2; e++) ok = bp_trainer_epoch(tr, d, &st) == BP_OK;
            CHECK(ok, "threads %d: training failed", threads);
            size_t n = bp_net_param_count(net);
            if (ok && threads == 1) {
                first = malloc(n * sizeof *first);
                if (first) memcpy(first, bp_net_params(net), n * sizeof *first);
            } else if (ok && first) {
                CHECK(memcmp(first, bp_net_params(net), n * sizeof *first) == 0,
                      "optimizer %d: %d threads end with other parameters than 1", opt, threads);
            }
            bp_trainer_free(tr);
            bp_net_free(net);
        }
        free(first);
    }
    bp_dataset_free(d);
}
