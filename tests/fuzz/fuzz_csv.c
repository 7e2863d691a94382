/*
 * fuzz_csv.c - libFuzzer harness for the CSV readers (src/io/csv.c, src/io/dataset_csv.c).
 *
 * Input: one option byte, then the CSV text (plain or gzip: the reader detects it).
 *   bits 0-1  target kind: class, values, none (3 is class with the model's names a, b, c)
 *   bits 2-3  header: detect, none, header (3: detect)
 *   bits 4-5  n_targets 0..3
 *   bit  6    also read the raw table with the first column as the label column
 *   bit  7    also check bp_parse_number against strtod on the text (short texts)
 * Checks: the status/message promise, a well-formed data set on success (finite
 * inputs, one-hot class rows), the raw table's shape, the number parser's agreement
 * with strtod/strtof, and (sanitizer builds) memory held within a multiple of the input.
 */
#include <float.h>
#include <math.h>

#include "io/csv.h"
#include "io/number.h"
#include "fuzz.h"
#include "io/gzip.h"

#define H "csv"

static void check_dataset(const bp_dataset *d, const bp_csv_options *opt)
{
    size_t n = bp_dataset_count(d), n_in = bp_dataset_inputs(d), n_out = bp_dataset_outputs(d);
    FUZZ_CHECK(H, n >= 1 && n_in >= 1, "empty data set %zu x %zu", n, n_in);
    const float *x = bp_dataset_x_const(d), *y = bp_dataset_y_const(d);
    for (size_t i = 0; i < n * n_in; i++)
        FUZZ_CHECK(H, isfinite(x[i]), "input %zu is %g", i, (double)x[i]);
    if (opt->target == BP_TARGET_NONE) {
        FUZZ_CHECK(H, n_out == 0 && y == NULL, "targets read with target kind none");
        return;
    }
    if (opt->target == BP_TARGET_VALUES) {
        size_t want = opt->n_targets ? opt->n_targets : 1;
        FUZZ_CHECK(H, n_out == want, "%zu target columns, asked for %zu", n_out, want);
        for (size_t i = 0; i < n * n_out; i++)
            FUZZ_CHECK(H, isfinite(y[i]), "target %zu is %g", i, (double)y[i]);
        return;
    }
    FUZZ_CHECK(H, n_out >= 2, "%zu classes", n_out);
    if (opt->class_names) FUZZ_CHECK(H, n_out == opt->n_targets, "%zu classes for 3 names", n_out);
    for (size_t r = 0; r < n; r++) {
        size_t ones = 0, zeros = 0;
        for (size_t k = 0; k < n_out; k++) {
            ones += y[r * n_out + k] == 1.0f;
            zeros += y[r * n_out + k] == 0.0f;
        }
        FUZZ_CHECK(H, ones == 1 && zeros == n_out - 1, "row %zu is not one-hot", r);
    }
    for (size_t k = 0; k < n_out && bp_dataset_class_name(d, 0); k++)
        FUZZ_CHECK(H, bp_dataset_class_name(d, k) != NULL, "class %zu has no name", k);
}

/* Only digits, signs, '.' and exponents: the texts strtod and bp_parse_number must agree on. */
static int plain_decimal(const char *s, size_t len)
{
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++)
        if (!strchr("0123456789+-.eE", s[i]) || s[i] == '\0') return 0;
    return 1;
}

static void check_number(const char *s, size_t len)
{
    double v = 0;
    bp_status st = bp_parse_number(s, len, &v);
    FUZZ_CHECK(H, st == BP_OK || st == BP_ERR_FORMAT || st == BP_ERR_NUMERIC,
               "bp_parse_number status %d", (int)st);
    if (!plain_decimal(s, len)) return;
    char text[64];
    memcpy(text, s, len);
    text[len] = '\0';
    char *end = NULL;
    double ref = strtod(text, &end);
    int whole = end == text + len;
    if (st == BP_OK) {
        FUZZ_CHECK(H, whole, "bp_parse_number accepts \"%s\", strtod stops at byte %td", text,
                   end - text);
        float a = (float)v, b = strtof(text, NULL);
        FUZZ_CHECK(H, a == b || nextafterf(a, b) == b,
                   "\"%s\": bp_parse_number %.9g, strtof %.9g", text, (double)a, (double)b);
    } else if (st == BP_ERR_NUMERIC) {
        FUZZ_CHECK(H, whole && fabs(ref) > FLT_MAX * (1 - 1e-6),
                   "\"%s\" refused as out of range, strtod reads %g", text, ref);
    } else if (whole) {
        /* strtod also takes forms like "1." and ".5" that bp_parse_number accepts; a
           refusal of something strtod reads whole must be one of the documented ones. */
        FUZZ_CHECK(H, 0, "\"%s\" refused as malformed, strtod reads %g", text, ref);
    }
}

int bp_fuzz_csv(const uint8_t *data, size_t size)
{
    unsigned sel = size ? data[0] : 0;
    const char *text = size ? (const char *)data + 1 : "";
    size_t len = size ? size - 1 : 0;
    static const char *const names[3] = {"a", "b", "c"};

    bp_csv_options opt = {BP_TARGET_CLASS, 0, 0, NULL};
    switch (sel & 3) {
    case 0: opt.target = BP_TARGET_CLASS; break;
    case 1: opt.target = BP_TARGET_VALUES; break;
    case 2: opt.target = BP_TARGET_NONE; break;
    case 3: opt.target = BP_TARGET_CLASS; opt.class_names = names; break;
    }
    static const int headers[4] = {0, -1, 1, 0};
    opt.header = headers[(sel >> 2) & 3];
    opt.n_targets = (sel >> 4) & 3;
    if (opt.class_names) opt.n_targets = 3;

    /* A gzip text is measured by what it inflates to. */
    size_t measured = size;
    if (bp_is_gzip((const unsigned char *)text, len)) {
        unsigned char *plain = NULL;
        size_t plain_len = 0;
        if (bp_gunzip((const unsigned char *)text, len, (size_t)1 << 30, &plain, &plain_len, NULL,
                      0) == BP_OK)
            measured += plain_len;
        free(plain);
    }

    FUZZ_MEM_BEGIN(before);
    bp_dataset *d = NULL;
    bp_error err = {BP_OK, ""};
    bp_status s = bp_dataset_read_csv_memory(text, len, "fuzz.csv", &opt, &d, &err);
    fuzz_check_status(H, s, &err, "fuzz.csv", NULL);
    FUZZ_CHECK(H, (s == BP_OK) == (d != NULL), "status %d with data set %p", (int)s, (void *)d);
    if (d) check_dataset(d, &opt);
    bp_dataset_free(d);

    if (sel & 0x40) {
        bp_csv_read_options ro = {headers[(sel >> 2) & 3], 1, (sel & 0x10) ? 0 : -1};
        bp_csv_table t;
        bp_error e2 = {BP_OK, ""};
        s = bp_csv_read_memory(text, len, "fuzz.csv", &ro, &t, &e2);
        fuzz_check_status(H, s, &e2, "fuzz.csv", NULL);
        if (s == BP_OK) {
            FUZZ_CHECK(H, t.rows >= 1 && t.cols >= 1 && t.values && t.lines && t.labels,
                       "table %zu x %zu", t.rows, t.cols);
            for (size_t r = 0; r < t.rows; r++) {
                FUZZ_CHECK(H, t.labels[r] != NULL, "row %zu has no label", r);
                FUZZ_CHECK(H, r == 0 || t.lines[r] > t.lines[r - 1], "line numbers not increasing");
            }
            for (size_t i = 0; t.names && i < t.cols; i++)
                FUZZ_CHECK(H, t.names[i] != NULL, "column %zu has no name", i);
        } else {
            FUZZ_CHECK(H, t.rows == 0 && t.values == NULL && t.names == NULL && t.labels == NULL,
                       "a failed read left a table behind");
        }
        bp_csv_table_free(&t);
    }
    FUZZ_MEM_END(H, before, FUZZ_MEM_LIMIT(measured));

    if ((sel & 0x80) && len < 40) check_number(text, len);
    return 0;
}

#ifndef BP_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return bp_fuzz_csv(data, size); }
#endif

#undef H
