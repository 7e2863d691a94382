/*
 * fuzz_model.c - libFuzzer harness for the .bpm model reader (bp_net_load_memory in
 * src/io/model_file.c).
 *
 * Input: an option byte, then the file image.
 *   bit 0  patch the size field and the CRC-32 first, so mutations get past the
 *          checksum and reach the chunk parser (without it they test the outer checks)
 *   bit 1  run a forward pass over two samples of a loaded (small) network
 * Checks: the status/message promise; on success a consistent network whose
 * re-encoding loads back and re-encodes to the same bytes; (sanitizer builds)
 * memory within a multiple of the file.
 */
#include <math.h>

#include "fuzz.h"
#include "io/model_file.h"

#define H "model"

int bp_fuzz_model(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned sel = data[0];
    size_t len = size - 1;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) return 0;
    if (len) memcpy(buf, data + 1, len);
    if (sel & 1) fuzz_fix_bpm(buf, len);

    FUZZ_MEM_BEGIN(before);
    bp_net *net = NULL;
    bp_error err = {BP_OK, ""};
    bp_status s = bp_net_load_memory(buf, len, "fuzz.bpm", &net, &err);
    fuzz_check_status(H, s, &err, "fuzz.bpm", NULL);
    FUZZ_CHECK(H, (s == BP_OK) == (net != NULL), "status %d with network %p", (int)s, (void *)net);
    if (net) {
        size_t L = bp_net_layer_count(net), count = 0;
        FUZZ_CHECK(H, L >= 1 && L <= BP_MAX_LAYERS, "%zu layers", L);
        for (size_t l = 1; l <= L; l++)
            count += bp_net_width(net, l) * bp_net_width(net, l - 1) + (bp_net_has_bias(net) ? bp_net_width(net, l) : 0);
        FUZZ_CHECK(H, count == bp_net_param_count(net), "%zu parameters for the shape, %zu stored",
                   count, bp_net_param_count(net));
        FUZZ_CHECK(H, 4 * count <= len, "%zu parameters from a %zu-byte file", count, len);
        const float *params = bp_net_params_const(net);
        for (size_t i = 0; i < count; i++)
            FUZZ_CHECK(H, isfinite(params[i]), "parameter %zu is %g", i, (double)params[i]);

        /* Encode, load, encode: the two encodings must be the same bytes. */
        bp_buffer a = {0}, b = {0};
        bp_model_encode(net, NULL, 0, &a);
        if (!a.failed) {
            bp_net *again = NULL;
            bp_error e2 = {BP_OK, ""};
            bp_status s2 = bp_net_load_memory(a.data, a.len, "fuzz-again.bpm", &again, &e2);
            FUZZ_CHECK(H, s2 == BP_OK, "a re-encoded model does not load: %s", e2.message);
            if (again) {
                bp_model_encode(again, NULL, 0, &b);
                FUZZ_CHECK(H, b.failed || (a.len == b.len && memcmp(a.data, b.data, a.len) == 0),
                           "re-encoding is not stable (%zu vs %zu bytes)", a.len, b.len);
            }
            bp_net_free(again);
        }
        bp_buffer_free(&a);
        bp_buffer_free(&b);

        if ((sel & 2) && count <= 65536) {
            size_t n0 = bp_net_width(net, 0), nL = bp_net_width(net, L);
            float *x = calloc(2 * n0, sizeof *x), *out = calloc(2 * nL, sizeof *out);
            if (x && out) {
                for (size_t i = 0; i < 2 * n0; i++) x[i] = (float)(i % 7) - 3.0f;
                bp_net_apply_input_transform(net, x, 2);
                bp_status fs = bp_net_forward(net, x, 2, out);
                FUZZ_CHECK(H, fs == BP_OK || fs == BP_ERR_NOMEM || fs == BP_ERR_NUMERIC,
                           "forward pass status %d", (int)fs);
            }
            free(x);
            free(out);
        }
    }
    bp_net_free(net);
    FUZZ_MEM_END(H, before, FUZZ_MEM_LIMIT(size));
    free(buf);
    return 0;
}

#ifndef BP_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return bp_fuzz_model(data, size); }
#endif

#undef H
