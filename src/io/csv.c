/*
 * csv.c - a CSV table reader that reports bad input instead of crashing, and a
 * locale-independent number parser.
 *
 * The reader makes two passes over the text: the first finds the separator,
 * the column count, the header and the number of data rows, so that the value
 * block is allocated once at its final size; the second fills it. Input is
 * never trusted: every size is checked before it is allocated, every byte
 * shown in a message is escaped, and every error path frees what it holds.
 * Deciding what the columns mean (inputs, targets, classes) is left to the
 * caller (dataset.c, the CLI).
 */
#include "csv.h"
#include "fileio.h"
#include "number.h"
#include "quote.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------------- errors */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static bp_status csv_fail(bp_error *err, bp_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = status;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* ------------------------------------------------------------ lines, cells */

/* One physical line without its line ending. */
typedef struct {
    const char *begin, *end;
    size_t number; /* 1-based */
} csv_line;

/* One cell: for a quoted cell, the bytes between the quotes, "" escapes still in. */
typedef struct {
    const char *text;
    size_t len;
    size_t column; /* 1-based byte column where the cell starts */
    int quoted;
} csv_cell;

/* Where the line iteration stands; copied to restart the second pass. */
typedef struct {
    const char *text;
    size_t len, pos, line_number;
} csv_cursor;

static int next_line(csv_cursor *c, csv_line *line)
{
    if (c->pos >= c->len) return 0;
    const char *begin = c->text + c->pos;
    const char *nl = memchr(begin, '\n', c->len - c->pos);
    const char *end = nl ? nl : c->text + c->len;
    c->pos = nl ? (size_t)(nl - c->text) + 1 : c->len;
    if (end > begin && end[-1] == '\r') end--;
    line->begin = begin;
    line->end = end;
    line->number = ++c->line_number;
    return 1;
}

static int is_pad(char ch, char sep) { return ch == ' ' || (ch == '\t' && sep != '\t'); }

/* Blank lines and comments carry no row. */
static int is_skipped(const csv_line *line)
{
    const char *p = line->begin;
    while (p < line->end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    return p == line->end || *p == '#';
}

/* How many bytes of [p, end) equal c. Blocks of 64 with a small counter, a loop
   compilers turn into vector code: a line of 100 MB costs milliseconds. */
static size_t count_byte(const char *p, const char *end, char c)
{
    size_t n = 0;
    while (end - p >= 64) {
        unsigned k = 0;
        for (int i = 0; i < 64; i++) k += p[i] == c;
        n += k;
        p += 64;
    }
    for (; p < end; p++) n += *p == c;
    return n;
}

/* Add up the candidate separators in [p, end), which holds no quote. */
static void count_separators(const char *p, const char *end, size_t counts[3])
{
    counts[0] += count_byte(p, end, ',');
    counts[1] += count_byte(p, end, ';');
    counts[2] += count_byte(p, end, '\t');
}

/* The separator is the candidate seen most often outside quotes on the first
   line; ties go to comma, then semicolon, so a one-column file reads as CSV. */
static char detect_separator(const csv_line *line)
{
    size_t counts[3] = {0, 0, 0};
    const char *p = line->begin, *end = line->end;
    while (p < end) {
        const char *open = memchr(p, '"', (size_t)(end - p));
        count_separators(p, open ? open : end, counts);
        if (!open) break;
        /* Skip to the matching quote ("" inside quotes closes and reopens: the same). */
        const char *close = memchr(open + 1, '"', (size_t)(end - open - 1));
        if (!close) break;
        p = close + 1;
    }
    size_t commas = counts[0], semicolons = counts[1], tabs = counts[2];
    if (commas >= semicolons && commas >= tabs) return ',';
    return semicolons >= tabs ? ';' : '\t';
}

/* Reading a line cell by cell, so that no array of cells is ever needed (a line of
   50 million columns costs its floats, not 32 bytes of bookkeeping per cell). */
typedef struct {
    const csv_line *line;
    const char *p; /* where the next cell starts */
    int done;      /* the last cell has been handed out */
} cell_reader;

static cell_reader cells_of(const csv_line *line)
{
    cell_reader r = {line, line->begin, 0};
    return r;
}

/* The next cell: 1 (and *cell), 0 after the last one, or -1 with err set when a quoted
   field is not closed or not followed by a separator. */
static int next_cell(cell_reader *r, char sep, csv_cell *cell, const char *name, bp_error *err)
{
    if (r->done) return 0;
    const csv_line *line = r->line;
    const char *p = r->p, *end = line->end;
    while (p < end && is_pad(*p, sep)) p++;
    cell->column = (size_t)(p - line->begin) + 1;
    if (p < end && *p == '"') {
        const char *q = p + 1;
        for (;;) {
            q = q < end ? memchr(q, '"', (size_t)(end - q)) : NULL;
            if (!q) {
                q = end;
                break;
            }
            if (q + 1 < end && q[1] == '"') {
                q += 2;
                continue;
            }
            break;
        }
        if (q >= end) {
            csv_fail(err, BP_ERR_FORMAT, "%s:%zu:%zu: quoted field is not closed on this line",
                     name, line->number, cell->column);
            return -1;
        }
        cell->text = p + 1;
        cell->len = (size_t)(q - p - 1);
        cell->quoted = 1;
        p = q + 1;
        while (p < end && is_pad(*p, sep)) p++;
        if (p < end && *p != sep) {
            char shown[BP_QUOTE_SIZE];
            bp_quote(shown, p, 1);
            csv_fail(err, BP_ERR_FORMAT,
                     "%s:%zu:%zu: expected a separator after the closing quote, found %s", name,
                     line->number, (size_t)(p - line->begin) + 1, shown);
            return -1;
        }
    } else {
        const char *start = p;
        /* Most cells are short: look at a few bytes before calling memchr. */
        const char *near = end - p > 16 ? p + 16 : end;
        while (p < near && *p != sep) p++;
        if (p == near && p < end) {
            const char *next = memchr(p, sep, (size_t)(end - p));
            p = next ? next : end;
        }
        const char *stop = p;
        while (stop > start && is_pad(stop[-1], sep)) stop--;
        cell->text = start;
        cell->len = (size_t)(stop - start);
        cell->quoted = 0;
    }
    if (p >= end)
        r->done = 1;
    else
        p++; /* the separator; a separator at the very end leaves one empty cell */
    r->p = p;
    return 1;
}

/* The number of cells of a line (or the error of a malformed quoted field). A line
   without quotes has one more cell than separators. */
static bp_status count_cells(const csv_line *line, char sep, size_t *count, const char *name,
                             bp_error *err)
{
    size_t len = (size_t)(line->end - line->begin);
    if (!memchr(line->begin, '"', len)) {
        *count = count_byte(line->begin, line->end, sep) + 1;
        return BP_OK;
    }
    cell_reader r = cells_of(line);
    csv_cell cell;
    size_t n = 0;
    int got;
    while ((got = next_cell(&r, sep, &cell, name, err)) > 0) n++;
    if (got < 0) return BP_ERR_FORMAT;
    *count = n;
    return BP_OK;
}

/* Copy a cell's text with "" turned back into ", NUL-terminated; returns bytes written
   without the NUL. dst has room for cell->len + 1 bytes. */
static size_t unescape_cell(char *dst, const csv_cell *cell)
{
    size_t k = 0;
    for (size_t i = 0; i < cell->len; i++) {
        dst[k++] = cell->text[i];
        if (cell->quoted && cell->text[i] == '"' && i + 1 < cell->len && cell->text[i + 1] == '"')
            i++;
    }
    dst[k] = '\0';
    return k;
}

/* Whether a first-line cell reads as a column name rather than data: empty cells
   do not count (pandas leaves the index column's name empty), and neither do
   "nan" or 1e39, so a bad first data row is reported rather than swallowed. */
static int looks_like_name(const csv_cell *cell)
{
    double v;
    return cell->len > 0 && bp_parse_number(cell->text, cell->len, &v) == BP_ERR_FORMAT;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static bp_status parse_cell(const csv_cell *cell, const csv_line *line, const char *name,
                            float *out, bp_error *err)
{
    double v;
    if (cell->len == 0)
        return csv_fail(err, BP_ERR_FORMAT, "%s:%zu:%zu: expected a number, found an empty field",
                        name, line->number, cell->column);
    bp_status s = bp_parse_number(cell->text, cell->len, &v);
    if (s == BP_OK) {
        *out = (float)v; /* in range: bp_parse_number refuses what would round to infinity */
        return BP_OK;
    }
    char shown[BP_QUOTE_SIZE];
    bp_quote(shown, cell->text, cell->len);
    if (s == BP_ERR_NUMERIC) {
        const char *t = cell->text;
        size_t i = (t[0] == '+' || t[0] == '-') ? 1 : 0;
        if (i < cell->len && (is_digit(t[i]) || t[i] == '.'))
            return csv_fail(err, BP_ERR_NUMERIC,
                            "%s:%zu:%zu: number %s is out of range for a float (beyond 3.4e38)",
                            name, line->number, cell->column, shown);
        return csv_fail(err, BP_ERR_NUMERIC, "%s:%zu:%zu: expected a finite number, found %s",
                        name, line->number, cell->column, shown);
    }
    return csv_fail(err, BP_ERR_FORMAT, "%s:%zu:%zu: expected a number, found %s", name,
                    line->number, cell->column, shown);
}

/* -------------------------------------------------------------- the table */

void bp_csv_table_free(bp_csv_table *t)
{
    if (!t) return;
    free(t->values);
    free(t->names); /* pointers and strings share one block */
    free(t->labels);
    free(t->lines);
    free(t->label_at);
    memset(t, 0, sizeof *t);
}

/* One block holding n pointers followed by the strings they point at. */
static char **string_block(size_t n, size_t chars)
{
    if (n > (SIZE_MAX - chars - 1) / sizeof(char *)) return NULL;
    return malloc(n * sizeof(char *) + chars + 1); /* + 1: never malloc(0) */
}

/* Label text collected during the second pass: strings back to back, with offsets. */
typedef struct {
    char *chars;
    size_t len, cap;
    size_t *offsets;
    size_t *columns;
} label_store;

static int label_append(label_store *ls, const csv_cell *cell, size_t row)
{
    if (cell->len >= SIZE_MAX - ls->len) return 0;
    size_t need = ls->len + cell->len + 1;
    if (need > ls->cap) {
        size_t cap = ls->cap ? ls->cap : 256;
        while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        char *grown = realloc(ls->chars, cap);
        if (!grown) return 0;
        ls->chars = grown;
        ls->cap = cap;
    }
    ls->offsets[row] = ls->len;
    ls->columns[row] = cell->column;
    ls->len += unescape_cell(ls->chars + ls->len, cell) + 1;
    return 1;
}

/* One read: what the first pass learns about the text, then the table the second
   pass fills. */
typedef struct {
    const char *name;
    bp_error *err;
    csv_line first;           /* the first line that is not blank or a comment */
    csv_cursor data_start;    /* where the data rows begin (the first line, or after the header) */
    char sep;
    size_t cols;
    size_t label;             /* the label column, or SIZE_MAX for none */
    int header;
    size_t header_column;     /* the cell that made the first line a header (0: none, or told to) */
    size_t rows;              /* good rows before the first bad one */
    int bad_row;              /* a row with the wrong number of cells (or a quote error) follows them */
    float *values;
    size_t *lines;
    char **names, **labels;
    label_store ls;
} csv_read;

/* The first line: separator, column count, label column and header. */
static bp_status read_first_line(csv_read *rd, const char *text, size_t len, const bp_csv_read_options *o)
{
    csv_cursor cur = {text, len, 0, 0}, before_first;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) cur.pos = 3;
    do {
        before_first = cur;
        if (!next_line(&cur, &rd->first)) return csv_fail(rd->err, BP_ERR_FORMAT, "%s: no data rows", rd->name);
    } while (is_skipped(&rd->first));
    rd->sep = detect_separator(&rd->first);
    bp_status s = count_cells(&rd->first, rd->sep, &rd->cols, rd->name, rd->err);
    if (s != BP_OK) return s;
    rd->label = SIZE_MAX;
    if (o->has_label_column) {
        const long k = o->label_column;
        if (k >= 0 && (unsigned long)k < rd->cols) rd->label = (size_t)k;
        else if (k < 0 && (unsigned long)-(k + 1) < rd->cols) rd->label = rd->cols - 1 - (size_t)-(k + 1);
        else
            return csv_fail(rd->err, BP_ERR_ARG, "%s: label column %ld does not exist: the file has %zu column%s",
                            rd->name, k, rd->cols, rd->cols == 1 ? "" : "s");
    }
    /* count_cells succeeded, so next_cell cannot fail on these cells. */
    rd->header = o->header == 1;
    if (o->header == 0) {
        cell_reader cr = cells_of(&rd->first);
        csv_cell cell;
        for (size_t i = 0; !rd->header && next_cell(&cr, rd->sep, &cell, rd->name, NULL) > 0; i++)
            if (i != rd->label && looks_like_name(&cell)) rd->header = 1, rd->header_column = cell.column;
    }
    rd->data_start = rd->header ? cur : before_first;
    return BP_OK;
}

/* Pass 1's count: rows up to the first one with the wrong number of cells (or a quote
   error). Pass 2 stops there with its message, and a first line of many columns
   followed by many short lines must not size rows x cols floats that the text cannot
   fill (each counted row holds at least cols - 1 separators). */
static void count_rows(csv_read *rd)
{
    csv_cursor scan = rd->data_start;
    csv_line line;
    while (!rd->bad_row && next_line(&scan, &line)) {
        if (is_skipped(&line)) continue;
        size_t found = 0;
        if (count_cells(&line, rd->sep, &found, rd->name, NULL) != BP_OK || found != rd->cols)
            rd->bad_row = 1;
        else
            rd->rows++;
    }
}

/* The header's cells, unescaped, as column names. */
static bp_status read_names(csv_read *rd)
{
    /* Unescaped names are no longer than the line, plus one NUL each. */
    const size_t line_len = (size_t)(rd->first.end - rd->first.begin), cols = rd->cols;
    rd->names = line_len < SIZE_MAX - cols ? string_block(cols, line_len + cols) : NULL;
    if (!rd->names) return csv_fail(rd->err, BP_ERR_NOMEM, "%s: out of memory for the header", rd->name);
    char *dst = (char *)(rd->names + cols);
    cell_reader cr = cells_of(&rd->first);
    csv_cell cell;
    for (size_t i = 0; i < cols && next_cell(&cr, rd->sep, &cell, rd->name, NULL) > 0; i++) {
        rd->names[i] = dst;
        dst += unescape_cell(dst, &cell) + 1;
    }
    return BP_OK;
}

/* Every block of the table, at its final size. */
static bp_status allocate_table(csv_read *rd)
{
    /* A file of one line with a word in it is a header alone (docs/FORMATS.md's rule):
       say so and where, as "no data rows" under a line of data surprises. */
    if (rd->rows == 0 && !rd->bad_row && rd->header_column)
        return csv_fail(rd->err, BP_ERR_FORMAT,
                        "%s:%zu:%zu: no data rows: the only line was read as a header, because this cell is not a "
                        "number", rd->name, rd->first.number, rd->header_column);
    if (rd->rows == 0 && !rd->bad_row)
        return csv_fail(rd->err, BP_ERR_FORMAT, "%s: no data rows%s", rd->name,
                        rd->header ? ": the only line is the header" : "");
    /* With a bad first row, room for one: pass 2 fails on it before writing anything. */
    const size_t room = rd->rows ? rd->rows : 1;
    if (rd->cols > SIZE_MAX / sizeof(float) / room)
        return csv_fail(rd->err, BP_ERR_NOMEM, "%s: %zu rows of %zu columns do not fit in memory", rd->name, rd->rows,
                        rd->cols);
    rd->values = malloc(room * rd->cols * sizeof(float));
    rd->lines = malloc(room * sizeof *rd->lines);
    if (!rd->values || !rd->lines)
        return csv_fail(rd->err, BP_ERR_NOMEM, "%s: out of memory for %zu rows of %zu columns", rd->name, rd->rows,
                        rd->cols);
    if (rd->header) {
        bp_status s = read_names(rd);
        if (s != BP_OK) return s;
    }
    if (rd->label != SIZE_MAX) {
        rd->ls.offsets = calloc(room, sizeof *rd->ls.offsets);
        rd->ls.columns = calloc(room, sizeof *rd->ls.columns);
        if (!rd->ls.offsets || !rd->ls.columns)
            return csv_fail(rd->err, BP_ERR_NOMEM, "%s: out of memory for %zu labels", rd->name, rd->rows);
    }
    return BP_OK;
}

/* The message for the row pass 1 stopped at: its quote error, or its cell count,
   pointing at the first extra field or at the end of a short line. */
static bp_status bad_row_error(const csv_read *rd, const csv_line *line)
{
    size_t count = 0;
    bp_status s = count_cells(line, rd->sep, &count, rd->name, rd->err);
    if (s != BP_OK) return s;
    size_t column = (size_t)(line->end - line->begin) + 1;
    if (count > rd->cols) {
        int quoted = 0;
        size_t field = 0;
        for (const char *c = line->begin; c < line->end; c++) {
            if (*c == '"') quoted = !quoted;
            else if (*c == rd->sep && !quoted && ++field == rd->cols) {
                column = (size_t)(c - line->begin) + 2;
                break;
            }
        }
    }
    return csv_fail(rd->err, BP_ERR_FORMAT, "%s:%zu:%zu: expected %zu columns, found %zu", rd->name, line->number,
                    column, rd->cols, count);
}

/* One data row's cells into row r of the table. */
static bp_status read_row(csv_read *rd, const csv_line *line, size_t r)
{
    float *row = rd->values + r * rd->cols;
    rd->lines[r] = line->number;
    cell_reader cr = cells_of(line);
    csv_cell cell;
    for (size_t i = 0; i < rd->cols && next_cell(&cr, rd->sep, &cell, rd->name, NULL) > 0; i++) {
        if (i != rd->label) {
            bp_status s = parse_cell(&cell, line, rd->name, &row[i], rd->err);
            if (s != BP_OK) return s;
            continue;
        }
        row[i] = 0.0f;
        if (!label_append(&rd->ls, &cell, r))
            return csv_fail(rd->err, BP_ERR_NOMEM, "%s:%zu: out of memory for labels", rd->name, line->number);
    }
    return BP_OK;
}

/* Pass 2: every data row, checked cell by cell; the bad row (if any) is an error. */
static bp_status read_rows(csv_read *rd)
{
    csv_cursor scan = rd->data_start;
    csv_line line;
    for (size_t r = 0; r < rd->rows + (size_t)rd->bad_row && next_line(&scan, &line);) {
        if (is_skipped(&line)) continue;
        if (r == rd->rows) return bad_row_error(rd, &line);
        bp_status s = read_row(rd, &line, r);
        if (s != BP_OK) return s;
        r++;
    }
    return BP_OK;
}

/* The label texts gathered by pass 2 as one block of strings. */
static bp_status collect_labels(csv_read *rd)
{
    if (rd->label == SIZE_MAX) return BP_OK;
    rd->labels = string_block(rd->rows, rd->ls.len);
    if (!rd->labels) return csv_fail(rd->err, BP_ERR_NOMEM, "%s: out of memory for %zu labels", rd->name, rd->rows);
    char *chars = (char *)(rd->labels + rd->rows);
    if (rd->ls.len) memcpy(chars, rd->ls.chars, rd->ls.len);
    for (size_t r = 0; r < rd->rows; r++) rd->labels[r] = chars + rd->ls.offsets[r];
    return BP_OK;
}

bp_status bp_csv_read_memory(const char *text, size_t len, const char *name,
                             const bp_csv_read_options *opt, bp_csv_table *out, bp_error *err)
{
    if (!name) name = "<memory>";
    if (!out) return csv_fail(err, BP_ERR_ARG, "%s: no table to read into", name);
    memset(out, 0, sizeof *out);
    if (!text && len > 0) return csv_fail(err, BP_ERR_ARG, "%s: no text given", name);
    bp_csv_read_options o = {0, 0, 0};
    if (opt) o = *opt;
    if (o.header < -1 || o.header > 1)
        return csv_fail(err, BP_ERR_ARG, "%s: header option %d is not -1, 0 or 1", name, o.header);
    csv_read rd = {0};
    rd.name = name;
    rd.err = err;
    bp_status s = read_first_line(&rd, text, len, &o);
    if (s != BP_OK) return s;
    count_rows(&rd);
    if ((s = allocate_table(&rd)) == BP_OK && (s = read_rows(&rd)) == BP_OK) s = collect_labels(&rd);
    free(rd.ls.chars);
    free(rd.ls.offsets);
    if (s != BP_OK) {
        free(rd.ls.columns);
        free(rd.lines);
        free(rd.labels);
        free(rd.names);
        free(rd.values);
        return s;
    }
    out->lines = rd.lines;
    out->label_at = rd.ls.columns;
    out->rows = rd.rows;
    out->cols = rd.cols;
    out->values = rd.values;
    out->names = rd.names;
    out->labels = rd.labels;
    out->has_header = rd.header;
    out->separator = rd.sep;
    return BP_OK;
}

/* ------------------------------------------------------------------ files */

bp_status bp_csv_read_file(const char *path, const bp_csv_read_options *opt, bp_csv_table *out,
                           bp_error *err)
{
    if (!out) return csv_fail(err, BP_ERR_ARG, "no table to read into");
    memset(out, 0, sizeof *out);
    if (!path) return csv_fail(err, BP_ERR_ARG, "no file name given");

    /* Whole regular files only: a FIFO or a directory is refused, never waited on. */
    unsigned char *buf = NULL;
    size_t len = 0;
    bp_status rs = bp_read_file(path, SIZE_MAX - 1, &buf, &len, err);
    if (rs != BP_OK) return rs;
    bp_status s = bp_csv_read_memory((const char *)buf, len, path, opt, out, err);
    free(buf);
    return s;
}
