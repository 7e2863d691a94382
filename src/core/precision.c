/*
 * precision.c - bp_precision for the trainer and for callers: which kernel a
 * precision gets on this CPU, and the network's products set to it for the
 * length of a run (precision.h).
 *
 * BP_PRECISION_BF16 asks the GEMM for its best bf16 kernel (AMX tiles, else
 * AVX512_BF16); BP_PRECISION_BF16_EMULATED for the portable emulation of the
 * same tiles. Left to kernels/gemm_bf16.c: finding out what the CPU has.
 */
#include "precision.h"

#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "network.h"

/* The team's precision for a training precision: 0 (float) or a bp_bf16_kernel. */
static int team_precision(bp_precision precision)
{
    switch (precision) {
    case BP_PRECISION_BF16: return BP_BF16_BEST;
    case BP_PRECISION_BF16_EMULATED: return BP_BF16_EMULATED;
    case BP_PRECISION_FP32: break;
    }
    return BP_BF16_NONE;
}

const char *bp_precision_kernel(bp_precision precision)
{
    switch (precision) {
    case BP_PRECISION_FP32: return bp_gemm_kernel_name();
    case BP_PRECISION_BF16:
    case BP_PRECISION_BF16_EMULATED: {
        const bp_bf16_kernel kernel = bp_gemm_bf16_resolve((bp_bf16_kernel)team_precision(precision));
        return kernel == BP_BF16_NONE ? NULL : bp_gemm_bf16_kernel_name(kernel);
    }
    }
    return NULL;
}

bp_status bp_precision_check(bp_precision precision)
{
    if ((unsigned)precision > BP_PRECISION_BF16_EMULATED) return BP_ERR_ARG;
    return bp_precision_kernel(precision) ? BP_OK : BP_ERR_UNSUPPORTED;
}

int bp_precision_enter(bp_net *net, bp_precision precision)
{
    const int saved = net->team.precision;
    net->team.precision = team_precision(precision);
    return saved;
}

void bp_precision_leave(bp_net *net, int saved) { net->team.precision = saved; }
