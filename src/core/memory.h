/*
 * memory.h - the library's few allocation helpers: 64-byte aligned blocks
 * (one per role: parameters, gradients, work space, data), overflow-checked
 * size arithmetic, and string lists kept in one block.
 *
 * Sizes are always checked before memory is touched: callers multiply with
 * bp_mul_overflows and allocate only what the check allowed.
 */
#ifndef BP_MEMORY_H
#define BP_MEMORY_H

#include <stddef.h>

/* malloc/free of 64-byte aligned blocks (size in bytes, checked for overflow by callers).
   Blocks of 2 MiB and more are aligned to 2 MiB and, on Linux, asked to use huge pages. */
void *bp_alloc_aligned(size_t bytes);
void bp_free_aligned(void *p);

/* Copy n strings into one block (n pointers, then the characters); free() releases it.
   NULL when memory runs out or the size would overflow. */
char **bp_copy_names(const char *const *names, size_t n);

/* Multiply two sizes: 1 (and *out untouched) on overflow, else 0. */
static inline int bp_mul_overflows(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a) return 1;
    *out = a * b;
    return 0;
}

#endif
