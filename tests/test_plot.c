/*
 * test_plot.c - tests of the program's output helpers: the SVG training chart,
 * the CSV metrics log and the progress bar (cli/plot.c, cli/log.c, cli/progress.c).
 *
 * The unit-test program links the library, not the program, so the three cli
 * files are included here whole; they have no main() and prefix their static
 * names so that they can share this translation unit. Charts are checked for
 * what a browser needs (a well-formed standalone SVG, checked by a small tag
 * balancer since no XML parser is at hand) and for what must never appear
 * (NaN or infinity text, raw markup characters from user-supplied names).
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cli/log.c"
#include "../cli/plot.c"
#include "../cli/progress.c"
#include "test.h"

static const char *tp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "/tmp/bp-test-%ld-%s", (long)getpid(), name);
    return buf;
}

/* The whole file as a string, or NULL. */
static char *tp_read(const char *path)
{
    unsigned char *data = NULL;
    size_t size = 0;
    if (bp_read_file(path, (size_t)1 << 24, &data, &size, NULL) != BP_OK) return NULL;
    return (char *)data;
}

static size_t tp_count(const char *text, const char *part)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, part)) != NULL; p += strlen(part)) n++;
    return n;
}

/* Case-insensitive search: "NaN", "nan", "-inf", "Infinity" all count. */
static int tp_has_word_ci(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = text; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && (p[i] | 0x20) == word[i]) i++;
        if (i == n) return 1;
    }
    return 0;
}

static int tp_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':' || c == '-' || c == '.';
}

/* An entity reference at p ("&amp;", "&#38;", "&#x26;"): its length, or 0. */
static size_t tp_entity(const char *p)
{
    static const char *const named[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (size_t i = 0; i < 5; i++)
        if (strncmp(p, named[i], strlen(named[i])) == 0) return strlen(named[i]);
    if (p[1] != '#') return 0;
    size_t i = 2;
    int hex = p[i] == 'x';
    if (hex) i++;
    size_t digits = 0;
    while ((p[i] >= '0' && p[i] <= '9') || (hex && ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f'))) {
        i++;
        digits++;
    }
    return digits && p[i] == ';' ? i + 1 : 0;
}

/* Well-formedness, as far as these charts need it: an optional XML declaration,
   comments, one root element, start and end tags that nest and match,
   attributes name="value" with quoted values free of '<' and of bare '&', and
   character data free of bare '&'. Returns NULL or what is wrong. */
static const char *tp_xml_problem(const char *s)
{
    enum { MAX_DEPTH = 64 };
    const char *names[MAX_DEPTH];
    size_t lens[MAX_DEPTH], depth = 0;
    int roots = 0;
    const char *p = s;
    if (strncmp(p, "<?xml", 5) == 0) {
        p = strstr(p, "?>");
        if (!p) return "unterminated XML declaration";
        p += 2;
    }
    while (*p) {
        if (*p == '&') {
            size_t n = tp_entity(p);
            if (!n) return "bare '&' in text";
            p += n;
            continue;
        }
        if (*p != '<') {
            if (!depth && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') return "text outside the root";
            p++;
            continue;
        }
        if (strncmp(p, "<!--", 4) == 0) {
            p = strstr(p + 4, "-->");
            if (!p) return "unterminated comment";
            p += 3;
            continue;
        }
        if (p[1] == '/') {
            const char *name = p + 2;
            size_t len = 0;
            while (tp_name_char(name[len])) len++;
            if (!depth) return "end tag without a start tag";
            if (len != lens[depth - 1] || strncmp(name, names[depth - 1], len) != 0)
                return "end tag does not match its start tag";
            depth--;
            p = name + len;
            while (*p == ' ' || *p == '\n') p++;
            if (*p != '>') return "malformed end tag";
            p++;
            continue;
        }
        const char *name = p + 1;
        size_t len = 0;
        while (tp_name_char(name[len])) len++;
        if (!len) return "'<' that starts no tag";
        if (!depth && roots++) return "more than one root element";
        p = name + len;
        for (;;) {
            int space = 0;
            while (*p == ' ' || *p == '\n' || *p == '\t') {
                p++;
                space = 1;
            }
            if (p[0] == '/' && p[1] == '>') {
                p += 2;
                break;
            }
            if (*p == '>') {
                if (depth == MAX_DEPTH) return "nested too deeply";
                names[depth] = name;
                lens[depth++] = len;
                p++;
                break;
            }
            if (!space) return "attributes not separated by space";
            size_t alen = 0;
            while (tp_name_char(p[alen])) alen++;
            if (!alen) return "malformed attribute";
            p += alen;
            if (*p++ != '=') return "attribute without '='";
            char quote = *p++;
            if (quote != '"' && quote != '\'') return "unquoted attribute value";
            while (*p && *p != quote) {
                if (*p == '<') return "'<' in an attribute value";
                if (*p == '&') {
                    size_t n = tp_entity(p);
                    if (!n) return "bare '&' in an attribute value";
                    p += n;
                } else {
                    p++;
                }
            }
            if (!*p) return "unterminated attribute value";
            p++;
        }
    }
    if (depth) return "unclosed element";
    if (!roots) return "no root element";
    return NULL;
}

/* What every chart must satisfy; returns the file's text for further checks. */
static char *tp_check_svg(const char *path)
{
    char *svg = tp_read(path);
    CHECK(svg != NULL, "%s was not written", path);
    if (!svg) return NULL;
    CHECK(strncmp(svg, "<?xml", 5) == 0 || strncmp(svg, "<svg", 4) == 0, "%s: starts %.20s", path, svg);
    CHECK(strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\"") != NULL, "%s: no SVG namespace", path);
    CHECK(!tp_has_word_ci(svg, "nan"), "%s: contains nan", path);
    CHECK(!tp_has_word_ci(svg, "inf"), "%s: contains inf", path);
    const char *problem = tp_xml_problem(svg);
    CHECK(problem == NULL, "%s: not well-formed XML: %s", path, problem);
    CHECK(strstr(svg, "<script") == NULL && strstr(svg, "href") == NULL, "%s: external content", path);
    return svg;
}

/* The well-formedness check itself must catch what it is there to catch. */
void test_plot_xml_checker(void)
{
    CHECK(tp_xml_problem("<svg a=\"1\"><g><path d=\"M0 0\"/></g><text>a &amp; b</text></svg>") == NULL, "valid");
    CHECK(tp_xml_problem("<svg><g></svg>") != NULL, "mismatched");
    CHECK(tp_xml_problem("<svg><text>a & b</text></svg>") != NULL, "bare &");
    CHECK(tp_xml_problem("<svg><text a=\"<\"/></svg>") != NULL, "< in attribute");
    CHECK(tp_xml_problem("<svg></svg><svg></svg>") != NULL, "two roots");
    CHECK(tp_xml_problem("<svg><text>x</text>") != NULL, "unclosed");
}

void test_plot_one_epoch(void)
{
    char path[256];
    tp_path(path, sizeof path, "one.svg");
    double loss[1] = {2.3}, acc[1] = {0.42};
    plot_series s[2] = {{"train loss", loss, 1, 0}, {"val accuracy", acc, 1, 1}};
    char why[256] = "untouched";
    int rc = plot_write_svg(path, "one epoch", s, 2, why, sizeof why);
    CHECK(rc == 0 && why[0] == '\0', "rc %d: %s", rc, why);
    char *svg = tp_check_svg(path);
    if (svg) {
        CHECK(tp_count(svg, "<circle") == 2, "one marker per series, got %zu", tp_count(svg, "<circle"));
        CHECK(strstr(svg, ">train loss<") && strstr(svg, ">val accuracy<"), "legend");
        CHECK(strstr(svg, ">100%<") && strstr(svg, ">accuracy<") && strstr(svg, ">loss<") &&
                  strstr(svg, ">epoch<"), "axes and their titles");
        CHECK(strstr(svg, ">one epoch<") != NULL, "title");
    }
    free(svg);
    remove(path);
}

void test_plot_fifty_epochs(void)
{
    char path[256];
    tp_path(path, sizeof path, "fifty.svg");
    double train[50], val[50], acc[50];
    for (int i = 0; i < 50; i++) {
        train[i] = 0.3 + 2.0 * exp(-0.1 * i);
        val[i] = 0.4 + 1.9 * exp(-0.08 * i);
        acc[i] = 0.9 - 0.8 * exp(-0.1 * i);
    }
    plot_series s[3] = {{"train loss", train, 50, 0}, {"val loss", val, 50, 0}, {"val accuracy", acc, 50, 1}};
    CHECK(plot_write_svg(path, "fifty", s, 3, NULL, 0) == 0, "write");
    char *svg = tp_check_svg(path);
    if (svg) {
        CHECK(tp_count(svg, "<path") == 3, "one unbroken line per series, got %zu", tp_count(svg, "<path"));
        CHECK(strstr(svg, ">50<") != NULL, "the last epoch is labeled");
        CHECK(strstr(svg, ">2.5<") != NULL && strstr(svg, ">0.0<") != NULL, "round loss ticks 0.0..2.5");
        CHECK(strstr(svg, "log scale") == NULL, "linear for one decade");
        CHECK(tp_count(svg, "#1f77b4") >= 2 && tp_count(svg, "#ff7f0e") >= 2 && tp_count(svg, "#2ca02c") >= 2,
              "distinct colors in lines and legend");
    }
    free(svg);
    remove(path);
}

void test_plot_nan_gaps(void)
{
    char path[256];
    tp_path(path, sizeof path, "gaps.svg");
    double gap[5] = {1.0, 0.8, NAN, 0.5, 0.4};
    double lone[5] = {NAN, 0.7, NAN, INFINITY, 0.3};
    plot_series s[2] = {{"gap", gap, 5, 0}, {"lone", lone, 5, 0}};
    CHECK(plot_write_svg(path, "gaps", s, 2, NULL, 0) == 0, "write");
    char *svg = tp_check_svg(path);
    if (svg) {
        CHECK(tp_count(svg, "<path") == 2, "the gap splits one line in two; lone points draw none: %zu",
              tp_count(svg, "<path"));
        CHECK(tp_count(svg, "<circle") == 6, "a marker on every finite point, got %zu", tp_count(svg, "<circle"));
        CHECK(tp_count(svg, "r=\"4\"") == 2, "lone points get larger markers");
    }
    free(svg);
    remove(path);
}

void test_plot_all_nan(void)
{
    char path[256];
    tp_path(path, sizeof path, "allnan.svg");
    double none[3] = {NAN, NAN, NAN}, some[3] = {1.0, 0.5, 0.25};
    plot_series s[2] = {{"missing series", none, 3, 0}, {"present series", some, 3, 0}};
    CHECK(plot_write_svg(path, "all missing", s, 2, NULL, 0) == 0, "write");
    char *svg = tp_check_svg(path);
    if (svg) {
        CHECK(strstr(svg, "missing series") == NULL, "an all-NaN series stays out of the legend");
        CHECK(strstr(svg, "present series") != NULL, "the other one is in it");
        CHECK(strstr(svg, "#ff7f0e") != NULL, "colors stay with their series' slot");
    }
    free(svg);
    /* Nothing at all to draw still gives a valid chart that says so. */
    CHECK(plot_write_svg(path, NULL, s, 1, NULL, 0) == 0, "write");
    svg = tp_check_svg(path);
    if (svg) CHECK(strstr(svg, "no data") != NULL, "says no data");
    free(svg);
    CHECK(plot_write_svg(path, NULL, NULL, 0, NULL, 0) == 0, "no series at all");
    free(tp_check_svg(path));
    remove(path);
}

void test_plot_huge_and_tiny(void)
{
    char path[256];
    tp_path(path, sizeof path, "extreme.svg");
    double wide[4] = {1e300, 1e10, 1e-300, 4.9e-324}; /* the last is a denormal */
    double big[4] = {DBL_MAX, -DBL_MAX, 0, 1};
    double tiny[3] = {1e-12, 1.5e-12, 2e-12};
    double flat[3] = {7, 7, 7};
    double loss[40];
    for (int i = 0; i < 40; i++) loss[i] = 2.3 * pow(10.0, -0.1 * i); /* four decades */
    struct {
        plot_series s;
        const char *expect;
    } cases[] = {
        {{"wide", wide, 4, 0}, "log scale"},
        {{"big", big, 4, 0}, "e300<"},
        {{"tiny", tiny, 3, 0}, "e-12<"},
        {{"flat", flat, 3, 0}, ">12<"},
        {{"decades", loss, 40, 0}, ">0.001<"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[256];
        int rc = plot_write_svg(path, "extreme", &cases[i].s, 1, why, sizeof why);
        CHECK(rc == 0, "%s: rc %d %s", cases[i].s.name, rc, why);
        char *svg = tp_check_svg(path);
        if (svg) CHECK(strstr(svg, cases[i].expect) != NULL, "%s: no '%s'", cases[i].s.name, cases[i].expect);
        free(svg);
    }
    /* Accuracy outside 0..1 is pinned to the axis, not drawn off the chart. */
    double acc[3] = {-0.5, 0.5, 1.5};
    plot_series s = {"acc", acc, 3, 1};
    CHECK(plot_write_svg(path, NULL, &s, 1, NULL, 0) == 0, "write");
    free(tp_check_svg(path));
    remove(path);
}

void test_plot_escapes_names(void)
{
    char path[256];
    tp_path(path, sizeof path, "escape.svg");
    double y[3] = {3, 2, 1};
    /* Markup, a control character and a broken UTF-8 byte, next to valid UTF-8. */
    plot_series s[2] = {{"a<b & \"c\" 'd'>", y, 3, 0}, {"x\x01y \xff \xc3\xa9t\xc3\xa9", y, 3, 1}};
    CHECK(plot_write_svg(path, "<Title> & \"more\"", s, 2, NULL, 0) == 0, "write");
    char *svg = tp_check_svg(path);
    if (svg) {
        CHECK(strstr(svg, "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;") != NULL, "legend name escaped");
        CHECK(strstr(svg, "&lt;Title&gt; &amp; &quot;more&quot;") != NULL, "title escaped");
        CHECK(strstr(svg, "x y ? \xc3\xa9t\xc3\xa9") != NULL, "control to space, bad byte to ?, UTF-8 kept");
    }
    free(svg);
    remove(path);
}

void test_plot_errors(void)
{
    double y[2] = {1, 2};
    plot_series s = {"y", y, 2, 0};
    char why[256];
    CHECK(plot_write_svg(NULL, NULL, &s, 1, why, sizeof why) == EINVAL && why[0], "no path");
    plot_series no_array = {"y", NULL, 2, 0};
    CHECK(plot_write_svg("/tmp/x.svg", NULL, &no_array, 1, why, sizeof why) == EINVAL, "no values");
    const char *bad = "/nonexistent-dir-bp-test/chart.svg";
    CHECK(plot_write_svg(bad, NULL, &s, 1, why, sizeof why) == EIO, "unwritable");
    CHECK(strstr(why, bad) != NULL, "the message names the file: %s", why);
    CHECK(plot_write_svg(bad, NULL, &s, 1, why, 1) == EIO && why[0] == '\0', "a 1-byte why");
}

/* Some locales write 0,5 for a half; files must not. Runs where such a locale exists. */
void test_plot_and_log_ignore_locale(void)
{
    static const char *const locales[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8",
                                          "nl_NL.UTF-8", "ru_RU.UTF-8"};
    int found = 0;
    for (size_t i = 0; i < sizeof locales / sizeof locales[0] && !found; i++)
        found = setlocale(LC_NUMERIC, locales[i]) != NULL;
    if (!found) return; /* nothing to test on this machine */
    char path[256];
    tp_path(path, sizeof path, "locale.svg");
    double y[5] = {0.25, 0.125, 0.5, 1.75, 0.3};
    plot_series s = {"y", y, 5, 0};
    CHECK(plot_write_svg(path, NULL, &s, 1, NULL, 0) == 0, "write");
    char *svg = tp_check_svg(path);
    if (svg)
        for (const char *p = svg; *p; p++)
            if (*p == ',' && p > svg && p[-1] >= '0' && p[-1] <= '9' && p[1] >= '0' && p[1] <= '9') {
                CHECK(0, "a decimal comma at offset %ld", (long)(p - svg));
                break;
            }
    free(svg);
    remove(path);

    tp_path(path, sizeof path, "locale.csv");
    metrics_log ml = {0};
    double row[METRICS_COLUMNS] = {1, 0.5, 0.25, 0.75, NAN, NAN, 0.125, 1500.5, 2.5};
    CHECK(metrics_log_open(&ml, path, NULL, 0) == 0 && metrics_log_row(&ml, row, NULL, 0) == 0, "log");
    metrics_log_close(&ml, NULL, 0);
    char *csv = tp_read(path);
    CHECK(csv && strstr(csv, "\n1,0.5,0.25,0.75,,,0.125,1500.5,2.5\n"), "row: %s", csv ? csv : "(none)");
    free(csv);
    remove(path);
    setlocale(LC_NUMERIC, "C");
}

void test_log_rows(void)
{
    char path[256];
    tp_path(path, sizeof path, "metrics.csv");
    metrics_log ml;
    char why[256];
    CHECK(metrics_log_open(&ml, path, why, sizeof why) == 0, "open: %s", why);
    char *text = tp_read(path);
    CHECK(text && strcmp(text, "epoch,train_loss,val_loss,val_accuracy,test_loss,test_accuracy,"
                               "learning_rate,samples_per_second,elapsed_seconds\n") == 0,
          "the header is there before the first row: %s", text ? text : "(none)");
    free(text);
    double rows[3][METRICS_COLUMNS] = {
        {1, 2.3, 2.2, 0.1, NAN, NAN, 0.1, 12345.5, 0.5},
        {2, 1.2, NAN, 0.5, NAN, NAN, 0.1, 12000, 1.0},
        {100, 0.3, 0.4, 0.9, INFINITY, 1e-7, 0.1 / 3, 1e20, 123.456},
    };
    for (int r = 0; r < 3; r++) {
        CHECK(metrics_log_row(&ml, rows[r], why, sizeof why) == 0, "row %d: %s", r, why);
        /* As a killed run would leave it: every finished row, nothing torn. */
        text = tp_read(path);
        CHECK(text && tp_count(text, "\n") == (size_t)r + 2, "after row %d: %zu lines", r,
              text ? tp_count(text, "\n") : 0);
        free(text);
    }
    CHECK(metrics_log_close(&ml, why, sizeof why) == 0, "close: %s", why);
    text = tp_read(path);
    if (text) {
        CHECK(strstr(text, "\n1,2.3,2.2,0.1,,,0.1,12345.5,0.5\n") != NULL, "row 1: %s", text);
        CHECK(strstr(text, "\n2,1.2,,0.5,,,0.1,12000,1\n") != NULL, "row 2: an empty cell for NaN: %s", text);
        CHECK(strstr(text, "\n100,0.3,0.4,0.9,inf,1e-07,0.03333333333333333,1e+20,123.456\n") != NULL,
              "row 3: whole epochs, exact numbers: %s", text);
        size_t commas = tp_count(text, ",");
        CHECK(commas == 4 * (METRICS_COLUMNS - 1), "8 commas a line, got %zu in all", commas);
    }
    free(text);
    /* Every value written reads back exactly. */
    double third = strtod("0.03333333333333333", NULL);
    CHECK(third == 0.1 / 3, "0.1/3 round-trips");
    CHECK(metrics_log_close(&ml, NULL, 0) == 0, "closing twice is harmless");
    remove(path);
}

void test_log_errors(void)
{
    metrics_log ml;
    char why[256];
    const char *bad = "/nonexistent-dir-bp-test/metrics.csv";
    CHECK(metrics_log_open(&ml, bad, why, sizeof why) == EIO, "unwritable");
    CHECK(strstr(why, bad) != NULL, "the message names the file: %s", why);
    double row[METRICS_COLUMNS] = {1};
    CHECK(metrics_log_row(&ml, row, why, sizeof why) == EINVAL, "a log that did not open");
    CHECK(metrics_log_open(&ml, NULL, why, sizeof why) == EINVAL, "no path");
    CHECK(metrics_log_close(&ml, NULL, 0) == 0, "closing a log that is not open");
}

/* With stderr a file, as under CI or `2>log`, the bar must write nothing at all. */
void test_progress_silent_when_not_terminal(void)
{
    char path[256];
    tp_path(path, sizeof path, "stderr.txt");
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(saved >= 0 && fd >= 0, "redirect");
    if (saved < 0 || fd < 0) return;
    dup2(fd, STDERR_FILENO);
    close(fd);

    progress p = {0};
    progress_start(&p, "epoch 1/3", 1000);
    int active = p.active;
    struct timespec pause = {0, 150 * 1000 * 1000}; /* longer than the redraw interval */
    for (size_t done = 0; done <= 1000; done += 250) {
        progress_update(&p, done);
        nanosleep(&pause, NULL);
    }
    progress_finish(&p);
    progress q = {.quiet = 1};
    progress_start(&q, "quiet", 10);
    int quiet_active = q.active;
    progress_update(&q, 5);
    progress_finish(&q);

    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    CHECK(!active && !quiet_active, "no bar without a terminal, nor when quiet");
    char *text = tp_read(path);
    CHECK(text && text[0] == '\0', "nothing written: '%s'", text ? text : "(unreadable)");
    free(text);
    remove(path);
}
