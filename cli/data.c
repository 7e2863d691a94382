/*
 * data.c - how the program finds and reads data files: the format from
 * --format or from the file itself (CSV, IDX plain or gzip, FANN text), the
 * targets from the model or the options, and the model's input transform.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "backprop.h"

#include "args.h"
#include "data.h"

/* The first bytes of a file, to tell the formats apart (NUL-terminated). Only regular
   files are looked at: opening a FIFO must not wait for a writer, and the reader that
   follows refuses anything else with a proper message. */
static size_t peek(const char *path, unsigned char *buf, size_t size)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    size_t n = 0;
    while (n < size - 1) {
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return n;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

cli_format cli_detect_format(const char *path)
{
    unsigned char head[256];
    size_t n = peek(path, head, sizeof head);
    /* IDX: two zero bytes, then a type byte (0x08..0x0E). */
    if (n >= 4 && head[0] == 0 && head[1] == 0 && head[2] >= 0x08 && head[2] <= 0x0E) return CLI_FORMAT_IDX;
    if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
        /* Compressed: MNIST-style names say IDX, anything else is taken for CSV. */
        if (strstr(path, "idx") || strstr(path, "ubyte")) return CLI_FORMAT_IDX;
        return CLI_FORMAT_CSV;
    }
    if (ends_with(path, ".fann") || ends_with(path, ".data") || ends_with(path, ".train") ||
        ends_with(path, ".test"))
        return CLI_FORMAT_FANN;
    /* FANN's first line is exactly three whole numbers separated by blanks. */
    size_t i = 0, numbers = 0;
    while (i < n && head[i] != '\n') {
        while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r')) i++;
        if (i >= n || head[i] == '\n') break;
        if (head[i] < '0' || head[i] > '9') return CLI_FORMAT_CSV;
        while (i < n && head[i] >= '0' && head[i] <= '9') i++;
        numbers++;
        if (i < n && head[i] != ' ' && head[i] != '\t' && head[i] != '\r' && head[i] != '\n')
            return CLI_FORMAT_CSV;
    }
    return numbers == 3 && i < n ? CLI_FORMAT_FANN : CLI_FORMAT_CSV;
}

int cli_parse_format(const cli_args *a, cli_format *out)
{
    const char *f = cli_get(a, "format");
    *out = CLI_FORMAT_AUTO;
    if (!f || strcmp(f, "auto") == 0) return 0;
    if (strcmp(f, "csv") == 0) *out = CLI_FORMAT_CSV;
    else if (strcmp(f, "idx") == 0) *out = CLI_FORMAT_IDX;
    else if (strcmp(f, "fann") == 0) *out = CLI_FORMAT_FANN;
    else return cli_fail(a, EXIT_USAGE, "--format expects auto, csv, idx or fann, got '%s'", f);
    return 0;
}

/* 1 when the file is a model or checkpoint (.bpm's magic number): given as data,
   it would fail somewhere in its binary with a message about columns. */
static int is_model_file(const char *path)
{
    unsigned char head[8];
    return peek(path, head, sizeof head) >= 4 && memcmp(head, "\x89" "BPM", 4) == 0;
}

int cli_read_data(const cli_args *a, const cli_data_request *req, bp_dataset **out)
{
    *out = NULL;
    if (is_model_file(req->path))
        return cli_fail(a, EXIT_FAILED, "%s is a backprop model file (.bpm), not data: give a CSV, IDX or FANN file",
                        req->path);
    cli_format format = req->format;
    if (req->labels) format = CLI_FORMAT_IDX;
    if (format == CLI_FORMAT_AUTO) format = cli_detect_format(req->path);
    bp_error err = {0};
    bp_status s;
    if (format == CLI_FORMAT_IDX) {
        s = bp_dataset_read_idx(req->path, req->labels, req->n_classes, out, &err);
        if (s == BP_OK && req->target == BP_TARGET_NONE && bp_dataset_outputs(*out) == 0) return 0;
        if (s == BP_OK && !req->labels && req->target != BP_TARGET_NONE) {
            bp_dataset_free(*out);
            *out = NULL;
            return cli_fail(a, EXIT_USAGE, "%s is an IDX image file: give its labels file too (--labels / --test-labels)",
                            req->path);
        }
    } else if (format == CLI_FORMAT_FANN) {
        s = bp_dataset_read_fann(req->path, out, &err);
    } else {
        bp_csv_options opt = {req->target, req->n_targets, 0, req->class_names};
        if (req->target == BP_TARGET_CLASS) opt.n_targets = req->n_classes;
        s = bp_dataset_read_csv(req->path, &opt, out, &err);
    }
    if (s != BP_OK) return cli_fail_status(a, s, &err, req->path);
    return 0;
}

/* A model trained from CSV has at most this many class names (the CSV reader's
   limit); the labels for a model with more, made through the API, are read
   without its names. */
enum { CLI_MAX_NAMED_CLASSES = 65536 };

/* Whether the model's targets are classes: its class names or ce loss say so,
   unless --targets says otherwise. -1 (after a message) for a bad --targets. */
static int targets_are_classes(const cli_args *a, const bp_net *net)
{
    const char *targets = cli_get(a, "targets");
    if (targets && strcmp(targets, "class") != 0 && strcmp(targets, "values") != 0) {
        cli_fail(a, EXIT_USAGE, "--targets expects 'class' or 'values', got '%s'", targets);
        return -1;
    }
    if (targets) return strcmp(targets, "class") == 0;
    return bp_net_class_name(net, 0) != NULL || bp_net_loss_function(net) == BP_LOSS_CE;
}

/* The data set's widths against the model's (only the inputs' when the targets are
   ignored); on a mismatch it is freed. */
static int check_widths(const cli_args *a, const char *path, const bp_net *net, int classes, int inputs_only,
                        bp_dataset **d)
{
    size_t n_in = bp_net_width(net, 0), n_out = bp_net_width(net, bp_net_layer_count(net));
    size_t got_in = bp_dataset_inputs(*d), got_out = bp_dataset_outputs(*d);
    if (got_in == n_in && (inputs_only || got_out == 0 || got_out == n_out)) return 0;
    bp_dataset_free(*d);
    *d = NULL;
    if (got_in != n_in)
        return cli_fail(a, EXIT_FAILED, "%s: %zu input column%s, but the network takes %zu inputs (plus %s)", path,
                        got_in, got_in == 1 ? "" : "s", n_in, classes ? "one class-label column" : "its target columns");
    return cli_fail(a, EXIT_FAILED, "%s: %zu targets per sample, but the network has %zu outputs", path, got_out,
                    n_out);
}

/* The first data line of a CSV file, as the checks below need it. */
typedef struct {
    size_t cols, line; /* its columns, and its line number */
    size_t end_column; /* the byte column just past its last cell, where a missing one would go */
    size_t extra_column; /* where its cell number want + 1 begins (0: it has no more than want) */
} csv_first_line;

/* The first data line of path, with the extra column counted past want cells; -1 when
   it is not CSV or cannot be read. Columns are 1-based bytes, as the CSV reader's. */
static int csv_columns(const char *path, size_t want, csv_first_line *out)
{
    if (cli_detect_format(path) != CLI_FORMAT_CSV) return -1;
    /* Only a regular file: a FIFO or a device would block or be consumed here. gzread
       reads plain files as they are and .gz files decompressed. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat st;
    gzFile f = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? gzdopen(fd, "rb") : NULL;
    if (!f) {
        close(fd);
        return -1;
    }
    /* Count separators on the first line that is not blank or a comment,
       however long that line is. */
    enum { BLANK, COMMENT, FIELDS } state = BLANK;
    size_t counts[3] = {0, 0, 0}, extra[3] = {0, 0, 0}, lines = 1, column = 0, end = 0;
    int quoted = 0, done = 0, first = 1;
    unsigned char buf[16384];
    int n;
    while (!done && (n = gzread(f, buf, sizeof buf)) > 0) {
        int i = 0;
        if (first && n >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF) i = 3;
        first = 0;
        for (; i < n && !done; i++) {
            unsigned char c = buf[i];
            column = c == '\n' ? 0 : column + 1;
            if (state == BLANK) {
                if (c == '#') state = COMMENT;
                else if (c == '\n') lines++;
                else if (c != ' ' && c != '\t' && c != '\r') state = FIELDS;
            } else if (state == COMMENT) {
                if (c == '\n') state = BLANK, lines++;
                continue;
            }
            if (state != FIELDS) continue;
            int k = -1;
            if (c == '\n') done = 1;
            else if (c == '"') quoted = !quoted;
            else if (!quoted && c == ',') k = 0;
            else if (!quoted && c == ';') k = 1;
            else if (!quoted && c == '\t') k = 2;
            if (k >= 0 && ++counts[k] == want) extra[k] = column + 1;
            /* The line's end, a carriage return before its newline left out. */
            if (c != '\n' && c != '\r') end = column;
        }
    }
    gzclose(f);
    if (state != FIELDS) return -1;
    int best = 0;
    if (counts[1] > counts[best]) best = 1;
    if (counts[2] > counts[best]) best = 2;
    out->cols = counts[best] + 1;
    out->line = lines;
    out->end_column = end + 1;
    out->extra_column = extra[best];
    return 0;
}

int cli_check_csv_columns(const cli_args *a, const char *path, const char *whose, size_t n_in, size_t n_out,
                          int classes, int inputs_only, int *without_targets)
{
    size_t targets = classes ? 1 : n_out;
    csv_first_line first;
    if (without_targets) *without_targets = 0;
    if (is_model_file(path) || csv_columns(path, n_in + targets, &first) != 0 || first.cols == n_in + targets) return 0;
    size_t cols = first.cols, line = first.line;
    if (inputs_only && cols == n_in) {
        if (without_targets) *without_targets = 1;
        return 0;
    }
    /* The column points at the first cell too many, or where the first missing one goes. */
    size_t column = cols > n_in + targets ? first.extra_column : first.end_column;
    char want[96];
    if (classes) snprintf(want, sizeof want, "%zu inputs and a class column (%zu columns)", n_in, n_in + 1);
    else snprintf(want, sizeof want, "%zu inputs and %zu target column%s (%zu columns)", n_in, n_out,
                  n_out == 1 ? "" : "s", n_in + n_out);
    if (cols == n_in)
        return cli_fail(a, EXIT_FAILED, "%s:%zu:%zu: %zu columns: the inputs without the %s needed here; %s has %s",
                        path, line, column, cols, classes ? "class column" : "target columns", whose, want);
    return cli_fail(a, EXIT_FAILED, "%s:%zu:%zu: %zu column%s, but %s has %s%s", path, line, column, cols,
                    cols == 1 ? "" : "s", whose, want, inputs_only ? ", or the inputs alone" : "");
}

int cli_load_data_for_net(const cli_args *a, const char *path, const char *labels, const bp_net *net,
                          int inputs_only, bp_dataset **out)
{
    size_t n_in = bp_net_width(net, 0), n_out = bp_net_width(net, bp_net_layer_count(net));
    cli_data_request req = {path, labels, CLI_FORMAT_AUTO, BP_TARGET_VALUES, n_out, 0, NULL};
    int code = cli_parse_format(a, &req.format);
    if (code) return code;
    int classes = targets_are_classes(a, net);
    if (classes < 0) return EXIT_USAGE;
    cli_format format = req.format == CLI_FORMAT_AUTO ? cli_detect_format(path) : req.format;
    /* Data to predict on may or may not carry its targets: a CSV file of n_0 columns, or
       an IDX image file without its labels file, has none. */
    int without_targets = 0;
    if (format == CLI_FORMAT_CSV &&
        (code = cli_check_csv_columns(a, path, "the model", n_in, n_out, classes, inputs_only, &without_targets)))
        return code;
    const char **names = NULL;
    if (classes) {
        req.target = BP_TARGET_CLASS;
        req.n_classes = n_out;
        /* predict ignores a class column: a label the model never saw (a new class, a
           typo, a number past its classes) is no reason to refuse the inputs. */
        if (inputs_only) req.n_classes = 0;
        else if (bp_net_class_name(net, 0) && n_out <= CLI_MAX_NAMED_CLASSES) {
            if (!(names = malloc(n_out * sizeof *names))) return cli_fail(a, EXIT_FAILED, "out of memory");
            for (size_t k = 0; k < n_out; k++) names[k] = bp_net_class_name(net, k);
            req.class_names = names;
        }
    }
    if (without_targets || (inputs_only && !labels && format == CLI_FORMAT_IDX)) req.target = BP_TARGET_NONE;
    code = cli_read_data(a, &req, out);
    free(names);
    if (code || (code = check_widths(a, path, net, classes, inputs_only, out))) return code;
    return cli_apply_model_transform(a, path, net, *out);
}

int cli_apply_model_transform(const cli_args *a, const char *path, const bp_net *net, bp_dataset *data)
{
    const float *shift, *scale;
    if (!bp_net_get_input_transform(net, &shift, &scale)) return 0;
    bp_dataset_apply_transform(data, shift, scale);
    /* The readers refuse NaN and numbers beyond float's range, but the transform can carry
       a large finite input past it: say which one, rather than print NaN for its row. */
    const float *x = bp_dataset_x_const(data);
    const size_t n0 = bp_dataset_inputs(data), n = bp_dataset_count(data) * n0;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return cli_fail(a, EXIT_FAILED,
                            "%s: sample %zu, input %zu: the model's input preprocessing ((x - shift) * scale) "
                            "takes it beyond float's range",
                            path, i / n0 + 1, i % n0 + 1);
    return 0;
}

/* Whether two paths to files not yet there name the same entry of the same directory. */
static int same_directory_and_name(const char *p, const char *q)
{
    char dp[4096], dq[4096];
    const char *bp = strrchr(p, '/'), *bq = strrchr(q, '/');
    snprintf(dp, sizeof dp, "%.*s", bp ? (int)(bp - p) + 1 : 1, bp ? p : ".");
    snprintf(dq, sizeof dq, "%.*s", bq ? (int)(bq - q) + 1 : 1, bq ? q : ".");
    struct stat sp, sq;
    return strcmp(bp ? bp + 1 : p, bq ? bq + 1 : q) == 0 && stat(dp, &sp) == 0 && stat(dq, &sq) == 0 &&
           sp.st_dev == sq.st_dev && sp.st_ino == sq.st_ino;
}

/* Whether paths p and q name one file: by device and inode when both are there, by
   directory and name when neither is; a file that is there and one that is not differ. */
static int same_file(const char *p, const char *q)
{
    struct stat ps, qs;
    const int p_is = stat(p, &ps) == 0, q_is = stat(q, &qs) == 0;
    if (strcmp(p, q) == 0) return 1;
    if (p_is && q_is) return ps.st_dev == qs.st_dev && ps.st_ino == qs.st_ino;
    return !p_is && !q_is && same_directory_and_name(p, q);
}

int cli_check_output(const cli_args *a, const char *out_label, const char *out_path, const char *const *inputs,
                     size_t n)
{
    struct stat out_st;
    if (!out_path || stat(out_path, &out_st) != 0) return 0; /* a new file is nobody's input */
    for (size_t i = 0; i < n; i++) {
        const char *label = inputs[2 * i], *path = inputs[2 * i + 1];
        if (!path || !same_file(path, out_path)) continue;
        int same_name = strcmp(path, out_path) == 0;
        return cli_fail(a, EXIT_USAGE, "%s %s is the %s file%s%s: writing it would destroy an input; choose another file",
                        out_label, out_path, label, same_name ? "" : " ", same_name ? "" : path);
    }
    return 0;
}

int cli_check_distinct_outputs(const cli_args *a, const char *const *outputs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            const char *p = outputs[2 * i + 1], *q = outputs[2 * j + 1];
            if (p && q && same_file(p, q))
                return cli_fail(a, EXIT_USAGE, "%s %s and %s %s name the same file: one would overwrite the other; "
                                "choose another file for %s", outputs[2 * i], p, outputs[2 * j], q, outputs[2 * j]);
        }
    return 0;
}
