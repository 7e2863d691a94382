/*
 * status.h - filling a caller's bp_error (status.c), and checking a caller's enum values.
 *
 * The library reports and never prints: a failing function sets the status and
 * a message naming what went wrong (and where, for files) and returns the status.
 */
#ifndef BP_STATUS_H
#define BP_STATUS_H

#include "backprop.h"

/* Set a formatted message in err (if any) and return status. */
bp_status bp_fail(bp_error *err, bp_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Whether a bp_reduction is one of the two the enum names: anything else from a caller is
   refused (BP_ERR_ARG), never read as one of them. */
static inline int bp_reduction_valid(bp_reduction reduction)
{
    return reduction == BP_REDUCE_MEAN || reduction == BP_REDUCE_SUM;
}

#endif
