/*
 * fileio.c - whole-file reading, atomic writing and an in-memory text buffer
 * (see fileio.h).
 */
#if !defined(_XOPEN_SOURCE) || _XOPEN_SOURCE < 700
#undef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath, for writing through a symbolic link */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "number.h"
#include "fileio.h"
#include "gzip.h"
#include "core/status.h"

bp_status bp_read_file(const char *path, size_t max_size, unsigned char **data, size_t *size,
                       bp_error *err)
{
    *data = NULL;
    *size = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return bp_fail(err, BP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return bp_fail(err, BP_ERR_IO, "cannot read %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return bp_fail(err, BP_ERR_IO, "%s: not a regular file (%s)", path,
                       S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a pipe" : "a device or socket");
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size > (unsigned long long)max_size) {
        close(fd);
        return bp_fail(err, BP_ERR_FORMAT, "%s: %lld bytes is larger than the %zu this reader accepts",
                       path, (long long)st.st_size, max_size);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return bp_fail(err, BP_ERR_NOMEM, "out of memory reading %s (%zu bytes)", path, n);
    }
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, buf + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(buf);
            return bp_fail(err, BP_ERR_IO, "cannot read %s: %s", path, strerror(e));
        }
        if (r == 0) break; /* the file shrank while we read it: take what is there */
        done += (size_t)r;
    }
    close(fd);
    buf[done] = '\0';
    *data = buf;
    *size = done;
    return BP_OK;
}

/* Decompressed data is capped so a gzip bomb fails fast instead of eating memory. */
#define MAX_GUNZIP ((size_t)(UINT64_C(1) << 32 < SIZE_MAX ? UINT64_C(1) << 32 : SIZE_MAX)) /* 32-bit: SIZE_MAX */

bp_status bp_maybe_gunzip(const unsigned char *data, size_t len, const char *name,
                          unsigned char **plain, size_t *plain_len, bp_error *err)
{
    *plain = NULL;
    *plain_len = 0;
    if (len < 2 || data[0] != 0x1f || data[1] != 0x8b) return BP_OK;
    char why[256];
    unsigned char *out = NULL;
    size_t out_len = 0;
    bp_status s = bp_gunzip(data, len, MAX_GUNZIP, &out, &out_len, why, sizeof why);
    if (s != BP_OK) return bp_fail(err, s, "%s: %s", name, why);
    *plain = out;
    *plain_len = out_len;
    return BP_OK;
}

static void sync_directory_of(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t len = (size_t)(slash - path);
        if (len == 0) len = 1; /* the root directory */
        if (len >= sizeof dir) return;
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    int fd = open(dir, O_RDONLY);
    if (fd < 0) return;
    fsync(fd); /* best effort: the rename is already visible */
    close(fd);
}

/* All len bytes to fd; 0, or the errno of the failure (ENOSPC for a write of nothing). */
static int write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? errno : ENOSPC;
        done += (size_t)w;
    }
    return 0;
}

/* A path that exists and is neither a regular file nor a directory: a device (/dev/null),
   a FIFO, or a pipe reached through /dev/stdout or /dev/fd/N. It is written in place, as
   the shell's > would: renaming over it would put a regular file where the device node or
   the link was (as root, /dev/null itself). */
static bp_status write_in_place(const char *path, const void *data, size_t len, bp_error *err)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0) return bp_fail(err, BP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    int saved = write_all(fd, data, len);
    if (close(fd) != 0 && !saved) saved = errno;
    if (saved) return bp_fail(err, BP_ERR_IO, "cannot write %s: %s", path, strerror(saved));
    return BP_OK;
}

bp_status bp_write_file_atomic(const char *path, const void *data, size_t len, bp_error *err)
{
    struct stat st;
    char *resolved = NULL;
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return write_in_place(path, data, len, err);
        /* A symbolic link to a file: replace the file it names, beside it, and keep the link. */
        struct stat link;
        if (S_ISREG(st.st_mode) && lstat(path, &link) == 0 && S_ISLNK(link.st_mode)) resolved = realpath(path, NULL);
    }
    const char *target = resolved ? resolved : path;
    size_t plen = strlen(target);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        free(resolved);
        return bp_fail(err, BP_ERR_NOMEM, "out of memory writing %s", path);
    }
    memcpy(tmp, target, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        bp_status s = bp_fail(err, BP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        free(tmp);
        free(resolved);
        return s;
    }
    int saved = write_all(fd, data, len);
    if (!saved && fsync(fd) != 0) saved = errno;
    if (close(fd) != 0 && !saved) saved = errno;
    /* mkstemp makes the file private (0600); give it the usual permissions. */
    if (!saved) {
        mode_t mask = umask(0);
        umask(mask);
        chmod(tmp, 0666 & ~mask);
    }
    if (!saved && rename(tmp, target) != 0) saved = errno;
    if (saved) {
        unlink(tmp);
        free(tmp);
        free(resolved);
        return bp_fail(err, BP_ERR_IO, "cannot write %s: %s", path, strerror(saved));
    }
    free(tmp);
    sync_directory_of(target);
    free(resolved);
    return BP_OK;
}

static int reserve(bp_buffer *b, size_t extra)
{
    if (b->failed) return 0;
    if (extra > (size_t)-1 - b->len - 1) {
        b->failed = 1;
        return 0;
    }
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > (size_t)-1 / 2) {
            cap = b->len + extra + 1;
            break;
        }
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = 1;
        return 0;
    }
    b->data = d;
    b->cap = cap;
    return 1;
}

void bp_buffer_append(bp_buffer *b, const void *data, size_t len)
{
    if (!reserve(b, len)) return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void bp_buffer_printf(bp_buffer *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void bp_buffer_float(bp_buffer *b, float v)
{
    char text[BP_FLOAT_TEXT];
    const size_t len = bp_format_float(text, v);
    bp_buffer_append(b, text, len);
}

void bp_buffer_csv_field(bp_buffer *b, const char *text, int always_quote)
{
    size_t len = strlen(text);
    int quote = always_quote || len == 0 || text[0] == '#' || text[0] == ' ' || text[0] == '\t' ||
                text[len - 1] == ' ' || text[len - 1] == '\t' || strpbrk(text, ",;\t\"\r\n") != NULL;
    if (!quote) {
        bp_buffer_append(b, text, len);
        return;
    }
    bp_buffer_append(b, "\"", 1);
    for (const char *p = text; *p; p++) {
        bp_buffer_append(b, p, 1);
        if (*p == '"') bp_buffer_append(b, p, 1);
    }
    bp_buffer_append(b, "\"", 1);
}

void bp_buffer_free(bp_buffer *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}
