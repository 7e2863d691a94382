/*
 * mpi.h - the program's side of data-parallel training over MPI (mpi.c):
 * rank, size and the float allreduce for bp_train_config, the overlapped
 * gradient sums, rank 0 reading the data and sharing it, and the watchdog.
 *
 * In a build without MPI (no `make MPI=1`), or when the program was not
 * started by mpirun, every function here says "one process".
 */
#ifndef BP_CLI_MPI_H
#define BP_CLI_MPI_H

#include <stddef.h>
#include <stdint.h>

#include "args.h"
#include "backprop.h"
#include "data.h"

/* Start MPI when launched by mpirun (in a `make MPI=1` build); otherwise nothing. */
void cli_mpi_init(int *argc, char ***argv);
void cli_mpi_finish(void);
int cli_mpi_rank(void);  /* 0 without MPI */
int cli_mpi_size(void);  /* 1 without MPI */
/* bp_train_config.allreduce over MPI_COMM_WORLD. */
int cli_mpi_allreduce(void *context, float *values, size_t n);
/* Whether the gradient sums will overlap the backward pass, starting the thread that
   runs them if so: where, on every rank's machine, the ranks computing with `threads`
   threads each leave a CPU free for it (BP_MPI_OVERLAP=1 or 0 decides instead). A
   collective: every rank calls it, and all get the same answer. Then the two halves
   of bp_train_config's allreduce_start/wait. */
int cli_mpi_overlap(size_t threads);
int cli_mpi_sum_start(void *context, float *values, size_t n);
int cli_mpi_sum_wait(void *context);
/* 1 when every rank passed the same checksum. */
int cli_mpi_same_everywhere(uint32_t checksum);
/* 1 when any rank passed a nonzero flag. */
int cli_mpi_any(int flag);
/* Rank 0's bytes to every rank (nothing without MPI). 0 or -1. */
int cli_mpi_bcast(void *data, size_t bytes);
/* Rank 0 reads the data set (and reports any error); the other ranks receive it,
   so only rank 0 needs the file. Returns 0 or the exit code on every rank. */
int cli_mpi_read_data(const cli_args *a, const cli_data_request *req, bp_dataset **out);
/* Seconds any rank waits in a collective before it ends the job, naming the
   ranks that did not arrive (0: wait forever). Default 300. */
void cli_mpi_set_timeout(double seconds);
/* End the whole job (every rank) with this exit code. */
void cli_mpi_abort(int code);

#endif
