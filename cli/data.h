/*
 * data.h - how the program finds and reads data files: the format from
 * --format or from the file itself (CSV, IDX, FANN), the targets from the
 * options or from a model, and the model's input transform.
 *
 * Parsing the formats is the library's job; this part only decides what to
 * ask it for and reports failures. Sharing data between MPI ranks is mpi.h's.
 */
#ifndef BP_CLI_DATA_H
#define BP_CLI_DATA_H

#include <stddef.h>

#include "args.h"
#include "backprop.h"

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
   file may lack targets, and a class column it has is read without the model's classes
   (predict, --calibrate: any label will do, the targets are not used). */
int cli_load_data_for_net(const cli_args *a, const char *path, const char *labels, const bp_net *net,
                          int inputs_only, bp_dataset **out);
/* The model's stored input transform applied to data read from path; EXIT_FAILED, naming
   the sample and input, when it carries a finite value past float's range. */
int cli_apply_model_transform(const cli_args *a, const char *path, const bp_net *net, bp_dataset *data);
/* A CSV file's column count against `whose` ("the model") n_in inputs and n_out
   outputs (classes: one class column, else n_out target columns), before it is read:
   otherwise a file with too few columns fails on its last one, read as a class the
   model does not know, which names the wrong problem. inputs_only: the target
   columns may be left out, and *without_targets (if not NULL) says whether they are.
   0 when the count fits or cannot be known (not a regular CSV file); else the exit
   status, after a message naming the file and line. */
int cli_check_csv_columns(const cli_args *a, const char *path, const char *whose, size_t n_in, size_t n_out,
                          int classes, int inputs_only, int *without_targets);
/* An output file that is one of the command's inputs would be overwritten before (or
   instead of) being read: `train -o data.csv`, `predict -o model.bpm`. inputs holds n
   pairs of how the command names an input ("--train", "MODEL") and its path (NULL when
   not given). 0 when out_path is none of them (compared by device and inode, so ./x
   and x are the same file), else EXIT_USAGE after a message naming both. */
int cli_check_output(const cli_args *a, const char *out_label, const char *out_path, const char *const *inputs,
                     size_t n);
/* Two outputs that name one file would overwrite each other (`train -o run.bpm
   --checkpoint run.bpm`). outputs holds n (option, path) pairs, paths NULL when not
   given; files not there yet are the same when they are one name in one directory.
   0, or EXIT_USAGE after a message naming both options. */
int cli_check_distinct_outputs(const cli_args *a, const char *const *outputs, size_t n);

#endif
