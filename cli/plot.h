/*
 * plot.h - training curves as a standalone SVG line chart (`--plot FILE.svg`).
 *
 * The chart is one self-contained file that any browser opens: no scripts, no
 * external fonts or style sheets. It plots per-epoch series against epoch 1..n,
 * loss on the left axis and accuracy (0..1, shown as 0..100 %) on the right.
 * Choosing what to plot and when to write it is the train command's job.
 */
#ifndef BP_CLI_PLOT_H
#define BP_CLI_PLOT_H

#include <stddef.h>

/* One curve. Value i belongs to epoch i + 1. Non-finite values (NaN, and
   infinities, which have no place on an axis) are missing points: the line
   breaks there. A series with no finite value is left out of the chart and the
   legend, but keeps its color slot so colors stay stable between runs. */
typedef struct {
    const char *name;  /* legend text, e.g. "train loss" (UTF-8; NULL: "series N") */
    const double *y;   /* n values, one per epoch */
    size_t n;
    int right_axis;    /* 0: left axis (loss), 1: right axis (accuracy, 0..1 shown as %) */
} plot_series;

/* Write an SVG chart (800 x 480) of the series against epoch 1..max(n), atomically.
   The left axis fits the left-axis data with round 1-2-5 ticks; it turns
   logarithmic when every left value is positive and the largest is more than 100
   times the smallest (losses that fall over more than two decades flatten into the
   floor on a linear axis). The right axis, drawn when any series uses it, is fixed
   at 0..100 % (values outside 0..1 are pinned to its ends). With nothing to plot
   the chart still comes out, saying "no data". title may be NULL.
   Returns 0, or EINVAL (bad arguments), ENOMEM, EIO (the file could not be
   written); on failure a message naming the file goes into why (if why_len > 0). */
int plot_write_svg(const char *path, const char *title, const plot_series *series, size_t count,
                   char *why, size_t why_len);

#endif
