/*
 * binary.h - little-endian values appended to a buffer, and read back from
 * bytes with every read bounds-checked: the one byte writer and reader of the
 * binary formats (model files, the trainer state in checkpoints).
 *
 * Values are assembled byte by byte (bytes.h), so files read the same on any
 * host. A reader that runs past its end marks itself bad and returns zeros from
 * then on, so a decoder reads a whole record and checks `bad` once.
 */
#ifndef BP_BINARY_H
#define BP_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "fileio.h"

void bp_write_u32(bp_buffer *b, uint32_t v);
void bp_write_u64(bp_buffer *b, uint64_t v);
void bp_write_f64(bp_buffer *b, double v);
void bp_write_f32s(bp_buffer *b, const float *v, size_t n);

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    int bad;          /* a read ran past the end: everything after it is 0 */
} bp_reader;

/* The next n bytes (NULL, and bad set, when fewer remain). */
const unsigned char *bp_read_bytes(bp_reader *r, size_t n);
uint32_t bp_read_u32(bp_reader *r);
uint64_t bp_read_u64(bp_reader *r);
double bp_read_f64(bp_reader *r);
/* n floats into dst; 0 (and bad set) when fewer than 4 n bytes remain. */
int bp_read_f32s(bp_reader *r, float *dst, size_t n);

#endif
