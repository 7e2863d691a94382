/*
 * fuzz_inflate.c - libFuzzer harness for the DEFLATE/gzip decoder (src/inflate.c).
 *
 * Input: an option byte, then the compressed bytes.
 *   bits 0-1  entry point: bp_gunzip, bp_gunzip_prefix, bp_inflate (raw DEFLATE), and
 *             bp_gunzip on the input wrapped in a valid gzip member of stored blocks
 *   bits 2-4  output limit max_out: 0, 1, 100, 4096, 65536, 1 MiB, 16 MiB, 64 MiB
 * Checks: results and messages as inflate.h promises (nothing handed back on failure,
 * a "byte N: ..." message with N inside the input, never more than max_out bytes);
 * with BP_FUZZ_ZLIB, raw DEFLATE results agree with zlib's byte for byte; (sanitizer
 * builds) memory within twice the output limit (or 1032 times the input) plus a little.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "io/inflate.h"

#ifdef BP_FUZZ_ZLIB
#include <zlib.h>
#endif

#define H "inflate"

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

#ifdef BP_FUZZ_ZLIB
/* zlib's view of a raw DEFLATE stream: 1 and the output (at most limit + 1 bytes) and the
   input used when it ends within the input, 0 otherwise. */
static int zlib_inflate(const unsigned char *in, size_t in_len, size_t limit, unsigned char **out,
                        size_t *out_len, size_t *used)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    *out = NULL;
    *out_len = 0;
    if (inflateInit2(&z, -15) != Z_OK) return 0;
    size_t cap = limit + 1;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        inflateEnd(&z);
        return 0;
    }
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)in_len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int r = inflate(&z, Z_FINISH);
    *out_len = (size_t)z.total_out;
    *used = (size_t)z.total_in;
    inflateEnd(&z);
    *out = buf;
    return r == Z_STREAM_END;
}
#endif

int bp_fuzz_inflate(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned sel = data[0];
    const unsigned char *in = data + 1;
    size_t in_len = size - 1;
    static const size_t limits[8] = {0, 1, 100, 4096, 65536, (size_t)1 << 20, (size_t)16 << 20,
                                     (size_t)64 << 20};
    size_t max_out = limits[(sel >> 2) & 7];
    unsigned mode = sel & 3;
    unsigned char *wrapped = NULL;
    if (mode == 3) {
        wrapped = fuzz_gzip_stored(in, in_len, 1000, &in_len);
        if (!wrapped) return 0;
        in = wrapped;
    }

    size_t bound = in_len > SIZE_MAX / 1100 ? SIZE_MAX : in_len * 1100 + 4096;
    size_t expected = bound < max_out ? bound : max_out;
    FUZZ_MEM_BEGIN(before);
    unsigned char *out = (unsigned char *)&out; /* must be replaced */
    size_t out_len = 12345, used = 12345;
    int more = -1;
    char why[256] = "unset";
    bp_status s;
    if (mode == 0 || mode == 3)
        s = bp_gunzip(in, in_len, max_out, &out, &out_len, why, sizeof why);
    else if (mode == 1)
        s = bp_gunzip_prefix(in, in_len, max_out, &out, &out_len, &more, why, sizeof why);
    else
        s = bp_inflate(in, in_len, max_out, &out, &out_len, &used, why, sizeof why);

    FUZZ_CHECK(H, s == BP_OK || s == BP_ERR_FORMAT || s == BP_ERR_NOMEM, "status %d", (int)s);
    if (s == BP_OK) {
        FUZZ_CHECK(H, out != NULL && out != (unsigned char *)&out, "no output buffer");
        FUZZ_CHECK(H, out_len <= max_out, "%zu bytes out, limit %zu", out_len, max_out);
        if (mode == 1) FUZZ_CHECK(H, more == 0 || (more == 1 && out_len == max_out), "more %d with %zu of %zu bytes", more, out_len, max_out);
        if (mode == 2) FUZZ_CHECK(H, used <= in_len, "used %zu of %zu bytes", used, in_len);
        if (mode == 3) {
            /* Stored blocks hold the input as it is. */
            FUZZ_CHECK(H, out_len == size - 1 && (out_len == 0 || memcmp(out, data + 1, out_len) == 0),
                       "stored blocks came back changed");
        }
    } else {
        FUZZ_CHECK(H, out == NULL && out_len == 0, "a failure handed back output");
        if (mode == 1) FUZZ_CHECK(H, more == 0, "more %d on failure", more);
        check_why(why, in_len, s);
        if (mode == 3 && s == BP_ERR_FORMAT)
            FUZZ_CHECK(H, size - 1 > max_out, "a valid stored member refused: %s", why);
    }
    FUZZ_MEM_END(H, before, 2 * expected + ((size_t)1 << 20));

#ifdef BP_FUZZ_ZLIB
    if (mode == 2 && max_out <= ((size_t)1 << 20)) {
        unsigned char *zout = NULL;
        size_t zlen = 0, zused = 0;
        int zok = zlib_inflate(in, in_len, max_out, &zout, &zlen, &zused);
        if (zout) {
            int within = zok && zlen <= max_out;
            FUZZ_CHECK(H, within == (s == BP_OK), "zlib %s (%zu bytes), bp_inflate %s (%s)",
                       zok ? "inflates" : "refuses", zlen, s == BP_OK ? "inflates" : "refuses",
                       s == BP_OK ? "" : why);
            if (within && s == BP_OK) {
                FUZZ_CHECK(H, zlen == out_len && memcmp(zout, out, zlen) == 0,
                           "output differs from zlib's (%zu vs %zu bytes)", out_len, zlen);
                FUZZ_CHECK(H, zused == used, "used %zu input bytes, zlib %zu", used, zused);
            }
        }
        free(zout);
    }
#endif
    if (s == BP_OK) free(out);
    free(wrapped);
    return 0;
}

#ifndef BP_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return bp_fuzz_inflate(data, size); }
#endif

#undef H
