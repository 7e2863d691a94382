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
 * "clss" (class names, optional) and "drop" (the hidden layers' dropout
 * probabilities, optional: old readers skip it and get the same model for
 * inference, which is all dropout leaves behind). A chunk whose tag starts with a lowercase
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

#include "binary.h"
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
#define MAX_FILE_SIZE ((size_t)(UINT64_C(1) << 36 < SIZE_MAX ? UINT64_C(1) << 36 : SIZE_MAX)) /* 32-bit: SIZE_MAX */

/* ------------------------------------------------------------------ write */

static void chunk_header(bp_buffer *b, const char *tag, uint64_t len)
{
    bp_buffer_append(b, tag, 4);
    bp_write_u64(b, len);
}

void bp_model_encode(const bp_net *net, const bp_chunk *extra, size_t n_extra, bp_buffer *out)
{
    size_t L = net->n_layers, n0 = net->sizes[0], nL = net->sizes[L];
    bp_buffer b = {0};
    bp_buffer_append(&b, MAGIC, 8);
    bp_write_u32(&b, VERSION);
    bp_write_u32(&b, 0);
    bp_write_u64(&b, 0); /* total size, patched below */

    chunk_header(&b, "ARCH", ARCH_FIXED + 8 * (L + 1));
    bp_write_u32(&b, (uint32_t)L);
    bp_write_u32(&b, (uint32_t)net->hidden);
    bp_write_u32(&b, (uint32_t)net->output);
    bp_write_u32(&b, (uint32_t)net->loss);
    bp_write_u32(&b, (uint32_t)net->bias);
    bp_write_f32s(&b, (const float[]){BP_LEAKY_SLOPE}, 1);
    for (size_t l = 0; l <= L; l++) bp_write_u64(&b, net->sizes[l]);

    if (net->input_shift) {
        /* Required when present: predictions are wrong without it. */
        chunk_header(&b, "PREP", 8 + 8 * (uint64_t)n0);
        bp_write_u64(&b, n0);
        bp_write_f32s(&b, net->input_shift, n0);
        bp_write_f32s(&b, net->input_scale, n0);
    }
    if (net->class_names) {
        /* Optional: only for printing. u32 count, then u32 length + bytes per name. */
        uint64_t len = 4;
        for (size_t k = 0; k < nL; k++) len += 4 + strlen(net->class_names[k]);
        chunk_header(&b, "clss", len);
        bp_write_u32(&b, (uint32_t)nL);
        for (size_t k = 0; k < nL; k++) {
            size_t n = strlen(net->class_names[k]);
            bp_write_u32(&b, (uint32_t)n);
            bp_buffer_append(&b, net->class_names[k], n);
        }
    }

    if (net->has_dropout) {
        /* Optional: u32 count (L - 1), then p^1 .. p^(L-1) as float32. */
        chunk_header(&b, "drop", 4 + 4 * (uint64_t)(L - 1));
        bp_write_u32(&b, (uint32_t)(L - 1));
        bp_write_f32s(&b, net->dropout + 1, L - 1);
    }

    chunk_header(&b, "PARM", 8 + 4 * (uint64_t)net->n_params);
    bp_write_u64(&b, net->n_params);
    bp_write_f32s(&b, net->params, net->n_params);

    for (size_t i = 0; i < n_extra; i++) {
        chunk_header(&b, extra[i].tag, extra[i].len);
        bp_buffer_append(&b, extra[i].data, extra[i].len);
    }
    if (!b.failed) {
        bp_put_u64((unsigned char *)b.data + 16, b.len + 4);
        bp_write_u32(&b, bp_crc32(0, b.data, b.len));
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
    if (!data) return bp_fail(err, BP_ERR_ARG, "%s: no bytes given", name ? name : "model");
    return bp_model_decode(data, size, name, out, NULL, 0, err);
}

/* The file's frame: magic, version, declared size and checksum. */
static bp_status check_frame(const unsigned char *buf, size_t size, const char *name, bp_error *err)
{
    if (!buf || size < 8 || memcmp(buf, MAGIC, 8) != 0)
        return bp_fail(err, BP_ERR_FORMAT, "%s: not a backprop model file (.bpm): wrong magic number", name);
    if (size < HEADER_SIZE + 4)
        return bp_fail(err, BP_ERR_FORMAT, "%s: truncated: %zu bytes is shorter than a model file's header", name,
                       size);
    const uint32_t version = bp_get_u32(buf + 8);
    if (version != VERSION)
        return bp_fail(err, BP_ERR_UNSUPPORTED, "%s: model format version %u; this backprop reads version %u", name,
                       version, VERSION);
    const uint64_t declared = bp_get_u64(buf + 16);
    if (declared != size)
        return bp_fail(err, BP_ERR_FORMAT, "%s: file is %zu bytes but its header says %" PRIu64 ": %s", name, size,
                       declared, declared > size ? "truncated" : "trailing data");
    const uint32_t stored = bp_get_u32(buf + size - 4), actual = bp_crc32(0, buf, size - 4);
    if (stored != actual)
        return bp_fail(err, BP_ERR_FORMAT, "%s: checksum mismatch (stored %08x, computed %08x): the file is damaged",
                       name, stored, actual);
    return BP_OK;
}

/* Where the known chunks are in the file, as the chunk loop finds them. */
typedef struct {
    size_t sizes[BP_MAX_LAYERS + 1];
    bp_net_config config;
    int have_arch;
    const unsigned char *params, *prep, *classes, *drop;
    uint64_t params_at, params_count, prep_at, prep_count, classes_at, classes_len, drop_at, drop_count;
    double dropout[BP_MAX_LAYERS];
} model_chunks;

/* PARM: u64 count, then the parameter block as float32. */
static bp_status take_params(model_chunks *c, const unsigned char *buf, uint64_t pos, uint64_t body, uint64_t len,
                             const char *name, bp_error *err)
{
    if (len < 8 || (len - 8) % 4 != 0 || c->params)
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": malformed PARM chunk", name, pos);
    c->params_count = bp_get_u64(buf + body);
    if (c->params_count != (len - 8) / 4)
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": PARM says %" PRIu64 " parameters but holds %" PRIu64,
                       name, body, c->params_count, (len - 8) / 4);
    c->params = buf + body + 8;
    c->params_at = body + 8;
    return BP_OK;
}

/* An uppercase tag nobody here knows: a newer format's required chunk. */
static bp_status unknown_chunk(const unsigned char *tag, uint64_t pos, const char *name, bp_error *err)
{
    char shown[5];
    for (int i = 0; i < 4; i++) shown[i] = tag[i] >= 32 && tag[i] < 127 ? (char)tag[i] : '?';
    shown[4] = '\0';
    return bp_fail(err, BP_ERR_UNSUPPORTED, "%s: byte %" PRIu64 ": unknown required chunk \"%s\"; a newer backprop wrote this file",
                   name, pos, shown);
}

/* One chunk, whose body is buf[body, body + len). */
static bp_status take_chunk(model_chunks *c, const unsigned char *buf, uint64_t pos, uint64_t len, bp_chunk *found,
                            size_t n_found, const char *name, bp_error *err)
{
    const unsigned char *tag = buf + pos;
    const uint64_t body = pos + CHUNK_HEADER;
    if (memcmp(tag, "ARCH", 4) == 0) {
        if (c->have_arch) return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": second ARCH chunk", name, pos);
        bp_status s = parse_arch(buf + body, len, body, name, &c->config, c->sizes, err);
        c->have_arch = s == BP_OK;
        return s;
    }
    if (memcmp(tag, "PARM", 4) == 0) return take_params(c, buf, pos, body, len, name, err);
    if (memcmp(tag, "PREP", 4) == 0) {
        if (len < 8 || c->prep || (len - 8) % 8 != 0 || bp_get_u64(buf + body) != (len - 8) / 8)
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": malformed PREP chunk", name, pos);
        c->prep = buf + body + 8;
        c->prep_at = body + 8;
        c->prep_count = (len - 8) / 8;
        return BP_OK;
    }
    if (memcmp(tag, "clss", 4) == 0) {
        if (len < 4 || c->classes)
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": malformed clss chunk", name, pos);
        c->classes = buf + body;
        c->classes_len = len;
        c->classes_at = body;
        return BP_OK;
    }
    if (memcmp(tag, "drop", 4) == 0) {
        if (len < 4 || c->drop || bp_get_u32(buf + body) != (len - 4) / 4 || (len - 4) % 4 != 0)
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": malformed drop chunk", name, pos);
        c->drop = buf + body + 4;
        c->drop_at = body + 4;
        c->drop_count = (len - 4) / 4;
        return BP_OK;
    }
    if (!(tag[0] >= 'a' && tag[0] <= 'z')) return unknown_chunk(tag, pos, name, err);
    /* Optional: handed to the caller if it asked for this tag, else skipped. */
    for (size_t i = 0; i < n_found; i++)
        if (memcmp(found[i].tag, tag, 4) == 0 && !found[i].data) {
            found[i].data = buf + body;
            found[i].len = (size_t)len;
        }
    return BP_OK;
}

/* Every chunk between the header and the checksum, then what they must agree on. */
static bp_status read_chunks(model_chunks *c, const unsigned char *buf, size_t size, bp_chunk *found, size_t n_found,
                             const char *name, bp_error *err)
{
    const uint64_t end = size - 4;
    for (uint64_t pos = HEADER_SIZE; pos < end;) {
        if (end - pos < CHUNK_HEADER)
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": chunk header cut short", name, pos);
        const uint64_t len = bp_get_u64(buf + pos + 4), body = pos + CHUNK_HEADER;
        if (len > end - body)
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": chunk length %" PRIu64 " runs past the end of the file",
                           name, pos + 4, len);
        bp_status s = take_chunk(c, buf, pos, len, found, n_found, name, err);
        if (s != BP_OK) return s;
        pos = body + len;
    }
    if (!c->have_arch || !c->params)
        return bp_fail(err, BP_ERR_FORMAT, "%s: missing %s chunk", name, c->have_arch ? "PARM" : "ARCH");
    size_t expected;
    if (bp_count_params(c->config.n_layers, c->config.sizes, c->config.bias, &expected) != BP_OK ||
        expected != c->params_count)
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": %" PRIu64 " parameters stored, but the architecture needs %zu",
                       name, c->params_at, c->params_count, expected);
    bp_error check = {0};
    if (bp_net_config_check(&c->config, &check) != BP_OK)
        return bp_fail(err, BP_ERR_FORMAT, "%s: the stored network is invalid: %s", name, check.message);
    if (c->prep && c->prep_count != c->config.sizes[0])
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": input transform for %" PRIu64 " inputs, but the network has %zu",
                       name, c->prep_at, c->prep_count, c->config.sizes[0]);
    return BP_OK;
}

/* PREP: the input transform, n_0 shifts then n_0 scales. */
static bp_status load_prep(bp_net *net, const model_chunks *c, const char *name, bp_error *err)
{
    const size_t n0 = c->config.sizes[0] ? c->config.sizes[0] : 1; /* checked >= 1 already */
    float *shift = malloc(n0 * sizeof(float)), *scale = malloc(n0 * sizeof(float));
    bp_status s = BP_ERR_NOMEM;
    if (shift && scale) {
        for (size_t i = 0; i < n0; i++) {
            shift[i] = bp_get_f32(c->prep + 4 * i);
            scale[i] = bp_get_f32(c->prep + 4 * (n0 + i));
        }
        s = bp_net_set_input_transform(net, shift, scale);
    }
    free(shift);
    free(scale);
    if (s == BP_OK) return BP_OK;
    return bp_fail(err, s == BP_ERR_NOMEM ? s : BP_ERR_FORMAT, "%s: byte %" PRIu64 ": %s", name, c->prep_at,
                   s == BP_ERR_NOMEM ? "out of memory" : "input transform is not finite");
}

/* PARM's values into the network, every one finite. */
static bp_status load_params(bp_net *net, const model_chunks *c, const char *name, bp_error *err)
{
    if (!c->params) return BP_ERR_FORMAT; /* read_chunks refused that already */
    for (size_t i = 0; i < net->n_params; i++) {
        const float v = bp_get_f32(c->params + 4 * i);
        if (!(v == v) || v - v != 0.0f) /* NaN or infinity */
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": parameter %zu is not a finite number", name,
                           c->params_at + 4 * i, i);
        net->params[i] = v;
    }
    return BP_OK;
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
    bp_status s = check_frame(buf, size, name, err);
    if (s != BP_OK) return s;
    /* parse_arch fills the sizes before have_arch is set; they start empty (0 layers, which
       bp_net_config_check refuses) because the analyzer cannot see that bp_fail returns
       its status argument, and so follows paths where a failed parse_arch "succeeded". */
    model_chunks c;
    memset(&c, 0, sizeof c);
    c.config.sizes = c.sizes;
    s = read_chunks(&c, buf, size, found, n_found, name, err);
    if (s != BP_OK) return s;
    if (c.drop) {
        /* The dropout probabilities: one per hidden layer, each in [0, 1). */
        if (c.drop_count + 1 != c.config.n_layers)
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": dropout for %" PRIu64 " hidden layers, but the "
                           "network has %zu", name, c.drop_at, c.drop_count, c.config.n_layers - 1);
        for (size_t l = 0; l < c.drop_count; l++) {
            c.dropout[l] = bp_get_f32(c.drop + 4 * l);
            if (!(c.dropout[l] >= 0 && c.dropout[l] < 1))
                return bp_fail(err, BP_ERR_FORMAT, "%s: byte %" PRIu64 ": dropout %g is outside [0, 1)", name,
                               c.drop_at + 4 * l, c.dropout[l]);
        }
        c.config.dropout = c.dropout;
    }
    bp_net *net = NULL;
    s = bp_net_alloc(&c.config, &net, err);
    if (s != BP_OK) return s;
    if (c.prep) s = load_prep(net, &c, name, err);
    if (s == BP_OK && c.classes) s = parse_classes(net, c.classes, c.classes_len, c.classes_at, name, err);
    if (s == BP_OK) s = load_params(net, &c, name, err);
    if (s != BP_OK) {
        bp_net_free(net);
        return s;
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
