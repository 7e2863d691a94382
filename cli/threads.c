/*
 * threads.c - --threads, and the thread count a network gets by default
 * (see threads.h).
 */
#include "backprop.h"
#include "mpi.h"
#include "threads.h"

int cli_threads(const cli_args *a, int *threads)
{
    size_t n = 0;
    int code = cli_size(a, "threads", 1, 256, &n);
    *threads = (int)n;
    return code;
}

int cli_use_threads(const cli_args *a, bp_net *net, int threads)
{
    /* Under mpirun the ranks already share the machine's cores. */
    if (threads == 0) threads = cli_mpi_size() > 1 ? 1 : bp_default_threads();
    bp_error err = {0};
    bp_status s = bp_net_set_threads(net, threads, &err);
    return s == BP_OK ? 0 : cli_fail_status(a, s, &err, "starting threads");
}
