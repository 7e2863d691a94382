/*
 * model_file.h - the .bpm container, for files that carry more than a model
 * (checkpoints add the trainer's state as an optional chunk).
 */
#ifndef BP_MODEL_FILE_H
#define BP_MODEL_FILE_H

#include "backprop.h"
#include "fileio.h"

/* An extra chunk: a 4-byte tag (lowercase first letter: optional, skipped by readers
   that do not know it) and its payload. */
typedef struct {
    char tag[4];
    const void *data;
    size_t len;
} bp_chunk;

/* The complete file bytes for net plus the extra chunks (out->failed on no memory). */
void bp_model_encode(const bp_net *net, const bp_chunk *extra, size_t n_extra, bp_buffer *out);

/* Decode a file held in memory. For each found[i] whose tag appears as an optional chunk,
   data/len point into `data` (NULL/0 when absent). */
bp_status bp_model_decode(const void *data, size_t size, const char *name, bp_net **out,
                          bp_chunk *found, size_t n_found, bp_error *err);

#endif
