/*
 * gzip.h - whole .gz files (RFC 1952) inflated in memory through zlib, for the
 * data readers (CSV through fileio.c, IDX through idx.c).
 *
 * zlib does the decoding and checks every member's CRC-32 and length; what is
 * added here is the contract the readers rely on: a whole buffer in and one
 * malloc'd buffer out (the readers hold whole files in memory anyway), every
 * member of a concatenated file, zero padding after the last member accepted
 * and any other trailing byte refused, an output cap enforced while inflating
 * (a gzip bomb stops as soon as it passes the cap, having cost at most the cap
 * in memory), nothing handed back on failure, and messages that name the byte
 * offset. Compression and streaming are left to zlib's own API: nothing in
 * backprop needs them.
 */
#ifndef BP_GZIP_H
#define BP_GZIP_H

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
   message: "byte N: ..." for what is wrong with the data (N counts from in[0]), "out of
   memory ..." or "no input or output given" otherwise. */
bp_status bp_gunzip(const unsigned char *in, size_t in_len, size_t max_out, unsigned char **out,
                    size_t *out_len, char *why, size_t why_len);

/* The first bytes of a gzip file: like bp_gunzip, except that when the data holds more
   than max_out bytes it stops as soon as one byte beyond them has been decoded, hands
   back exactly max_out bytes, returns BP_OK and sets *more to 1 (the rest, checksums
   included, is not looked at); otherwise *more is 0 and everything was checked as
   bp_gunzip checks it. For reading a header before deciding how much to inflate. */
bp_status bp_gunzip_prefix(const unsigned char *in, size_t in_len, size_t max_out,
                           unsigned char **out, size_t *out_len, int *more, char *why,
                           size_t why_len);

#endif
