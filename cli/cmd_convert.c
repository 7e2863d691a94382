/*
 * cmd_convert.c - `backprop convert IN OUT`: between CSV and FANN's data
 * format (and from IDX to either), so data prepared for FANN trains here and
 * the other way round.
 */
#include <string.h>

#include "backprop.h"

#include "args.h"
#include "commands.h"
#include "data.h"

static const cli_option convert_options[] = {
    {"labels", "FILE", "IDX labels, when IN is an IDX images file"},
    {"from", "FMT", "format of IN: auto (default: from the file), csv, idx or fann"},
    {"to", "FMT", "format of OUT: csv or fann (default: from OUT's name: .csv is CSV, else FANN)"},
    {"targets", "N|class", "CSV input: class (default) or the number of value columns at the end"},
};

static int run_convert(cli_args *a)
{
    if (a->n_positional != 2) return cli_fail(a, EXIT_USAGE, "expects IN and OUT files");
    const char *in = a->positional[0], *out = a->positional[1];
    cli_format from = CLI_FORMAT_AUTO;
    const char *f = cli_get(a, "from");
    if (f && strcmp(f, "auto") != 0) {
        if (strcmp(f, "csv") == 0) from = CLI_FORMAT_CSV;
        else if (strcmp(f, "idx") == 0) from = CLI_FORMAT_IDX;
        else if (strcmp(f, "fann") == 0) from = CLI_FORMAT_FANN;
        else return cli_fail(a, EXIT_USAGE, "--from expects auto, csv, idx or fann, got '%s'", f);
    }
    const char *to = cli_get(a, "to");
    int to_csv;
    if (to) {
        if (strcmp(to, "csv") == 0) to_csv = 1;
        else if (strcmp(to, "fann") == 0) to_csv = 0;
        else return cli_fail(a, EXIT_USAGE, "--to expects csv or fann, got '%s'", to);
    } else {
        size_t len = strlen(out);
        to_csv = len >= 4 && strcmp(out + len - 4, ".csv") == 0;
    }
    size_t value_targets = 0;
    const char *t = cli_get(a, "targets");
    int code;
    if (t && strcmp(t, "class") != 0 && (code = cli_size(a, "targets", 1, BP_MAX_WIDTH, &value_targets)))
        return code;
    const char *inputs[] = {"IN", in, "--labels", cli_get(a, "labels")};
    if ((code = cli_check_output(a, "OUT", out, inputs, sizeof inputs / sizeof inputs[0] / 2))) return code;
    cli_data_request req = {in, cli_get(a, "labels"), from, value_targets ? BP_TARGET_VALUES : BP_TARGET_CLASS,
                            value_targets, 0, NULL};
    bp_dataset *d = NULL;
    if ((code = cli_read_data(a, &req, &d))) return code;
    bp_error err = {0};
    bp_status s = to_csv ? bp_dataset_write_csv(d, out, &err) : bp_dataset_write_fann(d, out, &err);
    size_t n = bp_dataset_count(d), n_in = bp_dataset_inputs(d), n_out = bp_dataset_outputs(d);
    bp_dataset_free(d);
    if (s != BP_OK) return cli_fail_status(a, s, &err, out);
    printf("wrote %s: %zu samples, %zu inputs, %zu outputs (%s)\n", out, n, n_in, n_out, to_csv ? "CSV" : "FANN");
    return EXIT_OK;
}

const cli_command cmd_convert = {
    "convert", "IN OUT [--to csv|fann]", "convert data between CSV and FANN's format (and from IDX)",
    "Read a data set in any supported format (CSV, IDX images with --labels, FANN text)\n"
    "and write it as CSV or in FANN's text data format. Class targets are written to CSV\n"
    "as one label column and to FANN as one-hot output lines.",
    convert_options, sizeof convert_options / sizeof convert_options[0], 2, run_convert};
