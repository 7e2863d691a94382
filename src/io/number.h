/*
 * number.h - decimal numbers as text, both ways, independently of the C locale:
 * the one parser every text reader uses (CSV, FANN, class labels), and the
 * shortest text that reads back as the same float, for every text writer.
 */
#ifndef BP_NUMBER_H
#define BP_NUMBER_H

#include <stddef.h>

#include "backprop.h"

/* Parse exactly s[0..len) as a decimal number, independently of the C locale:
   optional sign, digits, optional '.', digits (at least one digit in all), optional
   e/E exponent with optional sign and at least one digit. No spaces, no hex, no
   trailing junk. Returns BP_ERR_FORMAT for anything else (an empty string included),
   BP_ERR_NUMERIC for "nan", "inf", "infinity" (any case, any sign) and for values
   whose magnitude rounds beyond the largest float; *out is written only on BP_OK.
   The result is the double nearest the text within a few units in the last place,
   so (float)*out equals strtof's result for ordinary inputs; values too small for a
   float (1e-50) are not an error: they come back as tiny doubles that round to 0 or
   to a denormal as floats, as strtof does. */
bp_status bp_parse_number(const char *s, size_t len, double *out);

/* The shortest decimal text (at most 9 significant digits, '.' as the separator
   whatever the locale) that bp_parse_number reads back as exactly v, in text
   (at least BP_FLOAT_TEXT bytes); returns its length. */
#define BP_FLOAT_TEXT 48
size_t bp_format_float(char *text, float v);

#endif
