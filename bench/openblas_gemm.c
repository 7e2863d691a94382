/*
 * openblas_gemm.c - the GEMM ceiling: OpenBLAS cblas_sgemm on square 1024
 * matrices (row-major C = A B, and the two transposed forms training uses).
 *
 *   openblas_gemm [--calls 10] [--threads N]
 *
 * Prints one JSON object: GFLOP/s of every timed call (2 n^3 FLOPs each, one
 * untimed warm-up call first) and the kernel OpenBLAS picked for this CPU
 * (openblas_get_corename), which OPENBLAS_CORETYPE can force. bench/run.sh
 * runs it twice: with the environment as the machine sets it, and with
 * OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"

static const char *prog = "openblas_gemm";

static void print_env(const char *name)
{
    const char *v = getenv(name);
    if (v) printf(", \"%s\": \"%s\"", name, v);
    else printf(", \"%s\": null", name);
}

int main(int argc, char **argv)
{
    size_t calls = 10, n = 1024;
    long threads = 1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) bench_die(prog, "usage: openblas_gemm [--calls N] [--threads N]");
        if (!strcmp(argv[i], "--calls")) calls = (size_t)bench_long(prog, argv[++i]);
        else if (!strcmp(argv[i], "--threads")) threads = bench_long(prog, argv[++i]);
        else bench_die(prog, "unknown option");
    }
    if (calls < 1) calls = 1;
    openblas_set_num_threads((int)(threads < 1 ? 1 : threads));
    float *A = malloc(n * n * sizeof(float)), *B = malloc(n * n * sizeof(float));
    float *C = malloc(n * n * sizeof(float));
    double *g = malloc(calls * sizeof(double));
    if (!A || !B || !C || !g) bench_die(prog, "out of memory");
    uint64_t state = 5;
    for (size_t i = 0; i < n * n; i++) {
        A[i] = bench_uniform(&state) - 0.5f;
        B[i] = bench_uniform(&state) - 0.5f;
    }
    double flops = 2.0 * (double)n * (double)n * (double)n;
    const char *core = openblas_get_corename(), *config = openblas_get_config();
    printf("{\"impl\": \"openblas\", \"workload\": \"gemm\", \"n\": %zu, \"threads_used\": %d, "
           "\"calls\": %zu, \"corename\": \"%s\", \"config\": \"%s\"",
           n, openblas_get_num_threads(), calls, core ? core : "?", config ? config : "?");
    print_env("OPENBLAS_CORETYPE");
    print_env("OPENBLAS_L2_SIZE");
    static const char *names[] = {"nn", "tn", "nt"};
    static const enum CBLAS_TRANSPOSE ta[] = {CblasNoTrans, CblasTrans, CblasNoTrans};
    static const enum CBLAS_TRANSPOSE tb[] = {CblasNoTrans, CblasNoTrans, CblasTrans};
    for (int v = 0; v < 3; v++) {
        int nn = (int)n;
        cblas_sgemm(CblasRowMajor, ta[v], tb[v], nn, nn, nn, 1.0f, A, nn, B, nn, 0.0f, C, nn);
        for (size_t c = 0; c < calls; c++) {
            double t0 = bench_now();
            cblas_sgemm(CblasRowMajor, ta[v], tb[v], nn, nn, nn, 1.0f, A, nn, B, nn, 0.0f, C, nn);
            g[c] = flops / (bench_now() - t0) * 1e-9;
        }
        printf(", \"gflops_%s\": ", names[v]);
        bench_print_array(g, calls);
    }
    printf("}\n");
    free(A);
    free(B);
    free(C);
    free(g);
    return 0;
}
