/*
 * inflate.c - DEFLATE decoding (RFC 1951) and the gzip container (RFC 1952),
 * written from the RFCs for the .gz data readers (see inflate.h).
 *
 * Design: the whole input is in memory, so bits are read through a 64-bit
 * buffer that is refilled eight bytes at a time while at least eight remain
 * and one byte at a time, padded with zero bytes, near the end. The padding
 * is counted, and any block that consumes it is reported as truncated: the
 * decoder never looks outside the input and needs no "enough input?" test
 * before each symbol. Huffman codes are decoded by table: a primary table
 * indexed by the next few bits, with second-level tables for longer codes.
 * Tables live in the decoder state, built per block: nothing is computed at
 * start-up and nothing is shared between calls.
 *
 * Output goes to one growing buffer capped at the caller's max_out; the cap is
 * enforced before every write, so a bomb costs at most max_out bytes of memory
 * and the time to produce them. Compression, the zlib (RFC 1950) wrapper and
 * streaming are not here: backprop only reads whole .gz files.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "inflate.h"

/* ------------------------------------------------------------- constants */

#define MAX_CODE_BITS 15   /* RFC 1951 3.2.2: no Huffman code is longer */
#define LITLEN_SYMBOLS 288 /* 0-255 literals, 256 end of block, 257-287 lengths (286, 287 unused) */
#define DIST_SYMBOLS 32    /* 0-29 distances (30, 31 appear only in the fixed code, unused) */
#define CODELEN_SYMBOLS 19

/* Primary table sizes: codes up to this many bits are decoded with one lookup. 10 bits
   cover almost every literal/length code in practice while the table stays in L1. */
#define LITLEN_PRIMARY 10
#define DIST_PRIMARY 8
#define CODELEN_PRIMARY 7

/* Worst-case table sizes: the primary table plus one second-level table of
   2^(15 - primary) entries for each code longer than the primary bits (each
   such code can start at most one second-level table). */
#define LITLEN_TABLE ((1 << LITLEN_PRIMARY) + LITLEN_SYMBOLS * (1 << (MAX_CODE_BITS - LITLEN_PRIMARY)))
#define DIST_TABLE ((1 << DIST_PRIMARY) + DIST_SYMBOLS * (1 << (MAX_CODE_BITS - DIST_PRIMARY)))
#define CODELEN_TABLE (1 << CODELEN_PRIMARY)

/* A table entry is (value << 16) | flags | length. length (1..15) is the full code
   length to consume; a zero entry is a bit pattern that no code uses. With LINK set,
   value is the offset of the second-level table indexed by the bits after the primary
   ones. Offsets stay below 2^16 because the largest table has 10,240 entries. */
#define ENTRY_LINK 0x10u

/* RFC 1951 3.2.5: base values and extra bits of length codes 257..285 and of distance
   codes 0..29. */
static const uint16_t length_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                         31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                         2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                       33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                       1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
/* RFC 1951 3.2.7: the order in which code length code lengths are stored. */
static const uint8_t codelen_order[CODELEN_SYMBOLS] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                                       11, 4,  12, 3, 13, 2, 14, 1, 15};

/* ----------------------------------------------------------- bit reader */

typedef struct {
    const unsigned char *in;
    size_t len;       /* bytes in the input */
    size_t pos;       /* next byte to load into bits */
    size_t overrun;   /* zero bytes loaded past the end of the input */
    uint64_t bits;    /* the next nbits input bits, first bit lowest */
    unsigned nbits;   /* 0..63 */
} bitreader;

/* Eight input bytes, little-endian. bytes.h's portable byte loop is not merged into one
   load by every compiler, and this is the decoder's hottest load. */
static inline uint64_t load_le64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
#else
    return bp_get_u64(p);
#endif
}

/* Top the buffer up to at least 56 bits. Past the end of the input, zero bytes come in
   and are counted: br_overrun() tells when one of them has been consumed. The fast path
   also loads bits above nbits; they are the input's next bytes, which the next refill
   ORs in again at the same place, so they do no harm. */
static inline void br_refill(bitreader *br)
{
    if (br->len - br->pos >= 8) {
        br->bits |= load_le64(br->in + br->pos) << br->nbits;
        br->pos += (63 - br->nbits) >> 3;
        br->nbits |= 56;
    } else {
        while (br->nbits < 56) {
            uint64_t byte = 0;
            if (br->pos < br->len)
                byte = br->in[br->pos++];
            else
                br->overrun++;
            br->bits |= byte << br->nbits;
            br->nbits += 8;
        }
    }
}

/* Nonzero once bits beyond the end of the input have been consumed. */
static inline int br_overrun(const bitreader *br)
{
    return br->overrun * 8 > br->nbits;
}

/* Take n (0..32) bits; the buffer must hold them (after br_refill it holds 56). */
static inline uint32_t br_take(bitreader *br, unsigned n)
{
    uint32_t v = (uint32_t)(br->bits & ((1ull << n) - 1));
    br->bits >>= n;
    br->nbits -= n;
    return v;
}

/* Offset in the input of the byte holding the next unread bit. */
static inline size_t br_offset(const bitreader *br)
{
    size_t loaded = br->pos + br->overrun;
    return loaded - (br->nbits + 7) / 8;
}

/* ------------------------------------------------------- Huffman tables */

typedef struct {
    uint32_t *table;
    unsigned primary_bits, sub_bits;
} huffman;

/* Decode one symbol; the buffer must hold 15 bits. Returns -1 for a bit pattern that is
   no code (possible only for incomplete codes), without consuming anything. */
static inline int huff_decode(bitreader *br, const huffman *h)
{
    uint32_t e = h->table[br->bits & ((1u << h->primary_bits) - 1)];
    if (e & ENTRY_LINK)
        e = h->table[(e >> 16) + ((br->bits >> h->primary_bits) & ((1u << h->sub_bits) - 1))];
    unsigned n = e & 15;
    if (n == 0) return -1;
    br->bits >>= n;
    br->nbits -= n;
    return (int)(e >> 16);
}

/* Build the decoding table of the canonical code with these code lengths (RFC 1951
   3.2.2). Over-subscribed lengths are refused; so are incomplete ones, except a single
   code of length 1 (RFC 1951 allows a one-distance-code tree) and no codes at all (a
   block of literals only), when complete is zero. Returns NULL or the reason. */
static const char *huff_build(huffman *h, uint32_t *table, size_t capacity,
                              const unsigned char *lengths, unsigned n, unsigned primary_bits,
                              int complete)
{
    unsigned count[MAX_CODE_BITS + 1] = {0};
    for (unsigned i = 0; i < n; i++) count[lengths[i]]++;
    count[0] = 0;
    int left = 1;
    unsigned max_len = 0;
    for (unsigned len = 1; len <= MAX_CODE_BITS; len++) {
        left = 2 * left - (int)count[len];
        if (left < 0) return "over-subscribed Huffman code lengths";
        if (count[len]) max_len = len;
    }
    if (left > 0 && max_len > 0 && (complete || max_len != 1))
        return "incomplete Huffman code lengths";

    unsigned next_code[MAX_CODE_BITS + 1];
    unsigned code = 0;
    next_code[0] = 0;
    for (unsigned len = 1; len <= MAX_CODE_BITS; len++) {
        code = (code + count[len - 1]) << 1;
        next_code[len] = code;
    }

    size_t primary_size = (size_t)1 << primary_bits;
    unsigned sub_bits = max_len > primary_bits ? max_len - primary_bits : 0;
    size_t sub_size = (size_t)1 << sub_bits;
    memset(table, 0, primary_size * sizeof *table);
    size_t used = primary_size;
    h->table = table;
    h->primary_bits = primary_bits;
    h->sub_bits = sub_bits;

    for (unsigned sym = 0; sym < n; sym++) {
        unsigned len = lengths[sym];
        if (len == 0) continue;
        /* Codes are packed starting with their most significant bit, the reader hands out
           the lowest bit first: index the table by the code reversed. */
        unsigned c = next_code[len]++, rev = 0;
        for (unsigned b = 0; b < len; b++) rev |= ((c >> b) & 1u) << (len - 1 - b);
        uint32_t entry = ((uint32_t)sym << 16) | len;
        if (len <= primary_bits) {
            for (size_t i = rev; i < primary_size; i += (size_t)1 << len) table[i] = entry;
            continue;
        }
        size_t prefix = rev & (primary_size - 1);
        if (!(table[prefix] & ENTRY_LINK)) {
            if (used + sub_size > capacity) return "Huffman table overflow"; /* cannot happen */
            memset(table + used, 0, sub_size * sizeof *table);
            table[prefix] = ((uint32_t)used << 16) | ENTRY_LINK;
            used += sub_size;
        }
        size_t base = table[prefix] >> 16;
        for (size_t i = rev >> primary_bits; i < sub_size; i += (size_t)1 << (len - primary_bits))
            table[base + i] = entry;
    }
    return NULL;
}

/* --------------------------------------------------------------- decoder */

typedef struct {
    bitreader br;
    unsigned char *out;
    size_t out_len, cap, max_out;
    size_t stream_start; /* where this DEFLATE stream's output began: no distance reaches before */
    int more;            /* stopped at max_out with output still to come */
    int fixed_loaded;    /* the tables hold the fixed code (RFC 1951 3.2.6) */
    char *why;
    size_t why_len;
    huffman litlen, dist, codelen;
    uint32_t litlen_table[LITLEN_TABLE];
    uint32_t dist_table[DIST_TABLE];
    uint32_t codelen_table[CODELEN_TABLE];
} inflater;

static bp_status fail(inflater *s, bp_status status, size_t at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static bp_status fail(inflater *s, bp_status status, size_t at, const char *fmt, ...)
{
    if (s->why && s->why_len > 0) {
        int n = snprintf(s->why, s->why_len, "byte %zu: ", at);
        if (n >= 0 && (size_t)n < s->why_len) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(s->why + n, s->why_len - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return status;
}

static bp_status fail_truncated(inflater *s)
{
    return fail(s, BP_ERR_FORMAT, s->br.len, "the compressed data ends early (truncated file?)");
}

/* Make room for up to `need` more output bytes without passing max_out. Returns the
   room now available (possibly less than need, 0 at the limit), or (size_t)-1 when
   memory runs out. */
static size_t make_room(inflater *s, size_t need)
{
    size_t room = s->cap - s->out_len;
    if (room >= need || s->cap == s->max_out) return room;
    size_t want = need > SIZE_MAX - s->out_len ? SIZE_MAX : s->out_len + need;
    size_t cap = s->cap > s->max_out / 2 ? s->max_out : 2 * s->cap;
    if (cap < want) cap = want;
    if (cap > s->max_out) cap = s->max_out;
    unsigned char *p = realloc(s->out, cap ? cap : 1);
    if (!p) return (size_t)-1;
    s->out = p;
    s->cap = cap;
    return cap - s->out_len;
}

static bp_status out_of_memory(inflater *s)
{
    return fail(s, BP_ERR_NOMEM, br_offset(&s->br), "out of memory after %zu bytes of output",
                s->out_len);
}

/* Copy len bytes from dist bytes back; the regions overlap when dist < len, which is
   how DEFLATE encodes runs. */
static inline void copy_match(unsigned char *d, size_t dist, size_t len)
{
    if (dist >= len) {
        memcpy(d, d - dist, len);
    } else if (dist == 1) {
        memset(d, d[-1], len);
    } else {
        /* The output from d - dist on repeats with period dist, so each copy may take
           twice as much as the one before and never overlap its own source. */
        size_t step = dist;
        while (len > 0) {
            size_t n = len < step ? len : step;
            memcpy(d, d - step, n);
            d += n;
            len -= n;
            step *= 2;
        }
    }
}

/* Decode one block's compressed data with the tables in s->litlen and s->dist. */
static bp_status inflate_codes(inflater *s)
{
    /* The hot loop works on local copies: writes through the unsigned char output
       pointer could alias the struct, which would force reloads on every byte. */
    bitreader br = s->br;
    unsigned char *out = s->out;
    size_t out_len = s->out_len, cap = s->cap;
    const huffman litlen = s->litlen, dist = s->dist;
    bp_status status = BP_OK;

    for (;;) {
        br_refill(&br);
        if (br_overrun(&br)) {
            status = fail_truncated(s);
            break;
        }
        size_t at = br_offset(&br);
        int sym = huff_decode(&br, &litlen);
        if (sym < 256) {
            if (sym < 0) {
                status = fail(s, BP_ERR_FORMAT, at, "invalid literal/length code");
                break;
            }
            if (out_len == cap) {
                s->out_len = out_len;
                s->br = br;
                size_t room = make_room(s, 1);
                if (room == (size_t)-1) {
                    status = out_of_memory(s);
                    break;
                }
                if (room == 0) {
                    s->more = 1;
                    if (br_overrun(&br)) status = fail_truncated(s);
                    break;
                }
                out = s->out;
                cap = s->cap;
            }
            out[out_len++] = (unsigned char)sym;
            continue;
        }
        if (sym == 256) break;
        sym -= 257;
        if (sym >= 29) {
            status = fail(s, BP_ERR_FORMAT, at, "invalid length symbol %d", sym + 257);
            break;
        }
        size_t len = length_base[sym] + br_take(&br, length_extra[sym]);
        int dsym = huff_decode(&br, &dist);
        if (dsym < 0 || dsym >= 30) {
            status = fail(s, BP_ERR_FORMAT, at, "invalid distance code");
            break;
        }
        size_t distance = dist_base[dsym] + br_take(&br, dist_extra[dsym]);
        if (br_overrun(&br)) {
            status = fail_truncated(s);
            break;
        }
        if (distance > out_len - s->stream_start) {
            status = fail(s, BP_ERR_FORMAT, at,
                          "distance %zu reaches back before the start of the data (%zu bytes so far)",
                          distance, out_len - s->stream_start);
            break;
        }
        if (cap - out_len < len) {
            s->out_len = out_len;
            s->br = br;
            size_t room = make_room(s, len);
            if (room == (size_t)-1) {
                status = out_of_memory(s);
                break;
            }
            out = s->out;
            cap = s->cap;
            if (room < len) { /* at max_out: keep exactly what fits */
                copy_match(out + out_len, distance, room);
                out_len += room;
                s->more = 1;
                break;
            }
        }
        copy_match(out + out_len, distance, len);
        out_len += len;
    }
    s->br = br;
    s->out_len = out_len;
    if (status == BP_OK && !s->more && br_overrun(&br)) status = fail_truncated(s);
    return status;
}

static bp_status inflate_stored(inflater *s)
{
    bitreader *br = &s->br;
    br_take(br, br->nbits & 7); /* stored data starts at the next byte boundary */
    size_t p = br_offset(br);
    if (br_overrun(br) || p > br->len) return fail_truncated(s);
    /* Read the rest straight from the input: drop the bit buffer and restart it after. */
    if (br->len - p < 4) return fail_truncated(s);
    unsigned len = br->in[p] | (unsigned)br->in[p + 1] << 8;
    unsigned nlen = br->in[p + 2] | (unsigned)br->in[p + 3] << 8;
    if (len != (~nlen & 0xFFFFu))
        return fail(s, BP_ERR_FORMAT, p,
                    "stored block length %u does not match its complement %u (damaged data)", len,
                    nlen);
    p += 4;
    if (br->len - p < len) return fail(s, BP_ERR_FORMAT, br->len,
                                       "the compressed data ends early (truncated file?)");
    size_t room = make_room(s, len);
    if (room == (size_t)-1) return out_of_memory(s);
    size_t n = room < len ? room : len;
    memcpy(s->out + s->out_len, br->in + p, n);
    s->out_len += n;
    if (n < len) s->more = 1;
    br->pos = p + len;
    br->bits = 0;
    br->nbits = 0;
    br->overrun = 0;
    return BP_OK;
}

static bp_status load_fixed_tables(inflater *s)
{
    unsigned char lengths[LITLEN_SYMBOLS];
    memset(lengths, 8, 144);
    memset(lengths + 144, 9, 112);
    memset(lengths + 256, 7, 24);
    memset(lengths + 280, 8, 8);
    const char *why = huff_build(&s->litlen, s->litlen_table, LITLEN_TABLE, lengths,
                                 LITLEN_SYMBOLS, LITLEN_PRIMARY, 0);
    memset(lengths, 5, DIST_SYMBOLS);
    if (!why)
        why = huff_build(&s->dist, s->dist_table, DIST_TABLE, lengths, DIST_SYMBOLS, DIST_PRIMARY,
                         0);
    if (why) return fail(s, BP_ERR_FORMAT, 0, "%s", why); /* cannot happen */
    s->fixed_loaded = 1;
    return BP_OK;
}

/* RFC 1951 3.2.7: the code lengths of a dynamic block, themselves Huffman coded. */
static bp_status load_dynamic_tables(inflater *s)
{
    bitreader *br = &s->br;
    s->fixed_loaded = 0;
    br_refill(br);
    size_t at = br_offset(br);
    unsigned hlit = br_take(br, 5) + 257, hdist = br_take(br, 5) + 1, hclen = br_take(br, 4) + 4;
    if (hlit > 286)
        return fail(s, BP_ERR_FORMAT, at, "%u literal/length codes in a dynamic block (at most 286)",
                    hlit);
    if (hdist > 30)
        return fail(s, BP_ERR_FORMAT, at, "%u distance codes in a dynamic block (at most 30)", hdist);

    unsigned char lengths[LITLEN_SYMBOLS + DIST_SYMBOLS] = {0};
    for (unsigned i = 0; i < hclen; i++) {
        br_refill(br);
        lengths[codelen_order[i]] = (unsigned char)br_take(br, 3);
    }
    const char *why = huff_build(&s->codelen, s->codelen_table, CODELEN_TABLE, lengths,
                                 CODELEN_SYMBOLS, CODELEN_PRIMARY, 1);
    if (br_overrun(br)) return fail_truncated(s);
    if (why) return fail(s, BP_ERR_FORMAT, at, "code length code: %s", why);

    memset(lengths, 0, CODELEN_SYMBOLS);
    unsigned total = hlit + hdist;
    for (unsigned i = 0; i < total;) {
        br_refill(br);
        if (br_overrun(br)) return fail_truncated(s);
        size_t sym_at = br_offset(br);
        int sym = huff_decode(br, &s->codelen);
        if (sym < 0) return fail(s, BP_ERR_FORMAT, sym_at, "invalid code length code");
        if (sym < 16) {
            lengths[i++] = (unsigned char)sym;
            continue;
        }
        unsigned char value = 0;
        unsigned repeat;
        if (sym == 16) {
            if (i == 0)
                return fail(s, BP_ERR_FORMAT, sym_at, "code length repeat with no length before it");
            value = lengths[i - 1];
            repeat = 3 + br_take(br, 2);
        } else if (sym == 17) {
            repeat = 3 + br_take(br, 3);
        } else {
            repeat = 11 + br_take(br, 7);
        }
        if (repeat > total - i)
            return fail(s, BP_ERR_FORMAT, sym_at, "code lengths run past the %u codes declared",
                        total);
        memset(lengths + i, value, repeat);
        i += repeat;
    }
    if (br_overrun(br)) return fail_truncated(s);
    if (lengths[256] == 0)
        return fail(s, BP_ERR_FORMAT, at, "dynamic block without an end-of-block code");
    why = huff_build(&s->litlen, s->litlen_table, LITLEN_TABLE, lengths, hlit, LITLEN_PRIMARY, 0);
    if (why) return fail(s, BP_ERR_FORMAT, at, "literal/length code: %s", why);
    why = huff_build(&s->dist, s->dist_table, DIST_TABLE, lengths + hlit, hdist, DIST_PRIMARY, 0);
    if (why) return fail(s, BP_ERR_FORMAT, at, "distance code: %s", why);
    return BP_OK;
}

/* One DEFLATE stream, from the reader's position to the end of its final block. */
static bp_status inflate_stream(inflater *s)
{
    s->stream_start = s->out_len;
    for (;;) {
        br_refill(&s->br);
        if (br_overrun(&s->br)) return fail_truncated(s);
        size_t at = br_offset(&s->br);
        unsigned final = br_take(&s->br, 1), type = br_take(&s->br, 2);
        bp_status st;
        if (type == 0) {
            st = inflate_stored(s);
        } else if (type == 1) {
            st = s->fixed_loaded ? BP_OK : load_fixed_tables(s);
            if (st == BP_OK) st = inflate_codes(s);
        } else if (type == 2) {
            st = load_dynamic_tables(s);
            if (st == BP_OK) st = inflate_codes(s);
        } else {
            return fail(s, BP_ERR_FORMAT, at, "invalid block type 3 (damaged or not DEFLATE data)");
        }
        if (st != BP_OK || s->more) return st;
        if (final) return BP_OK;
    }
}

/* The initial output size: the ISIZE field at the end of the input is the length of the
   last member (mod 2^32), exact for the usual one-member file; DEFLATE cannot expand
   more than 1032:1, which bounds what a forged ISIZE can make us allocate. */
static size_t first_capacity(const unsigned char *in, size_t in_len, size_t max_out, int gzip)
{
    size_t bound = in_len > SIZE_MAX / 1032 ? SIZE_MAX : in_len * 1032;
    size_t guess = in_len > SIZE_MAX / 4 ? SIZE_MAX : in_len * 4;
    if (gzip && in_len >= 18) {
        size_t isize = bp_get_u32(in + in_len - 4);
        if (isize > 0 && isize <= bound) guess = isize;
    }
    if (guess < 4096) guess = 4096;
    return guess < max_out ? guess : max_out;
}

static inflater *inflater_new(const unsigned char *in, size_t in_len, size_t max_out, int gzip,
                              char *why, size_t why_len)
{
    inflater *s = malloc(sizeof *s);
    if (!s) return NULL;
    memset(s, 0, offsetof(inflater, litlen_table));
    s->br.in = in;
    s->br.len = in_len;
    s->max_out = max_out;
    s->why = why;
    s->why_len = why_len;
    s->cap = first_capacity(in, in_len, max_out, gzip);
    s->out = malloc(s->cap ? s->cap : 1);
    if (!s->out) {
        free(s);
        return NULL;
    }
    return s;
}

/* Hand the output to the caller (trimmed to size) and free the decoder. */
static bp_status inflater_finish(inflater *s, bp_status st, unsigned char **out, size_t *out_len)
{
    if (st == BP_OK) {
        if (s->cap > s->out_len + s->out_len / 8 + 4096) {
            unsigned char *p = realloc(s->out, s->out_len ? s->out_len : 1);
            if (p) s->out = p;
        }
        *out = s->out;
        *out_len = s->out_len;
    } else {
        free(s->out);
    }
    free(s);
    return st;
}

static bp_status no_memory(char *why, size_t why_len)
{
    if (why && why_len > 0) snprintf(why, why_len, "out of memory");
    return BP_ERR_NOMEM;
}

/* ------------------------------------------------------------------ gzip */

int bp_is_gzip(const unsigned char *in, size_t in_len)
{
    return in && in_len >= 2 && in[0] == 0x1f && in[1] == 0x8b;
}

/* RFC 1952 2.3: one member's header, DEFLATE data and trailer, starting at byte `at`;
   *next receives the offset after its trailer. */
static bp_status gunzip_member(inflater *s, size_t at, size_t *next)
{
    const unsigned char *in = s->br.in;
    size_t len = s->br.len;
    if (len - at < 10)
        return fail(s, BP_ERR_FORMAT, at, "truncated gzip header (%zu bytes, at least 10 needed)",
                    len - at);
    if (in[at] != 0x1f || in[at + 1] != 0x8b)
        return fail(s, BP_ERR_FORMAT, at, "not gzip data (starts %02x %02x, expected 1f 8b)",
                    in[at], in[at + 1]);
    if (in[at + 2] != 8)
        return fail(s, BP_ERR_FORMAT, at + 2, "unknown gzip compression method %u (8 is deflate)",
                    in[at + 2]);
    unsigned flags = in[at + 3];
    if (flags & 0xE0)
        return fail(s, BP_ERR_FORMAT, at + 3, "reserved gzip flag bits set (0x%02x)", flags);
    size_t p = at + 10;
    if (flags & 0x04) { /* FEXTRA */
        if (len - p < 2) return fail(s, BP_ERR_FORMAT, p, "truncated gzip header (extra field)");
        size_t xlen = in[p] | (size_t)in[p + 1] << 8;
        p += 2;
        if (len - p < xlen) return fail(s, BP_ERR_FORMAT, p, "truncated gzip header (extra field)");
        p += xlen;
    }
    for (unsigned bit = 0x08; bit <= 0x10; bit <<= 1) { /* FNAME, FCOMMENT: zero-terminated */
        if (!(flags & bit)) continue;
        const unsigned char *nul = memchr(in + p, 0, len - p);
        if (!nul)
            return fail(s, BP_ERR_FORMAT, p, "truncated gzip header (%s)",
                        bit == 0x08 ? "file name" : "comment");
        p = (size_t)(nul - in) + 1;
    }
    if (flags & 0x02) { /* FHCRC: the low 16 bits of the header's CRC-32 */
        if (len - p < 2) return fail(s, BP_ERR_FORMAT, p, "truncated gzip header (header CRC)");
        unsigned stored = in[p] | (unsigned)in[p + 1] << 8;
        unsigned computed = bp_crc32(0, in + at, p - at) & 0xFFFFu;
        if (stored != computed)
            return fail(s, BP_ERR_FORMAT, p, "gzip header CRC mismatch (stored %04x, computed %04x)",
                        stored, computed);
        p += 2;
    }

    s->br.pos = p;
    s->br.bits = 0;
    s->br.nbits = 0;
    s->br.overrun = 0;
    size_t start = s->out_len;
    bp_status st = inflate_stream(s);
    if (st != BP_OK || s->more) return st;

    size_t t = br_offset(&s->br) + ((s->br.nbits & 7) != 0); /* the trailer is byte-aligned */
    if (t > len || len - t < 8)
        return fail(s, BP_ERR_FORMAT, t < len ? t : len,
                    "truncated gzip member: the CRC-32 and length trailer is missing");
    uint32_t crc = bp_get_u32(in + t), isize = bp_get_u32(in + t + 4);
    uint32_t computed = bp_crc32(0, s->out + start, s->out_len - start);
    if (crc != computed)
        return fail(s, BP_ERR_FORMAT, t,
                    "CRC-32 mismatch: the data is damaged (stored %08x, computed %08x)",
                    (unsigned)crc, (unsigned)computed);
    if (isize != (uint32_t)(s->out_len - start))
        return fail(s, BP_ERR_FORMAT, t + 4,
                    "length mismatch: the trailer says %u bytes (mod 2^32), the data holds %zu",
                    (unsigned)isize, s->out_len - start);
    *next = t + 8;
    return BP_OK;
}

/* Both gzip entry points: with quiet_limit, reaching max_out ends the work without error. */
static bp_status gunzip(const unsigned char *in, size_t in_len, size_t max_out, int quiet_limit,
                        unsigned char **out, size_t *out_len, int *more, char *why, size_t why_len)
{
    if (why && why_len > 0) why[0] = '\0';
    if (!out || !out_len || (!in && in_len > 0)) {
        if (why && why_len > 0) snprintf(why, why_len, "no input or output given");
        return BP_ERR_ARG;
    }
    *out = NULL;
    *out_len = 0;
    if (more) *more = 0;
    if (in_len == 0) {
        if (why && why_len > 0) snprintf(why, why_len, "byte 0: empty input, not gzip data");
        return BP_ERR_FORMAT;
    }
    inflater *s = inflater_new(in, in_len, max_out, 1, why, why_len);
    if (!s) return no_memory(why, why_len);
    bp_status st = BP_OK;
    size_t at = 0;
    for (;;) {
        size_t next = 0;
        st = gunzip_member(s, at, &next);
        if (st != BP_OK || s->more) break;
        at = next;
        if (at == in_len) break;
        /* Another member, or zero padding (some tools and tapes leave it); not garbage. */
        if (bp_is_gzip(in + at, in_len - at)) continue;
        size_t z = at;
        while (z < in_len && in[z] == 0) z++;
        if (z != in_len)
            st = fail(s, BP_ERR_FORMAT, at, "unexpected bytes after the end of the gzip data");
        break;
    }
    if (st == BP_OK && s->more && !quiet_limit)
        st = fail(s, BP_ERR_FORMAT, br_offset(&s->br),
                  "the data inflates to more than %zu bytes (the limit)", max_out);
    if (more) *more = st == BP_OK && s->more;
    return inflater_finish(s, st, out, out_len);
}

bp_status bp_gunzip_prefix(const unsigned char *in, size_t in_len, size_t max_out,
                           unsigned char **out, size_t *out_len, int *more, char *why,
                           size_t why_len)
{
    return gunzip(in, in_len, max_out, 1, out, out_len, more, why, why_len);
}

bp_status bp_gunzip(const unsigned char *in, size_t in_len, size_t max_out, unsigned char **out,
                    size_t *out_len, char *why, size_t why_len)
{
    return gunzip(in, in_len, max_out, 0, out, out_len, NULL, why, why_len);
}

bp_status bp_inflate(const unsigned char *in, size_t in_len, size_t max_out, unsigned char **out,
                     size_t *out_len, size_t *used, char *why, size_t why_len)
{
    if (why && why_len > 0) why[0] = '\0';
    if (!out || !out_len || (!in && in_len > 0)) {
        if (why && why_len > 0) snprintf(why, why_len, "no input or output given");
        return BP_ERR_ARG;
    }
    *out = NULL;
    *out_len = 0;
    if (used) *used = 0;
    inflater *s = inflater_new(in, in_len, max_out, 0, why, why_len);
    if (!s) return no_memory(why, why_len);
    bp_status st = inflate_stream(s);
    if (st == BP_OK && s->more) {
        st = fail(s, BP_ERR_FORMAT, br_offset(&s->br),
                  "the data inflates to more than %zu bytes (the limit)", max_out);
    }
    if (st == BP_OK && used) {
        size_t end = br_offset(&s->br) + ((s->br.nbits & 7) != 0);
        *used = end < in_len ? end : in_len;
    }
    return inflater_finish(s, st, out, out_len);
}
