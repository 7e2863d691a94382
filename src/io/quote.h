/*
 * quote.h - a piece of input as an error message shows it: in double quotes,
 * at most BP_QUOTE_BYTES of it, and every byte that is not printable ASCII as
 * \xNN, so NUL bytes, control characters, escape sequences and broken UTF-8 in
 * a data file cannot upset the terminal the message is printed on. The one
 * quoting every text reader uses (CSV, FANN, class labels).
 */
#ifndef BP_QUOTE_H
#define BP_QUOTE_H

#include <stddef.h>

#define BP_QUOTE_BYTES 40
/* Room for BP_QUOTE_BYTES bytes escaped as \xNN, two quotes, "..." and a NUL. */
#define BP_QUOTE_SIZE (4 * BP_QUOTE_BYTES + 8)

/* dst (BP_QUOTE_SIZE bytes) = s[0..len) quoted, escaped and shortened ("..." after). */
void bp_quote(char *dst, const char *s, size_t len);

#endif
