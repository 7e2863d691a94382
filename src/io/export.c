/*
 * export.c - bp_net_export, the one public door to the exporters: float C
 * (export_c.c), int8 C (export_int8.c) and ONNX (onnx.c).
 *
 * Each writer appends its format to a buffer; this file checks the options,
 * hands the bytes to the caller, and turns a failed allocation into a status.
 * Writing the file is the caller's (the program writes it atomically).
 */
#include <stdlib.h>

#include "core/status.h"
#include "io/export_c.h"
#include "io/export_int8.h"
#include "io/onnx.h"

bp_status bp_net_export(const bp_net *net, const bp_export_options *options, void **data, size_t *size,
                        bp_error *err)
{
    if (data) *data = NULL;
    if (size) *size = 0;
    if (!net || !data || !size) return bp_fail(err, BP_ERR_ARG, "no network or place for the exported bytes given");
    bp_export_options o = {0};
    if (options) o = *options;
    const char *name = o.name ? o.name : "model", *source = o.source ? o.source : "a backprop model";
    if (o.format != BP_EXPORT_C && o.format != BP_EXPORT_ONNX)
        return bp_fail(err, BP_ERR_ARG, "unknown export format %d", (int)o.format);
    if (o.format == BP_EXPORT_ONNX && o.int8)
        return bp_fail(err, BP_ERR_UNSUPPORTED, "int8 export is C only; the ONNX export is the float network");
    bp_buffer b = {0};
    bp_status s;
    if (o.format == BP_EXPORT_ONNX) s = bp_onnx_write(net, o.source, &b, err);
    else if (o.int8) s = bp_export_c_int8(net, o.int8, name, source, &b, err);
    else s = bp_export_c_float(net, name, source, &b, err);
    if (s == BP_OK && o.format == BP_EXPORT_C) bp_buffer_append(&b, "", 1); /* C text ends with a NUL */
    if (s == BP_OK && b.failed) s = bp_fail(err, BP_ERR_NOMEM, "out of memory writing the exported model");
    if (s != BP_OK) {
        bp_buffer_free(&b);
        return s;
    }
    *size = o.format == BP_EXPORT_C ? b.len - 1 : b.len;
    *data = b.data;
    return BP_OK;
}
