/*
 * progress.c - a live progress bar on stderr (see progress.h).
 *
 * The bar is redrawn with a carriage return and padded with spaces over what
 * the previous drawing left, rather than with terminal escape sequences, so it
 * works on any terminal, dumb ones included. Whether stderr is a terminal is
 * asked once per progress_start: when it is not, every later call returns at
 * its first test. Static names carry a progress_ prefix because the unit tests
 * include this file next to the other cli helpers in one translation unit.
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

enum { PROGRESS_MAX_COLUMNS = 400, PROGRESS_MIN_BAR = 10 };

static double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int progress_columns(void)
{
#ifdef TIOCGWINSZ
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col > PROGRESS_MAX_COLUMNS ? PROGRESS_MAX_COLUMNS : ws.ws_col;
#endif
    return 80;
}

/* m:ss, or h:mm:ss from an hour on. */
static void progress_duration(char *out, size_t size, double seconds)
{
    if (!(seconds >= 0)) seconds = 0;
    if (seconds > 359999) seconds = 359999; /* 99:59:59; an ETA that far is a guess anyway */
    unsigned long s = (unsigned long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(out, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, size, "%lu:%02lu", s / 60, s % 60);
}

static void progress_rate(char *out, size_t size, double per_second)
{
    if (per_second < 1e3)
        snprintf(out, size, "%.0f/s", per_second);
    else if (per_second < 1e5)
        snprintf(out, size, "%.1fk/s", per_second / 1e3);
    else if (per_second < 1e6)
        snprintf(out, size, "%.0fk/s", per_second / 1e3);
    else if (per_second < 1e8)
        snprintf(out, size, "%.1fM/s", per_second / 1e6);
    else
        snprintf(out, size, "%.0fM/s", per_second / 1e6);
}

static void progress_draw(progress *p, double now)
{
    double elapsed = now - p->start;
    size_t done = p->done < p->total ? p->done : p->total;
    double fraction = p->total ? (double)done / (double)p->total : 1.0;

    char rate[32], spent[32], eta[32], tail[128];
    if (elapsed > 1e-6 && done > 0)
        progress_rate(rate, sizeof rate, (double)done / elapsed);
    else
        snprintf(rate, sizeof rate, "--/s");
    progress_duration(spent, sizeof spent, elapsed);
    if (done > 0)
        progress_duration(eta, sizeof eta, elapsed * (double)(p->total - done) / (double)done);
    else
        snprintf(eta, sizeof eta, "--:--");
    snprintf(tail, sizeof tail, " %3d%%  %s  %s  ETA %s", (int)(fraction * 100.0), rate, spent, eta);

    /* The last column stays empty: writing there makes some terminals wrap. */
    int columns = progress_columns() - 1;
    char line[PROGRESS_MAX_COLUMNS + 1];
    size_t label_len = strlen(p->label), tail_len = strlen(tail), len = 0;
    long bar = (long)columns - (long)label_len - 3 - (long)tail_len;
    if (bar >= PROGRESS_MIN_BAR) {
        if (bar > 60) bar = 60; /* a wider bar says nothing more */
        memcpy(line, p->label, label_len);
        len = label_len;
        line[len++] = ' ';
        line[len++] = '[';
        long filled = (long)(fraction * (double)bar);
        for (long i = 0; i < bar; i++)
            line[len++] = i < filled ? '=' : i == filled ? '>' : ' ';
        line[len++] = ']';
        /* line is bytes for fwrite(line, 1, len), never a C string, so it needs no terminator.
           NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
        memcpy(line + len, tail, tail_len);
        len += tail_len;
    } else {
        /* Too narrow for a bar: the label and numbers, cut to fit. */
        len = (size_t)snprintf(line, sizeof line, "%s%s", p->label, tail);
        if (len > sizeof line - 1) len = sizeof line - 1;
        if (columns > 0 && len > (size_t)columns) len = (size_t)columns;
    }
    size_t cover = len;
    while (len < (size_t)p->width && len < sizeof line - 1) line[len++] = ' ';
    fputc('\r', stderr);
    fwrite(line, 1, len, stderr);
    fflush(stderr);
    p->width = (int)cover;
    p->drawn = 1;
    p->last_draw = now;
}

void progress_start(progress *p, const char *label, size_t total)
{
    p->active = !p->quiet && isatty(STDERR_FILENO);
    p->drawn = 0;
    p->label = label ? label : "";
    p->total = total;
    p->done = 0;
    p->width = 0;
    if (!p->active) return;
    p->start = p->last_draw = progress_now();
}

void progress_update(progress *p, size_t done)
{
    if (!p->active) return;
    int reaches_end = done >= p->total && p->done < p->total;
    p->done = done;
    double now = progress_now();
    /* Short epochs finish before the first tenth of a second and never show a bar;
       a bar already on the screen is brought to 100 % rather than left short of it. */
    if (now - p->last_draw >= 0.1 || (p->drawn && reaches_end)) progress_draw(p, now);
}

void progress_finish(progress *p)
{
    if (!p->active) return;
    if (p->drawn) {
        char blank[PROGRESS_MAX_COLUMNS + 2];
        size_t n = (size_t)p->width < PROGRESS_MAX_COLUMNS ? (size_t)p->width : PROGRESS_MAX_COLUMNS;
        blank[0] = '\r';
        memset(blank + 1, ' ', n);
        blank[n + 1] = '\r';
        fwrite(blank, 1, n + 2, stderr);
        fflush(stderr);
    }
    p->drawn = 0;
    p->width = 0;
    p->active = 0;
}
