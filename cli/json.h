/*
 * json.h - the few JSON writers the commands' --json output needs: strings,
 * numbers that read back exactly, arrays and matrices of floats.
 *
 * Each call writes one value; the commands write the punctuation around them.
 * Non-finite numbers, which JSON cannot hold, are written as null.
 */
#ifndef BP_CLI_JSON_H
#define BP_CLI_JSON_H

#include <stddef.h>
#include <stdio.h>

void json_string(FILE *f, const char *s);
void json_double(FILE *f, double v);   /* 17 significant digits; null if not finite */
void json_float(FILE *f, float v);     /* 9 significant digits: round-trips a float */
void json_float_array(FILE *f, const float *v, size_t n);
/* rows x cols row-major as an array of row arrays */
void json_float_matrix(FILE *f, const float *v, size_t rows, size_t cols);

#endif
