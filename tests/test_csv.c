/*
 * test_csv.c - tests of the CSV reader and the locale-independent number parser.
 *
 * Numbers are checked against strtof, an independent oracle that is valid here
 * because the test program runs in the C locale. The reader is checked on the
 * layouts users produce (headers, separators, quotes, BOM, CRLF, comments), on
 * the exact wording of its error messages, and on random bytes, which must
 * give either a table or an error, never a crash (run it under sanitizers).
 * Reading a dataset's meaning out of the table is dataset.c's, tested there.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/csv.h"
#include "io/number.h"
#include "test.h"

/* Read a string literal (or any bytes) as a CSV file named name. */
static bp_status read_text(const char *text, size_t len, const char *name,
                           const bp_csv_read_options *opt, bp_csv_table *t, bp_error *err)
{
    memset(err, 0, sizeof *err);
    return bp_csv_read_memory(text, len, name, opt, t, err);
}
#define READ(lit, name, opt, t, err) read_text(lit, sizeof(lit) - 1, name, opt, t, err)

static int message_has(const bp_error *err, const char *part)
{
    return strstr(err->message, part) != NULL;
}

/* Messages reach terminals: only printable ASCII may appear in them. */
static int message_printable(const bp_error *err)
{
    for (const char *p = err->message; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) return 0;
    return 1;
}

static int table_is_zero(const bp_csv_table *t)
{
    return t->rows == 0 && t->cols == 0 && !t->values && !t->names && !t->labels;
}

static double parse(const char *s, bp_status *status)
{
    double v = -12345.0;
    *status = bp_parse_number(s, strlen(s), &v);
    return v;
}

/* A small local generator, so the test needs no global state and is reproducible. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static int same_float(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Compare bp_parse_number with strtof on one string; returns 1 when they agree. */
static int agrees_with_strtof(const char *s)
{
    double v = 0;
    bp_status st = bp_parse_number(s, strlen(s), &v);
    char *end = NULL;
    float ref = strtof(s, &end);
    if (*end != '\0') return 0; /* the generator only makes strings strtof takes whole */
    if (isinf(ref)) return st == BP_ERR_NUMERIC;
    return st == BP_OK && same_float((float)v, ref);
}

void test_parse_number(void)
{
    bp_status st;
    double v;

    v = parse("1e3", &st);
    CHECK(st == BP_OK && v == 1000.0, "1e3 -> %g (status %d)", v, st);
    v = parse("-.5", &st);
    CHECK(st == BP_OK && v == -0.5, "-.5 -> %g", v);
    v = parse("+2.", &st);
    CHECK(st == BP_OK && v == 2.0, "+2. -> %g", v);
    v = parse("007", &st);
    CHECK(st == BP_OK && v == 7.0, "007 -> %g", v);
    v = parse("1E+2", &st);
    CHECK(st == BP_OK && v == 100.0, "1E+2 -> %g", v);
    v = parse("0.000123", &st);
    CHECK(st == BP_OK && v == 0.000123, "0.000123 -> %.17g", v);
    v = parse("-0", &st);
    CHECK(st == BP_OK && v == 0.0 && signbit(v), "-0 keeps its sign");
    v = parse("0e999999999999999999", &st);
    CHECK(st == BP_OK && v == 0.0, "zero with a huge exponent is zero");

    /* Below float range is not an error: the double is tiny and rounds to 0 as a
       float, exactly what strtof returns. */
    v = parse("1e-50", &st);
    CHECK(st == BP_OK && v > 0.9e-50 && v < 1.1e-50 && (float)v == 0.0f, "1e-50 -> %g", v);
    v = parse("1e-40", &st);
    CHECK(st == BP_OK && same_float((float)v, strtof("1e-40", NULL)), "denormal 1e-40");
    v = parse("1e-99999999999999999999", &st);
    CHECK(st == BP_OK && v == 0.0, "1e-huge -> %g", v);

    /* The float boundary: FLT_MAX and what still rounds to it pass, beyond fails. */
    v = parse("3.4028235e38", &st);
    CHECK(st == BP_OK && (float)v == FLT_MAX, "FLT_MAX");
    v = parse("3.40282356e38", &st);
    CHECK(st == BP_OK && (float)v == FLT_MAX, "just under the rounding boundary");
    parse("3.4028236e38", &st);
    CHECK(st == BP_ERR_NUMERIC, "3.4028236e38 is past the boundary, strtof gives inf too");
    const char *too_big[] = {"1e39", "-1e39", "3.5e38", "1e400", "1e99999999999999999999"};
    for (size_t i = 0; i < sizeof too_big / sizeof *too_big; i++) {
        parse(too_big[i], &st);
        CHECK(st == BP_ERR_NUMERIC, "%s -> status %d", too_big[i], st);
    }
    const char *not_finite[] = {"nan", "NaN", "-nan", "inf", "+INF", "-inf", "Infinity", "-infinity"};
    for (size_t i = 0; i < sizeof not_finite / sizeof *not_finite; i++) {
        parse(not_finite[i], &st);
        CHECK(st == BP_ERR_NUMERIC, "%s -> status %d", not_finite[i], st);
    }
    const char *malformed[] = {"", " 1", "1 ", "0x10", "1e", "1e+", "e5", ".", "-", "+", "+-1",
                               "--1", "1.2.3", "1,5", "abc", "1e5x", "1_000", "1.5f", "nana",
                               "infinite", "1e 5", ".e1"};
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        v = parse(malformed[i], &st);
        CHECK(st == BP_ERR_FORMAT, "\"%s\" -> status %d", malformed[i], st);
        CHECK(v == -12345.0, "\"%s\": output written on failure", malformed[i]);
    }
    /* Length, not a NUL, ends the text, and a NUL inside is junk. */
    CHECK(bp_parse_number("12", 1, &v) == BP_OK && v == 1.0, "length respected");
    CHECK(bp_parse_number("1\0", 2, &v) == BP_ERR_FORMAT, "NUL is junk");
    CHECK(bp_parse_number(NULL, 0, &v) == BP_ERR_FORMAT, "NULL text");
    CHECK(bp_parse_number("1", 1, NULL) == BP_ERR_ARG, "NULL output");

    /* Long digit strings: digits past 19 are dropped but still scale. */
    char big[600];
    big[0] = '1';
    memset(big + 1, '0', 40);
    memcpy(big + 41, "e-40", 5);
    v = parse(big, &st);
    CHECK(st == BP_OK && fabs(v - 1.0) < 1e-15, "1 followed by 40 zeros e-40 -> %.17g", v);
    memset(big + 1, '0', 500);
    big[501] = '\0';
    parse(big, &st);
    CHECK(st == BP_ERR_NUMERIC, "10^500 overflows");
    memcpy(big, "0.", 2);
    memset(big + 2, '0', 500);
    memcpy(big + 502, "1e500", 6);
    v = parse(big, &st);
    CHECK(st == BP_OK && fabs(v - 0.1) < 1e-15, "0.(500 zeros)1e500 -> %.17g", v);
    v = parse("123456789012345678901234567890", &st);
    CHECK(st == BP_OK && fabs(v / 1.2345678901234568e29 - 1) < 1e-15, "30 digits -> %.17g", v);

    /* Against strtof: every float printed the ways people print floats. */
    uint64_t rng = 0x9E3779B97F4A7C15u;
    const char *formats[] = {"%.9g", "%.8g", "%.7g", "%.6g", "%.3g", "%.17g", "%.12e", "%.1e", "%f"};
    char buf[128], first_bad[128] = "";
    size_t tried = 0, bad = 0;
    for (int i = 0; i < 20000; i++) {
        uint32_t bits = (uint32_t)next_random(&rng);
        float f;
        memcpy(&f, &bits, sizeof f);
        if (!isfinite(f)) continue;
        for (size_t k = 0; k < sizeof formats / sizeof *formats; k++) {
            snprintf(buf, sizeof buf, formats[k], (double)f);
            tried++;
            if (!agrees_with_strtof(buf)) {
                if (!bad++) snprintf(first_bad, sizeof first_bad, "%s", buf);
            }
        }
    }
    /* ... and random decimal strings, overflowing and underflowing ones included. */
    for (int i = 0; i < 50000; i++) {
        size_t k = 0, digits = 1 + next_random(&rng) % 22, point = next_random(&rng) % (digits + 1);
        if (next_random(&rng) % 2) buf[k++] = '-';
        for (size_t d = 0; d < digits; d++) {
            if (d == point && d > 0) buf[k++] = '.';
            buf[k++] = (char)('0' + next_random(&rng) % 10);
        }
        int exponent = (int)(next_random(&rng) % 100) - 60;
        snprintf(buf + k, sizeof buf - k, "e%d", exponent);
        tried++;
        if (!agrees_with_strtof(buf)) {
            if (!bad++) snprintf(first_bad, sizeof first_bad, "%s", buf);
        }
    }
    CHECK(bad == 0, "%zu of %zu strings differ from strtof, first %s", bad, tried, first_bad);
}

void test_csv_basic(void)
{
    bp_csv_table t = {0};
    bp_error err;
    bp_status st = READ("a,b,c\n1,2,3\n4.5,-5,6e1\n", "basic.csv", NULL, &t, &err);
    CHECK(st == BP_OK, "status %d: %s", st, err.message);
    CHECK(t.rows == 2 && t.cols == 3, "%zu x %zu", t.rows, t.cols);
    CHECK(t.has_header && t.separator == ',', "header %d, separator %c", t.has_header, t.separator);
    if (st == BP_OK) {
        const float want[] = {1, 2, 3, 4.5f, -5, 60};
        for (size_t i = 0; i < 6; i++) CHECK(t.values[i] == want[i], "value %zu = %g", i, t.values[i]);
        CHECK(t.names && !strcmp(t.names[0], "a") && !strcmp(t.names[2], "c"), "names");
        CHECK(t.labels == NULL, "no labels asked for");
    }
    bp_csv_table_free(&t);
    CHECK(table_is_zero(&t), "free zeroes the table");
    bp_csv_table_free(&t); /* twice is harmless */
    bp_csv_table_free(NULL);

    st = READ("1,2\n3,4", "nonl.csv", NULL, &t, &err);
    CHECK(st == BP_OK && t.rows == 2 && !t.has_header && !t.names, "no header, no final newline");
    CHECK(st == BP_OK && t.values[3] == 4.0f, "last value of an unterminated line");
    bp_csv_table_free(&t);

    /* Comments, blank and whitespace-only lines carry no rows; line numbers still count them. */
    st = READ("# made by hand\n\nx,y\n  \n1,2\n# middle\n\t\n3,4\n\n\n", "c.csv", NULL, &t, &err);
    CHECK(st == BP_OK && t.rows == 2 && t.has_header, "comments and blanks: %s", err.message);
    CHECK(st == BP_OK && t.values[2] == 3.0f, "row after a comment");
    bp_csv_table_free(&t);
    st = READ("# c\n1,2\n\n3,x\n", "c.csv", NULL, &t, &err);
    CHECK(message_has(&err, "c.csv:4:3: expected a number"), "physical line numbers: %s", err.message);

    /* Below float range reads as 0, like strtof. */
    st = READ("1e-50,1e-40\n", "tiny.csv", NULL, &t, &err);
    CHECK(st == BP_OK && t.values[0] == 0.0f && t.values[1] > 0.0f, "tiny values");
    bp_csv_table_free(&t);

    /* A single column is a CSV file too. */
    st = READ("y\n1\n2\n3\n", "one.csv", NULL, &t, &err);
    CHECK(st == BP_OK && t.rows == 3 && t.cols == 1 && t.values[2] == 3.0f, "one column");
    bp_csv_table_free(&t);

    /* Label column: kept as text, its cells hold 0 in values. */
    bp_csv_read_options opt = {0};
    opt.has_label_column = 1;
    opt.label_column = -1;
    st = READ("5.1,3.5,setosa\n7.0,3.2,versicolor\n", "iris.csv", &opt, &t, &err);
    CHECK(st == BP_OK && !t.has_header && t.rows == 2 && t.cols == 3, "labels: %s", err.message);
    if (st == BP_OK) {
        CHECK(t.labels && !strcmp(t.labels[0], "setosa") && !strcmp(t.labels[1], "versicolor"),
              "label text");
        CHECK(t.values[2] == 0.0f && t.values[3] == 7.0f, "label cells are 0");
    }
    bp_csv_table_free(&t);
    opt.label_column = 0;
    st = READ("name,x\nfirst,1\n\"\",2\n", "l.csv", &opt, &t, &err);
    CHECK(st == BP_OK && t.labels && !strcmp(t.labels[0], "first") && !strcmp(t.labels[1], ""),
          "label column 0 with an empty label: %s", err.message);
    bp_csv_table_free(&t);
    opt.label_column = 3;
    st = READ("1,2,3\n", "l.csv", &opt, &t, &err);
    CHECK(st == BP_ERR_ARG && message_has(&err, "l.csv: label column 3 does not exist"), "%s",
          err.message);
    opt.label_column = -4;
    st = READ("1,2,3\n", "l.csv", &opt, &t, &err);
    CHECK(st == BP_ERR_ARG, "label column -4 of 3");
    CHECK(table_is_zero(&t), "table zeroed after an error");
}

void test_csv_header_detection(void)
{
    bp_csv_table t = {0};
    bp_error err;
    bp_csv_read_options opt = {0};
    bp_status st;

    st = READ("1,2\n3,4\n", "h.csv", NULL, &t, &err);
    CHECK(st == BP_OK && !t.has_header && t.rows == 2, "all numbers: no header");
    bp_csv_table_free(&t);
    st = READ("x,1\n3,4\n", "h.csv", NULL, &t, &err);
    CHECK(st == BP_OK && t.has_header && t.rows == 1, "one name makes a header");
    bp_csv_table_free(&t);
    /* pandas writes an empty name over the index column */
    st = READ(",a,b\n0,1,2\n1,3,4\n", "h.csv", NULL, &t, &err);
    CHECK(st == BP_OK && t.has_header && t.rows == 2 && !strcmp(t.names[0], ""), "pandas header");
    bp_csv_table_free(&t);
    /* A bad first data row is reported, not taken for a header. */
    st = READ("1,,3\n4,5,6\n", "h.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT && message_has(&err, "h.csv:1:3: expected a number, found an empty field"),
          "%s", err.message);
    st = READ("nan,1\n2,3\n", "h.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_NUMERIC && message_has(&err, "h.csv:1:1: expected a finite number, found \"nan\""),
          "%s", err.message);

    opt.header = 1;
    st = READ("1,2\n3,4\n", "h.csv", &opt, &t, &err);
    CHECK(st == BP_OK && t.has_header && t.rows == 1 && !strcmp(t.names[1], "2"), "forced header");
    bp_csv_table_free(&t);
    opt.header = -1;
    st = READ("a,b\n1,2\n", "h.csv", &opt, &t, &err);
    CHECK(st == BP_ERR_FORMAT && message_has(&err, "h.csv:1:1: expected a number, found \"a\""),
          "%s", err.message);
    opt.header = 2;
    st = READ("1\n", "h.csv", &opt, &t, &err);
    CHECK(st == BP_ERR_ARG, "header option 2");

    /* Text in the label column does not make a header. */
    opt.header = 0;
    opt.has_label_column = 1;
    opt.label_column = 2;
    st = READ("1,2,cat\n3,4,dog\n", "h.csv", &opt, &t, &err);
    CHECK(st == BP_OK && !t.has_header && t.rows == 2, "label text is not a header");
    bp_csv_table_free(&t);
    st = READ("w,h,animal\n1,2,cat\n", "h.csv", &opt, &t, &err);
    CHECK(st == BP_OK && t.has_header && !strcmp(t.names[2], "animal") && !strcmp(t.labels[0], "cat"),
          "header with a label column");
    bp_csv_table_free(&t);

    /* Header only, empty, whitespace only: no data. */
    st = READ("a,b,c\n", "h.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT && !strcmp(err.message, "h.csv:1:1: no data rows: the only line was read as a header, "
                                                      "because this cell is not a number"),
          "%s", err.message);
    /* One line of data with a word in it: the header rule holds, and the message says where. */
    st = READ("# c\n0.5, abc\n", "one.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT && message_has(&err, "one.csv:2:6: no data rows: the only line was read as a header"),
          "%s", err.message);
    opt.has_label_column = 0;
    opt.header = 1;
    st = READ("1,2\n", "h.csv", &opt, &t, &err);
    CHECK(st == BP_ERR_FORMAT && !strcmp(err.message, "h.csv: no data rows: the only line is the header"), "%s",
          err.message);
    st = READ("", "empty.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT && !strcmp(err.message, "empty.csv: no data rows"), "%s", err.message);
    st = bp_csv_read_memory(NULL, 0, NULL, NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT && !strcmp(err.message, "<memory>: no data rows"), "%s", err.message);
    st = READ("  \n\t\r\n\n \n", "ws.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT && !strcmp(err.message, "ws.csv: no data rows"), "%s", err.message);
    st = READ("# only a comment\n", "ws.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT && message_has(&err, "no data rows"), "%s", err.message);
    CHECK(table_is_zero(&t), "table zeroed");
}

void test_csv_separators(void)
{
    bp_csv_table t = {0};
    bp_error err;
    bp_status st;

    st = READ("a;b;c\n1;2,5;3\n", "s.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT && t.separator == 0, "decimal comma is not a number");
    CHECK(message_has(&err, "s.csv:2:3: expected a number, found \"2,5\""), "%s", err.message);
    st = READ("1;2;3\n4;5;6\n", "s.csv", NULL, &t, &err);
    CHECK(st == BP_OK && t.separator == ';' && t.cols == 3 && t.values[5] == 6.0f, "semicolons");
    bp_csv_table_free(&t);
    st = READ("x\ty\n1\t2\n3\t4\n", "s.tsv", NULL, &t, &err);
    CHECK(st == BP_OK && t.separator == '\t' && t.cols == 2 && t.rows == 2 && t.values[3] == 4.0f,
          "tabs");
    bp_csv_table_free(&t);
    /* Padding is trimmed: spaces always, tabs when they are not the separator. */
    st = READ(" 1 ,\t2\t, 3\n4,5 ,  6  \n", "s.csv", NULL, &t, &err);
    CHECK(st == BP_OK && t.cols == 3 && t.values[1] == 2.0f && t.values[5] == 6.0f, "padding: %s",
          err.message);
    bp_csv_table_free(&t);
    st = READ("1 \t 2\n3\t4\n", "s.tsv", NULL, &t, &err);
    CHECK(st == BP_OK && t.separator == '\t' && t.values[1] == 2.0f, "spaces around tabs");
    bp_csv_table_free(&t);
    /* The most frequent separator outside quotes wins. */
    bp_csv_read_options opt = {0};
    opt.has_label_column = 1;
    opt.label_column = 0;
    st = READ("\"a,b,c\";1;2\n\"d;e\";3;4\n", "s.csv", &opt, &t, &err);
    CHECK(st == BP_OK && t.separator == ';' && t.cols == 3, "quoted commas do not count: %s",
          err.message);
    CHECK(st == BP_OK && !strcmp(t.labels[0], "a,b,c") && !strcmp(t.labels[1], "d;e"),
          "quoted separators in labels");
    bp_csv_table_free(&t);
}

void test_csv_quotes_bom_crlf(void)
{
    bp_csv_table t = {0};
    bp_error err;
    bp_status st;

    st = READ("1,2,3\r\n", "crlf.csv", NULL, &t, &err);
    CHECK(st == BP_OK && t.rows == 1 && t.cols == 3 && t.values[2] == 3.0f, "CRLF: %s", err.message);
    bp_csv_table_free(&t);
    st = READ("a,b\r\n1,2\r\n\r\n3,4\r\n", "crlf.csv", NULL, &t, &err);
    CHECK(st == BP_OK && t.rows == 2 && !strcmp(t.names[1], "b"), "CRLF header and blank line");
    bp_csv_table_free(&t);

    st = READ("\xEF\xBB\xBF" "a,b\n1,2\n", "bom.csv", NULL, &t, &err);
    CHECK(st == BP_OK && t.has_header && !strcmp(t.names[0], "a"), "BOM skipped");
    bp_csv_table_free(&t);
    st = READ("\xEF\xBB\xBF" "1,2\n", "bom.csv", NULL, &t, &err);
    CHECK(st == BP_OK && !t.has_header && t.values[0] == 1.0f, "BOM before data");
    bp_csv_table_free(&t);
    /* Columns count from after the BOM, as an editor shows them. */
    bp_csv_read_options opt = {0};
    opt.header = -1;
    st = READ("\xEF\xBB\xBF" "1,x\n", "bom.csv", &opt, &t, &err);
    CHECK(message_has(&err, "bom.csv:1:3: expected a number, found \"x\""), "%s", err.message);

    /* Quoted labels with separators and "" escapes; quoted numbers are numbers. */
    opt.header = 0;
    opt.has_label_column = 1;
    opt.label_column = 1;
    st = READ("x,name,y\n1,\"Smith, J\",2\n\"3\", \"say \"\"hi\"\"\" ,4\n", "q.csv", &opt, &t, &err);
    CHECK(st == BP_OK && t.rows == 2 && t.cols == 3, "quoted labels: %s", err.message);
    if (st == BP_OK) {
        CHECK(!strcmp(t.labels[0], "Smith, J"), "label 0 = %s", t.labels[0]);
        CHECK(!strcmp(t.labels[1], "say \"hi\""), "label 1 = %s", t.labels[1]);
        CHECK(t.values[3] == 3.0f && t.values[5] == 4.0f, "quoted number");
    }
    bp_csv_table_free(&t);
    st = READ("\"a \"\"x\"\"\",b\n1,2\n", "q.csv", NULL, &t, &err);
    CHECK(st == BP_OK && !strcmp(t.names[0], "a \"x\""), "quoted header name");
    bp_csv_table_free(&t);

    st = READ("1,\"abc\n2,3\n", "q.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT && message_has(&err, "q.csv:1:3: quoted field is not closed"), "%s",
          err.message);
    st = READ("1,2\n\"3\"x,4\n", "q.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT &&
              message_has(&err, "q.csv:2:4: expected a separator after the closing quote, found \"x\""),
          "%s", err.message);
    CHECK(table_is_zero(&t), "table zeroed");
}

void test_csv_errors(void)
{
    bp_csv_table t = {0};
    bp_error err;
    bp_status st;

    st = READ("1,2,3\n4,5,6\n7,8\n", "data.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT && !strcmp(err.message, "data.csv:3:4: expected 3 columns, found 2"),
          "%s", err.message);
    CHECK(err.status == BP_ERR_FORMAT, "err.status is set");
    st = READ("a,b\n1,2\n\n3,4,5\n", "data.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT && !strcmp(err.message, "data.csv:4:5: expected 2 columns, found 3"),
          "%s", err.message);
    st = READ("1,2,\n", "data.csv", NULL, &t, &err);
    CHECK(message_has(&err, "data.csv:1:5: expected a number, found an empty field"),
          "trailing separator: %s", err.message);

    st = READ("a,b,c,d\n1,2,3,4\n5, 6, 7, abc\n", "data.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT &&
              !strcmp(err.message, "data.csv:3:10: expected a number, found \"abc\""),
          "%s", err.message);
    st = READ("1,2\n0x10,3\n", "data.csv", NULL, &t, &err);
    CHECK(message_has(&err, "data.csv:2:1: expected a number, found \"0x10\""), "%s", err.message);
    st = READ("1,2\n3,inf\n", "data.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_NUMERIC &&
              message_has(&err, "data.csv:2:3: expected a finite number, found \"inf\""),
          "%s", err.message);
    st = READ("1,2\n3,NaN\n", "data.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_NUMERIC && message_has(&err, "data.csv:2:3: expected a finite number"), "%s",
          err.message);
    st = READ("1,2\n3,1e39\n", "data.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_NUMERIC &&
              message_has(&err, "data.csv:2:3: number \"1e39\" is out of range for a float"),
          "%s", err.message);

    /* NUL bytes and broken UTF-8 are shown escaped. */
    static const char with_nul[] = "1,2\n3,4\0x\n";
    st = read_text(with_nul, sizeof with_nul - 1, "nul.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_FORMAT &&
              message_has(&err, "nul.csv:2:3: expected a number, found \"4\\x00x\""),
          "%s", err.message);
    st = READ("\xff\xfe,b\n1,2\n", "utf.csv", NULL, &t, &err);
    CHECK(st == BP_OK && t.has_header && !strcmp(t.names[0], "\xff\xfe"), "bytes kept in names");
    bp_csv_table_free(&t);
    bp_csv_read_options opt = {0};
    opt.header = -1;
    st = READ("\xff\xfe\x1b[31m,b\n1,2\n", "utf.csv", &opt, &t, &err);
    CHECK(message_has(&err, "utf.csv:1:1: expected a number, found \"\\xFF\\xFE\\x1B[31m\""), "%s",
          err.message);
    CHECK(message_printable(&err), "message is printable ASCII");

    /* A huge cell is cut in the message. */
    char line[1200];
    memset(line, 'x', 1000);
    memcpy(line + 1000, ",1\n", 4);
    st = read_text(line, strlen(line), "long.csv", &opt, &t, &err);
    CHECK(st == BP_ERR_FORMAT && strlen(err.message) < 120 && message_has(&err, "xxxx\"..."), "%s",
          err.message);

    /* Errors without an err, and bad arguments. */
    st = bp_csv_read_memory("a\n", 2, "x", NULL, &t, NULL);
    CHECK(st == BP_ERR_FORMAT && table_is_zero(&t), "NULL err");
    st = bp_csv_read_memory(NULL, 5, "x", NULL, &t, &err);
    CHECK(st == BP_ERR_ARG, "NULL text with a length");
    st = bp_csv_read_memory("1\n", 2, "x", NULL, NULL, &err);
    CHECK(st == BP_ERR_ARG, "NULL table");
}

void test_csv_file(void)
{
    bp_csv_table t = {0};
    bp_error err = {0};
    bp_status st = bp_csv_read_file("/nonexistent-backprop-dir/data.csv", NULL, &t, &err);
    CHECK(st == BP_ERR_IO && err.status == BP_ERR_IO, "missing file: status %d", st);
    CHECK(message_has(&err, "cannot open /nonexistent-backprop-dir/data.csv: No such file"), "%s",
          err.message);
    st = bp_csv_read_file("/tmp", NULL, &t, &err);
    CHECK(st == BP_ERR_IO && message_has(&err, "/tmp"), "directory: status %d, %s", st, err.message);
    CHECK(table_is_zero(&t), "table zeroed");

    /* A real file, larger than one read chunk. */
    char path[256];
    int local;
    snprintf(path, sizeof path, "/tmp/backprop_test_csv_%lu_%p.csv", (unsigned long)time(NULL),
             (void *)&local);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot create %s", path);
    if (!f) return;
    fputs("\xEF\xBB\xBFx0,x1,x2,label\r\n", f);
    const size_t rows = 20000;
    for (size_t r = 0; r < rows; r++) fprintf(f, "%zu,%.9g,-%zu.25,\"c%zu\"\r\n", r, r * 0.1, r, r % 3);
    fclose(f);
    bp_csv_read_options opt = {0};
    opt.has_label_column = 1;
    opt.label_column = 3;
    st = bp_csv_read_file(path, &opt, &t, &err);
    remove(path);
    CHECK(st == BP_OK, "status %d: %s", st, err.message);
    if (st != BP_OK) return;
    CHECK(t.rows == rows && t.cols == 4 && t.has_header, "%zu x %zu", t.rows, t.cols);
    CHECK(t.values[(rows - 1) * 4] == (float)(rows - 1), "last row");
    CHECK(t.values[(rows - 1) * 4 + 2] == -(float)(rows - 1) - 0.25f, "last row, column 2");
    CHECK_NEAR(t.values[12345 * 4 + 1], 1234.5, 1e-6);
    CHECK(!strcmp(t.labels[rows - 1], "c1") && !strcmp(t.names[0], "x0"), "labels and names");
    bp_csv_table_free(&t);
}

/* Random bytes from the characters that matter to the parser: every outcome must
   be a table or an error with a printable message (and no sanitizer report). */
void test_csv_random_input(void)
{
    static const char alphabet[] = "0123456789.,;\t\" \r\n#e-+x\0\xff";
    uint64_t rng = 0xD1B54A32D192ED03u;
    char text[200];
    size_t ok = 0, failed = 0;
    for (int i = 0; i < 20000; i++) {
        size_t len = next_random(&rng) % sizeof text;
        for (size_t k = 0; k < len; k++) text[k] = alphabet[next_random(&rng) % (sizeof alphabet - 1)];
        bp_csv_read_options opt = {0};
        opt.header = (int)(next_random(&rng) % 3) - 1;
        opt.has_label_column = (int)(next_random(&rng) % 2);
        opt.label_column = (long)(next_random(&rng) % 5) - 2;
        bp_csv_table t = {0};
        bp_error err = {0};
        bp_status st = bp_csv_read_memory(text, len, "fuzz", &opt, &t, &err);
        if (st == BP_OK) {
            ok++;
            if (t.rows == 0 || t.cols == 0 || !t.values || (opt.has_label_column && !t.labels) ||
                (t.has_header && !t.names)) {
                CHECK(0, "inconsistent table from input %d", i);
                break;
            }
            for (size_t k = 0; k < t.rows * t.cols; k++)
                if (!isfinite(t.values[k])) {
                    CHECK(0, "non-finite value from input %d", i);
                    break;
                }
        } else {
            failed++;
            if (err.message[0] == '\0' || !message_printable(&err) || err.status != st ||
                !table_is_zero(&t)) {
                CHECK(0, "bad error from input %d: %s", i, err.message);
                break;
            }
        }
        bp_csv_table_free(&t);
    }
    CHECK(ok > 100 && failed > 100, "random input exercised both paths: %zu ok, %zu failed", ok, failed);
}
