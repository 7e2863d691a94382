/*
 * status.h - filling a caller's bp_error (status.c).
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

#endif
