/*
 * log.c - the per-epoch metrics log as CSV (see log.h).
 *
 * Rewriting the whole file after each epoch costs a few kilobytes of I/O per
 * epoch and buys a file that is complete at every moment; appending would
 * leave a torn last line when the run is killed mid-write. Numbers are written
 * exactly (shortest round-trip text) because the log is data for later
 * analysis, not a display. Static names carry a log_ prefix because the unit
 * tests include this file next to the other cli helpers in one translation unit.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char log_header[] =
    "epoch,train_loss,val_loss,val_accuracy,test_loss,test_accuracy,learning_rate,"
    "samples_per_second,elapsed_seconds\n";

static void log_why(char *why, size_t why_len, const char *msg)
{
    if (why && why_len) snprintf(why, why_len, "%s", msg);
}

/* The fewest significant digits that read back as v. The round trip is checked
   with strtod on printf's own text, so both use the same decimal point whatever
   the locale; the text is then given '.' for the file. Integers (epochs) are
   written whole, never as 1e+02. */
static void log_number(bp_buffer *b, double v)
{
    char text[64];
    if (isnan(v)) return;
    if (isinf(v)) {
        bp_buffer_printf(b, "%s", v < 0 ? "-inf" : "inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(text, sizeof text, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
    } else {
        for (int digits = 1; digits <= 17; digits++) {
            snprintf(text, sizeof text, "%.*g", digits, v);
            if (strtod(text, NULL) == v) break;
        }
        for (char *c = text; *c; c++)
            if (*c == ',') *c = '.';
    }
    bp_buffer_append(b, text, strlen(text));
}

static int log_write(metrics_log *metrics, char *why, size_t why_len)
{
    if (metrics->text.failed) {
        if (why && why_len) snprintf(why, why_len, "out of memory building %s", metrics->path);
        return ENOMEM;
    }
    bp_error err = {0};
    bp_status s = bp_write_file_atomic(metrics->path, metrics->text.data, metrics->text.len, &err);
    metrics->unsaved = s != BP_OK;
    if (s != BP_OK) {
        log_why(why, why_len, err.message[0] ? err.message : bp_status_message(s));
        return s == BP_ERR_NOMEM ? ENOMEM : EIO;
    }
    return 0;
}

int metrics_log_open(metrics_log *metrics, const char *path, char *why, size_t why_len)
{
    if (why && why_len) why[0] = '\0';
    memset(metrics, 0, sizeof *metrics);
    if (!path || !*path) {
        log_why(why, why_len, "metrics log: no file name given");
        return EINVAL;
    }
    size_t len = strlen(path) + 1;
    metrics->path = malloc(len);
    if (!metrics->path) {
        log_why(why, why_len, "out of memory opening the metrics log");
        return ENOMEM;
    }
    memcpy(metrics->path, path, len);
    bp_buffer_append(&metrics->text, log_header, sizeof log_header - 1);
    int code = log_write(metrics, why, why_len);
    if (code) {
        free(metrics->path);
        bp_buffer_free(&metrics->text);
        memset(metrics, 0, sizeof *metrics);
    }
    return code;
}

int metrics_log_row(metrics_log *metrics, const double *values, char *why, size_t why_len)
{
    if (why && why_len) why[0] = '\0';
    if (!metrics->path || !values) {
        log_why(why, why_len, "metrics log: not open, or no values given");
        return EINVAL;
    }
    for (size_t i = 0; i < METRICS_COLUMNS; i++) {
        if (i) bp_buffer_append(&metrics->text, ",", 1);
        log_number(&metrics->text, values[i]);
    }
    bp_buffer_append(&metrics->text, "\n", 1);
    metrics->rows++;
    return log_write(metrics, why, why_len);
}

int metrics_log_close(metrics_log *metrics, char *why, size_t why_len)
{
    if (why && why_len) why[0] = '\0';
    int code = metrics->path && metrics->unsaved ? log_write(metrics, why, why_len) : 0;
    free(metrics->path);
    bp_buffer_free(&metrics->text);
    memset(metrics, 0, sizeof *metrics);
    return code;
}
