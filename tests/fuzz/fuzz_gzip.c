/*
 * fuzz_gzip.c - libFuzzer harness for the .gz reader (src/io/gzip.c): what
 * backprop adds around zlib's decoder.
 *
 * Input: an option byte, then the bytes.
 *   bits 0-1  0: bp_gunzip on the bytes as they are; 1: bp_gunzip_prefix on them;
 *             2: the bytes compressed here by zlib's deflate (level and strategy from
 *             the input's length) into members, then both readers; 3: the same file
 *             with one byte changed, then bp_gunzip
 *   bits 2-4  output limit max_out: 0, 1, 100, 4096, 65536, 1 MiB, 16 MiB, 64 MiB
 *   bits 5-6  (modes 2, 3) members: the bytes cut into 1 to 4 members
 *   bit 7     (modes 2, 3) zero padding after the last member
 * Checks: results and messages as gzip.h promises (nothing handed back on failure,
 * a "byte N: ..." message with N inside the input, never more than max_out bytes, *more
 * only with exactly max_out bytes); a file compressed here comes back exactly (or is
 * refused for the limit when it is longer), its prefix too; a changed byte is refused
 * or changes nothing, and one in the padding is refused; (sanitizer builds) memory
 * within twice the output limit (or 1100 times the input) plus a little.
 */
#include <stdlib.h>
#include <zlib.h>

#include "fuzz.h"
#include "io/gzip.h"

#define H "gzip"

/* "byte N: ..." with N <= in_len, or one of the messages without a place. */
static void check_why(const char *why, size_t in_len, bp_status s)
{
    FUZZ_CHECK(H, why[0] != '\0', "status %d without a message", (int)s);
    if (s == BP_ERR_NOMEM || s == BP_ERR_ARG) return;
    unsigned long long at = 0;
    int n = 0;
    FUZZ_CHECK(H, sscanf(why, "byte %llu: %n", &at, &n) == 1 && n > 0,
               "message does not start \"byte N: \": \"%s\"", why);
    FUZZ_CHECK(H, at <= in_len, "message names byte %llu of a %zu-byte input: \"%s\"", at, in_len, why);
}

/* in cut into `members` gzip members by zlib's deflate, then `padding` zero bytes.
   malloc'd, or NULL when zlib refused. */
static unsigned char *compress_members(const unsigned char *in, size_t len, unsigned members,
                                       int level, int strategy, size_t padding, size_t *gz_len)
{
    size_t cap = padding;
    for (unsigned m = 0; m < members; m++) cap += compressBound((uLong)len) + 64;
    unsigned char *gz = malloc(cap);
    if (!gz) return NULL;
    size_t k = 0;
    for (unsigned m = 0; m < members; m++) {
        size_t from = len * m / members, to = len * (m + 1) / members;
        z_stream z;
        memset(&z, 0, sizeof z);
        if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, strategy) != Z_OK) {
            free(gz);
            return NULL;
        }
        z.next_in = (Bytef *)(in + from); /* zlib does not write it (ZLIB_CONST says so) */
        z.avail_in = (uInt)(to - from);
        z.next_out = gz + k;
        z.avail_out = (uInt)(cap - padding - k);
        int r = deflate(&z, Z_FINISH);
        k += (size_t)z.total_out;
        deflateEnd(&z);
        if (r != Z_STREAM_END) {
            free(gz);
            return NULL;
        }
    }
    memset(gz + k, 0, padding);
    *gz_len = k + padding;
    return gz;
}

/* One call and the promises every call keeps. Returns the status; on failure *out is
   NULL, on success the caller frees it. */
static bp_status call(const unsigned char *in, size_t in_len, size_t max_out, int prefix,
                      unsigned char **out, size_t *out_len, int *more, char *why, size_t why_len)
{
    *out = (unsigned char *)&out; /* must be replaced */
    *out_len = 12345;
    *more = -1;
    snprintf(why, why_len, "unset");
    bp_status s = prefix ? bp_gunzip_prefix(in, in_len, max_out, out, out_len, more, why, why_len)
                         : bp_gunzip(in, in_len, max_out, out, out_len, why, why_len);
    FUZZ_CHECK(H, s == BP_OK || s == BP_ERR_FORMAT || s == BP_ERR_NOMEM, "status %d", (int)s);
    if (s == BP_OK) {
        FUZZ_CHECK(H, *out != NULL && *out != (unsigned char *)&out, "no output buffer");
        FUZZ_CHECK(H, *out_len <= max_out, "%zu bytes out, limit %zu", *out_len, max_out);
        if (prefix)
            FUZZ_CHECK(H, *more == 0 || (*more == 1 && *out_len == max_out),
                       "more %d with %zu of %zu bytes", *more, *out_len, max_out);
    } else {
        FUZZ_CHECK(H, *out == NULL && *out_len == 0, "a failure handed back output");
        if (prefix) FUZZ_CHECK(H, *more == 0, "more %d on failure", *more);
        check_why(why, in_len, s);
        *out = NULL;
    }
    return s;
}

static int same(const unsigned char *a, size_t a_len, const unsigned char *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

int bp_fuzz_gzip(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned sel = data[0];
    const unsigned char *plain = data + 1;
    size_t plain_len = size - 1;
    static const size_t limits[8] = {0, 1, 100, 4096, 65536, (size_t)1 << 20, (size_t)16 << 20,
                                     (size_t)64 << 20};
    size_t max_out = limits[(sel >> 2) & 7];
    unsigned mode = sel & 3;

    const unsigned char *in = plain;
    size_t in_len = plain_len;
    unsigned char *made = NULL;
    int in_padding = 0; /* mode 3 changed a byte of the zero padding */
    if (mode >= 2) {
        static const int strategies[5] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE,
                                          Z_FIXED};
        size_t padding = (sel & 0x80) ? 1 + size % 8 : 0;
        made = compress_members(plain, plain_len, 1 + ((sel >> 5) & 3), (int)(size % 10),
                                strategies[(size / 10) % 5], padding, &in_len);
        if (!made) return 0;
        if (mode == 3 && in_len > 0) { /* one byte changed, where the input's end says */
            size_t at = ((size_t)data[size - 1] << 8 | data[size / 2]) % in_len;
            made[at] ^= (unsigned char)(data[size - 1] | 1);
            in_padding = at >= in_len - padding;
        }
        in = made;
    }

    size_t bound = in_len > SIZE_MAX / 1100 ? SIZE_MAX : in_len * 1100 + 4096;
    size_t expected = bound < max_out ? bound : max_out;
    unsigned char *out = NULL;
    size_t out_len = 0;
    int more = 0;
    char why[256];
    FUZZ_MEM_BEGIN(before);
    bp_status s = call(in, in_len, max_out, mode == 1, &out, &out_len, &more, why, sizeof why);
    if (mode == 2) {
        /* What zlib compressed comes back exactly, or is refused for the limit. */
        if (plain_len <= max_out)
            FUZZ_CHECK(H, s == BP_OK && same(out, out_len, plain, plain_len),
                       "%zu bytes compressed here came back as %zu (%s)", plain_len, out_len,
                       s == BP_OK ? "changed" : why);
        else
            FUZZ_CHECK(H, s == BP_ERR_FORMAT && strstr(why, "more than"), "%zu bytes over a limit of %zu: %s",
                       plain_len, max_out, s == BP_OK ? "accepted" : why);
    }
    if (mode == 3 && s == BP_OK)
        FUZZ_CHECK(H, same(out, out_len, plain, plain_len), "a changed byte gave other data (%zu bytes for %zu)",
                   out_len, plain_len);
    if (mode == 3 && in_padding && plain_len <= max_out)
        FUZZ_CHECK(H, s == BP_ERR_FORMAT && strstr(why, "after the end"),
                   "a nonzero byte in the padding after the last member: %s", s == BP_OK ? "accepted" : why);
    free(out);
    if (mode == 2) {
        /* The prefix reader: the first bytes, and whether more follow. */
        s = call(in, in_len, max_out, 1, &out, &out_len, &more, why, sizeof why);
        size_t want = plain_len < max_out ? plain_len : max_out;
        FUZZ_CHECK(H, s == BP_OK && out_len == want && more == (plain_len > max_out) &&
                          (want == 0 || memcmp(out, plain, want) == 0),
                   "prefix of %zu bytes with limit %zu: %zu bytes, more %d (%s)", plain_len, max_out,
                   out_len, more, s == BP_OK ? "changed" : why);
        free(out);
    }
    FUZZ_MEM_END(H, before, 2 * expected + ((size_t)1 << 20));
    free(made);
    return 0;
}

#ifndef BP_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return bp_fuzz_gzip(data, size); }
#endif

#undef H
