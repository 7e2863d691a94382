/*
 * quote.c - input quoted for messages (see quote.h).
 */
#include <string.h>

#include "quote.h"

void bp_quote(char *dst, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const size_t shown = len < BP_QUOTE_BYTES ? len : BP_QUOTE_BYTES;
    size_t k = 0;
    dst[k++] = '"';
    for (size_t i = 0; i < shown; i++) {
        const unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            dst[k++] = '\\';
            dst[k++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            dst[k++] = '\\';
            dst[k++] = 'x';
            dst[k++] = hex[c >> 4];
            dst[k++] = hex[c & 15];
        } else {
            dst[k++] = (char)c;
        }
    }
    dst[k++] = '"';
    if (shown < len) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = '\0';
}
