/*
 * plot.c - training curves as a standalone SVG line chart (see plot.h).
 *
 * The file is built in a bp_buffer and written with bp_write_file_atomic, so a
 * chart that is rewritten after every epoch is never seen half-written. Every
 * number in it is formatted here with '.' as the decimal point whatever the C
 * locale says. SVG cannot measure text without a script, so label widths are
 * estimated from character counts, generously for the browsers' sans-serif.
 *
 * Deliberately left out: interactivity, styling options, more than two axes.
 * Static names carry a plot_ prefix because the unit tests include this file
 * next to the other cli helpers in one translation unit.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/fileio.h"
#include "plot.h"

enum {
    PLOT_WIDTH = 800,
    PLOT_HEIGHT = 480,
    PLOT_MAX_TICKS = 32,
    PLOT_MAX_MINOR = 80,
    PLOT_MARKERS_UP_TO = 30 /* epochs; beyond that markers would blur the line */
};

/* Keeping values within 1e-300..1e300 in magnitude lets every range, ratio and
   rounding below stay finite; such values are off any sensible chart anyway. */
#define PLOT_VALUE_LIMIT 1e300

/* matplotlib's "tab10": distinct hues that survive the common color-vision deficiencies. */
static const char *const plot_palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

typedef struct {
    double lo, hi; /* the span of the axis; log10 of the values on a log axis */
    int log;
    double ticks[PLOT_MAX_TICKS]; /* labeled positions, in data units */
    size_t n_ticks;
    double minor[PLOT_MAX_MINOR]; /* unlabeled tick marks (log axes only) */
    size_t n_minor;
    int decimals; /* linear labels: >= 0 fixed decimals, -1 significant digits */
    int sig;
    int percent;  /* labels 0..1 as 0..100 % */
} plot_axis;

typedef struct {
    double left, right, top, bottom; /* the plot area in SVG user units */
} plot_frame;

/* ------------------------------------------------------------ numbers */

/* printf's decimal point follows LC_NUMERIC; SVG and XML want '.' always. */
static void plot_fix_decimal_point(char *s)
{
    for (; *s; s++)
        if (*s == ',') *s = '.';
}

/* "-0.00" after rounding a tiny negative: the minus would be noise. */
static void plot_drop_negative_zero(char *s)
{
    if (s[0] != '-') return;
    for (const char *c = s + 1; *c; c++)
        if (*c >= '1' && *c <= '9') return;
    memmove(s, s + 1, strlen(s));
}

/* "1.5e+20" -> "1.5e20", "1e-05" -> "1e-5": tick labels want to be short. */
static void plot_compact_exponent(char *s)
{
    char *e = strchr(s, 'e');
    if (!e) return;
    char *src = e + 1, *dst = e + 1;
    if (*src == '+') src++;
    else if (*src == '-') *dst++ = *src++;
    while (*src == '0' && src[1]) src++;
    memmove(dst, src, strlen(src) + 1);
}

static void plot_format_fixed(char *out, size_t size, double v, int decimals)
{
    snprintf(out, size, "%.*f", decimals, v);
    plot_fix_decimal_point(out);
    plot_drop_negative_zero(out);
}

static void plot_format_sig(char *out, size_t size, double v, int sig)
{
    snprintf(out, size, "%.*g", sig, v);
    plot_fix_decimal_point(out);
    plot_compact_exponent(out);
    plot_drop_negative_zero(out);
}

/* A coordinate with one decimal, built from integers so no locale can touch it. */
static void plot_coord(bp_buffer *b, double v)
{
    if (!(v > -1e6)) v = -1e6; /* NaN lands here too; callers never pass one */
    if (v > 1e6) v = 1e6;
    long tenths = lround(v * 10.0);
    if (tenths < 0) {
        bp_buffer_append(b, "-", 1);
        tenths = -tenths;
    }
    if (tenths % 10)
        bp_buffer_printf(b, "%ld.%ld", tenths / 10, tenths % 10);
    else
        bp_buffer_printf(b, "%ld", tenths / 10);
}

/* Pin finite values into the range the arithmetic below handles. */
static double plot_clamp_value(double v)
{
    double m = fabs(v);
    if (m > PLOT_VALUE_LIMIT) return v < 0 ? -PLOT_VALUE_LIMIT : PLOT_VALUE_LIMIT;
    if (m > 0 && m < 1.0 / PLOT_VALUE_LIMIT) return v < 0 ? -1.0 / PLOT_VALUE_LIMIT : 1.0 / PLOT_VALUE_LIMIT;
    return v;
}

/* The smallest 1, 2 or 5 times a power of ten that is at least raw (> 0). */
static double plot_nice_step(double raw)
{
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    return (f <= 1.0 + 1e-9 ? 1.0 : f <= 2.0 + 1e-9 ? 2.0 : f <= 5.0 + 1e-9 ? 5.0 : 10.0) * mag;
}

/* --------------------------------------------------------------- axes */

/* Round 1-2-5 ticks enclosing [lo, hi], about target intervals. */
static void plot_linear_axis(plot_axis *ax, double lo, double hi, int target, int nonnegative)
{
    double big = fmax(fabs(lo), fabs(hi));
    /* A flat (or numerically flat) series gets room around it instead of a zero span. */
    if (!(hi - lo > 1e-9 * big)) {
        double d = big > 0 ? 0.5 * big : 1.0;
        lo -= d;
        hi += d;
    }
    double step = plot_nice_step((hi - lo) / target);
    double a = floor(lo / step + 1e-9) * step, b = ceil(hi / step - 1e-9) * step;
    if (nonnegative && a < 0) a = 0;
    size_t n = (size_t)llround((b - a) / step) + 1;
    if (n > PLOT_MAX_TICKS) n = PLOT_MAX_TICKS;
    ax->log = 0;
    ax->lo = a;
    ax->hi = b;
    ax->n_ticks = n;
    for (size_t i = 0; i < n; i++) {
        double t = a + (double)i * step;
        ax->ticks[i] = fabs(t) < 1e-9 * step ? 0.0 : t; /* 0.1 * 3 - 0.3 is not 0 */
    }
    ax->n_minor = 0;
    int e = (int)floor(log10(step) + 1e-9);
    big = fmax(fabs(a), fabs(b));
    if (big < 1e6 && e >= -5) {
        ax->decimals = e < 0 ? -e : 0;
        ax->sig = 0;
    } else {
        ax->decimals = -1;
        int lead = big > 0 ? (int)floor(log10(big) + 1e-9) : e;
        ax->sig = lead - e + 1;
        if (ax->sig < 1) ax->sig = 1;
        if (ax->sig > 17) ax->sig = 17;
    }
}

/* Decades enclosing [lo, hi] (both > 0): every k-th decade labeled, with k from
   1-2-5 so that at most 8 are; 2 and 5 labeled as well when there are few decades. */
static void plot_log_axis(plot_axis *ax, double lo, double hi)
{
    int emin = (int)floor(log10(lo) + 1e-9), emax = (int)ceil(log10(hi) - 1e-9);
    if (emax <= emin) emax = emin + 1;
    static const int decade_steps[] = {1, 2, 5, 10, 20, 50, 100, 200, 500};
    int k = 1;
    for (size_t i = 0; i < sizeof decade_steps / sizeof decade_steps[0]; i++) {
        k = decade_steps[i];
        if ((emax - emin + k - 1) / k <= 8) break;
    }
    /* floor and ceil to multiples of k, for negative exponents too */
    emin = (emin >= 0 ? emin / k : -((-emin + k - 1) / k)) * k;
    emax = (emax >= 0 ? (emax + k - 1) / k : -(-emax / k)) * k;
    ax->log = 1;
    ax->lo = emin;
    ax->hi = emax;
    ax->n_ticks = ax->n_minor = 0;
    ax->decimals = -1;
    ax->sig = 1;
    int decades = emax - emin;
    for (int e = emin; e <= emax; e += k) {
        double p = pow(10.0, e);
        if (ax->n_ticks < PLOT_MAX_TICKS) ax->ticks[ax->n_ticks++] = p;
        if (k != 1 || e == emax) continue;
        for (int m = 2; m <= 9; m++) {
            if (decades <= 3 && (m == 2 || m == 5)) {
                if (ax->n_ticks < PLOT_MAX_TICKS) ax->ticks[ax->n_ticks++] = m * p;
            } else if (decades <= 8 && ax->n_minor < PLOT_MAX_MINOR) {
                ax->minor[ax->n_minor++] = m * p;
            }
        }
    }
}

static void plot_percent_axis(plot_axis *ax)
{
    ax->log = 0;
    ax->lo = 0;
    ax->hi = 1;
    ax->n_ticks = 6;
    for (size_t i = 0; i < 6; i++) ax->ticks[i] = 0.2 * (double)i;
    ax->n_minor = 0;
    ax->decimals = 0;
    ax->sig = 0;
    ax->percent = 1;
}

static void plot_tick_label(const plot_axis *ax, double v, char *out, size_t size)
{
    if (ax->percent) {
        snprintf(out, size, "%d%%", (int)lround(v * 100.0));
    } else if (ax->log) {
        int e = (int)floor(log10(v) + 1e-9);
        int m = (int)lround(v / pow(10.0, e));
        if (e >= -3 && e <= 5)
            plot_format_fixed(out, size, v, e < 0 ? -e : 0);
        else
            snprintf(out, size, "%de%d", m, e);
    } else if (ax->decimals >= 0) {
        plot_format_fixed(out, size, v, ax->decimals);
    } else {
        plot_format_sig(out, size, v, ax->sig);
    }
}

/* Where v sits along the axis, 0 at lo and 1 at hi. */
static double plot_fraction(const plot_axis *ax, double v)
{
    double t = ax->log ? log10(v) : v;
    return (t - ax->lo) / (ax->hi - ax->lo);
}

/* ---------------------------------------------------------------- text */

/* Approximate width in user units: code points times an average glyph width. */
static double plot_text_width(const char *s, double font_size)
{
    size_t chars = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) chars++;
    return (double)chars * 0.6 * font_size;
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one (overlong forms,
   surrogates and code points beyond U+10FFFF included, as XML parsers refuse them). */
static size_t plot_utf8_length(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

/* Text as XML character data: markup characters escaped, control characters (which
   XML 1.0 forbids) turned into spaces and broken UTF-8 into '?', so any name a
   user typed still gives a well-formed file. */
static void plot_escape(bp_buffer *b, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        switch (*s) {
        case '&': bp_buffer_append(b, "&amp;", 5); s++; continue;
        case '<': bp_buffer_append(b, "&lt;", 4); s++; continue;
        case '>': bp_buffer_append(b, "&gt;", 4); s++; continue;
        case '"': bp_buffer_append(b, "&quot;", 6); s++; continue;
        case '\'': bp_buffer_append(b, "&apos;", 6); s++; continue;
        default: break;
        }
        if (*s < 0x20) {
            bp_buffer_append(b, " ", 1);
            s++;
            continue;
        }
        size_t n = plot_utf8_length(s);
        if (n == 0) {
            bp_buffer_append(b, "?", 1);
            s++;
        } else {
            bp_buffer_append(b, s, n);
            s += n;
        }
    }
}

static void plot_text(bp_buffer *b, double x, double y, const char *anchor, const char *attrs,
                      const char *text)
{
    bp_buffer_printf(b, "<text x=\"");
    plot_coord(b, x);
    bp_buffer_printf(b, "\" y=\"");
    plot_coord(b, y);
    bp_buffer_printf(b, "\" text-anchor=\"%s\"%s%s>", anchor, *attrs ? " " : "", attrs);
    plot_escape(b, text);
    bp_buffer_printf(b, "</text>\n");
}

static void plot_line(bp_buffer *b, double x1, double y1, double x2, double y2, const char *attrs)
{
    bp_buffer_printf(b, "<line x1=\"");
    plot_coord(b, x1);
    bp_buffer_printf(b, "\" y1=\"");
    plot_coord(b, y1);
    bp_buffer_printf(b, "\" x2=\"");
    plot_coord(b, x2);
    bp_buffer_printf(b, "\" y2=\"");
    plot_coord(b, y2);
    bp_buffer_printf(b, "\" %s/>\n", attrs);
}

/* ------------------------------------------------------------- drawing */

static double plot_widest_label(const plot_axis *ax, double font_size)
{
    double w = 0;
    char label[64];
    for (size_t i = 0; i < ax->n_ticks; i++) {
        plot_tick_label(ax, ax->ticks[i], label, sizeof label);
        double lw = plot_text_width(label, font_size);
        if (lw > w) w = lw;
    }
    return w;
}

/* Ticks, labels and grid lines of a vertical axis on the left (side 0) or right (side 1). */
static void plot_vertical_axis(bp_buffer *b, const plot_frame *f, const plot_axis *ax, int side,
                               int grid)
{
    double x = side ? f->right : f->left, out = side ? 1.0 : -1.0;
    char label[64];
    for (size_t i = 0; i < ax->n_minor; i++) {
        double y = f->bottom - plot_fraction(ax, ax->minor[i]) * (f->bottom - f->top);
        plot_line(b, x, y, x + 3 * out, y, "stroke=\"#555555\" stroke-width=\"1\"");
    }
    for (size_t i = 0; i < ax->n_ticks; i++) {
        double y = f->bottom - plot_fraction(ax, ax->ticks[i]) * (f->bottom - f->top);
        if (grid && y > f->top + 0.5 && y < f->bottom - 0.5)
            plot_line(b, f->left, y, f->right, y, "stroke=\"#e5e5e5\" stroke-width=\"1\"");
        plot_line(b, x, y, x + 5 * out, y, "stroke=\"#555555\" stroke-width=\"1\"");
        plot_tick_label(ax, ax->ticks[i], label, sizeof label);
        plot_text(b, x + 8 * out, y + 4, side ? "start" : "end", "font-size=\"11\" fill=\"#333333\"",
                  label);
    }
}

/* One series as path segments broken at missing values, markers where a point
   has no neighbor to draw a line to (or everywhere, for short runs). */
static void plot_draw_series(bp_buffer *b, const plot_frame *f, const plot_axis *x_axis,
                             const plot_axis *y_axis, const plot_series *s, const char *color,
                             size_t epochs)
{
    const char *dash = s->right_axis ? " stroke-dasharray=\"7 4\"" : "";
    bp_buffer_printf(b, "<g fill=\"none\" stroke=\"%s\">\n", color);
    int in_path = 0;
    for (size_t i = 0; i < s->n; i++) {
        int here = isfinite(s->y[i]);
        int next = i + 1 < s->n && isfinite(s->y[i + 1]);
        if (!here) {
            if (in_path) bp_buffer_printf(b, "\"/>\n");
            in_path = 0;
            continue;
        }
        if (!in_path && !next) continue; /* a lone point: only its marker, below */
        double v = plot_clamp_value(s->y[i]);
        if (s->right_axis) v = v < 0 ? 0 : v > 1 ? 1 : v;
        double x = f->left + plot_fraction(x_axis, (double)(i + 1)) * (f->right - f->left);
        double y = f->bottom - plot_fraction(y_axis, v) * (f->bottom - f->top);
        if (!in_path)
            bp_buffer_printf(b, "<path stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"%s d=\"M", dash);
        else
            bp_buffer_printf(b, " L");
        plot_coord(b, x);
        bp_buffer_append(b, " ", 1);
        plot_coord(b, y);
        in_path = 1;
    }
    if (in_path) bp_buffer_printf(b, "\"/>\n");
    bp_buffer_printf(b, "</g>\n<g fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"1\">\n", color);
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(s->y[i])) continue;
        int lone = !(i > 0 && isfinite(s->y[i - 1])) && !(i + 1 < s->n && isfinite(s->y[i + 1]));
        if (!lone && epochs > PLOT_MARKERS_UP_TO) continue;
        double v = plot_clamp_value(s->y[i]);
        if (s->right_axis) v = v < 0 ? 0 : v > 1 ? 1 : v;
        double x = f->left + plot_fraction(x_axis, (double)(i + 1)) * (f->right - f->left);
        double y = f->bottom - plot_fraction(y_axis, v) * (f->bottom - f->top);
        bp_buffer_printf(b, "<circle cx=\"");
        plot_coord(b, x);
        bp_buffer_printf(b, "\" cy=\"");
        plot_coord(b, y);
        bp_buffer_printf(b, "\" r=\"%s\"/>\n", lone ? "4" : "3");
    }
    bp_buffer_printf(b, "</g>\n");
}

static int plot_has_data(const plot_series *s)
{
    for (size_t j = 0; j < s->n; j++)
        if (isfinite(s->y[j])) return 1;
    return 0;
}

static const char *plot_series_name(const plot_series *s, size_t index, char *buf, size_t size)
{
    if (s->name) return s->name;
    snprintf(buf, size, "series %zu", index + 1);
    return buf;
}

enum { PLOT_LEGEND_SWATCH = 26, PLOT_LEGEND_GAP = 20 };

static double plot_legend_entry_width(const plot_series *s, size_t index)
{
    char buf[32];
    return PLOT_LEGEND_SWATCH + 6 + plot_text_width(plot_series_name(s, index, buf, sizeof buf), 12) +
           PLOT_LEGEND_GAP;
}

/* Legend entries in rows of at most the chart's width less margins, each row
   centered, the first at y = top. Returns the number of rows; with b NULL it
   only measures, so layout and drawing cannot disagree. */
static size_t plot_legend(bp_buffer *b, const plot_series *series, size_t count, double top)
{
    const double room = PLOT_WIDTH - 80, row_height = 20;
    size_t rows = 0, first = 0;
    while (first < count) {
        size_t last = first, entries = 0;
        double used = 0;
        for (; last < count; last++) {
            if (!plot_has_data(&series[last])) continue;
            double w = plot_legend_entry_width(&series[last], last);
            if (entries && used + w > room) break;
            used += w;
            entries++;
        }
        if (!entries) break;
        if (b) {
            double x = (PLOT_WIDTH - (used - PLOT_LEGEND_GAP)) / 2;
            double y = top + (double)rows * row_height;
            for (size_t i = first; i < last; i++) {
                if (!plot_has_data(&series[i])) continue;
                char attrs[128], buf[32];
                snprintf(attrs, sizeof attrs, "stroke=\"%s\" stroke-width=\"2.5\"%s",
                         plot_palette[i % (sizeof plot_palette / sizeof plot_palette[0])],
                         series[i].right_axis ? " stroke-dasharray=\"7 4\"" : "");
                plot_line(b, x, y, x + PLOT_LEGEND_SWATCH, y, attrs);
                plot_text(b, x + PLOT_LEGEND_SWATCH + 6, y + 4, "start", "font-size=\"12\" fill=\"#222222\"",
                          plot_series_name(&series[i], i, buf, sizeof buf));
                x += plot_legend_entry_width(&series[i], i);
            }
        }
        rows++;
        first = last;
    }
    return rows;
}

static void plot_fail(char *why, size_t why_len, const char *msg)
{
    if (why && why_len) snprintf(why, why_len, "%s", msg);
}

/* Everything about a chart that is decided before drawing it. */
typedef struct {
    size_t epochs;             /* the longest series with something to draw */
    size_t drawn;              /* series with at least one finite value */
    int any_left, any_right;   /* some drawn series uses the left (loss) or right axis */
    int show_left;             /* the left axis is drawn: any_left, or an empty chart */
    plot_axis x, left, right;
    plot_frame frame;
    double legend_top;
} plot_chart;

/* The epochs and the axes the series need, and the left axis's data range
   (over finite values, clamped); all_positive decides whether it may be logarithmic. */
static void plot_measure(plot_chart *c, const plot_series *series, size_t count, double *lo, double *hi,
                         int *all_positive)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    *all_positive = 1;
    for (size_t i = 0; i < count; i++) {
        size_t finite = 0;
        for (size_t j = 0; j < series[i].n; j++) {
            if (!isfinite(series[i].y[j])) continue;
            finite++;
            if (series[i].right_axis) continue;
            double v = plot_clamp_value(series[i].y[j]);
            if (v < *lo) *lo = v;
            if (v > *hi) *hi = v;
            if (!(v > 0)) *all_positive = 0;
        }
        if (!finite) continue;
        c->drawn++;
        if (series[i].n > c->epochs) c->epochs = series[i].n;
        if (series[i].right_axis) c->any_right = 1;
        else c->any_left = 1;
    }
}

/* Epochs 1..n along the bottom, every 1-2-5th labeled. */
static void plot_epoch_axis(plot_axis *ax, size_t epochs)
{
    if (epochs <= 1) {
        ax->lo = 0.5;
        ax->hi = 1.5;
        ax->ticks[0] = 1;
        ax->n_ticks = 1;
        return;
    }
    double step = plot_nice_step((double)(epochs - 1) / 8.0);
    if (step < 1) step = 1;
    /* A little room at both ends keeps the first and last markers off the frame. */
    double pad = 0.02 * (double)(epochs - 1);
    ax->lo = 1 - pad;
    ax->hi = (double)epochs + pad;
    for (double t = step == 1 ? 1 : step; t <= (double)epochs && ax->n_ticks < PLOT_MAX_TICKS; t += step)
        ax->ticks[ax->n_ticks++] = t;
}

/* The axes, and the layout: title, then legend rows, above the plot area; axis
   labels around it. */
static void plot_lay_out(plot_chart *c, const char *title, const plot_series *series, size_t count)
{
    double lo, hi;
    int all_positive;
    memset(c, 0, sizeof *c);
    plot_measure(c, series, count, &lo, &hi, &all_positive);
    plot_epoch_axis(&c->x, c->epochs);
    if (c->any_left) {
        if (all_positive && log10(hi) - log10(lo) > 2.0)
            plot_log_axis(&c->left, lo, hi);
        else
            plot_linear_axis(&c->left, lo, hi, 5, lo >= 0);
    } else {
        plot_linear_axis(&c->left, 0, 1, 5, 1); /* frames the empty chart */
    }
    plot_percent_axis(&c->right);
    c->show_left = c->any_left || !c->any_right; /* an empty chart still gets its loss axis */

    double title_h = title && *title ? 38 : 14;
    c->legend_top = title_h + 6;
    size_t rows = plot_legend(NULL, series, count, c->legend_top);
    /* Side margins, outside in: 12 of air, the axis title, 10, the tick labels, the ticks. */
    plot_frame *f = &c->frame;
    f->left = c->show_left ? 12 + 18 + 10 + plot_widest_label(&c->left, 11) + 8 : 30;
    f->right = PLOT_WIDTH - (c->any_right ? 12 + 18 + 10 + plot_widest_label(&c->right, 11) + 8 : 30);
    f->top = title_h + (double)rows * 20 + (rows ? 14 : 8);
    f->bottom = PLOT_HEIGHT - 56;
}

/* The document's start: the SVG element, the title for the browser's tab and
   as a heading, and the white background. */
static void plot_begin(bp_buffer *b, const char *title)
{
    bp_buffer_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
                        "viewBox=\"0 0 %d %d\" font-family=\"Helvetica, Arial, sans-serif\">\n",
                     PLOT_WIDTH, PLOT_HEIGHT, PLOT_WIDTH, PLOT_HEIGHT);
    if (title && *title) {
        bp_buffer_printf(b, "<title>");
        plot_escape(b, title);
        bp_buffer_printf(b, "</title>\n");
    }
    bp_buffer_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", PLOT_WIDTH, PLOT_HEIGHT);
    if (title && *title)
        plot_text(b, PLOT_WIDTH / 2.0, 26, "middle", "font-size=\"16\" font-weight=\"bold\" fill=\"#222222\"",
                  title);
}

/* Grid lines, the value axes and the plot area's frame; grid lines first, so
   that the frame and later the curves lie over them. */
static void plot_draw_frame(bp_buffer *b, const plot_chart *c)
{
    const plot_frame *f = &c->frame;
    for (size_t i = 0; i < c->x.n_ticks; i++) {
        double x = f->left + plot_fraction(&c->x, c->x.ticks[i]) * (f->right - f->left);
        if (x > f->left + 0.5 && x < f->right - 0.5)
            plot_line(b, x, f->top, x, f->bottom, "stroke=\"#f0f0f0\" stroke-width=\"1\"");
    }
    if (c->show_left) plot_vertical_axis(b, f, &c->left, 0, 1);
    if (c->any_right) plot_vertical_axis(b, f, &c->right, 1, !c->show_left);
    bp_buffer_printf(b, "<rect x=\"");
    plot_coord(b, f->left);
    bp_buffer_printf(b, "\" y=\"");
    plot_coord(b, f->top);
    bp_buffer_printf(b, "\" width=\"");
    plot_coord(b, f->right - f->left);
    bp_buffer_printf(b, "\" height=\"");
    plot_coord(b, f->bottom - f->top);
    bp_buffer_printf(b, "\" fill=\"none\" stroke=\"#555555\" stroke-width=\"1\"/>\n");
}

/* The epoch ticks and labels under the frame, and the three axis titles. */
static void plot_draw_labels(bp_buffer *b, const plot_chart *c)
{
    const plot_frame *f = &c->frame;
    char label[64];
    for (size_t i = 0; i < c->x.n_ticks; i++) {
        double x = f->left + plot_fraction(&c->x, c->x.ticks[i]) * (f->right - f->left);
        plot_line(b, x, f->bottom, x, f->bottom + 5, "stroke=\"#555555\" stroke-width=\"1\"");
        snprintf(label, sizeof label, "%.0f", c->x.ticks[i]);
        plot_text(b, x, f->bottom + 19, "middle", "font-size=\"11\" fill=\"#333333\"", label);
    }
    const char *axis_title = "font-size=\"13\" fill=\"#222222\"";
    plot_text(b, (f->left + f->right) / 2, PLOT_HEIGHT - 14, "middle", axis_title, "epoch");
    double mid = (f->top + f->bottom) / 2;
    char attrs[128];
    if (c->show_left) {
        snprintf(attrs, sizeof attrs, "%s transform=\"rotate(-90 24 %ld)\"", axis_title, lround(mid));
        plot_text(b, 24, (double)lround(mid), "middle", attrs, c->left.log ? "loss (log scale)" : "loss");
    }
    if (c->any_right) {
        long x = PLOT_WIDTH - 24;
        snprintf(attrs, sizeof attrs, "%s transform=\"rotate(90 %ld %ld)\"", axis_title, x, lround(mid));
        plot_text(b, (double)x, (double)lround(mid), "middle", attrs, "accuracy");
    }
}

/* The finished document to path, atomically; frees b. */
static int plot_save(bp_buffer *b, const char *path, char *why, size_t why_len)
{
    if (b->failed) {
        bp_buffer_free(b);
        if (why && why_len) snprintf(why, why_len, "out of memory building %s", path);
        return ENOMEM;
    }
    bp_error err = {0};
    bp_status s = bp_write_file_atomic(path, b->data, b->len, &err);
    bp_buffer_free(b);
    if (s != BP_OK) {
        plot_fail(why, why_len, err.message[0] ? err.message : bp_status_message(s));
        return s == BP_ERR_NOMEM ? ENOMEM : EIO;
    }
    return 0;
}

int plot_write_svg(const char *path, const char *title, const plot_series *series, size_t count,
                   char *why, size_t why_len)
{
    if (why && why_len) why[0] = '\0';
    if (!path || (count && !series)) {
        plot_fail(why, why_len, "plot: no file name or no series given");
        return EINVAL;
    }
    for (size_t i = 0; i < count; i++)
        if (series[i].n && !series[i].y) {
            plot_fail(why, why_len, "plot: a series has values but no array");
            return EINVAL;
        }
    plot_chart c;
    plot_lay_out(&c, title, series, count);
    bp_buffer b = {0};
    plot_begin(&b, title);
    plot_draw_frame(&b, &c);
    plot_draw_labels(&b, &c);
    for (size_t i = 0; i < count; i++) {
        if (!plot_has_data(&series[i])) continue;
        plot_draw_series(&b, &c.frame, &c.x, series[i].right_axis ? &c.right : &c.left, &series[i],
                         plot_palette[i % (sizeof plot_palette / sizeof plot_palette[0])], c.epochs);
    }
    if (!c.drawn)
        plot_text(&b, (c.frame.left + c.frame.right) / 2, (c.frame.top + c.frame.bottom) / 2, "middle",
                  "font-size=\"14\" fill=\"#888888\"", "no data");
    plot_legend(&b, series, count, c.legend_top);
    bp_buffer_printf(&b, "</svg>\n");
    return plot_save(&b, path, why, why_len);
}
