/*
 * json.c - the JSON writers of the commands' --json output (see json.h).
 *
 * Numbers carry enough significant digits to read back as the same value;
 * NaN and infinities, which JSON cannot hold, become null.
 */
#include <stdio.h>

#include "json.h"

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void json_double(FILE *f, double v)
{
    if (v != v || v - v != 0.0)
        fputs("null", f);
    else
        fprintf(f, "%.17g", v);
}

void json_float(FILE *f, float v)
{
    if (v != v || v - v != 0.0f)
        fputs("null", f);
    else
        fprintf(f, "%.9g", (double)v);
}

void json_float_array(FILE *f, const float *v, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i) fputc(',', f);
        json_float(f, v[i]);
    }
    fputc(']', f);
}

void json_float_matrix(FILE *f, const float *v, size_t rows, size_t cols)
{
    fputc('[', f);
    for (size_t r = 0; r < rows; r++) {
        if (r) fputc(',', f);
        json_float_array(f, v + r * cols, cols);
    }
    fputc(']', f);
}
