/*
 * inflate.h - a DEFLATE (RFC 1951) decoder and a gzip (RFC 1952) reader, so
 * the data readers can open .gz files without zlib.
 *
 * Whole buffers in, one malloc'd buffer out: the data readers hold whole files
 * in memory anyway, and a one-shot decoder has no state to get wrong between
 * calls. Every input, however damaged, ends in a result or an error naming the
 * byte offset; nothing is read outside the input and nothing is allocated
 * beyond the caller's output limit, so a "gzip bomb" stops as soon as it
 * passes the limit. Compression, zlib (RFC 1950) streams and streaming
 * decompression are left out: nothing in backprop needs them.
 */
#ifndef BP_INFLATE_H
#define BP_INFLATE_H

#include <stddef.h>

#include "backprop.h"

/* Whether in starts like a gzip member (the magic bytes 1f 8b). */
int bp_is_gzip(const unsigned char *in, size_t in_len);

/* Decompress a whole gzip file: one member or several concatenated (as `cat a.gz b.gz`
   makes), each checked against its CRC-32 and ISIZE; zero bytes after the last member are
   ignored, anything else after it is an error. On success *out (malloc'd, free it; never
   NULL, even for empty output) holds *out_len <= max_out bytes.
   Returns BP_ERR_FORMAT for malformed, truncated or damaged data and for data that would
   inflate to more than max_out bytes, BP_ERR_NOMEM when memory runs out, BP_ERR_ARG for
   null pointers. On failure *out is NULL, *out_len is 0 and why (if why_len > 0) holds a
   message such as "byte 1234: invalid distance code"; byte offsets count from in[0]. */
bp_status bp_gunzip(const unsigned char *in, size_t in_len, size_t max_out, unsigned char **out,
                    size_t *out_len, char *why, size_t why_len);

/* The first bytes of a gzip file: like bp_gunzip, except that when the data holds more
   than max_out bytes it stops after exactly max_out of them, returns BP_OK and sets
   *more to 1 (the rest, checksums included, is not looked at); otherwise *more is 0 and
   everything was checked as bp_gunzip checks it. For reading a header before deciding
   how much to inflate. */
bp_status bp_gunzip_prefix(const unsigned char *in, size_t in_len, size_t max_out,
                           unsigned char **out, size_t *out_len, int *more, char *why,
                           size_t why_len);

/* Decompress one raw DEFLATE stream (no gzip or zlib wrapper) starting at in[0]; *used
   (may be NULL) receives the number of input bytes it took, up to the end of the final
   block's last byte. Same limits, results and messages as bp_gunzip. */
bp_status bp_inflate(const unsigned char *in, size_t in_len, size_t max_out, unsigned char **out,
                     size_t *out_len, size_t *used, char *why, size_t why_len);

#endif
