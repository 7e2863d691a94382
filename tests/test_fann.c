/*
 * test_fann.c - tests of FANN's text data format (src/io/fann.c): reading,
 * writing, the round trip between them, and the wording of every error.
 *
 * Files go to /tmp under names carrying the process id and are removed.
 * The round trip compares floats bit for bit, including values whose
 * shortest text is long (denormals, FLT_MAX, 0.1): text must not lose them.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backprop.h"
#include "test.h"

static void temp_path(char *buf, size_t size, const char *tag)
{
    snprintf(buf, size, "/tmp/bp-test-fann-%ld-%s", (long)getpid(), tag);
}

/* Read text as a FANN file named tag (in /tmp). */
static bp_status read_text(const char *text, size_t len, const char *tag, bp_dataset **out,
                           bp_error *err)
{
    char path[256];
    temp_path(path, sizeof path, tag);
    memset(err, 0, sizeof *err);
    FILE *f = fopen(path, "wb");
    if (!f) return BP_ERR_IO;
    int ok = fwrite(text, 1, len, f) == len;
    if (fclose(f) != 0 || !ok) return BP_ERR_IO;
    bp_status s = bp_dataset_read_fann(path, out, err);
    remove(path);
    return s;
}
#define READ(lit, tag, out, err) read_text(lit, sizeof(lit) - 1, tag, out, err)

/* The message ends with this text (after the temporary directory part of the path). */
static int says(const bp_error *err, const char *tail)
{
    if (strstr(err->message, tail)) return 1;
    fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err->message, tail);
    return 0;
}

void test_fann_read(void)
{
    bp_dataset *d = NULL;
    bp_error err;
    bp_status s = READ("3 2 1\n0 0\n0\n0 1\n1\n1 0\n1\n", "xor.data", &d, &err);
    CHECK(s == BP_OK, "%s", err.message);
    if (s != BP_OK) return;
    CHECK(bp_dataset_count(d) == 3 && bp_dataset_inputs(d) == 2 && bp_dataset_outputs(d) == 1,
          "shape");
    const float *x = bp_dataset_x_const(d), *y = bp_dataset_y_const(d);
    CHECK(x[0] == 0 && x[1] == 0 && x[2] == 0 && x[3] == 1 && x[4] == 1 && x[5] == 0, "inputs");
    CHECK(y[0] == 0 && y[1] == 1 && y[2] == 1, "outputs");
    bp_dataset_free(d);

    /* Like FANN's fscanf: line breaks and spacing do not matter, CRLF and a missing final
       newline are fine, numbers take any decimal form. */
    s = READ("\xEF\xBB\xBF 2   3 2\r\n\r\n-1.5e0\t+.25 3.\n\n  1e-3 -0\n"
             "7 8 9 10 11", "loose.data", &d, &err);
    CHECK(s == BP_OK, "%s", err.message);
    if (s == BP_OK) {
        x = bp_dataset_x_const(d);
        y = bp_dataset_y_const(d);
        CHECK(x[0] == -1.5f && x[1] == 0.25f && x[2] == 3.0f && x[3] == 7 && x[5] == 9, "x");
        CHECK(y[0] == 1e-3f && y[1] == 0 && y[2] == 10 && y[3] == 11, "y");
    }
    bp_dataset_free(d);

    /* No outputs: inputs only (data to predict on). */
    s = READ("2 2 0\n1 2\n3 4\n", "inputs.data", &d, &err);
    CHECK(s == BP_OK && bp_dataset_outputs(d) == 0 && bp_dataset_x(d)[3] == 4, "%s", err.message);
    bp_dataset_free(d);
}

void test_fann_errors(void)
{
    bp_dataset *d = NULL;
    bp_error err;
    CHECK(READ("2 2 1\n0 0\n0\n0 x1\n1\n", "bad.data", &d, &err) == BP_ERR_FORMAT && !d &&
              says(&err, "bad.data:4:3: expected a number, found \"x1\""),
          "bad token");
    CHECK(READ("1 2 1\n0 nan\n0\n", "nan.data", &d, &err) == BP_ERR_NUMERIC &&
              says(&err, "nan.data:2:3: expected a finite number, found \"nan\""),
          "nan");
    CHECK(READ("1 2 1\n0 1e39\n0\n", "big.data", &d, &err) == BP_ERR_NUMERIC &&
              says(&err, "big.data:2:3: number \"1e39\" is out of range"),
          "1e39");
    CHECK(READ("1 2 1\n0 1,5\n0\n", "comma.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "comma.data:2:3: expected a number, found \"1,5\""),
          "decimal comma");
    CHECK(READ("1 1 1\n\x01\"\n0\n", "ctl.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "found \"\\x01\\\"\""),
          "control bytes are escaped");
    CHECK(READ("4 2 1\n0 0\n0\n0 1\n1\n1 0\n1\n\n", "short.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "short.data:9: expected 4 samples, found only 3"),
          "short file");
    CHECK(READ("2 2 1\n0 0\n0\n0 1\n", "cut.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "cut.data:5: expected 2 samples, found only 1"),
          "cut inside a sample");
    CHECK(READ("1 2 1\n0 0\n0\n1\n", "long.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "long.data:4:1: unexpected \"1\" after the last of the 1 samples"),
          "trailing number");
    CHECK(READ("1 2 1\n0 0\n0\n# comment\n", "junk.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "junk.data:4:1: unexpected \"#\""),
          "trailing garbage");

    /* The header. */
    CHECK(READ("", "empty.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "empty.data:1: expected the header \"samples inputs outputs\", found the end"),
          "empty");
    CHECK(READ("3 2\n", "two.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "two.data:2: expected the header") && says(&err, "number of outputs"),
          "two fields");
    CHECK(READ("3 -2 1\n", "neg.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "neg.data:1:3: expected the number of inputs (a whole number)"),
          "negative");
    CHECK(READ("1.0 2 1\n1 1 1\n", "real.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "real.data:1:1: expected the number of samples"),
          "not whole");
    CHECK(READ("99999999999999999999999 2 1\n", "huge.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "huge.data:1:1:"),
          "beyond size_t");
    CHECK(READ("0 2 1\n", "none.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "none.data:1: the header declares 0 samples"),
          "zero samples");
    CHECK(READ("2 0 1\n1\n1\n", "noin.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "the header declares 0 inputs"),
          "zero inputs");
    /* A header claiming far more than the file can hold fails before allocating (a test
       under ASan's allocator limits would abort otherwise), in the usual words. */
    CHECK(READ("1000000000000 100 10\n0 0\n0\n", "lie.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "lie.data:4: expected 1000000000000 samples, found only 0"),
          "huge claim");
    CHECK(READ("3 1000000000000000000 1000000000000000000\n0\n", "wrap.data", &d, &err) ==
                  BP_ERR_FORMAT && says(&err, "wrap.data:3: expected 3 samples, found only 0"),
          "sizes that overflow");
    CHECK(READ("1 1 18446744073709551615\n", "wrap2.data", &d, &err) == BP_ERR_FORMAT &&
              says(&err, "wrap2.data:2: expected 1 samples, found only 0"),
          "inputs + outputs wraps");

    CHECK(bp_dataset_read_fann("/nonexistent/x.data", &d, &err) == BP_ERR_IO &&
              says(&err, "/nonexistent/x.data"),
          "missing file");
    CHECK(bp_dataset_read_fann(NULL, &d, &err) == BP_ERR_ARG, "no path");
}

void test_fann_round_trip(void)
{
    const float values[] = {0.0f, -0.0f, 0.1f, -1.0f / 3.0f, FLT_MAX, -FLT_MAX, FLT_MIN,
                            1.4e-45f /* smallest denormal */, 123456789.0f, 1e-7f, 16777217.0f,
                            2.5f};
    const size_t n_values = sizeof values / sizeof values[0];
    bp_dataset *d = NULL;
    CHECK(bp_dataset_create(4, 5, 2, &d) == BP_OK, "create");
    if (!d) return;
    float *x = bp_dataset_x(d), *y = bp_dataset_y(d);
    for (size_t i = 0; i < 20; i++) x[i] = values[i % n_values] * (i >= n_values ? -1.0f : 1.0f);
    for (size_t i = 0; i < 8; i++) y[i] = values[(i * 5 + 3) % n_values];

    char path[256];
    temp_path(path, sizeof path, "round.data");
    bp_error err = {0};
    CHECK(bp_dataset_write_fann(d, path, &err) == BP_OK, "%s", err.message);
    bp_dataset *back = NULL;
    bp_status s = bp_dataset_read_fann(path, &back, &err);
    CHECK(s == BP_OK, "%s", err.message);
    if (s == BP_OK) {
        CHECK(bp_dataset_count(back) == 4 && bp_dataset_inputs(back) == 5 &&
                  bp_dataset_outputs(back) == 2,
              "shape");
        const float *bx = bp_dataset_x_const(back), *by = bp_dataset_y_const(back);
        for (size_t i = 0; i < 20; i++)
            CHECK(bx[i] == x[i] && signbit(bx[i]) == signbit(x[i]), "x[%zu]: %.9g became %.9g", i,
                  x[i], bx[i]);
        for (size_t i = 0; i < 8; i++) CHECK(by[i] == y[i], "y[%zu]: %.9g became %.9g", i, y[i], by[i]);
    }
    bp_dataset_free(back);

    /* The layout FANN writes: header, then an input line and an output line per sample. */
    FILE *f = fopen(path, "rb");
    char text[2048] = "";
    size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[len] = '\0';
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    CHECK(strncmp(text, "4 5 2\n0 -0 0.1 ", 15) == 0 && lines == 9 && text[len - 1] == '\n',
          "layout:\n%s", text);
    remove(path);

    /* What cannot be written. */
    x[3] = NAN;
    CHECK(bp_dataset_write_fann(d, path, &err) == BP_ERR_NUMERIC && says(&err, "sample 1, input 4"),
          "NaN");
    CHECK(access(path, F_OK) != 0, "nothing written");
    bp_dataset_free(d);
    CHECK(bp_dataset_create(2, 3, 0, &d) == BP_OK, "create without targets");
    CHECK(bp_dataset_write_fann(d, path, &err) == BP_ERR_UNSUPPORTED &&
              says(&err, "without targets cannot be written in FANN format"),
          "no outputs");
    CHECK(access(path, F_OK) != 0, "nothing written");
    bp_dataset_free(d);
    CHECK(bp_dataset_write_fann(NULL, path, &err) == BP_ERR_ARG, "null");
}

/* A small generator of our own: no global state, same sequence every run. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

void test_fann_random_text(void)
{
    /* Valid files, half of them damaged at random: a data set or a message, never a
       crash (this is meant to run under sanitizers too). */
    static const char *const pieces[] = {"0", "-2.5", "1e3", " ", "\n", "x", "1e99", ".", "-",
                                         "\r\n", "00", "3 2 1", "nan", "\x01"};
    uint64_t state = 0x2545F4914F6CDD1Dull;
    char text[600];
    int odd = 0, ok = 0;
    for (int round = 0; round < 300; round++) {
        int n = 1 + (int)(next_random(&state) % 4), n_in = 1 + (int)(next_random(&state) % 3),
            n_out = (int)(next_random(&state) % 3);
        size_t len = (size_t)snprintf(text, sizeof text, "%d %d %d\n", n, n_in, n_out);
        for (int i = 0; i < n * (n_in + n_out); i++)
            len += (size_t)snprintf(text + len, sizeof text - len, "%d%s",
                                    (int)(next_random(&state) % 2001) - 1000,
                                    next_random(&state) % 3 ? " " : "\n");
        int edits = next_random(&state) % 2 ? 0 : 1 + (int)(next_random(&state) % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)(next_random(&state) % (len + 1));
            const char *p = pieces[next_random(&state) % (sizeof pieces / sizeof pieces[0])];
            size_t k = strlen(p);
            if (next_random(&state) % 3 == 0) {
                len = at; /* cut */
            } else if (len + k < sizeof text) {
                memmove(text + at + k, text + at, len - at);
                memcpy(text + at, p, k);
                len += k;
            }
        }
        bp_dataset *d = NULL;
        bp_error err;
        bp_status s = read_text(text, len, "random.data", &d, &err);
        if (s == BP_OK) {
            ok++;
            odd += d == NULL || bp_dataset_count(d) == 0;
        } else {
            odd += d != NULL || strncmp(err.message, "/tmp/bp-test-fann-", 18) != 0;
        }
        bp_dataset_free(d);
    }
    CHECK(odd == 0, "%d inputs broke the API's promises", odd);
    CHECK(ok > 100, "only %d random files were valid: the test is not testing reading", ok);
}
