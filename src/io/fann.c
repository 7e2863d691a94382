/*
 * fann.c - reading and writing FANN's text data format, so data sets prepared
 * for the FANN library train here unchanged and ours go back to it.
 *
 * The format: a header "samples inputs outputs", then per sample its inputs
 * and then its outputs, as whitespace-separated decimal numbers. FANN's own
 * reader (fscanf) does not care where the line breaks fall, and neither does
 * this one; it does care about everything else: every token must be a finite
 * number (parsed by bp_parse_number, independent of the C locale), the file
 * must hold exactly the samples the header declares, and the header's claim is
 * checked against the file's size before anything is allocated. Errors name
 * file:line:column. What the columns mean (scaling, classes) is left to the
 * caller: FANN files carry no class names or normalization.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "number.h"
#include "quote.h"
#include "core/memory.h"
#include "core/status.h"

typedef struct {
    const char *name;
    const char *p, *end;
    const char *line_start;
    size_t line;
} scanner;

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void skip_space(scanner *sc)
{
    while (sc->p < sc->end && is_space(*sc->p)) {
        if (*sc->p == '\n') {
            sc->line++;
            sc->line_start = sc->p + 1;
        }
        sc->p++;
    }
}

/* The next whitespace-delimited token and its 1-based column; 0 at the end of the file. */
static int next_token(scanner *sc, const char **token, size_t *len, size_t *column)
{
    skip_space(sc);
    if (sc->p >= sc->end) return 0;
    const char *start = sc->p;
    while (sc->p < sc->end && !is_space(*sc->p)) sc->p++;
    *token = start;
    *len = (size_t)(sc->p - start);
    *column = (size_t)(start - sc->line_start) + 1;
    return 1;
}

/* One header field: a whole number that fits in size_t. */
static bp_status header_field(scanner *sc, const char *what, size_t *out, bp_error *err)
{
    const char *tok;
    size_t len, col;
    if (!next_token(sc, &tok, &len, &col))
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s:%zu: expected the header \"samples inputs outputs\", found the end of the "
                       "file before the number of %s",
                       sc->name, sc->line, what);
    size_t v = 0;
    int ok = len > 0;
    for (size_t i = 0; i < len && ok; i++) {
        unsigned digit = (unsigned)(unsigned char)tok[i] - '0';
        if (digit > 9 || v > (SIZE_MAX - digit) / 10)
            ok = 0;
        else
            v = 10 * v + digit;
    }
    if (!ok) {
        char shown[BP_QUOTE_SIZE];
        bp_quote(shown, tok, len);
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s:%zu:%zu: expected the number of %s (a whole number) in the header "
                       "\"samples inputs outputs\", found %s",
                       sc->name, sc->line, col, what, shown);
    }
    *out = v;
    return BP_OK;
}

/* The next number of the data, as a float. */
static bp_status data_number(scanner *sc, size_t expected, size_t found, float *out, bp_error *err)
{
    const char *tok;
    size_t len, col;
    if (!next_token(sc, &tok, &len, &col))
        return bp_fail(err, BP_ERR_FORMAT, "%s:%zu: expected %zu samples, found only %zu", sc->name,
                       sc->line, expected, found);
    double v;
    bp_status s = bp_parse_number(tok, len, &v);
    if (s == BP_OK) {
        *out = (float)v; /* in range: bp_parse_number refuses what would round to infinity */
        return BP_OK;
    }
    char shown[BP_QUOTE_SIZE];
    bp_quote(shown, tok, len);
    if (s == BP_ERR_NUMERIC) {
        size_t i = (tok[0] == '+' || tok[0] == '-') ? 1 : 0;
        if (i < len && ((tok[i] >= '0' && tok[i] <= '9') || tok[i] == '.'))
            return bp_fail(err, BP_ERR_NUMERIC,
                           "%s:%zu:%zu: number %s is out of range for a float (beyond 3.4e38)",
                           sc->name, sc->line, col, shown);
        return bp_fail(err, BP_ERR_NUMERIC, "%s:%zu:%zu: expected a finite number, found %s",
                       sc->name, sc->line, col, shown);
    }
    return bp_fail(err, BP_ERR_FORMAT, "%s:%zu:%zu: expected a number, found %s", sc->name,
                   sc->line, col, shown);
}

/* The n samples after the header, into x and y; with x and y NULL, only checked. */
static bp_status read_samples(scanner *sc, size_t n, size_t n_in, size_t n_out, float *x, float *y,
                              bp_error *err)
{
    float sink;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n_in; j++) {
            bp_status s = data_number(sc, n, i, x ? &x[i * n_in + j] : &sink, err);
            if (s != BP_OK) return s;
        }
        for (size_t j = 0; j < n_out; j++) {
            bp_status s = data_number(sc, n, i, y ? &y[i * n_out + j] : &sink, err);
            if (s != BP_OK) return s;
        }
    }
    return BP_OK;
}

static bp_status read_fann_text(const char *text, size_t size, const char *name, bp_dataset **out,
                                bp_error *err)
{
    scanner sc = {name, text, text + size, text, 1};
    if (size >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) sc.p += 3; /* a UTF-8 byte-order mark */
    size_t n = 0, n_in = 0, n_out = 0;
    bp_status s = header_field(&sc, "samples", &n, err);
    if (s == BP_OK) s = header_field(&sc, "inputs", &n_in, err);
    if (s == BP_OK) s = header_field(&sc, "outputs", &n_out, err);
    if (s != BP_OK) return s;
    if (n == 0 || n_in == 0)
        return bp_fail(err, BP_ERR_FORMAT, "%s:%zu: the header declares %zu %s: nothing to read",
                       name, sc.line, n == 0 ? n : n_in, n == 0 ? "samples" : "inputs");

    /* Every number takes at least a separator and a digit: a header that claims more
       numbers than that is refused before anything is allocated for it. The file is still
       read through, to report where it falls short (or what is wrong before that) in the
       same words as for any other short file. */
    size_t rest = (size_t)(sc.end - sc.p);
    size_t per_sample = n_in + n_out, numbers = 0;
    if (per_sample < n_in || bp_mul_overflows(n, per_sample, &numbers) || numbers > rest / 2) {
        s = read_samples(&sc, n, n_in, n_out, NULL, NULL, err);
        if (s != BP_OK) return s;
        return bp_fail(err, BP_ERR_FORMAT, "%s:%zu: expected %zu samples, found fewer", name,
                       sc.line, n); /* not reached: the file cannot hold them all */
    }

    bp_dataset *d = NULL;
    s = bp_dataset_create(n, n_in, n_out, &d);
    if (s != BP_OK)
        return bp_fail(err, s, "%s: cannot make a data set of %zu samples with %zu inputs and %zu outputs",
                       name, n, n_in, n_out);
    s = read_samples(&sc, n, n_in, n_out, bp_dataset_x(d), bp_dataset_y(d), err);
    const char *tok;
    size_t len, col;
    if (s == BP_OK && next_token(&sc, &tok, &len, &col)) {
        char shown[BP_QUOTE_SIZE];
        bp_quote(shown, tok, len);
        s = bp_fail(err, BP_ERR_FORMAT,
                    "%s:%zu:%zu: unexpected %s after the last of the %zu samples the header declares",
                    name, sc.line, col, shown, n);
    }
    if (s != BP_OK) {
        bp_dataset_free(d);
        return s;
    }
    *out = d;
    return BP_OK;
}

bp_status bp_dataset_read_fann(const char *path, bp_dataset **out, bp_error *err)
{
    if (!out) return bp_fail(err, BP_ERR_ARG, "no output given");
    *out = NULL;
    if (!path) return bp_fail(err, BP_ERR_ARG, "no file name given");
    unsigned char *buf = NULL;
    size_t len = 0;
    bp_status s = bp_read_file(path, SIZE_MAX - 1, &buf, &len, err);
    if (s != BP_OK) return s;
    s = read_fann_text((const char *)buf, len, path, out, err);
    free(buf);
    return s;
}

bp_status bp_dataset_write_fann(const bp_dataset *data, const char *path, bp_error *err)
{
    if (!data || !path) return bp_fail(err, BP_ERR_ARG, "no data set or file name given");
    size_t n = bp_dataset_count(data), n_in = bp_dataset_inputs(data),
           n_out = bp_dataset_outputs(data);
    if (n_out == 0)
        return bp_fail(err, BP_ERR_UNSUPPORTED,
                       "%s: a data set without targets cannot be written in FANN format (every "
                       "FANN sample has outputs); write it as CSV instead",
                       path);
    const float *x = bp_dataset_x_const(data), *y = bp_dataset_y_const(data);
    /* A "nan" in the file would make it unreadable, here and in FANN: refuse to write it. */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n_in; j++)
            if (!isfinite(x[i * n_in + j]))
                return bp_fail(err, BP_ERR_NUMERIC, "%s: sample %zu, input %zu is not a finite number",
                               path, i + 1, j + 1);
        for (size_t j = 0; j < n_out; j++)
            if (!isfinite(y[i * n_out + j]))
                return bp_fail(err, BP_ERR_NUMERIC, "%s: sample %zu, output %zu is not a finite number",
                               path, i + 1, j + 1);
    }

    bp_buffer b = {0};
    bp_buffer_printf(&b, "%zu %zu %zu\n", n, n_in, n_out);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n_in; j++) {
            if (j) bp_buffer_append(&b, " ", 1);
            bp_buffer_float(&b, x[i * n_in + j]);
        }
        bp_buffer_append(&b, "\n", 1);
        for (size_t j = 0; j < n_out; j++) {
            if (j) bp_buffer_append(&b, " ", 1);
            bp_buffer_float(&b, y[i * n_out + j]);
        }
        bp_buffer_append(&b, "\n", 1);
    }
    bp_status s;
    if (b.failed)
        s = bp_fail(err, BP_ERR_NOMEM, "out of memory writing %s", path);
    else
        s = bp_write_file_atomic(path, b.data, b.len, err);
    bp_buffer_free(&b);
    return s;
}
