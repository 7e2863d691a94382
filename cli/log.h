/*
 * log.h - the per-epoch metrics log of `backprop train --log FILE.csv`.
 *
 * One header line, then one row per finished epoch. The whole file is kept in
 * memory and rewritten atomically after every row (it is a few kilobytes), so
 * a run that is killed leaves a complete CSV of every epoch it finished, and a
 * reader polling the file never sees a half-written line. What goes into the
 * columns is the train command's choice; this file only writes them.
 */
#ifndef BP_CLI_LOG_H
#define BP_CLI_LOG_H

#include <stddef.h>

#include "io/fileio.h"

/* The columns, in file order; index the values of metrics_log_row with these. */
enum {
    METRICS_EPOCH,
    METRICS_TRAIN_LOSS,
    METRICS_VAL_LOSS,
    METRICS_VAL_ACCURACY,
    METRICS_TEST_LOSS,
    METRICS_TEST_ACCURACY,
    METRICS_LEARNING_RATE,
    METRICS_SAMPLES_PER_SECOND,
    METRICS_ELAPSED_SECONDS,
    METRICS_COLUMNS /* 9 */
};

/* The open log; its fields are private. Zeroed (metrics_log log = {0}) it is closed. */
typedef struct {
    char *path;      /* a copy of the file name */
    bp_buffer text;  /* the whole file so far */
    size_t rows;
    int unsaved;     /* the last write failed: the file lacks rows the text has */
} metrics_log;

/* Create (or replace) path with the header line:
   epoch,train_loss,val_loss,val_accuracy,test_loss,test_accuracy,learning_rate,samples_per_second,elapsed_seconds
   Writing it at once reports an unwritable path before training starts.
   Returns 0, or EINVAL, ENOMEM, EIO with a message naming the file in why. */
int metrics_log_open(metrics_log *metrics, const char *path, char *why, size_t why_len);

/* Append one row of METRICS_COLUMNS values and rewrite the file. NaN writes an empty
   cell (not measured); infinities write inf or -inf; other numbers are written in
   the fewest digits that read back as the same double, with '.' whatever the locale.
   If the write fails the row is kept, and goes out with the next write. */
int metrics_log_row(metrics_log *metrics, const double *values, char *why, size_t why_len);

/* Write the file once more if the last write failed, then free the log (also
   on failure). Safe on a zeroed log. */
int metrics_log_close(metrics_log *metrics, char *why, size_t why_len);

#endif
