/*
 * number.c - decimal text to numbers and back (see number.h).
 *
 * Parsing keeps the first 19 significant digits in an integer and the power of
 * ten apart, then scales once: with a float as the target, the double result is
 * correct to far below a float's resolution, and a number of a hundred million
 * digits costs one pass over them.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "number.h"

/* Powers of ten that a double holds exactly: one multiplication or division by
   one of them rounds correctly. */
static const double exact_pow10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Half-way between FLT_MAX and the next power of two: the smallest magnitude
   that rounds to infinity as a float (ties go to the even neighbour, infinity). */
#define FLOAT_OVERFLOW 0x1.ffffffp127

/* Significant digits kept: 10^19 - 1 still fits in a uint64_t. */
#define KEPT_DIGITS 19
/* Exponents are clamped here; anything beyond is overflow or zero for any
   mantissa that 19 digits can hold, and the clamp keeps the arithmetic safe. */
#define EXPONENT_CLAMP 100000L

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* The end of the run of digits at s[i..len): 64 bytes at a time (a loop compilers
   vectorize), so a number of 100 million digits is skipped in milliseconds. */
static size_t digits_end(const char *s, size_t i, size_t len)
{
    while (len - i >= 64) {
        unsigned not_digit = 0;
        for (int k = 0; k < 64; k++) not_digit |= (unsigned char)(s[i + k] - '0') > 9;
        if (not_digit) break;
        i += 64;
    }
    while (i < len && is_digit(s[i])) i++;
    return i;
}

static char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static int equals_word(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    if (len != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(s[i]) != word[i]) return 0;
    return 1;
}

/* m * 10^e in double. With m <= 2^53 and |e| <= 22 this is one correctly
   rounded operation (Clinger's fast path); beyond that, each extra rounding
   costs at most an ulp of a double, far below a float's resolution. */
static double scale_pow10(uint64_t m, long e)
{
    double v = (double)m;
    if (m == 0) return 0.0;
    if (e > 400) return HUGE_VAL;          /* overflow, caught by the caller */
    if (e < -400) return 0.0;              /* m < 1e20, so below the smallest denormal */
    if (e >= 0) {
        while (e > 22) {
            v *= 1e22;
            e -= 22;
        }
        return v * exact_pow10[e];
    }
    while (e < -22) {
        v /= 1e22;
        e += 22;
    }
    return v / exact_pow10[-e];
}

/* The digits of a number as they are read: value = mantissa * 10^scale. */
typedef struct {
    uint64_t mantissa;
    int kept;       /* significant digits in the mantissa */
    long scale;
    int any_digit;
} decimal;

/* Digits from s[i], while there is room in the mantissa; fraction digits also
   lower the scale. Returns where they stop. */
static size_t take_digits(const char *s, size_t i, size_t len, int fraction, decimal *d)
{
    for (; i < len && is_digit(s[i]) && d->kept < KEPT_DIGITS; i++) {
        const int digit = s[i] - '0';
        d->any_digit = 1;
        if (d->mantissa != 0 || digit != 0) {
            d->mantissa = d->mantissa * 10 + (uint64_t)digit;
            d->kept++;
        }
        if (fraction && d->scale > -EXPONENT_CLAMP) d->scale--;
    }
    /* Digits beyond the kept ones: in the integer part each still multiplies by ten
       (a tight loop: a 100 MB number must not take seconds); in the fraction they
       change nothing. */
    const size_t from = i;
    i = digits_end(s, i, len);
    if (i > from) {
        d->any_digit = 1;
        if (!fraction) d->scale = i - from < (size_t)EXPONENT_CLAMP ? (long)(i - from) : EXPONENT_CLAMP;
    }
    return i;
}

/* An exponent "e[+-]digits" at s[i], if there is one: its value in *exponent and
   where it ends, or (size_t)-1 when the 'e' has no digits. */
static size_t take_exponent(const char *s, size_t i, size_t len, long *exponent)
{
    *exponent = 0;
    if (i >= len || (s[i] != 'e' && s[i] != 'E')) return i;
    int negative = 0, any = 0;
    i++;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        negative = s[i] == '-';
        i++;
    }
    for (; i < len && is_digit(s[i]); i++) {
        any = 1;
        if (*exponent < EXPONENT_CLAMP) *exponent = *exponent * 10 + (s[i] - '0');
    }
    if (!any) return (size_t)-1;
    if (negative) *exponent = -*exponent;
    return i;
}

bp_status bp_parse_number(const char *s, size_t len, double *out)
{
    if (!out) return BP_ERR_ARG;
    if (!s || len == 0) return BP_ERR_FORMAT;
    size_t i = 0;
    const int negative = s[0] == '-';
    if (s[0] == '+' || s[0] == '-') i++;
    if (i < len && !is_digit(s[i]) && s[i] != '.' &&
        (equals_word(s + i, len - i, "nan") || equals_word(s + i, len - i, "inf") ||
         equals_word(s + i, len - i, "infinity")))
        return BP_ERR_NUMERIC;
    decimal d = {0, 0, 0, 0};
    i = take_digits(s, i, len, 0, &d);
    if (i < len && s[i] == '.') i = take_digits(s, i + 1, len, 1, &d);
    if (!d.any_digit) return BP_ERR_FORMAT;
    long exponent;
    i = take_exponent(s, i, len, &exponent);
    if (i != len) return BP_ERR_FORMAT;
    const double v = scale_pow10(d.mantissa, d.scale + exponent);
    if (!(v < FLOAT_OVERFLOW)) return BP_ERR_NUMERIC;
    *out = negative ? -v : v;
    return BP_OK;
}

size_t bp_format_float(char *text, float v)
{
    /* %.9g always reads back as the same float; try shorter first for tidy files.
       printf may use a locale's decimal comma, so the separator is normalized to '.'. */
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(text, BP_FLOAT_TEXT, "%.*g", digits, (double)v);
        for (char *c = text; *c; c++)
            if (*c == ',') *c = '.';
        double back = 0;
        if ((bp_parse_number(text, strlen(text), &back) == BP_OK && (float)back == v) || digits == 9) break;
    }
    return strlen(text);
}
