/*
 * export_int8.h - a quantized network as one dependency-free, integer-only C
 * file (export_int8.c). bp_net_export (export.c) is the public door.
 */
#ifndef BP_EXPORT_INT8_H
#define BP_EXPORT_INT8_H

#include "backprop.h"
#include "io/fileio.h"

/* The int8 C of q, a quantization of net (which gives the input transform and the class
   names), appended to out. */
bp_status bp_export_c_int8(const bp_net *net, const bp_qnet *q, const char *name, const char *source, bp_buffer *out,
                           bp_error *err);

#endif
