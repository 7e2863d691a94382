/*
 * args.h - what every command of the `backprop` program stands on: the
 * command description, one table-driven option parser, strict conversions of
 * option values, the network options several commands share, and messages
 * and exit codes.
 *
 * The library returns statuses; turning them into messages and exit codes is
 * this program's job (docs/STYLE.md: the library returns, the program reports).
 * What each option means is left to the command that declares it.
 */
#ifndef BP_CLI_ARGS_H
#define BP_CLI_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "backprop.h"

/* Exit codes, the same for every command. */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* One command-line option: --name, with a value when arg is not NULL. */
typedef struct {
    const char *name;   /* without the dashes; "o" stands for -o */
    const char *arg;    /* placeholder shown in help ("FILE"), NULL for a flag */
    const char *help;
} cli_option;

/* The most options one command may have: cli_parse refuses to run a command with more
   (train has 50). */
#define CLI_MAX_OPTIONS 64
#define CLI_MAX_POSITIONAL 4

typedef struct {
    const char *command;
    const cli_option *options;
    size_t n_options;
    const char *values[CLI_MAX_OPTIONS]; /* NULL when not given; "" for a flag that was */
    const char *positional[CLI_MAX_POSITIONAL];
    size_t n_positional;
} cli_args;

/* A command: its name, a usage line, a paragraph, its options, and its entry point. */
typedef struct {
    const char *name;
    const char *usage;
    const char *summary;
    const char *description;
    const cli_option *options;
    size_t n_options;
    size_t max_positional;
    int (*run)(cli_args *args);
} cli_command;

/* Parse argv (after the command name). Returns -1 to go on, or an exit code
   (0 after printing --help, 2 after a usage error). */
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_args *out);
void cli_print_help(const cli_command *cmd, FILE *f);

/* The option's value, or NULL when it was not given. */
const char *cli_get(const cli_args *a, const char *name);
int cli_flag(const cli_args *a, const char *name);

/* Strict conversions for option values: 0 on success; on failure they print a
   usage message naming the option and return EXIT_USAGE. An absent option
   leaves *out as it was. */
int cli_size(const cli_args *a, const char *name, size_t min, size_t max, size_t *out);
int cli_double(const cli_args *a, const char *name, double min, double max, double *out);
int cli_u64(const cli_args *a, const char *name, uint64_t *out);
/* "784,256,10" -> sizes; count receives the number of entries. */
int cli_size_list(const cli_args *a, const char *name, size_t *sizes, size_t max, size_t *count);

/* --dropout P or P1,P2,...: one probability for all n_hidden hidden layers, or one
   each, every one in [0, 1), into p[0..n_hidden). *any is set when one is above 0. */
int cli_dropout(const cli_args *a, size_t n_hidden, double *p, int *any);

/* --activation, --output, --loss, --no-bias, --init-range, --seed read into a config, with the
   defaults: output follows the loss (ce: softmax, bce: sigmoid, mse: identity). */
int cli_net_config(const cli_args *a, bp_net_config *c, bp_loss default_loss);

/* Print "backprop CMD: message" to stderr and return code. */
int cli_fail(const cli_args *a, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Report a library error: its detailed message when there is one, else the status text. */
int cli_fail_status(const cli_args *a, bp_status s, const bp_error *err, const char *what);

#endif
