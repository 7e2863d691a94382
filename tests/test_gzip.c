/*
 * test_gzip.c - tests of backprop's use of zlib for .gz files (src/io/gzip.c).
 *
 * zlib's decoder is zlib's to test. What is tested here is what gzip.c adds
 * around it: members joined, what may follow the last one, every truncation
 * and damage refused with a byte offset and nothing handed back, the output
 * cap (a bomb stops at the cap, early in its input), and the prefix mode the
 * IDX reader uses. Most inputs are compressed here by zlib's deflate (every
 * level and strategy; header fields through deflateSetHeader); two were made
 * by other tools (gzip(1), and Python with every header flag set), so files
 * that zlib did not write are covered too. Run under sanitizers with
 * make sanitize. Real files are tested through the IDX reader (test_idx.c).
 */
#define ZLIB_CONST /* zlib's next_in points to const bytes */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/bytes.h"
#include "io/gzip.h"
#include "test.h"

/* Python 3's gzip header with FTEXT, FHCRC, FEXTRA, FNAME and FCOMMENT, holding "flags\n". */
static const unsigned char gz_all_flags[53] = {
    0x1f, 0x8b, 0x08, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x04, 0x00, 0x61, 0x62, 0x00, 0x63,
    0x6e, 0x61, 0x6d, 0x65, 0x2e, 0x74, 0x78, 0x74, 0x00, 0x61, 0x20, 0x63, 0x6f, 0x6d, 0x6d, 0x65,
    0x6e, 0x74, 0x00, 0x84, 0xe1, 0x4b, 0xcb, 0x49, 0x4c, 0x2f, 0xe6, 0x02, 0x00, 0x40, 0x59, 0x68,
    0x19, 0x06, 0x00, 0x00, 0x00,
};
/* gzip -9 of pattern_text(50) saved as pattern.txt (gzip(1) writes the FNAME field). */
static const unsigned char gz_tool[251] = {
    0x1f, 0x8b, 0x08, 0x08, 0xec, 0x48, 0x03, 0x6b, 0x02, 0x03, 0x70, 0x61, 0x74, 0x74, 0x65, 0x72,
    0x6e, 0x2e, 0x74, 0x78, 0x74, 0x00, 0x4d, 0x93, 0x49, 0x0e, 0xc2, 0x40, 0x0c, 0x04, 0xef, 0xbc,
    0x22, 0x4f, 0xc0, 0xcb, 0x6c, 0xfc, 0x26, 0x07, 0x6e, 0x41, 0x42, 0x8a, 0xe0, 0xfd, 0x20, 0x21,
    0x57, 0x73, 0x8b, 0x4a, 0xb6, 0xa7, 0xcb, 0x33, 0x39, 0xf7, 0xc7, 0xf3, 0xb8, 0x6f, 0xd7, 0xdb,
    0xf6, 0xde, 0x8f, 0xd7, 0xf7, 0xe3, 0x72, 0xfe, 0x88, 0x15, 0xb1, 0x22, 0x5e, 0x24, 0x8b, 0x44,
    0x91, 0x55, 0x24, 0xe9, 0xea, 0x85, 0x5a, 0x21, 0x6f, 0x85, 0x7a, 0xa1, 0xa0, 0x6a, 0x30, 0x9c,
    0x59, 0xb3, 0x50, 0xe7, 0xc0, 0x55, 0x68, 0x92, 0xca, 0x88, 0x1e, 0x20, 0xb2, 0x3b, 0x9d, 0xa6,
    0xf4, 0x03, 0x46, 0xfe, 0xe1, 0x30, 0x0c, 0x84, 0x30, 0x08, 0x9d, 0x8a, 0x42, 0x57, 0x1d, 0x0e,
    0x0b, 0x53, 0x43, 0x22, 0x14, 0x0f, 0x8b, 0xc1, 0xb6, 0x1d, 0x0b, 0x63, 0x9e, 0xa3, 0xd1, 0xe8,
    0x75, 0x34, 0x16, 0xab, 0x73, 0x34, 0x12, 0x5d, 0x47, 0x63, 0xe9, 0xfe, 0xf0, 0x48, 0xcd, 0xc3,
    0x63, 0xa9, 0x17, 0x8f, 0xa6, 0x7c, 0x78, 0x4c, 0x10, 0x1a, 0x1d, 0xdd, 0x40, 0xc3, 0xd9, 0x72,
    0xa0, 0x31, 0xe9, 0x0d, 0x34, 0x9a, 0x1e, 0x13, 0x1a, 0xce, 0x0a, 0x02, 0x8d, 0xc9, 0xb3, 0x08,
    0x34, 0x3a, 0x6a, 0xa1, 0x17, 0xa5, 0x2c, 0x68, 0x98, 0xea, 0xa4, 0xc1, 0xfa, 0x42, 0x1e, 0xb0,
    0xc4, 0x23, 0xc9, 0x9c, 0x78, 0x04, 0xf9, 0x12, 0x0f, 0x53, 0x1d, 0x1e, 0x1a, 0xa7, 0xdb, 0x60,
    0xf3, 0x89, 0xc6, 0x24, 0x72, 0xa2, 0x31, 0xf4, 0x47, 0xa1, 0x31, 0x54, 0x87, 0xc6, 0xd0, 0xbc,
    0xf5, 0xc7, 0x3e, 0x1d, 0x24, 0x8d, 0xb7, 0xd6, 0x03, 0x00, 0x00,
};

/* The text of gz_tool, rebuilt from the formula that made it; also test data here. */
static size_t pattern_text(char *buf, size_t cap, int lines)
{
    size_t len = 0;
    for (int i = 0; i < lines; i++) {
        int n = snprintf(buf + len, cap - len, "sample %d: value %d\n", i, (i * i) % 97);
        if (n < 0 || (size_t)n >= cap - len) return 0;
        len += (size_t)n;
    }
    return len;
}

/* len bytes of one kind: 0 text lines, 1 random bytes, 2 zeros. malloc'd (at least 1 byte). */
static unsigned char *make_data(int kind, size_t len, uint64_t seed)
{
    unsigned char *p = malloc(len ? len : 1);
    if (!p) return NULL;
    for (size_t i = 0; i < len; i++) {
        if (kind == 0)
            p[i] = (unsigned char)"sample 42: value 17\nlabel,x,y\n3.25,-1e-3,0\n"[(i * 7 + i / 61) % 43];
        else if (kind == 1)
            p[i] = (unsigned char)bp_test_next(&seed);
        else
            p[i] = 0;
    }
    return p;
}

/* data as one gzip member written by zlib's deflate at the given level and strategy,
   with head's header fields (head may be NULL). malloc'd, or NULL if zlib refused. */
static unsigned char *deflate_member(const void *data, size_t len, int level, int strategy,
                                     gz_header *head, size_t *gz_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    *gz_len = 0;
    if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, strategy) != Z_OK) return NULL;
    if (head && deflateSetHeader(&z, head) != Z_OK) {
        deflateEnd(&z);
        return NULL;
    }
    size_t cap = deflateBound(&z, (uLong)len) + 1024; /* room for header fields too */
    unsigned char *out = malloc(cap);
    z.next_in = data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int r = out ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
    *gz_len = (size_t)z.total_out;
    deflateEnd(&z);
    if (r != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* a then b, malloc'd. */
static unsigned char *join(const unsigned char *a, size_t a_len, const unsigned char *b, size_t b_len)
{
    unsigned char *p = malloc(a_len + b_len + 1);
    if (!p) return NULL;
    if (a_len) memcpy(p, a, a_len);
    if (b_len) memcpy(p + a_len, b, b_len);
    return p;
}

typedef struct {
    bp_status status;
    unsigned char *out;
    size_t len;
    int more;
    char why[256];
} result;

/* One call; prefix selects bp_gunzip_prefix. The output pointer starts non-NULL, so a
   failure that leaves it alone is seen. */
static result run(const unsigned char *in, size_t len, size_t max_out, int prefix)
{
    static unsigned char sentinel;
    result r;
    memset(&r, 0, sizeof r);
    r.out = &sentinel;
    r.len = 12345;
    r.more = -1;
    if (prefix)
        r.status = bp_gunzip_prefix(in, len, max_out, &r.out, &r.len, &r.more, r.why, sizeof r.why);
    else
        r.status = bp_gunzip(in, len, max_out, &r.out, &r.len, r.why, sizeof r.why);
    if (r.out == &sentinel) { /* never set: a broken promise, which gives and fails_with see */
        r.out = NULL;
        r.status = (bp_status)-1;
    }
    return r;
}

static result gunzip(const unsigned char *in, size_t len, size_t max_out)
{
    return run(in, len, max_out, 0);
}

/* Success with exactly these bytes (and, for the prefix reader, this value of more). */
static int gives(result r, const void *expected, size_t expected_len, int more)
{
    int ok = r.status == BP_OK && r.out != NULL && r.len == expected_len &&
             (expected_len == 0 || memcmp(r.out, expected, expected_len) == 0) &&
             (r.more == -1 || r.more == more);
    if (!ok)
        fprintf(stderr, "  status %d, %zu bytes (expected %zu), more %d: %s\n", (int)r.status, r.len,
                expected_len, r.more, r.why);
    if (r.status == BP_OK) free(r.out);
    return ok;
}

/* A failure as gzip.h promises it: the status, no output, more 0, and a message naming a
   byte of the input (at most in_len) that contains part. */
static int fails_with(result r, size_t in_len, const char *part)
{
    unsigned long long at = 0;
    int ok = r.status == BP_ERR_FORMAT && r.out == NULL && r.len == 0 && r.more <= 0 &&
             sscanf(r.why, "byte %llu: ", &at) == 1 && at <= in_len && (!part || strstr(r.why, part));
    if (!ok) fprintf(stderr, "  status %d, more %d, message \"%s\"\n", (int)r.status, r.more, r.why);
    if (r.status == BP_OK) free(r.out);
    return ok;
}

/* ------------------------------------------------------------------ tests */

void test_gzip_round_trips(void)
{
    /* Every block type zlib writes (stored at level 0, fixed and dynamic codes, each
       strategy), several sizes and kinds of data; the cap exactly at the size is enough,
       one byte less is refused. */
    static const size_t sizes[] = {0, 1, 100, 5000, 70000, 300000};
    static const int modes[][2] = {{0, Z_DEFAULT_STRATEGY}, {1, Z_DEFAULT_STRATEGY},
                                   {9, Z_DEFAULT_STRATEGY}, {9, Z_FIXED},
                                   {9, Z_RLE},              {6, Z_HUFFMAN_ONLY},
                                   {6, Z_FILTERED}};
    int cases = 0, first_block[4] = {0, 0, 0, 0};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int kind = 0; kind < 3; kind++)
            for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
                size_t len = sizes[s], gz_len = 0;
                unsigned char *data = make_data(kind, len, 17 + s);
                unsigned char *gz =
                    data ? deflate_member(data, len, modes[m][0], modes[m][1], NULL, &gz_len) : NULL;
                CHECK(gz != NULL, "zlib could not compress %zu bytes", len);
                if (gz) {
                    CHECK(bp_is_gzip(gz, gz_len), "magic");
                    first_block[(gz[10] >> 1) & 3]++; /* BTYPE after a 10-byte header */
                    CHECK(gives(gunzip(gz, gz_len, (size_t)1 << 24), data, len, 0),
                          "%zu bytes of kind %d, level %d, strategy %d", len, kind, modes[m][0], modes[m][1]);
                    CHECK(gives(gunzip(gz, gz_len, len), data, len, 0), "cap = size %zu", len);
                    if (len > 0)
                        CHECK(fails_with(gunzip(gz, gz_len, len - 1), gz_len, "more than"), "cap = size - 1");
                    cases++;
                }
                free(gz);
                free(data);
            }
    CHECK(cases == 6 * 3 * 7, "%d cases ran", cases);
    CHECK(first_block[0] > 0 && first_block[1] > 0 && first_block[2] > 0,
          "first blocks: %d stored, %d fixed, %d dynamic", first_block[0], first_block[1], first_block[2]);
}

void test_gzip_other_tools(void)
{
    /* gzip(1)'s output (with its FNAME field) and Python's with every header field. */
    char expected[4096];
    size_t len = pattern_text(expected, sizeof expected, 50);
    CHECK(len > 0, "pattern");
    CHECK(gives(gunzip(gz_tool, sizeof gz_tool, 1 << 20), expected, len, 0), "gzip(1)");
    CHECK(gives(gunzip(gz_all_flags, sizeof gz_all_flags, 1 << 20), "flags\n", 6, 0), "all flags");
}

void test_gzip_header_fields(void)
{
    /* zlib writes the optional fields, FHCRC included; damage to any is refused. */
    unsigned char extra[] = "ab", name[] = "name.txt", comment[] = "a comment";
    gz_header head;
    memset(&head, 0, sizeof head);
    head.text = 1;
    head.extra = extra;
    head.extra_len = 2;
    head.name = name;
    head.comment = comment;
    head.hcrc = 1;
    size_t gz_len = 0;
    unsigned char *gz = deflate_member("fields\n", 7, 6, Z_DEFAULT_STRATEGY, &head, &gz_len);
    CHECK(gz != NULL && gz_len > 10 && (gz[3] & 0x1E) == 0x1E, "zlib wrote the fields");
    if (!gz) return;
    CHECK(gives(gunzip(gz, gz_len, 100), "fields\n", 7, 0), "all fields");
    unsigned char *bad = malloc(gz_len);
    if (!bad) return;
    memcpy(bad, gz, gz_len);
    bad[12] ^= 0x20; /* in the extra field: the header's CRC no longer matches */
    CHECK(fails_with(gunzip(bad, gz_len, 100), 40, "header crc mismatch"), "FHCRC");
    memcpy(bad, gz, gz_len);
    bad[2] = 7;
    CHECK(fails_with(gunzip(bad, gz_len, 100), 3, "unknown compression method"), "CM");
    memcpy(bad, gz, gz_len);
    bad[3] |= 0x20;
    CHECK(fails_with(gunzip(bad, gz_len, 100), 3, "header flags"), "reserved FLG bit");
    memcpy(bad, gz, gz_len);
    bad[0] = 'P';
    result r = gunzip(bad, gz_len, 100);
    CHECK(strstr(r.why, "byte 0: not gzip data") != NULL, "%s", r.why);
    CHECK(fails_with(r, 0, NULL), "magic");
    CHECK(!bp_is_gzip(bad, gz_len) && !bp_is_gzip(gz, 1) && !bp_is_gzip(NULL, 2), "bp_is_gzip");
    free(bad);
    free(gz);
}

/* Three members one after the other: "hello, ", an empty one, 70000 random bytes. */
typedef struct {
    unsigned char *gz, *plain;
    size_t gz_len, plain_len;
    size_t first_gz;  /* where the second member starts */
} members;

static members make_members(void)
{
    members m;
    memset(&m, 0, sizeof m);
    size_t a_len = 0, b_len = 0, c_len = 0;
    unsigned char *random = make_data(1, 70000, 3);
    unsigned char *a = deflate_member("hello, ", 7, 9, Z_DEFAULT_STRATEGY, NULL, &a_len);
    unsigned char *b = deflate_member("", 0, 6, Z_DEFAULT_STRATEGY, NULL, &b_len);
    unsigned char *c = random ? deflate_member(random, 70000, 1, Z_DEFAULT_STRATEGY, NULL, &c_len) : NULL;
    unsigned char *ab = a && b ? join(a, a_len, b, b_len) : NULL;
    m.gz = ab && c ? join(ab, a_len + b_len, c, c_len) : NULL;
    m.plain = random ? join((const unsigned char *)"hello, ", 7, random, 70000) : NULL;
    if (m.gz && m.plain) {
        m.gz_len = a_len + b_len + c_len;
        m.plain_len = 70007;
        m.first_gz = a_len;
    }
    free(random);
    free(a);
    free(b);
    free(c);
    free(ab);
    return m;
}

void test_gzip_members(void)
{
    members m = make_members();
    CHECK(m.gz_len > 0, "setup");
    if (m.gz_len > 0) {
        CHECK(gives(gunzip(m.gz, m.gz_len, 1 << 20), m.plain, m.plain_len, 0), "three members");
        /* The cap counts all members together, exactly. */
        CHECK(gives(gunzip(m.gz, m.gz_len, m.plain_len), m.plain, m.plain_len, 0), "cap = total");
        CHECK(fails_with(gunzip(m.gz, m.gz_len, m.plain_len - 1), m.gz_len, "more than 70006 bytes"),
              "cap = total - 1");
        CHECK(fails_with(gunzip(m.gz, m.gz_len, 7), m.gz_len, "more than 7 bytes"),
              "cap at the end of the first member");
        /* Of the members, the first alone is a whole file. */
        CHECK(gives(gunzip(m.gz, m.first_gz, 1 << 20), "hello, ", 7, 0), "first member alone");
    }
    free(m.gz);
    free(m.plain);
}

void test_gzip_trailing_bytes(void)
{
    size_t gz_len = 0;
    unsigned char *gz = deflate_member("hello, world\n", 13, 9, Z_DEFAULT_STRATEGY, NULL, &gz_len);
    unsigned char buf[256];
    CHECK(gz != NULL && gz_len + 8 <= sizeof buf, "setup");
    if (!gz || gz_len + 8 > sizeof buf) {
        free(gz);
        return;
    }
    /* Zero padding after the last member is accepted. */
    memcpy(buf, gz, gz_len);
    memset(buf + gz_len, 0, 8);
    CHECK(gives(gunzip(buf, gz_len + 8, 100), "hello, world\n", 13, 0), "zero padding");
    CHECK(gives(run(buf, gz_len + 8, 100, 1), "hello, world\n", 13, 0), "zero padding, prefix");
    /* Anything else is not, wherever it is in the padding, and the message says where the
       data ended. */
    char where[48];
    snprintf(where, sizeof where, "byte %zu: unexpected bytes after the end", gz_len);
    for (size_t k = 0; k < 8; k++) {
        memset(buf + gz_len, 0, 8);
        buf[gz_len + k] = 'x';
        CHECK(fails_with(gunzip(buf, gz_len + 8, 100), gz_len, where), "garbage at %zu", k);
    }
    /* Half a magic number, and a whole one with nothing behind it. */
    buf[gz_len] = 0x1f;
    CHECK(fails_with(gunzip(buf, gz_len + 1, 100), gz_len, where), "lone 1f");
    buf[gz_len + 1] = 0x8b;
    CHECK(fails_with(gunzip(buf, gz_len + 2, 100), gz_len + 2, "ends early"), "1f 8b and nothing");
    /* A second member of noise. */
    memset(buf + gz_len + 2, 0xA5, 20);
    CHECK(fails_with(gunzip(buf, gz_len + 22, 100), gz_len + 22, NULL), "noise member");
    free(gz);
}

void test_gzip_truncated(void)
{
    /* Every cut of a file of three members fails, naming a byte, and hands nothing back;
       except a cut at a member's end (the first, or the empty second one, 20 bytes), which
       leaves a whole shorter file. Every 64th cut in the long third member (each inflates
       up to 70 kB), every one before it. */
    members m = make_members();
    CHECK(m.gz_len > 0, "setup");
    int cuts = 0;
    for (size_t len = 1; m.gz_len > 0 && len < m.gz_len; len += len > m.first_gz + 64 ? 64 : 1) {
        result r = gunzip(m.gz, len, 1 << 20);
        if (len == m.first_gz || len == m.first_gz + 20)
            CHECK(gives(r, "hello, ", 7, 0), "cut after a whole member (%zu bytes)", len);
        else
            CHECK(fails_with(r, len, NULL), "cut to %zu of %zu bytes", len, m.gz_len);
        cuts++;
    }
    CHECK(cuts > 100, "%d cuts", cuts);
    /* A cut inside the data says so, at the end of the input. */
    size_t cut = m.gz_len / 2;
    char expected[64];
    snprintf(expected, sizeof expected, "byte %zu: the compressed data ends early", cut);
    CHECK(fails_with(gunzip(m.gz, cut, 1 << 20), cut, expected), "message");
    CHECK(fails_with(run(m.gz, cut, 1 << 20, 1), cut, expected), "prefix reader, same");
    free(m.gz);
    free(m.plain);
}

void test_gzip_damage(void)
{
    /* A flipped bit in stored (level 0) data leaves the DEFLATE structure intact: only the
       CRC-32 can catch it, and must, every bit of it. */
    unsigned char *data = make_data(0, 300, 1);
    size_t gz_len = 0;
    unsigned char *gz = data ? deflate_member(data, 300, 0, Z_DEFAULT_STRATEGY, NULL, &gz_len) : NULL;
    CHECK(gz != NULL && gz_len == 10 + 5 + 300 + 8, "one stored block, %zu bytes", gz_len);
    char crc_at[64];
    snprintf(crc_at, sizeof crc_at, "byte %zu: CRC-32 mismatch", gz_len - 8);
    int caught = 0;
    for (size_t bit = 0; gz && gz_len == 323 && bit < 8 * 300; bit++) {
        gz[15 + bit / 8] ^= (unsigned char)(1u << (bit % 8));
        caught += fails_with(gunzip(gz, gz_len, 1000), gz_len, crc_at);
        gz[15 + bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    CHECK(caught == 8 * 300, "%d of 2400 flipped bits caught by the CRC-32", caught);
    /* The trailer's own fields. */
    if (gz && gz_len == 323) {
        gz[gz_len - 8] ^= 0x01;
        CHECK(fails_with(gunzip(gz, gz_len, 1000), gz_len, crc_at), "CRC field");
        gz[gz_len - 8] ^= 0x01;
        char len_at[64];
        snprintf(len_at, sizeof len_at, "byte %zu: length mismatch", gz_len - 4);
        gz[gz_len - 1] ^= 0x80;
        CHECK(fails_with(gunzip(gz, gz_len, 1000), gz_len, len_at), "ISIZE field");
        gz[gz_len - 1] ^= 0x80;
        CHECK(gives(gunzip(gz, gz_len, 1000), data, 300, 0), "restored");
    }
    free(gz);

    /* Compressed data: each flipped bit gives an error, or (in fields nothing checks,
       such as the header's time stamp) the very same bytes; never other bytes. */
    gz = data ? deflate_member(data, 300, 9, Z_DEFAULT_STRATEGY, NULL, &gz_len) : NULL;
    CHECK(gz != NULL, "setup");
    int wrong = 0, refused = 0;
    for (size_t bit = 0; gz && bit < 8 * gz_len; bit++) {
        gz[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        result r = gunzip(gz, gz_len, 1000);
        if (r.status == BP_OK) {
            wrong += !gives(r, data, 300, 0);
        } else {
            wrong += !fails_with(r, gz_len, NULL);
            refused += bit >= 8 * (gz_len - 8); /* the trailer: always refused */
        }
        gz[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    CHECK(wrong == 0, "%d flipped bits gave wrong bytes or a malformed failure", wrong);
    CHECK(refused == 64, "%d of the trailer's 64 bits refused", refused);
    free(gz);
    free(data);
}

/* A bomb: a gzip header, then the DEFLATE blocks of 1 MiB of zeros (about 1 kB) `pieces`
   times, then the trailer of a file of that many MiB (its CRC-32 left wrong: the reader
   must stop long before it). */
static unsigned char *make_bomb(size_t pieces, size_t *len)
{
    *len = 0;
    size_t mib = (size_t)1 << 20;
    unsigned char *zeros = calloc(mib, 1);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (!zeros || deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(zeros);
        return NULL;
    }
    unsigned char block[4096];
    z.next_in = zeros;
    z.avail_in = (uInt)mib;
    z.next_out = block;
    z.avail_out = sizeof block;
    int r = deflate(&z, Z_FULL_FLUSH); /* byte-aligned, no reference to earlier data */
    size_t block_len = sizeof block - z.avail_out;
    deflateEnd(&z);
    free(zeros);
    if (r != Z_OK || z.avail_in != 0 || z.avail_out == 0) return NULL;
    unsigned char *p = malloc(10 + pieces * block_len + 2 + 8);
    if (!p) return NULL;
    static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3};
    memcpy(p, header, 10);
    size_t k = 10;
    for (size_t i = 0; i < pieces; i++, k += block_len) memcpy(p + k, block, block_len);
    p[k++] = 0x03; /* an empty final block of fixed codes */
    p[k++] = 0x00;
    bp_put_u32(p + k, 0);
    bp_put_u32(p + k + 4, (uint32_t)(pieces * mib)); /* ISIZE claims it all */
    *len = k + 8;
    return p;
}

void test_gzip_bomb(void)
{
    /* 256 MiB of zeros in about 256 kB: with a cap of 1 MiB the reader stops with an
       error about 1 kB into the input (the byte it names), having inflated no more than
       the cap; its output buffer never passes the cap, whatever ISIZE claims. */
    size_t len = 0;
    unsigned char *bomb = make_bomb(256, &len);
    CHECK(bomb != NULL && len > 200000 && len < 400000, "bomb of %zu bytes", len);
    if (!bomb) return;
    result r = gunzip(bomb, len, (size_t)1 << 20);
    unsigned long long at = 0;
    CHECK(sscanf(r.why, "byte %llu:", &at) == 1 && at < 8192, "stopped at byte %llu of %zu", at, len);
    CHECK(fails_with(r, len, "inflates to more than 1048576 bytes"), "bomb");
    /* The prefix reader hands back exactly the bytes asked for, and says there are more. */
    r = run(bomb, len, 4096, 1);
    int zeros = r.status == BP_OK && r.len == 4096;
    for (size_t i = 0; zeros && i < r.len; i++) zeros = r.out[i] == 0;
    CHECK(zeros && r.more == 1, "prefix: status %d, %zu bytes, more %d: %s", (int)r.status, r.len, r.more,
          r.why);
    if (r.status == BP_OK) free(r.out);
    free(bomb);

    /* A real 4 MiB of zeros (4 kB of gzip): exactly at the cap it inflates. */
    size_t n = (size_t)4 << 20, gz_len = 0;
    unsigned char *data = make_data(2, n, 0);
    unsigned char *gz = data ? deflate_member(data, n, 9, Z_DEFAULT_STRATEGY, NULL, &gz_len) : NULL;
    CHECK(gz != NULL && gz_len < 8192, "%zu bytes of gzip", gz_len);
    if (gz) {
        CHECK(gives(gunzip(gz, gz_len, n), data, n, 0), "at the cap");
        CHECK(fails_with(gunzip(gz, gz_len, n - 1), gz_len, "more than"), "one byte over");
    }
    free(gz);
    free(data);
}

void test_gzip_empty(void)
{
    size_t gz_len = 0;
    unsigned char *gz = deflate_member("", 0, 9, Z_DEFAULT_STRATEGY, NULL, &gz_len);
    CHECK(gz != NULL && gz_len == 20, "an empty member is 20 bytes, got %zu", gz_len);
    if (gz) {
        CHECK(gives(gunzip(gz, gz_len, 0), "", 0, 0), "nothing out, a buffer all the same");
        CHECK(gives(run(gz, gz_len, 0, 1), "", 0, 0), "prefix of nothing");
        unsigned char two[48] = {0};
        memcpy(two, gz, 20);
        memcpy(two + 20, gz, 20);
        CHECK(gives(gunzip(two, sizeof two, 0), "", 0, 0), "two empty members and zeros");
    }
    free(gz);
    /* Data with a cap of 0: refused; the prefix reader says there is more. */
    gz = deflate_member("x", 1, 9, Z_DEFAULT_STRATEGY, NULL, &gz_len);
    if (gz) {
        CHECK(fails_with(gunzip(gz, gz_len, 0), gz_len, "more than 0 bytes"), "cap 0");
        CHECK(gives(run(gz, gz_len, 0, 1), "", 0, 1), "prefix, cap 0");
    }
    free(gz);
    /* No input, or no output pointer. */
    unsigned char byte = 0x1f;
    CHECK(fails_with(gunzip(&byte, 0, 100), 0, "byte 0: empty input"), "empty input");
    CHECK(fails_with(gunzip(&byte, 1, 100), 1, "ends early"), "half a magic number");
    unsigned char *out = NULL;
    size_t len = 0;
    int more = 0;
    CHECK(bp_gunzip(NULL, 0, 10, &out, &len, NULL, 0) == BP_ERR_FORMAT && out == NULL, "no why buffer");
    CHECK(bp_gunzip(&byte, 1, 10, NULL, &len, NULL, 0) == BP_ERR_ARG, "null out");
    char why[64];
    CHECK(bp_gunzip_prefix(NULL, 5, 10, &out, &len, &more, why, sizeof why) == BP_ERR_ARG &&
              strcmp(why, "no input or output given") == 0,
          "null input: %s", why);
}

void test_gzip_prefix(void)
{
    /* The first bytes, across members; more says whether the data goes on. */
    members m = make_members();
    CHECK(m.gz_len > 0, "setup");
    if (m.gz_len > 0) {
        static const size_t caps[] = {1, 6, 7, 8, 1000, 70006};
        for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
            CHECK(gives(run(m.gz, m.gz_len, caps[i], 1), m.plain, caps[i], 1), "prefix of %zu", caps[i]);
        CHECK(gives(run(m.gz, m.gz_len, m.plain_len, 1), m.plain, m.plain_len, 0), "all of it");
        CHECK(gives(run(m.gz, m.gz_len, (size_t)1 << 20, 1), m.plain, m.plain_len, 0), "more room");
        /* Past the prefix nothing is looked at, the last member's CRC-32 included; when the
           prefix is everything, everything is checked. */
        m.gz[m.gz_len - 8] ^= 0x01;
        CHECK(gives(run(m.gz, m.gz_len, 1000, 1), m.plain, 1000, 1), "damage after the prefix");
        CHECK(fails_with(run(m.gz, m.gz_len, m.plain_len, 1), m.gz_len, "CRC-32 mismatch"),
              "damage inside");
    }
    free(m.gz);
    free(m.plain);
}

void test_gzip_random_damage(void)
{
    /* Mutated files must inflate or fail as promised; under ASan/UBSan this is a small
       fuzzer (tests/fuzz/fuzz_gzip.c is the big one). */
    char text[4096];
    size_t text_len = pattern_text(text, sizeof text, 100);
    unsigned char *vectors[3];
    size_t lens[3] = {0, 0, 0};
    vectors[0] = deflate_member(text, text_len, 9, Z_DEFAULT_STRATEGY, NULL, &lens[0]);
    vectors[1] = deflate_member(text, text_len, 1, Z_FIXED, NULL, &lens[1]);
    vectors[2] = deflate_member(text, text_len, 0, Z_DEFAULT_STRATEGY, NULL, &lens[2]);
    uint64_t state = 0x9E3779B97F4A7C15ull;
    unsigned char buf[8192];
    int odd = 0, ran = 0;
    for (int round = 0; round < 3000; round++) {
        size_t v = bp_test_next(&state) % 3;
        size_t len = lens[v];
        if (!vectors[v] || len > sizeof buf) continue;
        memcpy(buf, vectors[v], len);
        int edits = 1 + (int)(bp_test_next(&state) % 4);
        for (int e = 0; e < edits; e++) {
            uint64_t r = bp_test_next(&state);
            size_t at = 2 + (size_t)(r >> 8) % (len - 2); /* keep the magic: reach zlib */
            switch (r & 3) {
            case 0: buf[at] ^= (unsigned char)(1u << ((r >> 40) & 7)); break;
            case 1: buf[at] = (unsigned char)(r >> 32); break;
            case 2: len = at + 1; break; /* cut */
            default: buf[at] = 0xFF; break;
            }
        }
        result res = gunzip(buf, len, (size_t)1 << 17);
        if (res.status == BP_OK) {
            odd += res.out == NULL || res.len > ((size_t)1 << 17);
            free(res.out);
        } else {
            odd += !fails_with(res, len, NULL);
        }
        ran++;
    }
    CHECK(ran == 3000 && odd == 0, "%d of %d mutated inputs broke the API's promises", odd, ran);
    for (int v = 0; v < 3; v++) free(vectors[v]);
}
