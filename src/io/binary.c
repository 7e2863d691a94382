/*
 * binary.c - the little-endian writer and the bounds-checked reader (binary.h).
 */
#include <string.h>

#include "binary.h"
#include "bytes.h"

void bp_write_u32(bp_buffer *b, uint32_t v)
{
    unsigned char x[4];
    bp_put_u32(x, v);
    bp_buffer_append(b, x, 4);
}

void bp_write_u64(bp_buffer *b, uint64_t v)
{
    unsigned char x[8];
    bp_put_u64(x, v);
    bp_buffer_append(b, x, 8);
}

void bp_write_f64(bp_buffer *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    bp_write_u64(b, u);
}

void bp_write_f32s(bp_buffer *b, const float *v, size_t n)
{
    unsigned char x[4];
    for (size_t i = 0; i < n; i++) {
        bp_put_f32(x, v[i]);
        bp_buffer_append(b, x, 4);
    }
}

const unsigned char *bp_read_bytes(bp_reader *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = r->p + r->pos;
    r->pos += n;
    return p;
}

uint32_t bp_read_u32(bp_reader *r)
{
    const unsigned char *p = bp_read_bytes(r, 4);
    return p ? bp_get_u32(p) : 0;
}

uint64_t bp_read_u64(bp_reader *r)
{
    const unsigned char *p = bp_read_bytes(r, 8);
    return p ? bp_get_u64(p) : 0;
}

double bp_read_f64(bp_reader *r)
{
    uint64_t u = bp_read_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

int bp_read_f32s(bp_reader *r, float *dst, size_t n)
{
    if (n > (r->len - r->pos) / 4) {
        r->bad = 1;
        return 0;
    }
    const unsigned char *p = bp_read_bytes(r, 4 * n);
    for (size_t i = 0; p && i < n; i++) dst[i] = bp_get_f32(p + 4 * i);
    return p != NULL;
}
