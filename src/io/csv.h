/*
 * csv.h - reading delimited text (comma, semicolon or tab separated) into a
 * table of floats, and parsing numbers without the C locale.
 *
 * This is the lexical layer of the data readers: bytes in, a rows x cols float
 * table out, plus the header names and, if asked for, one column kept as text
 * (class names such as "setosa"). It does not decide which columns are inputs
 * or targets, and it does not one-hot encode: bp_dataset_read_csv and the CLI
 * do that. It never prints; a failure comes back as a bp_status and, in the
 * optional bp_error, a message "name:line:column: ..." that the program shows.
 */
#ifndef BP_CSV_H
#define BP_CSV_H

#include <stddef.h>

#include "backprop.h"

/* A parsed table. Zero-initialize before use; bp_csv_table_free releases it. */
typedef struct {
    size_t rows, cols;  /* data rows (header excluded) and columns; both >= 1 after a read */
    float *values;      /* rows x cols, row-major; the label column's cells hold 0 */
    char **names;       /* cols column names if the file had a header, else NULL */
    char **labels;      /* rows strings of the label column if one was asked for, else NULL */
    size_t *lines;      /* rows: the physical line (1-based) each data row came from */
    size_t *label_at;   /* rows: the byte column of each label cell, when labels != NULL */
    int has_header;     /* nonzero when the first line was taken as a header */
    char separator;     /* ',' ';' or '\t', as detected */
} bp_csv_table;

/* How a file is read. Zero-initialized options mean: detect the header, no label column. */
typedef struct {
    int header;            /* -1: no header, 0: detect (default), 1: the first line is a header.
                              Detection takes the first line as a header when any of its cells
                              outside the label column is neither empty nor number-shaped. */
    int has_label_column;  /* nonzero: the column label_column is kept as text in labels */
    long label_column;     /* 0-based index; negative counts from the end (-1: the last column) */
} bp_csv_read_options;

/* Read a CSV file: fields may be padded with spaces and quoted ("" is a quote inside
   quotes; a quoted field must end on its own line); CRLF or LF line endings; a UTF-8
   byte-order mark is skipped; blank lines, and lines whose first non-blank byte is '#',
   are skipped. Every row must have as many cells as the first line. opt may be NULL (defaults).
   On failure *out is left zeroed and err (if any) names the file, line and column. */
bp_status bp_csv_read_file(const char *path, const bp_csv_read_options *opt, bp_csv_table *out,
                           bp_error *err);

/* The same from len bytes of memory (NUL bytes are data, not an end). name (NULL:
   "<memory>") stands for the file in messages. */
bp_status bp_csv_read_memory(const char *text, size_t len, const char *name,
                             const bp_csv_read_options *opt, bp_csv_table *out, bp_error *err);

/* Free what a read allocated and zero the table; safe on a zeroed table and on NULL. */
void bp_csv_table_free(bp_csv_table *t);

#endif
