/*
 * model_file.c - saving and loading networks as .bpm files.
 *
 * Layout (all integers little-endian; docs/FORMATS.md is the full reference):
 *
 *   0   8 bytes  magic "\x89BPM\r\n\x1a\n" (catches text-mode and 7-bit mangling)
 *   8   u32      format version (1)
 *   12  u32      reserved, 0
 *   16  u64      total file size in bytes (catches truncation before anything else)
 *   24  chunks   each: 4-byte tag, u64 payload length, payload
 *   end u32      CRC-32 of every byte before it
 *
 * Chunks in version 1: "ARCH" (shape, activations, loss, bias), "PARM" (the
 * parameter block as float32), "PREP" (the input transform, when there is one)
 * and "clss" (class names, optional). A chunk whose tag starts with a lowercase
 * letter is optional and skipped by readers that do not know it; an unknown
 * uppercase chunk is refused, so old readers never misread new files.
 *
 * The whole file is read into memory (its size is known, so nothing beyond it
 * is ever allocated) and checked before any network is built. Writing goes to
 * a temporary file in the same directory, synced, then renamed over the
 * target, so a crash leaves either the old file or the new one.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "fileio.h"
#include "model_file.h"
#include "core/activation.h"
#include "core/memory.h"
#include "core/network.h"
#include "core/status.h"

static const unsigned char MAGIC[8] = {0x89, 'B', 'P', 'M', '\r', '\n', 0x1a, '\n'};
#define VERSION 1u
#define HEADER_SIZE 24u
#define CHUNK_HEADER 12u
/* Fixed part of ARCH: L, hidden, output, loss, bias (u32 each) and the leaky slope (f32). */
#define ARCH_FIXED 24u
/* Refuse files larger than this outright: no real model comes near it. */
#define MAX_FILE_SIZE ((size_t)1 << 36)

/* ------------------------------------------------------------------ write */

static void put_u32(bp_buffer *b, uint32_t v)
{
    unsigned char bytes[4];
    bp_put_u32(bytes, v);
    bp_buffer_append(b, bytes, 4);
}

static void put_u64(bp_buffer *b, uint64_t v)
{
    unsigned char bytes[8];
    bp_put_u64(bytes, v);
    bp_buffer_append(b, bytes, 8);
}

static void put_floats(bp_buffer *b, const float *v, size_t n)
{
    unsigned char bytes[4];
    for (size_t i = 0; i < n; i++) {
        bp_put_f32(bytes, v[i]);
        bp_buffer_append(b, bytes, 4);
    }
}

static void chunk_header(bp_buffer *b, const char *tag, uint64_t len)
{
    bp_buffer_append(b, tag, 4);
    put_u64(b, len);
}

void bp_model_encode(const bp_net *net, const bp_chunk *extra, size_t n_extra, bp_buffer *out)
{
    size_t L = net->n_layers, n0 = net->sizes[0], nL = net->sizes[L];
    bp_buffer b = {0};
    bp_buffer_append(&b, MAGIC, 8);
    put_u32(&b, VERSION);
    put_u32(&b, 0);
    put_u64(&b, 0); /* total size, patched below */

    chunk_header(&b, "ARCH", ARCH_FIXED + 8 * (L + 1));
    put_u32(&b, (uint32_t)L);
    put_u32(&b, (uint32_t)net->hidden);
    put_u32(&b, (uint32_t)net->output);
    put_u32(&b, (uint32_t)net->loss);
    put_u32(&b, (uint32_t)net->bias);
    put_floats(&b, (const float[]){BP_LEAKY_SLOPE}, 1);
    for (size_t l = 0; l <= L; l++) put_u64(&b, net->sizes[l]);

    if (net->input_shift) {
        /* Required when present: predictions are wrong without it. */
        chunk_header(&b, "PREP", 8 + 8 * (uint64_t)n0);
        put_u64(&b, n0);
        put_floats(&b, net->input_shift, n0);
        put_floats(&b, net->input_scale, n0);
    }
    if (net->class_names) {
        /* Optional: only for printing. u32 count, then u32 length + bytes per name. */
        uint64_t len = 4;
        for (size_t k = 0; k < nL; k++) len += 4 + strlen(net->class_names[k]);
        chunk_header(&b, "clss", len);
        put_u32(&b, (uint32_t)nL);
        for (size_t k = 0; k < nL; k++) {
            size_t n = strlen(net->class_names[k]);
            put_u32(&b, (uint32_t)n);
            bp_buffer_append(&b, net->class_names[k], n);
        }
    }

    chunk_header(&b, "PARM", 8 + 4 * (uint64_t)net->n_params);
    put_u64(&b, net->n_params);
    put_floats(&b, net->params, net->n_params);

    for (size_t i = 0; i < n_extra; i++) {
        chunk_header(&b, extra[i].tag, extra[i].len);
        bp_buffer_append(&b, extra[i].data, extra[i].len);
    }
    if (!b.failed) {
        bp_put_u64((unsigned char *)b.data + 16, b.len + 4);
        put_u32(&b, bp_crc32(0, b.data, b.len));
    }
    *out = b;
}

bp_status bp_net_save(const bp_net *net, const char *path, bp_error *err)
{
    if (!net || !path) return bp_fail(err, BP_ERR_ARG, "no network or path given");
    bp_buffer b;
    bp_model_encode(net, NULL, 0, &b);
    bp_status s = b.failed ? bp_fail(err, BP_ERR_NOMEM, "out of memory saving %s", path)
                           : bp_write_file_atomic(path, b.data, b.len, err);
    bp_buffer_free(&b);
    return s;
}

/* ------------------------------------------------------------------- read */

static bp_status parse_arch(const unsigned char *p, uint64_t len, uint64_t at, const char *name,
                            bp_net_config *c, size_t *sizes, bp_error *err)
{
    if (len < ARCH_FIXED)
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": ARCH chunk too short", name, at);
    uint32_t L = bp_get_u32(p);
    if (L < 1 || L > BP_MAX_LAYERS)
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": %u layers (must be 1 to %d)", name,
                       at, L, BP_MAX_LAYERS);
    if (len != ARCH_FIXED + 8ull * (L + 1))
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": ARCH chunk length %" PRIu64 " does not match %u layers",
                       name, at, len, L);
    uint32_t hidden = bp_get_u32(p + 4), output = bp_get_u32(p + 8), loss = bp_get_u32(p + 12),
             bias = bp_get_u32(p + 16);
    if (hidden > BP_ACT_SOFTMAX || output > BP_ACT_SOFTMAX || loss > BP_LOSS_BCE || bias > 1)
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": unknown activation, loss or bias code",
                       name, at + 4);
    if (bp_get_f32(p + 20) != BP_LEAKY_SLOPE)
        return bp_fail(err, BP_ERR_UNSUPPORTED, "%s: byte %" PRIu64 ": leaky ReLU slope %g is not supported",
                       name, at + 20, (double)bp_get_f32(p + 20));
    for (uint32_t l = 0; l <= L; l++) {
        uint64_t w = bp_get_u64(p + ARCH_FIXED + 8 * l);
        if (w < 1 || w > BP_MAX_WIDTH)
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": layer %u has width %" PRIu64 " (must be 1 to %d)",
                           name, at + ARCH_FIXED + 8 * l, l, w, BP_MAX_WIDTH);
        sizes[l] = (size_t)w;
    }
    c->n_layers = L;
    c->sizes = sizes;
    c->hidden = (bp_activation)hidden;
    c->output = (bp_activation)output;
    c->loss = (bp_loss)loss;
    c->bias = (int)bias;
    return BP_OK;
}

/* The optional class names: u32 count (= n_L), then u32 length and bytes per name. */
static bp_status parse_classes(bp_net *net, const unsigned char *p, uint64_t len, uint64_t at,
                               const char *name, bp_error *err)
{
    size_t nL = net->sizes[net->n_layers];
    if (bp_get_u32(p) != nL)
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": %u class names for %zu outputs", name,
                       at, bp_get_u32(p), nL);
    /* The names are no longer than the chunk: one block of that size holds them all. */
    char *text = malloc((size_t)len + nL);
    const char **names = malloc(nL * sizeof *names);
    bp_status s = BP_OK;
    if (!text || !names) {
        s = bp_fail(err, BP_ERR_NOMEM, "%s: out of memory for class names", name);
    } else {
        uint64_t pos = 4;
        char *dst = text;
        for (size_t k = 0; k < nL && s == BP_OK; k++) {
            if (len - pos < 4) {
                s = bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": class names cut short", name, at + pos);
                break;
            }
            uint32_t n = bp_get_u32(p + pos);
            pos += 4;
            if (n > len - pos || memchr(p + pos, 0, n)) {
                s = bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": malformed class name", name, at + pos);
                break;
            }
            memcpy(dst, p + pos, n);
            dst[n] = '\0';
            names[k] = dst;
            dst += n + 1;
            pos += n;
        }
        if (s == BP_OK && pos != len)
            s = bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": trailing bytes after the class names",
                        name, at + pos);
        if (s == BP_OK && bp_net_set_class_names(net, names, nL) != BP_OK)
            s = bp_fail(err, BP_ERR_NOMEM, "%s: out of memory for class names", name);
    }
    free(text);
    free(names);
    return s;
}

bp_status bp_net_load_memory(const void *data, size_t size, const char *name, bp_net **out,
                             bp_error *err)
{
    return bp_model_decode(data, size, name, out, NULL, 0, err);
}

bp_status bp_model_decode(const void *data, size_t size, const char *name, bp_net **out,
                          bp_chunk *found, size_t n_found, bp_error *err)
{
    for (size_t i = 0; i < n_found; i++) {
        found[i].data = NULL;
        found[i].len = 0;
    }
    if (!out) return bp_fail(err, BP_ERR_ARG, "no place to store the network");
    *out = NULL;
    if (!name) name = "model";
    const unsigned char *buf = data;
    if (!buf || size < 8 || memcmp(buf, MAGIC, 8) != 0)
        return bp_fail(err, BP_ERR_FORMAT, "%s: not a backprop model file (.bpm): wrong magic number",
                       name);
    if (size < HEADER_SIZE + 4)
        return bp_fail(err, BP_ERR_FORMAT, "%s: truncated: %zu bytes is shorter than a model file's header",
                       name, size);
    uint32_t version = bp_get_u32(buf + 8);
    if (version != VERSION)
        return bp_fail(err, BP_ERR_UNSUPPORTED,
                       "%s: model format version %u; this backprop reads version %u", name,
                       version, VERSION);
    uint64_t declared = bp_get_u64(buf + 16);
    if (declared != size)
        return bp_fail(err, BP_ERR_FORMAT, "%s: file is %zu bytes but its header says %" PRIu64 ": %s", name,
                       size, declared,
                       declared > size ? "truncated" : "trailing data");
    uint32_t stored = bp_get_u32(buf + size - 4), actual = bp_crc32(0, buf, size - 4);
    if (stored != actual)
        return bp_fail(err, BP_ERR_FORMAT, "%s: checksum mismatch (stored %08x, computed %08x): the file is damaged",
                       name, stored, actual);

    /* parse_arch fills both before have_arch is set; they start empty (0 layers, which
       bp_net_config_check refuses) because the analyzer cannot see that bp_fail returns
       its status argument, and so follows paths where a failed parse_arch "succeeded". */
    size_t sizes[BP_MAX_LAYERS + 1] = {0};
    bp_net_config config = {.sizes = sizes};
    int have_arch = 0;
    const unsigned char *params = NULL, *prep = NULL, *classes = NULL;
    uint64_t params_at = 0, params_count = 0, prep_at = 0, prep_count = 0, classes_len = 0,
             classes_at = 0;
    uint64_t pos = HEADER_SIZE, end = size - 4;
    while (pos < end) {
        if (end - pos < CHUNK_HEADER)
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": chunk header cut short", name, pos);
        const unsigned char *tag = buf + pos;
        uint64_t len = bp_get_u64(buf + pos + 4);
        uint64_t body = pos + CHUNK_HEADER;
        if (len > end - body)
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": chunk length %" PRIu64 " runs past the end of the file",
                           name, pos + 4, len);
        if (memcmp(tag, "ARCH", 4) == 0) {
            if (have_arch)
                return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": second ARCH chunk", name, pos);
            bp_status s = parse_arch(buf + body, len, body, name, &config, sizes, err);
            if (s != BP_OK) return s;
            have_arch = 1;
        } else if (memcmp(tag, "PARM", 4) == 0) {
            if (len < 8 || (len - 8) % 4 != 0 || params)
                return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": malformed PARM chunk", name, pos);
            params_count = bp_get_u64(buf + body);
            if (params_count != (len - 8) / 4)
                return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": PARM says %" PRIu64 " parameters but holds %" PRIu64,
                               name, body, params_count, (len - 8) / 4);
            params = buf + body + 8;
            params_at = body + 8;
        } else if (memcmp(tag, "PREP", 4) == 0) {
            if (len < 8 || prep || (len - 8) % 8 != 0 || bp_get_u64(buf + body) != (len - 8) / 8)
                return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": malformed PREP chunk", name, pos);
            prep = buf + body + 8;
            prep_at = body + 8;
            prep_count = (len - 8) / 8;
        } else if (memcmp(tag, "clss", 4) == 0) {
            if (len < 4 || classes)
                return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": malformed clss chunk", name, pos);
            classes = buf + body;
            classes_len = len;
            classes_at = body;
        } else if (tag[0] >= 'a' && tag[0] <= 'z') {
            /* Optional: handed to the caller if it asked for this tag, else skipped. */
            for (size_t i = 0; i < n_found; i++)
                if (memcmp(found[i].tag, tag, 4) == 0 && !found[i].data) {
                    found[i].data = buf + body;
                    found[i].len = (size_t)len;
                }
        } else {
            return bp_fail(err, BP_ERR_UNSUPPORTED,
                           "%s: byte %" PRIu64 ": unknown required chunk \"%c%c%c%c\"; a newer backprop wrote this file",
                           name, pos, tag[0] >= 32 && tag[0] < 127 ? tag[0] : '?',
                           tag[1] >= 32 && tag[1] < 127 ? tag[1] : '?',
                           tag[2] >= 32 && tag[2] < 127 ? tag[2] : '?',
                           tag[3] >= 32 && tag[3] < 127 ? tag[3] : '?');
        }
        pos = body + len;
    }
    if (!have_arch || !params)
        return bp_fail(err, BP_ERR_FORMAT, "%s: missing %s chunk", name, have_arch ? "PARM" : "ARCH");

    size_t expected;
    if (bp_count_params(config.n_layers, config.sizes, config.bias, &expected) != BP_OK ||
        expected != params_count)
        return bp_fail(err, BP_ERR_FORMAT,
                       "%s: byte %" PRIu64 ": %" PRIu64 " parameters stored, but the architecture needs %zu", name,
                       params_at, params_count, expected);
    bp_error check = {0};
    if (bp_net_config_check(&config, &check) != BP_OK)
        return bp_fail(err, BP_ERR_FORMAT, "%s: the stored network is invalid: %s", name, check.message);
    if (prep && prep_count != config.sizes[0])
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": input transform for %" PRIu64 " inputs, but the network has %zu",
                       name, prep_at, prep_count, config.sizes[0]);
    bp_net *net = NULL;
    bp_status s = bp_net_alloc(&config, &net, err);
    if (s != BP_OK) return s;
    if (prep) {
        size_t n0 = config.sizes[0];
        float *shift = malloc(n0 * sizeof(float)), *scale = malloc(n0 * sizeof(float));
        if (shift && scale) {
            for (size_t i = 0; i < n0; i++) {
                shift[i] = bp_get_f32(prep + 4 * i);
                scale[i] = bp_get_f32(prep + 4 * (n0 + i));
            }
            s = bp_net_set_input_transform(net, shift, scale);
        } else {
            s = BP_ERR_NOMEM;
        }
        free(shift);
        free(scale);
        if (s != BP_OK) {
            bp_net_free(net);
            return bp_fail(err, s == BP_ERR_NOMEM ? s : BP_ERR_FORMAT, "%s: byte %" PRIu64 ": %s", name,
                           prep_at,
                           s == BP_ERR_NOMEM ? "out of memory" : "input transform is not finite");
        }
    }
    if (classes) {
        s = parse_classes(net, classes, classes_len, classes_at, name, err);
        if (s != BP_OK) {
            bp_net_free(net);
            return s;
        }
    }
    for (size_t i = 0; i < net->n_params; i++) {
        float v = bp_get_f32(params + 4 * i);
        if (!(v == v) || v - v != 0.0f) { /* NaN or infinity */
            bp_net_free(net);
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": parameter %zu is not a finite number",
                           name, params_at + 4 * i, i);
        }
        net->params[i] = v;
    }
    *out = net;
    return BP_OK;
}

bp_status bp_net_load(const char *path, bp_net **out, bp_error *err)
{
    if (!path || !out) return bp_fail(err, BP_ERR_ARG, "no path or output given");
    *out = NULL;
    unsigned char *buf = NULL;
    size_t size = 0;
    bp_status s = bp_read_file(path, MAX_FILE_SIZE, &buf, &size, err);
    if (s != BP_OK) return s;
    s = bp_net_load_memory(buf, size, path, out, err);
    free(buf);
    return s;
}
