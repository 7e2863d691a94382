/*
 * mpi.c - the program's side of data-parallel training over MPI.
 *
 * Built with `make MPI=1` (mpicc, -DBP_MPI). The library knows nothing of MPI:
 * it takes a rank, a rank count and an allreduce callback (bp_train_config),
 * and this file supplies them from MPI_COMM_WORLD. Without BP_MPI, or when the
 * program was not started by mpirun, every function here says "one process".
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

#ifdef BP_MPI
#include <mpi.h>

/* MPI itself is process-wide state; whether this process started it is ours. */
static int mpi_started = 0;

static int launched_by_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

void cli_mpi_init(int *argc, char ***argv)
{
    if (!launched_by_mpirun()) return;
    if (MPI_Init(argc, argv) == MPI_SUCCESS) mpi_started = 1;
}

void cli_mpi_finish(void)
{
    if (mpi_started) MPI_Finalize();
}

int cli_mpi_rank(void)
{
    int r = 0;
    if (mpi_started) MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int cli_mpi_size(void)
{
    int n = 1;
    if (mpi_started) MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

int cli_mpi_allreduce(void *context, double *values, size_t n)
{
    (void)context;
    /* Large gradients go in pieces that fit an int count. */
    while (n > 0) {
        int count = n > (size_t)1 << 30 ? 1 << 30 : (int)n;
        if (MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return -1;
        values += count;
        n -= (size_t)count;
    }
    return 0;
}

int cli_mpi_same_everywhere(uint32_t checksum)
{
    if (!mpi_started) return 1;
    unsigned long lo = checksum, hi = checksum;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UNSIGNED_LONG, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UNSIGNED_LONG, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}

void cli_mpi_abort(int code)
{
    if (mpi_started) MPI_Abort(MPI_COMM_WORLD, code);
}

#else

void cli_mpi_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
}
void cli_mpi_finish(void) {}
int cli_mpi_rank(void) { return 0; }
int cli_mpi_size(void) { return 1; }
int cli_mpi_allreduce(void *context, double *values, size_t n)
{
    (void)context;
    (void)values;
    (void)n;
    return 0;
}
int cli_mpi_same_everywhere(uint32_t checksum)
{
    (void)checksum;
    return 1;
}
void cli_mpi_abort(int code) { (void)code; }

#endif
