/*
 * allreduce.c - what one gradient sum costs: the time of MPI_Allreduce (and of
 * the MPI_Iallreduce + polling that backprop uses, for its watchdog) over
 * floats, as the gradient block is summed, for the sizes given on the command
 * line. bench/mpi.sh runs it to model parallel efficiency from the step time
 * and the allreduce time.
 *
 *   mpirun -np N allreduce COUNT [COUNT ...]
 *
 * Prints one JSON line per count from rank 0: ranks, count, bytes, and the
 * median seconds of 21 calls of each kind (after 3 untimed ones).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WARM = 3, CALLS = 21 };

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int a = 1; a < argc; a++) {
        long count = strtol(argv[a], NULL, 10);
        if (count < 1 || count > (1L << 28)) continue;
        float *v = malloc((size_t)count * sizeof *v);
        if (!v) MPI_Abort(MPI_COMM_WORLD, 1);
        for (long i = 0; i < count; i++) v[i] = 1e-3f * (float)(i % 1000);
        double blocking[CALLS], polled[CALLS];
        for (int c = 0; c < WARM + CALLS; c++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, v, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            double t1 = MPI_Wtime();
            if (c >= WARM) blocking[c - WARM] = t1 - t0;
        }
        for (int c = 0; c < WARM + CALLS; c++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Request req;
            MPI_Iallreduce(MPI_IN_PLACE, v, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req);
            for (int done = 0; !done;) MPI_Test(&req, &done, MPI_STATUS_IGNORE);
            double t1 = MPI_Wtime();
            if (c >= WARM) polled[c - WARM] = t1 - t0;
        }
        if (rank == 0)
            printf("{\"ranks\": %d, \"count\": %ld, \"bytes\": %ld, \"allreduce_s\": %.6g, "
                   "\"iallreduce_s\": %.6g}\n",
                   size, count, count * 4, median(blocking, CALLS), median(polled, CALLS));
        free(v);
    }
    MPI_Finalize();
    return 0;
}
