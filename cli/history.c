/*
 * history.c - the per-epoch metrics of a training run, and their encoding in a
 * checkpoint (see history.h).
 *
 * The encoding is little-endian whatever the host, so a checkpoint written on
 * one machine resumes on another.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

int history_alloc(train_history *h, size_t epochs)
{
    memset(h, 0, sizeof *h);
    h->cap = epochs;
    h->best_val = INFINITY;
    for (int c = 0; c < HISTORY_COLUMNS; c++)
        if (!(h->col[c] = calloc(epochs ? epochs : 1, sizeof(double)))) return 0;
    return 1;
}

void history_free(train_history *h)
{
    for (int c = 0; c < HISTORY_COLUMNS; c++) free(h->col[c]);
}

void history_add(train_history *h, const double *values)
{
    if (h->n >= h->cap) return;
    for (int c = 0; c < HISTORY_COLUMNS; c++) h->col[c][h->n] = values[c];
    h->n++;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

unsigned char *history_encode(const train_history *h, double validation, size_t *len)
{
    *len = 4 + 8 * 3 + 8 * HISTORY_COLUMNS * h->n + 8;
    unsigned char *b = malloc(*len), *p = b;
    if (!b) return NULL;
    memcpy(p, "BPH2", 4), p += 4;
    put64(p, h->n), p += 8;
    put64(p, h->best_epoch), p += 8;
    uint64_t u;
    memcpy(&u, &h->best_val, 8);
    put64(p, u), p += 8;
    for (size_t e = 0; e < h->n; e++)
        for (int c = 0; c < HISTORY_COLUMNS; c++) {
            memcpy(&u, &h->col[c][e], 8);
            put64(p, u), p += 8;
        }
    memcpy(&u, &validation, 8);
    put64(p, u);
    return b;
}

/* The epochs a well-formed block holds (0 when it is not one): version 1 ends after
   the rows, version 2 has the validation fraction after them. */
static int well_formed(const unsigned char *bytes, size_t len, uint64_t *n)
{
    if (!bytes || len < 28) return 0;
    const int v2 = memcmp(bytes, "BPH2", 4) == 0;
    if (!v2 && memcmp(bytes, "BPH1", 4) != 0) return 0;
    *n = get64(bytes + 4);
    return *n <= (len - 28) / (8 * HISTORY_COLUMNS) && len == 28 + 8 * HISTORY_COLUMNS * *n + (v2 ? 8 : 0);
}

int history_decode(train_history *h, const unsigned char *bytes, size_t len)
{
    uint64_t n;
    if (!well_formed(bytes, len, &n) || n > h->cap) return 0;
    h->n = (size_t)n;
    h->best_epoch = (size_t)get64(bytes + 12);
    uint64_t u = get64(bytes + 20);
    memcpy(&h->best_val, &u, 8);
    const unsigned char *p = bytes + 28;
    for (size_t e = 0; e < h->n; e++)
        for (int c = 0; c < HISTORY_COLUMNS; c++, p += 8) {
            u = get64(p);
            memcpy(&h->col[c][e], &u, 8);
        }
    return 1;
}

double history_validation(const unsigned char *bytes, size_t len)
{
    uint64_t n, u;
    if (!well_formed(bytes, len, &n) || memcmp(bytes, "BPH2", 4) != 0) return -1;
    u = get64(bytes + len - 8);
    double v;
    memcpy(&v, &u, 8);
    return v >= 0 && v < 1 ? v : -1;
}
