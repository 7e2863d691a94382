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
 * Chunks in version 1: "ARCH" (shape, activations, loss, bias) and "PARM" (the
 * parameter block as float32). A chunk whose tag starts with a lowercase
 * letter is optional and skipped by readers that do not know it; an unknown
 * uppercase chunk is refused, so old readers never misread new files.
 *
 * The whole file is read into memory (its size is known, so nothing beyond it
 * is ever allocated) and checked before any network is built. Writing goes to
 * a temporary file in the same directory, synced, then renamed over the
 * target, so a crash leaves either the old file or the new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "net_internal.h"

static const unsigned char MAGIC[8] = {0x89, 'B', 'P', 'M', '\r', '\n', 0x1a, '\n'};
#define VERSION 1u
#define HEADER_SIZE 24u
#define CHUNK_HEADER 12u
/* Fixed part of ARCH: L, hidden, output, loss, bias (u32 each) and the leaky slope (f32). */
#define ARCH_FIXED 24u
/* Refuse files larger than this outright: no real model comes near it. */
#define MAX_FILE_SIZE ((uint64_t)1 << 36)

uint32_t bp_crc32(uint32_t crc, const void *data, size_t len)
{
    /* Nibble-at-a-time table for the reflected polynomial 0xEDB88320. */
    static const uint32_t table[16] = {
        0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4,
        0x4DB26158, 0x5005713C, 0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
        0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C};
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ table[crc & 15];
        crc = (crc >> 4) ^ table[crc & 15];
    }
    return ~crc;
}

/* ------------------------------------------------------------------ write */

static int sync_directory_of(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t len = (size_t)(slash - path);
        if (len == 0) len = 1; /* the root directory */
        if (len >= sizeof dir) return -1;
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    int fd = open(dir, O_RDONLY);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static bp_status write_atomically(const char *path, const unsigned char *buf, size_t len,
                                  bp_error *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return bp_fail(err, BP_ERR_NOMEM, "out of memory saving %s", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        bp_status s = bp_fail(err, BP_ERR_IO, "cannot create a temporary file next to %s: %s", path,
                              strerror(errno));
        free(tmp);
        return s;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    int saved_errno = errno;
    int ok = done == len && fsync(fd) == 0;
    if (!ok && done == len) saved_errno = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved_errno = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        saved_errno = errno;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return bp_fail(err, BP_ERR_IO, "cannot write %s: %s", path, strerror(saved_errno));
    }
    free(tmp);
    sync_directory_of(path); /* best effort: the rename is already visible */
    return BP_OK;
}

bp_status bp_net_save(const bp_net *net, const char *path, bp_error *err)
{
    if (!net || !path) return bp_fail(err, BP_ERR_ARG, "no network or path given");
    size_t L = net->n_layers;
    size_t arch_len = ARCH_FIXED + 8 * (L + 1);
    size_t parm_len = 8 + 4 * net->n_params;
    size_t total = HEADER_SIZE + CHUNK_HEADER + arch_len + CHUNK_HEADER + parm_len + 4;
    unsigned char *buf = malloc(total);
    if (!buf) return bp_fail(err, BP_ERR_NOMEM, "out of memory saving %s", path);

    memcpy(buf, MAGIC, 8);
    bp_put_u32(buf + 8, VERSION);
    bp_put_u32(buf + 12, 0);
    bp_put_u64(buf + 16, total);
    unsigned char *p = buf + HEADER_SIZE;

    memcpy(p, "ARCH", 4);
    bp_put_u64(p + 4, arch_len);
    p += CHUNK_HEADER;
    bp_put_u32(p, (uint32_t)L);
    bp_put_u32(p + 4, (uint32_t)net->hidden);
    bp_put_u32(p + 8, (uint32_t)net->output);
    bp_put_u32(p + 12, (uint32_t)net->loss);
    bp_put_u32(p + 16, (uint32_t)net->bias);
    bp_put_f32(p + 20, BP_LEAKY_SLOPE);
    for (size_t l = 0; l <= L; l++) bp_put_u64(p + ARCH_FIXED + 8 * l, net->sizes[l]);
    p += arch_len;

    memcpy(p, "PARM", 4);
    bp_put_u64(p + 4, parm_len);
    p += CHUNK_HEADER;
    bp_put_u64(p, net->n_params);
    p += 8;
    for (size_t i = 0; i < net->n_params; i++, p += 4) bp_put_f32(p, net->params[i]);

    bp_put_u32(p, bp_crc32(0, buf, total - 4));
    bp_status s = write_atomically(path, buf, total, err);
    free(buf);
    return s;
}

/* ------------------------------------------------------------------- read */

static bp_status parse_arch(const unsigned char *p, uint64_t len, uint64_t at, const char *name,
                            bp_net_config *c, size_t *sizes, bp_error *err)
{
    if (len < ARCH_FIXED)
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %llu: ARCH chunk too short", name,
                       (unsigned long long)at);
    uint32_t L = bp_get_u32(p);
    if (L < 1 || L > BP_MAX_LAYERS)
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %llu: %u layers (must be 1 to %d)", name,
                       (unsigned long long)at, L, BP_MAX_LAYERS);
    if (len != ARCH_FIXED + 8ull * (L + 1))
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %llu: ARCH chunk length %llu does not match %u layers",
                       name, (unsigned long long)at, (unsigned long long)len, L);
    uint32_t hidden = bp_get_u32(p + 4), output = bp_get_u32(p + 8), loss = bp_get_u32(p + 12),
             bias = bp_get_u32(p + 16);
    if (hidden > BP_ACT_SOFTMAX || output > BP_ACT_SOFTMAX || loss > BP_LOSS_BCE || bias > 1)
        return bp_fail(err, BP_ERR_FORMAT, "%s: byte %llu: unknown activation, loss or bias code",
                       name, (unsigned long long)(at + 4));
    if (bp_get_f32(p + 20) != BP_LEAKY_SLOPE)
        return bp_fail(err, BP_ERR_UNSUPPORTED, "%s: byte %llu: leaky ReLU slope %g is not supported",
                       name, (unsigned long long)(at + 20), (double)bp_get_f32(p + 20));
    for (uint32_t l = 0; l <= L; l++) {
        uint64_t w = bp_get_u64(p + ARCH_FIXED + 8 * l);
        if (w < 1 || w > BP_MAX_WIDTH)
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %llu: layer %u has width %llu (must be 1 to %d)",
                           name, (unsigned long long)(at + ARCH_FIXED + 8 * l), l,
                           (unsigned long long)w, BP_MAX_WIDTH);
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

bp_status bp_net_load_memory(const void *data, size_t size, const char *name, bp_net **out,
                             bp_error *err)
{
    if (!out) return bp_fail(err, BP_ERR_ARG, "no place to store the network");
    *out = NULL;
    if (!name) name = "model";
    const unsigned char *buf = data;
    if (!buf || size < HEADER_SIZE + 4 || memcmp(buf, MAGIC, 8) != 0)
        return bp_fail(err, BP_ERR_FORMAT, "%s: not a backprop model file (.bpm): wrong magic number",
                       name);
    uint32_t version = bp_get_u32(buf + 8);
    if (version != VERSION)
        return bp_fail(err, BP_ERR_UNSUPPORTED,
                       "%s: model format version %u; this backprop reads version %u", name,
                       version, VERSION);
    uint64_t declared = bp_get_u64(buf + 16);
    if (declared != size)
        return bp_fail(err, BP_ERR_FORMAT, "%s: file is %zu bytes but its header says %llu: %s", name,
                       size, (unsigned long long)declared,
                       declared > size ? "truncated" : "trailing data");
    uint32_t stored = bp_get_u32(buf + size - 4), actual = bp_crc32(0, buf, size - 4);
    if (stored != actual)
        return bp_fail(err, BP_ERR_FORMAT, "%s: checksum mismatch (stored %08x, computed %08x): the file is damaged",
                       name, stored, actual);

    bp_net_config config;
    size_t sizes[BP_MAX_LAYERS + 1];
    int have_arch = 0;
    const unsigned char *params = NULL;
    uint64_t params_at = 0, params_count = 0;
    uint64_t pos = HEADER_SIZE, end = size - 4;
    while (pos < end) {
        if (end - pos < CHUNK_HEADER)
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %llu: chunk header cut short", name,
                           (unsigned long long)pos);
        const unsigned char *tag = buf + pos;
        uint64_t len = bp_get_u64(buf + pos + 4);
        uint64_t body = pos + CHUNK_HEADER;
        if (len > end - body)
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %llu: chunk length %llu runs past the end of the file",
                           name, (unsigned long long)(pos + 4), (unsigned long long)len);
        if (memcmp(tag, "ARCH", 4) == 0) {
            if (have_arch)
                return bp_fail(err, BP_ERR_FORMAT, "%s: byte %llu: second ARCH chunk", name,
                               (unsigned long long)pos);
            bp_status s = parse_arch(buf + body, len, body, name, &config, sizes, err);
            if (s != BP_OK) return s;
            have_arch = 1;
        } else if (memcmp(tag, "PARM", 4) == 0) {
            if (len < 8 || (len - 8) % 4 != 0 || params)
                return bp_fail(err, BP_ERR_FORMAT, "%s: byte %llu: malformed PARM chunk", name,
                               (unsigned long long)pos);
            params_count = bp_get_u64(buf + body);
            if (params_count != (len - 8) / 4)
                return bp_fail(err, BP_ERR_FORMAT, "%s: byte %llu: PARM says %llu parameters but holds %llu",
                               name, (unsigned long long)body, (unsigned long long)params_count,
                               (unsigned long long)((len - 8) / 4));
            params = buf + body + 8;
            params_at = body + 8;
        } else if (!(tag[0] >= 'a' && tag[0] <= 'z')) {
            return bp_fail(err, BP_ERR_UNSUPPORTED,
                           "%s: byte %llu: unknown required chunk \"%c%c%c%c\"; a newer backprop wrote this file",
                           name, (unsigned long long)pos, tag[0] >= 32 && tag[0] < 127 ? tag[0] : '?',
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
                       "%s: byte %llu: %llu parameters stored, but the architecture needs %zu", name,
                       (unsigned long long)params_at, (unsigned long long)params_count, expected);
    bp_net *net = NULL;
    bp_status s = bp_net_alloc(&config, &net, err);
    if (s != BP_OK) return s;
    for (size_t i = 0; i < net->n_params; i++) {
        float v = bp_get_f32(params + 4 * i);
        if (!(v == v) || v - v != 0.0f) { /* NaN or infinity */
            bp_net_free(net);
            return bp_fail(err, BP_ERR_FORMAT, "%s: byte %llu: parameter %zu is not a finite number",
                           name, (unsigned long long)(params_at + 4 * i), i);
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
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return bp_fail(err, BP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return bp_fail(err, BP_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > MAX_FILE_SIZE || (uint64_t)st.st_size > (size_t)-1) {
        close(fd);
        return bp_fail(err, BP_ERR_FORMAT, "%s: %lld bytes is too large for a model file", path,
                       (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return bp_fail(err, BP_ERR_NOMEM, "out of memory reading %s", path);
    }
    size_t done = 0;
    while (done < size) {
        ssize_t r = read(fd, buf + done, size - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        done += (size_t)r;
    }
    close(fd);
    bp_status s = bp_net_load_memory(buf, done, path, out, err);
    free(buf);
    return s;
}
