/*
 * threads.h - --threads for the commands that compute: the option's value,
 * and the thread count a network gets when the user gave none.
 *
 * It sits apart from args.h because the default depends on MPI (ranks under
 * mpirun already share the machine's cores), and option parsing must not.
 */
#ifndef BP_CLI_THREADS_H
#define BP_CLI_THREADS_H

#include "args.h"
#include "backprop.h"

/* The help line every command with --threads shows. */
#define CLI_THREADS_HELP "threads to compute with (default: one per physical core, 1 under mpirun);" \
                         " results are the same for any number"

/* --threads N (1..256) into *threads; 0 when the option is absent. */
int cli_threads(const cli_args *a, int *threads);
/* Give net `threads` threads (from cli_threads): 0 means one per physical core,
   or one per rank under mpirun. On failure prints why and returns the exit code. */
int cli_use_threads(const cli_args *a, bp_net *net, int threads);

#endif
