/*
 * test_history.c - the training history `backprop train` keeps in a checkpoint's
 * user chunk (cli/history.c): its bytes read back to the same values and the
 * run's validation fraction; version 1 blocks (before the fraction was kept)
 * still read; damaged ones are refused, never read past their end.
 *
 * The unit-test program links the library, not the program, so the cli file is
 * included here whole.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../cli/history.c"
#include "test.h"

void test_history_round_trip_keeps_the_validation_fraction(void)
{
    train_history h, back;
    CHECK(history_alloc(&h, 4) && history_alloc(&back, 4), "alloc");
    for (int e = 0; e < 3; e++) {
        double row[HISTORY_COLUMNS];
        for (int c = 0; c < HISTORY_COLUMNS; c++) row[c] = e * 10 + c + 0.5;
        row[HISTORY_TEST_LOSS] = NAN;
        history_add(&h, row);
    }
    h.best_epoch = 2;
    h.best_val = 0.125;
    size_t len = 0;
    unsigned char *b = history_encode(&h, 0.25, &len);
    CHECK(b && len == 28 + 8 * HISTORY_COLUMNS * 3 + 8, "length %zu", len);
    if (b) {
        CHECK(memcmp(b, "BPH2", 4) == 0, "version 2");
        CHECK(history_decode(&back, b, len), "decodes");
        CHECK(back.n == 3 && back.best_epoch == 2 && back.best_val == 0.125, "header");
        CHECK(back.col[HISTORY_TRAIN_LOSS][2] == 20.5 && isnan(back.col[HISTORY_TEST_LOSS][1]) &&
                  back.col[HISTORY_ELAPSED_SECONDS][0] == HISTORY_ELAPSED_SECONDS + 0.5,
              "values");
        CHECK(history_validation(b, len) == 0.25, "fraction %g", history_validation(b, len));
        /* Damaged: short by one byte, or one byte too long. */
        CHECK(!history_decode(&back, b, len - 1) && history_validation(b, len - 1) == -1, "truncated");
        unsigned char *longer = malloc(len + 1);
        if (longer) {
            memcpy(longer, b, len);
            longer[len] = 0;
            CHECK(!history_decode(&back, longer, len + 1), "trailing byte");
            free(longer);
        }
        /* More epochs than the history has room for. */
        train_history small;
        CHECK(history_alloc(&small, 2), "alloc");
        CHECK(!history_decode(&small, b, len), "too many epochs");
        history_free(&small);
        /* An epoch count that would overflow the length computation. */
        memset(b + 4, 0xff, 8);
        CHECK(!history_decode(&back, b, len) && history_validation(b, len) == -1, "huge count");
    }
    free(b);
    history_free(&h);
    history_free(&back);
}

void test_history_version_1_still_reads(void)
{
    train_history h, back;
    CHECK(history_alloc(&h, 2) && history_alloc(&back, 2), "alloc");
    double row[HISTORY_COLUMNS] = {1.5};
    history_add(&h, row);
    size_t len = 0;
    unsigned char *b = history_encode(&h, 0, &len);
    if (b) {
        /* Version 1 was version 2 without the last 8 bytes. */
        memcpy(b, "BPH1", 4);
        CHECK(history_decode(&back, b, len - 8), "version 1 decodes");
        CHECK(back.n == 1 && back.col[HISTORY_TRAIN_LOSS][0] == 1.5, "its values");
        CHECK(history_validation(b, len - 8) == -1, "no fraction recorded");
        CHECK(!history_decode(&back, b, len), "version 1 with 8 more bytes is damaged");
    }
    free(b);
    history_free(&h);
    history_free(&back);
}
