/*
 * cmd_export.c - `backprop export-c MODEL` (one dependency-free C file, float
 * or, with --int8 --calibrate DATA, integer-only) and `backprop export-onnx
 * MODEL -o FILE` (an ONNX model for ONNX Runtime, OpenCV and the rest).
 *
 * The formats are written by the library (bp_net_export); this file reads the
 * options, quantizes when asked (int8.c) and writes the bytes: to the file,
 * atomically, or for C to standard output.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "backprop.h"
#include "io/fileio.h"

#include "args.h"
#include "commands.h"
#include "data.h"
#include "int8.h"

static const cli_option export_c_options[] = {
    {"name", "ID", "prefix of the generated names (default \"model\": model_predict, model_INPUTS, ...)"},
    {"int8", NULL, "integer-only code: int8 weights and activations, int32 sums (needs --calibrate)"},
    {"calibrate", "DATA", CLI_CALIBRATE_HELP},
    {"format", "FMT", "format of --calibrate: auto (default), csv, idx or fann"},
    {"o", "FILE", "write the C file here (default: standard output)"},
};

static const cli_option export_onnx_options[] = {
    {"o", "FILE", "write the ONNX model here (required)"},
};

/* --name: a C identifier of at most 64 characters. */
static int check_name(cli_args *a, const char *name)
{
    int ok = (isalpha((unsigned char)name[0]) || name[0] == '_') && strlen(name) <= 64;
    for (const char *c = name; ok && *c; c++) ok = isalnum((unsigned char)*c) || *c == '_';
    return ok ? 0 : cli_fail(a, EXIT_USAGE, "--name must be a C identifier of at most 64 characters, got '%s'", name);
}

/* Export the model named by the one positional argument with these options, and write
   the bytes to -o (or, when stdout_ok, to standard output). */
static int export_model(cli_args *a, bp_export_options *o, int int8, int stdout_ok)
{
    if (a->n_positional != 1) return cli_fail(a, EXIT_USAGE, "expects one MODEL file");
    const char *out = cli_get(a, "o");
    if (!out && !stdout_ok) return cli_fail(a, EXIT_USAGE, "-o FILE is required");
    const char *inputs[] = {"MODEL", a->positional[0], "--calibrate", cli_get(a, "calibrate")};
    int code = cli_check_output(a, "-o", out, inputs, sizeof inputs / sizeof inputs[0] / 2);
    if (code) return code;
    bp_error err = {0};
    bp_net *net = NULL;
    bp_qnet *q = NULL;
    bp_status s = bp_net_load(a->positional[0], &net, &err);
    if (s != BP_OK) return cli_fail_status(a, s, &err, a->positional[0]);
    code = int8 ? cli_quantize(a, net, &q) : 0;
    void *data = NULL;
    size_t size = 0;
    o->source = a->positional[0];
    o->int8 = q;
    if (!code && (s = bp_net_export(net, o, &data, &size, &err)) != BP_OK)
        code = cli_fail_status(a, s, &err, "exporting");
    if (!code && out && (s = bp_write_file_atomic(out, data, size, &err)) != BP_OK)
        code = cli_fail_status(a, s, &err, out);
    else if (!code && !out)
        fwrite(data, 1, size, stdout);
    bp_free(data);
    bp_qnet_free(q);
    bp_net_free(net);
    return code;
}

static int run_export_c(cli_args *a)
{
    bp_export_options o = {BP_EXPORT_C, cli_get(a, "name") ? cli_get(a, "name") : "model", NULL, NULL};
    int code = check_name(a, o.name);
    if (code) return code;
    if (cli_get(a, "calibrate") && !cli_flag(a, "int8"))
        return cli_fail(a, EXIT_USAGE, "--calibrate sets the scales of --int8, which was not given");
    if (cli_get(a, "format") && !cli_get(a, "calibrate"))
        return cli_fail(a, EXIT_USAGE, "--format applies to --calibrate DATA, which was not given");
    return export_model(a, &o, cli_flag(a, "int8"), 1);
}

static int run_export_onnx(cli_args *a)
{
    bp_export_options o = {BP_EXPORT_ONNX, NULL, NULL, NULL};
    return export_model(a, &o, 0, 0);
}

const cli_command cmd_export_c = {
    "export-c", "MODEL [--name ID] [--int8 --calibrate DATA] [-o FILE.c]",
    "write a dependency-free C file for inference",
    "Write the model as one self-contained C file: the weights as constants, the input\n"
    "preprocessing, the class names and a function NAME_predict(x, out) that runs the\n"
    "forward pass in float (exact hexadecimal constants; needs only <math.h>).\n"
    "With --int8 the network is quantized after training (int8 weights with a scale per\n"
    "unit, int8 activations with scales calibrated on --calibrate DATA, int32 sums,\n"
    "fixed-point rescaling, tables for sigmoid, tanh and softmax) and the file infers in\n"
    "integers only: NAME_quantize_inputs(x, q), then NAME_predict_int8(q, out). Its first\n"
    "comment states the flash and RAM it needs. docs/DEPLOY.md has the details.",
    export_c_options, sizeof export_c_options / sizeof export_c_options[0], 1, run_export_c};

const cli_command cmd_export_onnx = {
    "export-onnx", "MODEL -o FILE.onnx", "write the model as ONNX (ONNX Runtime, OpenCV, ...)",
    "Write the model as an ONNX model (opset 13): input \"input\" [batch, n_0] takes raw\n"
    "values (the stored preprocessing is part of the graph), output \"output\" [batch, n_L]\n"
    "is a^L, softmax or sigmoid included, the same numbers `backprop predict` prints. The\n"
    "class names are in the metadata (\"class_names\"). docs/DEPLOY.md shows how to run it.",
    export_onnx_options, sizeof export_onnx_options / sizeof export_onnx_options[0], 1, run_export_onnx};
