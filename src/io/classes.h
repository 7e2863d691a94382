/*
 * classes.h - the limits of class labels, shared by the readers that one-hot
 * encode them (dataset_csv.c for CSV, idx.c for IDX labels).
 *
 * One-hot targets take samples x classes floats: quadratic in the file when
 * every row brings a new class or one stray label is large. So classes are
 * capped, and the one-hot block may take BP_ONEHOT_FREE bytes whatever the
 * file, beyond that BP_ONEHOT_PER_BYTE bytes per byte of the (inflated) input:
 * memory stays bounded by the file's size, and a typo in a label column cannot
 * ask for gigabytes.
 */
#ifndef BP_CLASSES_H
#define BP_CLASSES_H

#include <stddef.h>
#include <stdint.h>

#include "core/memory.h"

#define BP_MAX_CLASSES 65536
#define BP_ONEHOT_FREE ((size_t)16 << 20)
#define BP_ONEHOT_PER_BYTE 16

/* Whether n samples of `classes` one-hot floats stay within the bound for an input of
   input_bytes bytes. */
static inline int bp_onehot_fits(size_t n, size_t classes, size_t input_bytes)
{
    size_t cells, bytes;
    if (bp_mul_overflows(n, classes, &cells) || bp_mul_overflows(cells, sizeof(float), &bytes)) return 0;
    if (bytes <= BP_ONEHOT_FREE) return 1;
    return input_bytes <= (SIZE_MAX - BP_ONEHOT_FREE) / BP_ONEHOT_PER_BYTE
               ? bytes <= BP_ONEHOT_FREE + BP_ONEHOT_PER_BYTE * input_bytes
               : 1;
}

#endif
