/*
 * bytes.h - little-endian encoding helpers and CRC-32, for binary file formats.
 *
 * Values are assembled byte by byte so files read the same on any host. The
 * CRC-32 is zlib's.
 */
#ifndef BP_BYTES_H
#define BP_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

static inline void bp_put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static inline void bp_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t bp_get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static inline uint64_t bp_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static inline void bp_put_f32(unsigned char *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    bp_put_u32(p, v);
}

static inline float bp_get_f32(const unsigned char *p)
{
    uint32_t v = bp_get_u32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

/* zlib takes at most this many bytes per call (its lengths are unsigned int); a test may
   define it smaller before including this header, to exercise the loop below. */
#ifndef BP_CRC32_PIECE
#define BP_CRC32_PIECE ((size_t)1 << 30)
#endif

/* CRC-32 (the zlib/gzip/PNG polynomial), continuing from crc (start with 0): zlib's
   crc32() over a length that may pass 4 GiB, as a model file's may. */
static inline uint32_t bp_crc32(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    uLong c = crc;
    while (len > 0) {
        size_t n = len < BP_CRC32_PIECE ? len : BP_CRC32_PIECE;
        c = crc32(c, p, (uInt)n);
        p += n;
        len -= n;
    }
    return (uint32_t)c;
}

#endif
