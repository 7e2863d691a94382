/*
 * precision.h - training's choice of arithmetic (bp_precision) turned into
 * what the products need: the network's GEMM team carries a precision
 * (kernels/gemm.h), which the trainer sets for the length of a run and puts
 * back after, so the layers (dense.c) never see the choice.
 */
#ifndef BP_PRECISION_H
#define BP_PRECISION_H

#include "backprop.h"

/* BP_OK when this CPU can train in `precision`; BP_ERR_UNSUPPORTED for bf16
   without AMX-BF16 or AVX512_BF16; BP_ERR_ARG for an unknown value. */
bp_status bp_precision_check(bp_precision precision);

/* Sets the network's products to `precision` and returns what they were set to,
   for bp_precision_leave. */
int bp_precision_enter(bp_net *net, bp_precision precision);
void bp_precision_leave(bp_net *net, int saved);

#endif
