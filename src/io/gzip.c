/*
 * gzip.c - whole .gz files inflated through zlib (see gzip.h).
 *
 * zlib decodes one gzip member per stream (inflateInit2 with 16 + MAX_WBITS:
 * gzip only, no zlib or raw streams) and checks the header, the CRC-32 and
 * the length; this file loops over the members, decides what may follow the
 * last one, and owns the output buffer. The buffer grows by doubling but never
 * past the caller's cap, nor past what the rest of the input could inflate to
 * (DEFLATE expands at most 1032:1); once it is full, zlib gets a one-byte
 * spill area instead, and the first byte written there proves that the data
 * holds more than the cap: a bomb costs the cap in memory and the time to
 * inflate that much. zlib counts in unsigned int, so input and output are
 * handed to it in pieces of at most 1 GiB.
 */
#define ZLIB_CONST /* zlib's next_in points to const bytes */
#include <zlib.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "gzip.h"

#define PIECE ((size_t)1 << 30)
#define MAX_RATIO 1032 /* RFC 1951: 258 bytes for two bits at best */

typedef struct {
    z_stream z;
    const unsigned char *in;
    size_t in_len;
    size_t fed;     /* input bytes handed to zlib so far, the current piece included */
    size_t max_out;
    unsigned char *out;
    size_t out_len, cap;
    char *why;
    size_t why_len;
} gunzipper;

static void say(char *why, size_t why_len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void say(char *why, size_t why_len, const char *fmt, ...)
{
    if (!why || why_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

/* Where zlib stands in the input: the offset just past the last byte it consumed. */
static size_t position(const gunzipper *g)
{
    return (size_t)(g->z.next_in - g->in);
}

/* The byte zlib was decoding when it stopped: the last one it consumed. */
static size_t last_byte(const gunzipper *g)
{
    size_t at = position(g);
    return at > 0 ? at - 1 : 0;
}

/* A message for one of zlib's data errors. The trailer's checks are read as whole
   32-bit fields, so zlib stops just after the field that failed. */
static bp_status data_error(gunzipper *g)
{
    const char *msg = g->z.msg ? g->z.msg : "unknown error";
    size_t at = position(g);
    if (strcmp(msg, "incorrect data check") == 0)
        say(g->why, g->why_len, "byte %zu: CRC-32 mismatch: the data is damaged", at >= 4 ? at - 4 : 0);
    else if (strcmp(msg, "incorrect length check") == 0)
        say(g->why, g->why_len, "byte %zu: length mismatch: the data is not as long as the gzip trailer says",
            at >= 4 ? at - 4 : 0);
    else
        say(g->why, g->why_len, "byte %zu: damaged gzip data (%s)", last_byte(g), msg);
    return BP_ERR_FORMAT;
}

static bp_status out_of_memory(gunzipper *g)
{
    say(g->why, g->why_len, "out of memory after %zu bytes of output", g->out_len);
    return BP_ERR_NOMEM;
}

/* The first output size: the ISIZE field at the end of the input is the length of the
   last member (mod 2^32), exact for the usual one-member file; the 1032:1 bound limits
   what a forged ISIZE can make us allocate. */
static size_t first_capacity(const unsigned char *in, size_t in_len, size_t max_out)
{
    size_t bound = in_len > SIZE_MAX / MAX_RATIO ? SIZE_MAX : in_len * MAX_RATIO;
    size_t guess = in_len > SIZE_MAX / 4 ? SIZE_MAX : in_len * 4;
    if (in_len >= 18) {
        size_t isize = bp_get_u32(in + in_len - 4);
        if (isize > 0 && isize <= bound) guess = isize;
    }
    if (guess < 4096) guess = 4096;
    return guess < max_out ? guess : max_out;
}

/* More room once the buffer is full and below the cap: twice the size, at most the cap,
   and no more than the input left could still inflate to. Returns 0 when memory runs out. */
static int grow(gunzipper *g)
{
    size_t left = g->in_len - position(g);
    size_t could = left > (SIZE_MAX - 4096) / MAX_RATIO ? SIZE_MAX : left * MAX_RATIO + 4096;
    size_t cap = g->cap > g->max_out / 2 ? g->max_out : 2 * g->cap;
    if (cap - g->out_len > could) cap = g->out_len + could;
    unsigned char *p = realloc(g->out, cap);
    if (!p) return 0;
    g->out = p;
    g->cap = cap;
    return 1;
}

/* What may follow a member that ended at byte at: nothing, another member (then *another
   is set), or zero bytes up to the end. */
static bp_status after_member(gunzipper *g, size_t at, int *another)
{
    *another = 0;
    if (at == g->in_len) return BP_OK;
    if (bp_is_gzip(g->in + at, g->in_len - at)) {
        *another = 1;
        return BP_OK;
    }
    for (size_t i = at; i < g->in_len; i++) {
        if (g->in[i] != 0) {
            say(g->why, g->why_len, "byte %zu: unexpected bytes after the end of the gzip data", at);
            return BP_ERR_FORMAT;
        }
    }
    return BP_OK; /* zero padding, as some tools and tapes leave */
}

/* Inflate every member. *over is set when the data holds more than max_out bytes (the
   output then holds exactly max_out of them and the rest is not looked at). */
static bp_status inflate_members(gunzipper *g, int *over)
{
    unsigned char spill;
    *over = 0;
    for (;;) {
        if (g->z.avail_in == 0 && g->fed < g->in_len) {
            size_t n = g->in_len - g->fed < PIECE ? g->in_len - g->fed : PIECE;
            g->z.next_in = g->in + g->fed;
            g->z.avail_in = (uInt)n;
            g->fed += n;
        }
        if (g->out_len == g->cap && g->cap < g->max_out && !grow(g)) return out_of_memory(g);
        int full = g->out_len == g->cap;
        if (full) {
            g->z.next_out = &spill;
            g->z.avail_out = 1;
        } else {
            size_t room = g->cap - g->out_len;
            g->z.next_out = g->out + g->out_len;
            g->z.avail_out = (uInt)(room < PIECE ? room : PIECE);
        }
        uInt in_before = g->z.avail_in, out_before = g->z.avail_out;
        int r = inflate(&g->z, Z_NO_FLUSH);
        size_t made = out_before - g->z.avail_out;
        if (full && made > 0) {
            *over = 1;
            return BP_OK;
        }
        g->out_len += made;

        if (r == Z_STREAM_END) { /* a whole member, its CRC-32 and length checked by zlib */
            int another = 0;
            bp_status s = after_member(g, position(g), &another);
            if (s != BP_OK || !another) return s;
            r = inflateReset(&g->z); /* Z_OK: the stream was set up */
        } else if (r == Z_OK || r == Z_BUF_ERROR) {
            int starved = g->z.avail_in == 0 && g->fed == g->in_len && g->z.avail_out > 0;
            int stuck = made == 0 && g->z.avail_in == in_before; /* zlib promises progress */
            if (starved || stuck) {
                say(g->why, g->why_len, "byte %zu: the compressed data ends early (truncated file?)",
                    g->in_len);
                return BP_ERR_FORMAT;
            }
        }
        if (r == Z_OK || r == Z_BUF_ERROR) continue;
        if (r == Z_MEM_ERROR) return out_of_memory(g);
        if (r == Z_DATA_ERROR) return data_error(g);
        say(g->why, g->why_len, "byte %zu: zlib error %d", last_byte(g), r);
        return BP_ERR_FORMAT;
    }
}

int bp_is_gzip(const unsigned char *in, size_t in_len)
{
    return in && in_len >= 2 && in[0] == 0x1f && in[1] == 0x8b;
}

/* Both entry points: with prefix, more than max_out bytes of data is not an error. */
static bp_status gunzip(const unsigned char *in, size_t in_len, size_t max_out, int prefix,
                        unsigned char **out, size_t *out_len, int *more, char *why, size_t why_len)
{
    if (why && why_len > 0) why[0] = '\0';
    if (!out || !out_len || (!in && in_len > 0)) {
        say(why, why_len, "no input or output given");
        return BP_ERR_ARG;
    }
    *out = NULL;
    *out_len = 0;
    if (more) *more = 0;
    if (in_len == 0) {
        say(why, why_len, "byte 0: empty input, not gzip data");
        return BP_ERR_FORMAT;
    }
    /* zlib would say "incorrect header check" one byte later; this says what is meant. */
    if (in[0] != 0x1f || (in_len > 1 && in[1] != 0x8b)) {
        say(why, why_len, "byte 0: not gzip data (it does not start with the bytes 1f 8b)");
        return BP_ERR_FORMAT;
    }

    gunzipper g;
    memset(&g, 0, sizeof g);
    g.in = in;
    g.in_len = in_len;
    g.max_out = max_out;
    g.why = why;
    g.why_len = why_len;
    g.z.next_in = in;
    g.cap = first_capacity(in, in_len, max_out);
    g.out = malloc(g.cap ? g.cap : 1);
    if (!g.out) return out_of_memory(&g);
    int r = inflateInit2(&g.z, 16 + MAX_WBITS);
    if (r != Z_OK) {
        free(g.out);
        if (r == Z_MEM_ERROR) return out_of_memory(&g);
        say(why, why_len, "zlib %s refuses to start (error %d): rebuild against the zlib installed",
            zlibVersion(), r);
        return BP_ERR_UNSUPPORTED;
    }
    int over = 0;
    bp_status st = inflate_members(&g, &over);
    if (st == BP_OK && over && !prefix) {
        say(why, why_len, "byte %zu: the data inflates to more than %zu bytes (the limit)", last_byte(&g),
            max_out);
        st = BP_ERR_FORMAT;
    }
    inflateEnd(&g.z);
    if (st != BP_OK) {
        free(g.out);
        return st;
    }
    if (g.cap > g.out_len + g.out_len / 8 + 4096) { /* hand back no more than it holds */
        unsigned char *p = realloc(g.out, g.out_len ? g.out_len : 1);
        if (p) g.out = p;
    }
    *out = g.out;
    *out_len = g.out_len;
    if (more) *more = over;
    return BP_OK;
}

bp_status bp_gunzip(const unsigned char *in, size_t in_len, size_t max_out, unsigned char **out,
                    size_t *out_len, char *why, size_t why_len)
{
    return gunzip(in, in_len, max_out, 0, out, out_len, NULL, why, why_len);
}

bp_status bp_gunzip_prefix(const unsigned char *in, size_t in_len, size_t max_out,
                           unsigned char **out, size_t *out_len, int *more, char *why,
                           size_t why_len)
{
    return gunzip(in, in_len, max_out, 1, out, out_len, more, why, why_len);
}
