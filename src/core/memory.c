/*
 * memory.c - aligned blocks and string lists (see memory.h).
 */
#include <stdlib.h>
#include <string.h>

#include "memory.h"

void *bp_alloc_aligned(size_t bytes)
{
    if (bytes == 0) bytes = 64;
    bytes = (bytes + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes);
}

void bp_free_aligned(void *p) { free(p); }

char **bp_copy_names(const char *const *names, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]) + 1;
        if (len > (size_t)-1 - chars) return NULL;
        chars += len;
    }
    if (n > ((size_t)-1 - chars) / sizeof(char *)) return NULL;
    /* At least one byte: malloc(0) may return NULL, which would read as out of memory. */
    char **block = malloc(n * sizeof(char *) + chars + 1);
    if (!block) return NULL;
    char *dst = (char *)(block + n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]) + 1;
        memcpy(dst, names[i], len);
        block[i] = dst;
        dst += len;
    }
    return block;
}
