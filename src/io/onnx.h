/*
 * onnx.h - a network as an ONNX model (onnx.c); bp_net_export (export.c) is the
 * public door.
 */
#ifndef BP_ONNX_H
#define BP_ONNX_H

#include "backprop.h"
#include "io/fileio.h"

/* Append the ONNX model of net to out. source (may be NULL) is named in its doc_string.
   BP_ERR_UNSUPPORTED for a network over protobuf's 2 GiB. */
bp_status bp_onnx_write(const bp_net *net, const char *source, bp_buffer *out, bp_error *err);

#endif
