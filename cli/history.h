/*
 * history.h - what `backprop train` remembers of the epochs it has run: one
 * value per epoch for each metric (what the plot draws and a resumed run's
 * log starts with), and the best validation loss for early stopping.
 *
 * A checkpoint carries the history in its user chunk (history_encode), so a
 * resumed run draws the whole curve. Measuring the metrics and deciding when
 * to stop are the train command's job.
 */
#ifndef BP_CLI_HISTORY_H
#define BP_CLI_HISTORY_H

#include <stddef.h>

/* The metrics kept per epoch: the columns of the --log file after its epoch column. */
enum {
    HISTORY_TRAIN_LOSS,
    HISTORY_VAL_LOSS,
    HISTORY_VAL_ACCURACY,
    HISTORY_TEST_LOSS,
    HISTORY_TEST_ACCURACY,
    HISTORY_LEARNING_RATE,
    HISTORY_SAMPLES_PER_SECOND,
    HISTORY_ELAPSED_SECONDS,
    HISTORY_COLUMNS
};

typedef struct {
    double *col[HISTORY_COLUMNS]; /* one array per metric, one value per finished epoch */
    size_t n, cap;
    size_t best_epoch;            /* early stopping: the best validation loss so far */
    double best_val;
} train_history;

/* Room for `epochs` epochs, none recorded yet. 0 when out of memory (history_free
   still frees what was allocated). */
int history_alloc(train_history *h, size_t epochs);
void history_free(train_history *h);
/* Record one epoch's HISTORY_COLUMNS values; nothing once the history is full. */
void history_add(train_history *h, const double *values);

/* The history as bytes for a checkpoint's user chunk: "BPH2", u64 n, u64 best
   epoch, f64 best loss, n rows of HISTORY_COLUMNS f64, then f64 the run's
   validation fraction (0: none), all little-endian. Returns a malloc'd block of
   *len bytes, or NULL when out of memory. */
unsigned char *history_encode(const train_history *h, double validation, size_t *len);
/* Read history_encode's bytes (or version 1's, "BPH1", which ends after the rows)
   into an allocated history. 0 when they are damaged or hold more epochs than it
   has room for. */
int history_decode(train_history *h, const unsigned char *bytes, size_t len);
/* The validation fraction the bytes record, or -1 when they do not (version 1, or
   damaged). */
double history_validation(const unsigned char *bytes, size_t len);

#endif
