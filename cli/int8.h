/*
 * int8.h - the program's side of int8 quantization: the --calibrate data read
 * for a model and handed to bp_qnet_create, for `export-c --int8`, `eval
 * --int8` and `predict --int8` alike.
 */
#ifndef BP_CLI_INT8_H
#define BP_CLI_INT8_H

#include "args.h"
#include "backprop.h"

/* The help text of --calibrate, the same for every command that has it. */
#define CLI_CALIBRATE_HELP                                                                       \
    "with --int8: samples whose activation ranges set the int8 scales (CSV, IDX images or FANN; " \
    "the training set is a good choice)"

/* The model quantized on the samples of --calibrate (required); on failure the message is
   printed and the exit code returned. */
int cli_quantize(cli_args *a, const bp_net *net, bp_qnet **out);

#endif
