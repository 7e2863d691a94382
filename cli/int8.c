/*
 * int8.c - reading --calibrate for a model and quantizing it (int8.h).
 *
 * Calibration data needs no targets: IDX images are read without labels, and
 * CSV or FANN files with or without their target columns. The model's input
 * transform is applied, as for every data set given to a model.
 */
#include "int8.h"

#include "data.h"

/* IDX images alone: their width checked, the model's transform applied. */
static int read_idx_inputs(cli_args *a, const char *path, const bp_net *net, bp_dataset **out)
{
    cli_data_request req = {path, NULL, CLI_FORMAT_IDX, BP_TARGET_NONE, 0, 0, NULL};
    int code = cli_read_data(a, &req, out);
    if (code) return code;
    if (bp_dataset_inputs(*out) != bp_net_width(net, 0))
        return cli_fail(a, EXIT_FAILED, "%s: %zu values per image, but the network takes %zu inputs", path,
                        bp_dataset_inputs(*out), bp_net_width(net, 0));
    return cli_apply_model_transform(a, path, net, *out);
}

int cli_quantize(cli_args *a, const bp_net *net, bp_qnet **out)
{
    *out = NULL;
    const char *path = cli_get(a, "calibrate");
    if (!path)
        return cli_fail(a, EXIT_USAGE, "--int8 needs --calibrate DATA: samples whose activation ranges set the int8 "
                                       "scales (the training set is a good choice)");
    cli_format format;
    int code = cli_parse_format(a, &format);
    if (code) return code;
    bp_dataset *data = NULL;
    if (format == CLI_FORMAT_IDX || (format == CLI_FORMAT_AUTO && cli_detect_format(path) == CLI_FORMAT_IDX))
        code = read_idx_inputs(a, path, net, &data);
    else
        code = cli_load_data_for_net(a, path, NULL, net, 1, &data);
    if (!code) {
        bp_error err = {0};
        bp_status s = bp_qnet_create(net, data, out, &err);
        if (s != BP_OK) code = cli_fail_status(a, s, &err, "quantizing");
    }
    bp_dataset_free(data);
    return code;
}
