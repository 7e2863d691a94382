/*
 * progress.h - a live progress bar on stderr while an epoch runs.
 *
 * It draws only when stderr is a terminal: redirected to a file or a pipe,
 * stderr gets nothing, so logs and scripted runs stay clean. The bar lives on
 * one line that is redrawn in place (carriage return, no escape sequences) and
 * erased by progress_finish, so the caller's next line starts clean.
 * Deciding when to show it (not with --json, say) is the caller's business:
 * set quiet before progress_start.
 */
#ifndef BP_CLI_PROGRESS_H
#define BP_CLI_PROGRESS_H

#include <stddef.h>

/* Plain state, one per bar; no globals. Initialize it (progress p = {0}, or
   {.quiet = 1} to force the bar off) before the first progress_start; later
   starts may reuse it and keep quiet as it is. The other fields are private. */
typedef struct {
    int quiet;          /* set by the caller: never draw */
    int active;         /* stderr is a terminal and quiet is 0 */
    int drawn;          /* a bar is on the screen now */
    const char *label;  /* not copied: must outlive the bar */
    size_t total, done;
    double start, last_draw; /* seconds on the monotonic clock */
    int width;          /* columns the last bar covered */
} progress;

/* Begin a bar of total units (samples). Checks once whether stderr is a terminal. */
void progress_start(progress *p, const char *label, size_t total);
/* done units so far; redraws at most ten times a second (and on reaching total). */
void progress_update(progress *p, size_t done);
/* Erase the bar's line. Safe to call when nothing was drawn. */
void progress_finish(progress *p);

#endif
