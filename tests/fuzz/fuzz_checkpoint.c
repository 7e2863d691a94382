/*
 * fuzz_checkpoint.c - libFuzzer harness for checkpoints (bp_checkpoint_load in
 * src/io/checkpoint.c, which decodes the trainer state (decode_trainer) and
 * hands it to core/trainer.c's bp_trainer_from_state).
 *
 * bp_checkpoint_load reads a file, so the input goes to a per-process file in
 * /dev/shm (or $TMPDIR). Input: an option byte, then the file image.
 *   bit  0    patch the size field and the CRC-32 first (see fuzz_model.c)
 *   bits 1-3  samples in the data set a loaded trainer resumes on: 1..8
 *   bit  4    resume training for up to three steps
 *   bit  5    save the loaded checkpoint, load that, save again: the files must match
 * Checks: the status/message promise; a loaded trainer that resumes without
 * crashing; stable re-saving; (sanitizer builds) memory within a multiple of the file.
 */
#include "fuzz.h"

#define H "checkpoint"

static unsigned char *read_back(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            size_t c = cap ? 2 * cap : 4096;
            unsigned char *b = realloc(buf, c);
            if (!b) break;
            buf = b;
            cap = c;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Resume on a small made-up data set of the network's shape. */
static void resume(bp_trainer *t, bp_net *net, size_t n)
{
    size_t L = bp_net_layer_count(net), n0 = bp_net_width(net, 0), nL = bp_net_width(net, L);
    if (bp_net_param_count(net) > 4096 || n0 > 256 || nL > 256) return;
    bp_dataset *d = NULL;
    if (bp_dataset_create(n, n0, nL, &d) != BP_OK) return;
    float *x = bp_dataset_x(d), *y = bp_dataset_y(d);
    for (size_t i = 0; i < n * n0; i++) x[i] = (float)(i % 5) * 0.25f - 0.5f;
    for (size_t r = 0; r < n; r++) y[r * nL + r % nL] = 1.0f;
    bp_epoch_stats stats;
    bp_status s = bp_trainer_run(t, d, 3, &stats);
    FUZZ_CHECK(H, s == BP_OK || s == BP_ERR_ARG || s == BP_ERR_NUMERIC || s == BP_ERR_NOMEM,
               "resuming returned status %d", (int)s);
    bp_dataset_free(d);
}

int bp_fuzz_checkpoint(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned sel = data[0];
    size_t len = size - 1;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) return 0;
    if (len) memcpy(buf, data + 1, len);
    if (sel & 1) fuzz_fix_bpm(buf, len);
    char path[256], again[256], third[256];
    fuzz_temp_path(path, sizeof path, "state.ckpt");
    fuzz_temp_path(again, sizeof again, "again.ckpt");
    fuzz_temp_path(third, sizeof third, "third.ckpt");
    int written = fuzz_write_file(path, buf, len);
    free(buf);
    if (!written) {
        remove(path);
        return 0;
    }

    FUZZ_MEM_BEGIN(before);
    bp_net *net = NULL;
    bp_trainer *t = NULL;
    void *user = NULL;
    size_t user_len = 0;
    bp_error err = {BP_OK, ""};
    bp_status s = bp_checkpoint_load(path, &net, &t, &user, &user_len, &err);
    fuzz_check_status(H, s, &err, path, NULL);
    FUZZ_CHECK(H, (s == BP_OK) == (net != NULL && t != NULL), "status %d with network %p, trainer %p",
               (int)s, (void *)net, (void *)t);
    if (s != BP_OK) FUZZ_CHECK(H, !net && !t && !user, "a failed load handed something back");
    if (s == BP_OK) {
        FUZZ_CHECK(H, user_len <= len, "%zu user bytes from a %zu-byte file", user_len, len);
        if (sel & 0x20) {
            bp_error e2 = {BP_OK, ""};
            bp_status s2 = bp_checkpoint_save(t, again, user, user_len, &e2);
            FUZZ_CHECK(H, s2 == BP_OK, "saving a loaded checkpoint failed: %s", e2.message);
            bp_net *net2 = NULL;
            bp_trainer *t2 = NULL;
            void *user2 = NULL;
            size_t user2_len = 0;
            if (s2 == BP_OK) {
                s2 = bp_checkpoint_load(again, &net2, &t2, &user2, &user2_len, &e2);
                FUZZ_CHECK(H, s2 == BP_OK, "a re-saved checkpoint does not load: %s", e2.message);
            }
            if (s2 == BP_OK) {
                s2 = bp_checkpoint_save(t2, third, user2, user2_len, &e2);
                FUZZ_CHECK(H, s2 == BP_OK, "saving a reloaded checkpoint failed: %s", e2.message);
                size_t la = 0, lb = 0;
                unsigned char *a = read_back(again, &la), *b = read_back(third, &lb);
                FUZZ_CHECK(H, a && b && la == lb && memcmp(a, b, la) == 0,
                           "re-saving is not stable (%zu vs %zu bytes)", la, lb);
                free(a);
                free(b);
            }
            bp_trainer_free(t2);
            bp_net_free(net2);
            free(user2);
            remove(again);
            remove(third);
        }
        if (sel & 0x10) resume(t, net, 1 + ((sel >> 1) & 7));
    }
    bp_trainer_free(t);
    bp_net_free(net);
    free(user);
    FUZZ_MEM_END(H, before, FUZZ_MEM_LIMIT(size));
    remove(path);
    return 0;
}

#ifndef BP_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return bp_fuzz_checkpoint(data, size); }
#endif

#undef H
