/*
 * fuzz.h - what the fuzz harnesses (tests/fuzz/fuzz_*.c) share: the promise
 * checks, temporary files, gzip and .bpm wrappers, and the memory meter.
 *
 * Each harness defines `int bp_fuzz_NAME(const uint8_t *data, size_t size)`.
 * Built by tests/fuzz/run.sh with -fsanitize=fuzzer, it also gets the
 * LLVMFuzzerTestOneInput entry point and a broken promise aborts (a finding
 * libFuzzer saves). Built with BP_FUZZ_REPLAY (tests/fuzz/regress.c, included by
 * tests/test_fuzz_regressions.c for `make test`), the same functions replay the
 * saved inputs and a broken promise is counted instead.
 *
 * The promises checked on every input: a reader returns a known status; on
 * failure the message is non-empty, printable ASCII (bytes from the file are
 * escaped) and names the file; a failed read hands back
 * nothing; a successful one hands back something well formed. With
 * BP_FUZZ_MEMCHECK (sanitizer builds) the bytes the library holds at once are
 * measured through the allocator's hooks and must stay within a small multiple
 * of the input's size plus a constant.
 *
 * Harness code may keep global state (libFuzzer calls it from one thread); the
 * library never does.
 */
#ifndef BP_FUZZ_H
#define BP_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backprop.h"
#include "io/bytes.h"

int bp_fuzz_csv(const uint8_t *data, size_t size);
int bp_fuzz_idx(const uint8_t *data, size_t size);
int bp_fuzz_fann(const uint8_t *data, size_t size);
int bp_fuzz_model(const uint8_t *data, size_t size);
int bp_fuzz_checkpoint(const uint8_t *data, size_t size);
int bp_fuzz_gzip(const uint8_t *data, size_t size);

/* One-hot targets may take this much whatever the input's size (see dataset.c, idx.c),
   so the memory meter allows it on top of the per-byte factor. */
#define FUZZ_MEM_CONSTANT ((size_t)24 << 20)
#define FUZZ_MEM_FACTOR 64

/* ------------------------------------------------------- broken promises */

#ifdef BP_FUZZ_REPLAY
/* Defined by the replay driver: broken promises seen so far, and the input being replayed. */
extern int bp_fuzz_broken;
extern const char *bp_fuzz_current;
#endif

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline void fuzz_broken(const char *harness, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
#ifdef BP_FUZZ_REPLAY
    fprintf(stderr, "  fuzz %s: %s: ", harness, bp_fuzz_current ? bp_fuzz_current : "?");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    bp_fuzz_broken++;
#else
    fprintf(stderr, "\n==== broken promise in fuzz harness %s: ", harness);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    abort(); /* libFuzzer saves the input as a crash */
#endif
    va_end(ap);
}

#define FUZZ_CHECK(harness, cond, ...)                   \
    do {                                                 \
        if (!(cond)) fuzz_broken(harness, __VA_ARGS__);  \
    } while (0)

/* The promise about failures: a known status, err filled in with the same status and a
   message naming the file (`name`; a second acceptable name may be given). */
static inline void fuzz_check_status(const char *harness, bp_status s, const bp_error *err,
                                     const char *name, const char *other_name)
{
    FUZZ_CHECK(harness, s >= BP_OK && s <= BP_ERR_NUMERIC, "unknown status %d", (int)s);
    if (s == BP_OK) return;
    FUZZ_CHECK(harness, err->status == s, "status %d but err->status %d (%s)", (int)s,
               (int)err->status, err->message);
    FUZZ_CHECK(harness, memchr(err->message, '\0', sizeof err->message) != NULL,
               "message not terminated");
    FUZZ_CHECK(harness, err->message[0] != '\0', "status %d with an empty message", (int)s);
    /* Bytes from the file are shown escaped: a message is printable ASCII, so it cannot
       upset a terminal (the harnesses' file names are ASCII). */
    for (const char *c = err->message; *c; c++)
        FUZZ_CHECK(harness, *c >= 0x20 && *c < 0x7f, "unescaped byte 0x%02x in \"%s\"",
                   (unsigned)(unsigned char)*c, err->message);
    /* An invalid argument is about the call, not the file. */
    FUZZ_CHECK(harness,
               s == BP_ERR_ARG || strstr(err->message, name) ||
                   (other_name && strstr(err->message, other_name)),
               "message does not name the file %s: \"%s\"", name, err->message);
}

/* --------------------------------------------------------- temporary files */

/* A per-process path in /dev/shm (memory, no disk traffic) or else $TMPDIR or /tmp. */
static inline void fuzz_temp_path(char *buf, size_t size, const char *tag)
{
    const char *dir = "/dev/shm";
    if (access(dir, W_OK) != 0) {
        dir = getenv("TMPDIR");
        if (!dir || !*dir) dir = "/tmp";
    }
    snprintf(buf, size, "%s/bp-fuzz-%ld-%s", dir, (long)getpid(), tag);
}

static inline int fuzz_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = len == 0 || fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* ------------------------------------------------------------ wrappers */

/* in wrapped as a gzip member of stored blocks of at most `block` bytes (so the data
   readers see a valid .gz file whose content the fuzzer controls). Returns a malloc'd
   buffer and its length in *out_len, or NULL. */
static inline unsigned char *fuzz_gzip_stored(const unsigned char *in, size_t len, size_t block,
                                              size_t *out_len)
{
    static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    if (block == 0 || block > 65535) block = 65535;
    size_t blocks = len / block + 1;
    unsigned char *out = malloc(10 + len + 5 * blocks + 8);
    if (!out) return NULL;
    memcpy(out, header, 10);
    size_t k = 10, done = 0;
    do {
        size_t n = len - done > block ? block : len - done;
        out[k++] = done + n == len; /* BFINAL, BTYPE 00 */
        out[k++] = (unsigned char)n;
        out[k++] = (unsigned char)(n >> 8);
        out[k++] = (unsigned char)~n;
        out[k++] = (unsigned char)(~n >> 8);
        if (n) memcpy(out + k, in + done, n);
        k += n;
        done += n;
    } while (done < len);
    bp_put_u32(out + k, bp_crc32(0, in, len));
    bp_put_u32(out + k + 4, (uint32_t)len);
    *out_len = k + 8;
    return out;
}

/* Make a .bpm image pass its outer checks (the size field at byte 16 and the CRC-32 in the
   last four bytes), so that mutations reach the chunk parser instead of dying at the
   checksum. */
static inline void fuzz_fix_bpm(unsigned char *p, size_t len)
{
    if (len >= 24) bp_put_u64(p + 16, len);
    if (len >= 28) bp_put_u32(p + len - 4, bp_crc32(0, p, len - 4));
}

/* ------------------------------------------------------------ memory meter */

#ifdef BP_FUZZ_MEMCHECK
#include <sanitizer/allocator_interface.h>

/* Live bytes allocated through malloc and friends, and the most seen since fuzz_mem_begin. */
static size_t fuzz_mem_live, fuzz_mem_peak;
static int fuzz_mem_hooked;

static void fuzz_malloc_hook(const volatile void *p, size_t size)
{
    (void)p;
    fuzz_mem_live += size;
    if (fuzz_mem_live > fuzz_mem_peak) fuzz_mem_peak = fuzz_mem_live;
}

static void fuzz_free_hook(const volatile void *p)
{
    if (!p) return;
    size_t size = __sanitizer_get_allocated_size((const void *)p);
    fuzz_mem_live = size <= fuzz_mem_live ? fuzz_mem_live - size : 0;
}

static inline void fuzz_mem_begin(void)
{
    if (!fuzz_mem_hooked) {
        __sanitizer_install_malloc_and_free_hooks(fuzz_malloc_hook, fuzz_free_hook);
        fuzz_mem_hooked = 1;
    }
    fuzz_mem_peak = fuzz_mem_live;
}

/* The most bytes held at once since fuzz_mem_begin, beyond what was held before. */
static inline size_t fuzz_mem_used(size_t before) { return fuzz_mem_peak - before; }
#define FUZZ_MEM_BEGIN(before)        \
    size_t before = fuzz_mem_live;    \
    fuzz_mem_begin()
#define FUZZ_MEM_END(harness, before, limit)                                                    \
    FUZZ_CHECK(harness, fuzz_mem_used(before) <= (limit),                                      \
               "held %zu bytes at once for a %zu-byte input (limit %zu)", fuzz_mem_used(before), \
               size, (size_t)(limit))
#else
#define FUZZ_MEM_BEGIN(before) size_t before = 0
#define FUZZ_MEM_END(harness, before, limit) ((void)(before), (void)(limit))
#endif

/* The usual limit: FUZZ_MEM_FACTOR times the input plus the constant. */
#define FUZZ_MEM_LIMIT(n) ((size_t)FUZZ_MEM_FACTOR * (n) + FUZZ_MEM_CONSTANT)

#endif
