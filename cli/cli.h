/*
 * cli.h - what the `backprop` program's command files share: option parsing,
 * strict number parsing, messages and exit codes, and a small JSON writer.
 *
 * The library returns statuses; turning them into messages and exit codes is
 * this program's job (docs/STYLE.md: the library returns, the program reports).
 */
#ifndef BP_CLI_H
#define BP_CLI_H

#include <stdio.h>

#include "backprop.h"

/* Exit codes, the same for every command. */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* ---------------------------------------------------------------- options */

/* One command-line option: --name, with a value when arg is not NULL. */
typedef struct {
    const char *name;   /* without the dashes; "o" stands for -o */
    const char *arg;    /* placeholder shown in help ("FILE"), NULL for a flag */
    const char *help;
} cli_option;

#define CLI_MAX_OPTIONS 48
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
   usage message naming the option and return EXIT_USAGE. */
int cli_size(const cli_args *a, const char *name, size_t min, size_t max, size_t *out);
int cli_double(const cli_args *a, const char *name, double min, double max, double *out);
int cli_u64(const cli_args *a, const char *name, uint64_t *out);
/* --threads N (1..256) into *threads; 0 when the option is absent. */
int cli_threads(const cli_args *a, int *threads);
/* Give net `threads` threads (from cli_threads): 0 means one per physical core,
   or one per rank under mpirun. On failure prints why and returns the exit code. */
int cli_use_threads(const cli_args *a, bp_net *net, int threads);
/* The help line every command with --threads shows. */
#define CLI_THREADS_HELP "threads to compute with (default: one per physical core, 1 under mpirun);" \
                         " results are the same for any number"
/* "784,256,10" -> sizes; count receives the number of entries. */
int cli_size_list(const cli_args *a, const char *name, size_t *sizes, size_t max, size_t *count);

/* Print "backprop CMD: message" to stderr and return code. */
int cli_fail(const cli_args *a, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Report a library error: its detailed message when there is one, else the status text. */
int cli_fail_status(const cli_args *a, bp_status s, const bp_error *err, const char *what);

/* ----------------------------------------------------- network description */

/* --activation, --output, --loss, --no-bias, --seed read into a config, with the
   defaults: output follows the loss (ce: softmax, bce: sigmoid, mse: identity). */
int cli_net_config(const cli_args *a, bp_net_config *c, bp_loss default_loss);

/* ------------------------------------------------------------ data files */

typedef enum { CLI_FORMAT_AUTO = 0, CLI_FORMAT_CSV, CLI_FORMAT_IDX, CLI_FORMAT_FANN } cli_format;

/* What to read: a file (plus an IDX labels file), its format, and how targets are read. */
typedef struct {
    const char *path, *labels;
    cli_format format;
    bp_target_kind target;
    size_t n_targets;               /* VALUES: target columns */
    size_t n_classes;               /* CLASS: number of classes, 0 to take it from the data */
    const char *const *class_names; /* CLASS: a fixed mapping (the training set's), or NULL */
} cli_data_request;

/* The format of a file from its first bytes and its name. */
cli_format cli_detect_format(const char *path);
/* --format auto|csv|idx|fann. */
int cli_parse_format(const cli_args *a, cli_format *out);
/* Read a data set; on failure print the message and return the exit code. */
int cli_read_data(const cli_args *a, const cli_data_request *req, bp_dataset **out);
/* Read data for a model: targets as the model expects them (class names, ce -> classes,
   --targets), widths checked, the model's input transform applied. inputs_only: the
   file may lack targets (predict). */
int cli_load_data_for_net(const cli_args *a, const char *path, const char *labels, const bp_net *net,
                          int inputs_only, bp_dataset **out);
/* Columns of a CSV file's first data line; -1 when it is not CSV or cannot be read. */
int cli_csv_columns(const char *path, size_t *cols);

/* A small deterministic generator for the program's own made-up data (splitmix64). */
uint64_t cli_random(uint64_t *state);
double cli_random_unit(uint64_t *state); /* [0, 1) */

/* Seconds on a monotonic clock, for rates and elapsed times. */
double cli_now(void);

/* ----------------------------------------------------------- MPI (mpi.c) */

/* Start MPI when launched by mpirun (in a `make MPI=1` build); otherwise nothing. */
void cli_mpi_init(int *argc, char ***argv);
void cli_mpi_finish(void);
int cli_mpi_rank(void);  /* 0 without MPI */
int cli_mpi_size(void);  /* 1 without MPI */
/* bp_train_config.allreduce over MPI_COMM_WORLD. */
int cli_mpi_allreduce(void *context, float *values, size_t n);
/* Whether the gradient sums will overlap the backward pass, starting the thread that
   runs them if so: where, on every rank's machine, the ranks computing with `threads`
   threads each leave a CPU free for it (BP_MPI_OVERLAP=1 or 0 decides instead). A
   collective: every rank calls it, and all get the same answer. Then the two halves
   of bp_train_config's allreduce_start/wait. */
int cli_mpi_overlap(size_t threads);
int cli_mpi_sum_start(void *context, float *values, size_t n);
int cli_mpi_sum_wait(void *context);
/* 1 when every rank passed the same checksum. */
int cli_mpi_same_everywhere(uint32_t checksum);
/* 1 when any rank passed a nonzero flag. */
int cli_mpi_any(int flag);
/* Rank 0's bytes to every rank (nothing without MPI). 0 or -1. */
int cli_mpi_bcast(void *data, size_t bytes);
/* Rank 0 reads the data set (and reports any error); the other ranks receive it,
   so only rank 0 needs the file. Returns 0 or the exit code on every rank. */
int cli_mpi_read_data(const cli_args *a, const cli_data_request *req, bp_dataset **out);
/* Seconds any rank waits in a collective before it ends the job, naming the
   ranks that did not arrive (0: wait forever). Default 300. */
void cli_mpi_set_timeout(double seconds);
/* End the whole job (every rank) with this exit code. */
void cli_mpi_abort(int code);

/* ------------------------------------------------------------------- JSON */

void json_string(FILE *f, const char *s);
void json_double(FILE *f, double v);   /* 17 significant digits; null if not finite */
void json_float(FILE *f, float v);     /* 9 significant digits: round-trips a float */
void json_float_array(FILE *f, const float *v, size_t n);
/* rows x cols row-major as an array of row arrays */
void json_float_matrix(FILE *f, const float *v, size_t rows, size_t cols);

/* ---------------------------------------------------------------- commands */

extern const cli_command cmd_init, cmd_info, cmd_grad, cmd_gradcheck, cmd_explain, cmd_train,
    cmd_eval, cmd_predict, cmd_convert, cmd_export_c, cmd_demo;

#endif
