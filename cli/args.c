/*
 * args.c - option parsing, strict number parsing and error reporting for the CLI.
 *
 * Every command describes its options in a table; one parser serves them all,
 * so --help, unknown options and missing values behave the same everywhere.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

static const cli_option *find_option(const cli_command *cmd, const char *name, size_t len,
                                     size_t *index)
{
    for (size_t i = 0; i < cmd->n_options; i++) {
        if (strlen(cmd->options[i].name) == len && strncmp(cmd->options[i].name, name, len) == 0) {
            *index = i;
            return &cmd->options[i];
        }
    }
    return NULL;
}

void cli_print_help(const cli_command *cmd, FILE *f)
{
    fprintf(f, "usage: backprop %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->description);
    if (cmd->n_options) fprintf(f, "\noptions:\n");
    for (size_t i = 0; i < cmd->n_options; i++) {
        const cli_option *o = &cmd->options[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s%s", strlen(o->name) == 1 ? "-" : "--", o->name,
                 o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-24s %s\n", left, o->help);
    }
    fprintf(f, "  %-24s %s\n", "--help", "show this help and exit");
}

int cli_parse(const cli_command *cmd, int argc, char **argv, cli_args *out)
{
    memset(out, 0, sizeof *out);
    out->command = cmd->name;
    out->options = cmd->options;
    out->n_options = cmd->n_options;
    /* values[] has one slot per option: a table that outgrew it would write past it. */
    if (cmd->n_options > CLI_MAX_OPTIONS)
        return cli_fail(out, EXIT_FAILED, "internal error: %zu options, more than CLI_MAX_OPTIONS (%d)",
                        cmd->n_options, CLI_MAX_OPTIONS);
    int options_done = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = 1;
            continue;
        }
        if (!options_done && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
            cli_print_help(cmd, stdout);
            return EXIT_OK;
        }
        if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            const char *name = arg + (arg[1] == '-' ? 2 : 1);
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            size_t index = 0;
            const cli_option *o = find_option(cmd, name, len, &index);
            if (!o)
                return cli_fail(out, EXIT_USAGE, "unknown option %s (see backprop %s --help)", arg,
                                cmd->name);
            if (!o->arg) {
                if (eq) return cli_fail(out, EXIT_USAGE, "option --%s takes no value", o->name);
                out->values[index] = "";
            } else if (eq) {
                out->values[index] = eq + 1;
            } else {
                if (i + 1 >= argc)
                    return cli_fail(out, EXIT_USAGE, "option %s needs a value (%s)", arg, o->arg);
                out->values[index] = argv[++i];
            }
            continue;
        }
        if (out->n_positional >= cmd->max_positional || out->n_positional >= CLI_MAX_POSITIONAL)
            return cli_fail(out, EXIT_USAGE, "unexpected argument '%s' (see backprop %s --help)", arg,
                            cmd->name);
        out->positional[out->n_positional++] = arg;
    }
    return -1;
}

const char *cli_get(const cli_args *a, const char *name)
{
    for (size_t i = 0; i < a->n_options; i++)
        if (strcmp(a->options[i].name, name) == 0) return a->values[i];
    return NULL;
}

int cli_flag(const cli_args *a, const char *name) { return cli_get(a, name) != NULL; }

int cli_fail(const cli_args *a, int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "backprop %s: ", a && a->command ? a->command : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int cli_fail_status(const cli_args *a, bp_status s, const bp_error *err, const char *what)
{
    if (err && err->status != BP_OK && err->message[0])
        return cli_fail(a, EXIT_FAILED, "%s", err->message);
    return cli_fail(a, s == BP_ERR_ARG ? EXIT_USAGE : EXIT_FAILED, "%s: %s", what,
                    bp_status_message(s));
}

static int dashes(const char *name) { return strlen(name) == 1 ? 1 : 2; }

/* strtoull and strtod take more than a number: leading blanks, a sign that strtoull
   wraps round (" -5" is 2^64 - 5), hexadecimal, "inf". A value written for the
   command line is only digits (whole), or digits, '.', exponent and sign. */
static int plain_whole(const char *v) { return v[0] >= '0' && v[0] <= '9'; }
static int plain_number(const char *v) { return v[0] && strspn(v, "0123456789.eE+-") == strlen(v); }

int cli_u64(const cli_args *a, const char *name, uint64_t *out)
{
    const char *v = cli_get(a, name);
    if (!v) return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || !plain_whole(v))
        return cli_fail(a, EXIT_USAGE, "%.*s%s expects a whole number, got '%s'", dashes(name),
                        "--", name, v);
    *out = (uint64_t)x;
    return 0;
}

int cli_size(const cli_args *a, const char *name, size_t min, size_t max, size_t *out)
{
    const char *v = cli_get(a, name);
    if (!v) return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || !plain_whole(v) || x < min || x > max)
        return cli_fail(a, EXIT_USAGE, "%.*s%s expects a whole number from %zu to %zu, got '%s'",
                        dashes(name), "--", name, min, max, v);
    *out = (size_t)x;
    return 0;
}

int cli_double(const cli_args *a, const char *name, double min, double max, double *out)
{
    const char *v = cli_get(a, name);
    if (!v) return 0;
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !plain_number(v) || !(x >= min && x <= max))
        return cli_fail(a, EXIT_USAGE, "%.*s%s expects a number from %g to %g, got '%s'", dashes(name),
                        "--", name, min, max, v);
    *out = x;
    return 0;
}

int cli_size_list(const cli_args *a, const char *name, size_t *sizes, size_t max, size_t *count)
{
    const char *v = cli_get(a, name);
    *count = 0;
    if (!v) return 0;
    const char *p = v;
    while (*p) {
        char *end = NULL;
        errno = 0;
        if (*p < '0' || *p > '9') break;
        unsigned long long x = strtoull(p, &end, 10);
        if (errno || x < 1 || x > BP_MAX_WIDTH || *count >= max) break;
        sizes[(*count)++] = (size_t)x;
        p = end;
        if (*p == ',') {
            p++;
            if (!*p) break; /* a trailing comma: "2,3," */
        } else if (*p) {
            break;
        }
    }
    size_t len = strlen(v);
    if (*p || *count == 0 || (len && v[len - 1] == ','))
        return cli_fail(a, EXIT_USAGE,
                        "--%s expects comma-separated widths from 1 to %d (at most %zu), got '%s'",
                        name, BP_MAX_WIDTH, max, v);
    return 0;
}

int cli_dropout(const cli_args *a, size_t n_hidden, double *p, int *any)
{
    const char *v = cli_get(a, "dropout");
    *any = 0;
    if (!v) return 0;
    size_t count = 0;
    const char *s = v;
    int ok = 1;
    while (ok && *s && count < BP_MAX_LAYERS) {
        char *end = NULL;
        errno = 0;
        double x = strtod(s, &end);
        ok = !errno && end != s && x >= 0 && x < 1 && (*end == ',' || *end == '\0') && !(*end == ',' && !end[1]);
        if (ok) p[count++] = x;
        s = *end == ',' ? end + 1 : end;
    }
    if (!ok || *s || count == 0)
        return cli_fail(a, EXIT_USAGE, "--dropout expects a probability from 0 to below 1, or one per hidden layer "
                                       "separated by commas, got '%s'", v);
    if (n_hidden == 0) return cli_fail(a, EXIT_USAGE, "--dropout needs a hidden layer to drop units of");
    if (count == 1)
        for (size_t l = 1; l < n_hidden; l++) p[l] = p[0];
    else if (count != n_hidden)
        return cli_fail(a, EXIT_USAGE, "--dropout gives %zu probabilities for %zu hidden layer%s; give one, or one each",
                        count, n_hidden, n_hidden == 1 ? "" : "s");
    for (size_t l = 0; l < n_hidden; l++) *any |= p[l] > 0;
    return 0;
}

int cli_net_config(const cli_args *a, bp_net_config *c, bp_loss default_loss)
{
    const char *act = cli_get(a, "activation"), *out = cli_get(a, "output"),
               *loss = cli_get(a, "loss");
    c->hidden = BP_ACT_RELU;
    c->loss = default_loss;
    if (act && bp_activation_parse(act, &c->hidden) != BP_OK)
        return cli_fail(a, EXIT_USAGE,
                        "unknown activation '%s' (identity, sigmoid, tanh, relu, leaky-relu)", act);
    if (loss && bp_loss_parse(loss, &c->loss) != BP_OK)
        return cli_fail(a, EXIT_USAGE, "unknown loss '%s' (mse, ce, bce)", loss);
    c->output = c->loss == BP_LOSS_CE ? BP_ACT_SOFTMAX
                : c->loss == BP_LOSS_BCE ? BP_ACT_SIGMOID
                                         : BP_ACT_IDENTITY;
    if (out && bp_activation_parse(out, &c->output) != BP_OK)
        return cli_fail(a, EXIT_USAGE,
                        "unknown output activation '%s' (identity, sigmoid, tanh, relu, leaky-relu, softmax)",
                        out);
    c->bias = !cli_flag(a, "no-bias");
    c->seed = 1;
    int code = cli_double(a, "init-range", 0, 1e30, &c->init_range);
    return code ? code : cli_u64(a, "seed", &c->seed);
}
