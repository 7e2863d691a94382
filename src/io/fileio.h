/*
 * fileio.h - whole-file reading and atomic writing, shared by every reader and
 * writer of the library (and by the program for its own output files).
 *
 * Reading refuses anything that is not a regular file (a FIFO would block, a
 * directory has no bytes) and never allocates more than the file holds.
 * Writing goes to a temporary file in the same directory, is synced, then
 * renamed over the target: readers see the old file or the new one, never a
 * half-written one.
 */
#ifndef BP_FILEIO_H
#define BP_FILEIO_H

#include "backprop.h"

/* Read a whole regular file of at most max_size bytes. *data is NUL-terminated (one byte
   beyond *size) and must be freed by the caller. Errors name the file. */
bp_status bp_read_file(const char *path, size_t max_size, unsigned char **data, size_t *size,
                       bp_error *err);

/* Write len bytes to path atomically (temporary file, fsync, rename). A symbolic link to a
   file is followed (the file is replaced, the link kept); a path that is neither a file nor
   a folder (a device such as /dev/null, a FIFO, /dev/stdout) is written in place. */
bp_status bp_write_file_atomic(const char *path, const void *data, size_t len, bp_error *err);

/* If data is gzip-compressed (starts with 1f 8b), decompress it into *plain (malloc'd,
   at most 4 GiB); otherwise *plain is NULL. Errors name the file. */
bp_status bp_maybe_gunzip(const unsigned char *data, size_t len, const char *name,
                          unsigned char **plain, size_t *plain_len, bp_error *err);

/* A growing byte buffer for building files in memory before writing them. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed; /* an allocation failed: everything after is dropped */
} bp_buffer;

void bp_buffer_append(bp_buffer *b, const void *data, size_t len);
void bp_buffer_printf(bp_buffer *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Shortest text that reads back as the same float, independent of the C locale. */
void bp_buffer_float(bp_buffer *b, float v);
/* One CSV field that the CSV reader (csv.c) reads back as the same text: in double quotes,
   with each " doubled, when always_quote is set or the text needs them (a separator
   candidate, a quote, a line break, a leading '#', or blanks at either end, which the
   reader trims from unquoted cells); else as it is. */
void bp_buffer_csv_field(bp_buffer *b, const char *text, int always_quote);
void bp_buffer_free(bp_buffer *b);

#endif
