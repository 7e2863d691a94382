#!/bin/sh
# hostile-test.sh - hostile input files through the `backprop` program, end to end.
#
#   sh tests/hostile-test.sh [BUILD_DIR]        (BUILD_DIR defaults to build)
#
# The promise under test: no input file can crash the program, hang it, or make it
# take more memory than the file can justify; bad input gets a message naming the
# file (and line:column or byte offset), exit status 1, and nothing half-written.
# Every case runs under `timeout` (one second, plus one per 32 MiB of the file: no hang,
# no slow path; the 100 MB line takes about 0.45 s alone, and make test runs suites side
# by side on a loaded machine) and under
# `ulimit -v` set to a small base (what the program needs on an empty input) plus a
# small multiple of the hostile file's size, so an allocation the file cannot
# justify fails the case. Each case names the exact message it expects on stderr;
# commands that could write a model are given -o, and the file must not appear.
#
# Files are forged by python3 (CRC-32 from zlib.crc32 for .bpm files; the gzip bomb
# is compressed on the fly, never stored) in a temporary directory removed on exit.
# Prints "ok   NAME" or "FAIL NAME" (with the command's output) per case and ends
# with "hostile: N passed, M failed"; exit status 1 if any case failed.

BUILD_DIR=${1:-build}
BP=$BUILD_DIR/backprop
case $BP in
/*) ;;
*) BP=$(pwd)/$BP ;;
esac
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 2>/dev/null)

pass=0
fail=0

if [ ! -x "$BP" ] || [ -z "$PY" ]; then
    echo "FAIL need $BP (make) and python3"
    echo "hostile: 0 passed, 1 failed"
    exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/backprop-hostile.XXXXXX") || {
    echo "FAIL cannot create a temporary directory"
    echo "hostile: 0 passed, 1 failed"
    exit 1
}
trap 'cd / && rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
cd "$T" || exit 1
mkdir out || exit 1

# Memory: BASE_KB covers the program itself (about 8 MB of address space on Linux) and
# its fixed buffers; each case adds FACTOR times its file's size.
BASE_KB=32768

# ------------------------------------------------------------------ helpers

# check NAME FACTOR FILE EXPECTED -- COMMAND...
#   Runs COMMAND with ulimit -v BASE_KB + FACTOR * size(FILE) and a timeout of 1 s plus
#   1 s per 32 MiB of FILE; the case
#   passes when the exit status is 1, stderr contains EXPECTED, nothing was written to
#   out/, no *.tmp.* file was left behind and FILE itself is unchanged.
check() {
    name=$1 factor=$2 file=$3 expected=$4
    shift 5
    size=0
    [ -f "$file" ] && size=$(wc -c <"$file")
    limit=$((BASE_KB + factor * (size / 1024 + 1)))
    secs=$((1 + size / 33554432))
    sum=
    [ -f "$file" ] && [ "$size" -lt 16777216 ] && sum=$(cksum <"$file")
    rm -f out/*
    (
        # Not POSIX, but dash, bash, ksh and busybox sh all have it.
        # shellcheck disable=SC3045
        ulimit -v "$limit" 2>/dev/null
        exec timeout "$secs" "$@"
    ) >stdout 2>stderr </dev/null
    rc=$?
    why=
    [ $rc -eq 124 ] && why="timed out (over $secs s)"
    [ -z "$why" ] && [ $rc -ne 1 ] && why="exit status $rc, expected 1"
    [ -z "$why" ] && ! grep -qF -- "$expected" stderr && why="stderr lacks: $expected"
    [ -z "$why" ] && [ -n "$(ls out)" ] && why="left output behind: $(ls out)"
    [ -z "$why" ] && [ -n "$(find . -name '*.tmp.*' 2>/dev/null | head -n 1)" ] && why="left a temporary file"
    [ -z "$why" ] && [ -n "$sum" ] && [ "$(cksum <"$file")" != "$sum" ] && why="changed $file"
    if [ -z "$why" ]; then
        pass=$((pass + 1))
        echo "ok   $name"
    else
        fail=$((fail + 1))
        echo "FAIL $name: $why"
        echo "    \$ (ulimit -v $limit; timeout $secs $*)"
        echo "    exit status $rc"
        head -c 600 stderr | sed 's/^/    stderr: /'
        echo
    fi
    find . -name '*.tmp.*' -exec rm -f {} + 2>/dev/null
}

# ------------------------------------------------------------ the files

"$PY" - <<'EOF' || { echo "FAIL python3 could not forge the files"; echo "hostile: 0 passed, 1 failed"; exit 1; }
import struct, zlib

MAGIC = b"\x89BPM\r\n\x1a\n"

def chunk(tag, payload):
    return tag + struct.pack("<Q", len(payload)) + payload

def bpm(chunks, size=None, crc=None, version=1):
    body = MAGIC + struct.pack("<II", version, 0) + b"\0" * 8 + b"".join(chunks)
    total = len(body) + 4
    body = body[:16] + struct.pack("<Q", total if size is None else size) + body[24:]
    return body + struct.pack("<I", zlib.crc32(body) if crc is None else crc)

def arch(widths, layers=None, hidden=3, output=0, loss=0, bias=1):
    L = len(widths) - 1 if layers is None else layers
    return chunk(b"ARCH", struct.pack("<IIIIIf", L, hidden, output, loss, bias, 0.01)
                 + b"".join(struct.pack("<Q", w) for w in widths))

def parm(values, count=None):
    n = len(values) if count is None else count
    return chunk(b"PARM", struct.pack("<Q", n) + b"".join(struct.pack("<f", v) for v in values))

def write(name, data):
    with open(name, "wb") as f:
        f.write(data)

# A valid 2-3-2 model (biases on): 2*3 + 3 + 3*2 + 2 = 17 parameters.
good = bpm([arch([2, 3, 2]), parm([0.1 * i for i in range(17)])])
write("good.bpm", good)
# Widths beyond any machine: 2^33 x 2^33 overflows 64-bit arithmetic once squared.
write("wide.bpm", bpm([arch([2**33, 2**33, 2**33]), parm([0.0] * 4)]))
# Widths that are each allowed but whose product is absurd, with 4 parameters stored.
write("product.bpm", bpm([arch([2**24, 2**24, 2**24]), parm([0.0] * 4)]))
# Four billion layers (the ARCH length is checked against the count too).
write("layers.bpm", bpm([arch([2, 2], layers=0xFFFFFFFF), parm([0.0] * 6)]))
# A valid header and checksum over garbage.
garbage = bytes((i * 167 + 13) & 0xFF for i in range(4000))
write("garbage.bpm", bpm([garbage]))
# Garbage that starts like a chunk with a huge length.
write("chunklen.bpm", bpm([b"PARM" + struct.pack("<Q", 2**64 - 1) + garbage[:100]]))
# PARM claims 2^61 parameters.
write("parmcount.bpm", bpm([arch([2, 3, 2]), parm([0.0] * 17, count=2**61)]))
# Size field of 2^64 - 1.
write("sizefield.bpm", bpm([arch([2, 3, 2]), parm([0.0] * 17)], size=2**64 - 1))
# Truncated and bit-flipped copies of the good model.
write("truncated.bpm", good[:60])
flipped = bytearray(good)
flipped[70] ^= 0x04
write("flipped.bpm", bytes(flipped))
# A NaN parameter under a valid checksum.
write("nan.bpm", bpm([arch([2, 3, 2]), parm([float("nan")] + [0.0] * 16)]))
# Class names whose length field runs past the chunk.
write("classes.bpm", bpm([arch([2, 3, 2]), chunk(b"clss", struct.pack("<II", 2, 2**32 - 1) + b"ab"),
                          parm([0.0] * 17)]))
# A checkpoint whose trainer state claims an epoch order of 2^60 samples.
state = struct.pack("<IIIII", 1, 0, 0, 0, 0) + struct.pack("<QQQ", 1, 1, 1) + b"\0" * 88 \
    + b"\0" * 32 + b"\0" * 40 + b"\0" * 16 + struct.pack("<Q", 2**60) + b"\0" * 64
write("order.ckpt", bpm([arch([2, 3, 2]), parm([0.0] * 17), chunk(b"trnr", state)]))
# A checkpoint whose trainer state is cut short.
write("cut.ckpt", bpm([arch([2, 3, 2]), parm([0.0] * 17), chunk(b"trnr", state[:30])]))

def idx(t, dims, payload=b""):
    return bytes([0, 0, t, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload

# IDX headers claiming billions of items over a few bytes.
write("billions-images-idx", idx(8, [0xFFFFFFFF, 28, 28], b"\0" * 100))
write("labels-idx", idx(8, [3], bytes([0, 1, 2])))
write("images-idx", idx(8, [3, 2, 2], bytes(12)))
write("billions-labels-idx", idx(8, [0xFFFFFFFF], b"\1" * 100))
write("dims-idx", idx(8, [0xFFFFFFFF] * 255))
# The same claim inside a gzip file: refused before anything is inflated.
import gzip
write("claim-images-idx.gz", gzip.compress(idx(8, [0xFFFFFFFF, 28, 28], b"\0" * 5000), mtime=0))
# 20,000 one-byte images whose labels (shorts) include 32767: 20,000 x 32,768 one-hot
# floats would be 2.6 GB from 60 kB of files.
write("few-images-idx", idx(8, [20000], bytes(20000)))
write("big-label-idx", idx(0x0B, [20000], struct.pack(">h", 32767) + bytes(2 * 19999)))

# gzip bombs: 1 GiB of zeros, compressed on the fly from 1 MiB pieces (each piece a
# self-contained run of blocks, so the stream is built without compressing 1 GiB).
def bomb(name, prefix, total=1 << 30):
    piece = 1 << 20
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(b"\0" * piece) + c.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    zero_crc = zlib.crc32(b"\0" * piece)
    # crc32 of n zero pieces, computed once per piece (about 1 s of work per GiB).
    z = b"\0" * piece
    for _ in range(total // piece):
        crc = zlib.crc32(z, crc)
    with open(name, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\0\0\0\0\x02\x03" + head)
        for _ in range(total // piece):
            f.write(block)
        f.write(b"\x03\x00")  # an empty final fixed block
        f.write(struct.pack("<II", crc, (len(prefix) + total) & 0xFFFFFFFF))
    del zero_crc

bomb("bomb.csv.gz", b"")
bomb("bomb-images-idx.gz", idx(8, [10, 28, 28]))

# CSV: one 100 MB line (a single number of 100 million digits).
with open("longline.csv", "wb") as f:
    f.write(b"7" * (100 << 20) + b"\n")
# CSV: a first line of 20,000 columns, then 20,000 lines of one cell.
write("columns.csv", b"1," * 19999 + b"1\n" + b"1\n" * 20000)
# CSV: 100,000 rows whose class labels include 65535: 26 GB of one-hot targets.
write("classes.csv", b"1,65535\n" + b"1,0\n" * 100000)
# CSV: a NUL byte in a number.
write("nul.csv", b"x,y,label\n1,2,0\n3,\x004,1\n")
# CSV: invalid UTF-8 in the header, then a short row.
write("utf8.csv", b"\xff\xfe\xc3(,\xed\xa0\x80,label\n1,2,0\n3,4\n")
# CSV: a class label in invalid UTF-8 and control bytes, read against a model's classes.
write("train.csv", b"1,2,cat\n3,4,dog\n5,6,cat\n7,8,dog\n")
write("badlabel.csv", b"1,2,cat\n3,4,\xff\x1b[2J\n")
# FANN: a header claiming 4 billion samples of a million numbers each.
write("claim.fann", b"4000000000 1000000 1000000\n1 2 3\n")
# Empty files.
write("empty.csv", b"")
write("empty.bpm", b"")
EOF

mkdir dir.csv
mkfifo fifo.csv 2>/dev/null

# Models with absurd sizes or damage (backprop info reads the whole model).
check model-widths-overflow 4 wide.bpm "wide.bpm: byte 60: layer 0 has width 8589934592 (must be 1 to 16777216)" \
    -- "$BP" info wide.bpm
check model-width-product 4 product.bpm "product.bpm: byte 104: 4 parameters stored, but the architecture needs 562949986975744" \
    -- "$BP" info product.bpm
check model-4-billion-layers 4 layers.bpm "layers.bpm: byte 36: 4294967295 layers (must be 1 to 64)" \
    -- "$BP" info layers.bpm
check model-checksummed-garbage 4 garbage.bpm "garbage.bpm: byte 28: chunk length 4220977059540193449 runs past the end of the file" \
    -- "$BP" info garbage.bpm
check model-chunk-length 4 chunklen.bpm "chunklen.bpm: byte 28: chunk length 18446744073709551615 runs past the end of the file" \
    -- "$BP" info chunklen.bpm
check model-parm-count 4 parmcount.bpm "parmcount.bpm: byte 96: PARM says 2305843009213693952 parameters but holds 17" \
    -- "$BP" info parmcount.bpm
check model-size-field 4 sizefield.bpm "sizefield.bpm: file is 176 bytes but its header says 18446744073709551615: truncated" \
    -- "$BP" info sizefield.bpm
check model-truncated 4 truncated.bpm "truncated.bpm: file is 60 bytes but its header says 176: truncated" \
    -- "$BP" info truncated.bpm
check model-bit-flipped 4 flipped.bpm "flipped.bpm: checksum mismatch" \
    -- "$BP" info flipped.bpm
check model-nan-parameter 4 nan.bpm "nan.bpm: byte 104: parameter 0 is not a finite number" \
    -- "$BP" info nan.bpm
check model-class-name-length 4 classes.bpm "classes.bpm: byte 104: malformed class name" \
    -- "$BP" info classes.bpm
check model-empty 4 empty.bpm "empty.bpm: not a backprop model file (.bpm): wrong magic number" \
    -- "$BP" info empty.bpm
check model-directory 4 dir.csv "dir.csv: not a regular file (a directory)" \
    -- "$BP" info dir.csv
check model-fifo 4 fifo.csv "fifo.csv: not a regular file (a pipe)" \
    -- "$BP" info fifo.csv

# Checkpoints (train --resume reads the model and the trainer state).
check checkpoint-order-billions 4 order.ckpt "order.ckpt: byte 184: malformed trainer state" \
    -- "$BP" train --train train.csv --resume order.ckpt --checkpoint order.ckpt -o out/m.bpm --quiet
check checkpoint-state-cut 4 cut.ckpt "cut.ckpt: byte 184: trainer state cut short" \
    -- "$BP" train --train train.csv --resume cut.ckpt --checkpoint cut.ckpt -o out/m.bpm --quiet

# IDX headers claiming billions of items; a gzip bomb behind a small header.
check idx-billions-of-images 4 billions-images-idx \
    "billions-images-idx: byte 16: header claims 4294967295 items of 784 bytes but the file holds only 100 bytes of data" \
    -- "$BP" train --train billions-images-idx --labels labels-idx -o out/m.bpm --quiet
check idx-billions-of-labels 4 billions-labels-idx \
    "billions-labels-idx: byte 8: header claims 4294967295 items of 1 bytes but the file holds only 100 bytes of data" \
    -- "$BP" train --train images-idx --labels billions-labels-idx -o out/m.bpm --quiet
check idx-dimensions-overflow 4 dims-idx "dims-idx: byte 16: the header's dimensions multiply beyond what this machine can address" \
    -- "$BP" train --train dims-idx --labels labels-idx -o out/m.bpm --quiet
check idx-gzip-claims-billions 4 claim-images-idx.gz "claim-images-idx.gz: byte 4: header claims 4294967295 items of 784 bytes (3367254359296 bytes in all), more than the 4 GiB this reader inflates" \
    -- "$BP" train --train claim-images-idx.gz --labels labels-idx -o out/m.bpm --quiet
check idx-gzip-bomb 4 bomb-images-idx.gz "bomb-images-idx.gz: the decompressed file holds more than the 7856 bytes its header describes" \
    -- "$BP" train --train bomb-images-idx.gz --labels labels-idx -o out/m.bpm --quiet
check idx-one-hot-bomb 4 big-label-idx "big-label-idx: 20000 labels of 32768 classes would need 2621 MB of one-hot targets" \
    -- "$BP" train --train few-images-idx --labels big-label-idx -o out/m.bpm --quiet

# CSV: a gzip bomb (1 GiB of zeros), a 100 MB line, forged shapes, odd bytes.
check csv-gzip-bomb 64 bomb.csv.gz "bomb.csv.gz: out of memory" \
    -- "$BP" train --train bomb.csv.gz -o out/m.bpm --quiet
check csv-100MB-line 3 longline.csv "longline.csv:1:1: number \"7777777777777777777777777777777777777777\"... is out of range for a float" \
    -- "$BP" train --train longline.csv --targets 1 -o out/m.bpm --quiet
check csv-columns-bomb 16 columns.csv "columns.csv:2:2: expected 20000 columns, found 1" \
    -- "$BP" train --train columns.csv -o out/m.bpm --quiet
check csv-one-hot-bomb 16 classes.csv "classes.csv: 100001 samples of 65536 classes would need 26215 MB of one-hot targets" \
    -- "$BP" train --train classes.csv -o out/m.bpm --quiet
check csv-nul-byte 4 nul.csv 'nul.csv:3:3: expected a number, found "\x004"' \
    -- "$BP" train --train nul.csv -o out/m.bpm --quiet
check csv-invalid-utf8-header 4 utf8.csv "utf8.csv:3:4: expected 3 columns, found 2" \
    -- "$BP" train --train utf8.csv -o out/m.bpm --quiet
check csv-empty 4 empty.csv "empty.csv: no data rows" \
    -- "$BP" train --train empty.csv -o out/m.bpm --quiet
check csv-directory 4 dir.csv "dir.csv: not a regular file (a directory)" \
    -- "$BP" train --train dir.csv -o out/m.bpm --quiet
check csv-fifo 4 fifo.csv "fifo.csv: not a regular file (a pipe)" \
    -- "$BP" train --train fifo.csv -o out/m.bpm --quiet
check predict-fifo 4 fifo.csv "fifo.csv: not a regular file (a pipe)" \
    -- "$BP" predict good.bpm --data fifo.csv -o out/p.csv
check csv-dev-zero 4 /dev/zero "/dev/zero: not a regular file (a device or socket)" \
    -- "$BP" train --train /dev/zero -o out/m.bpm --quiet
check fann-claims-billions 4 claim.fann "claim.fann:3: expected 4000000000 samples, found only 0" \
    -- "$BP" train --train claim.fann -o out/m.bpm --quiet

# A label in invalid UTF-8 with an escape sequence, against a model's class names:
# the message must show the bytes escaped, not send them to the terminal.
if "$BP" train --train train.csv --hidden none --epochs 1 --quiet -o model.bpm >/dev/null 2>&1; then
    check csv-label-escaped 4 badlabel.csv 'badlabel.csv:2:5: class "\xFF\x1B[2J" is not one of the 2 classes the model knows' \
        -- "$BP" eval model.bpm --data badlabel.csv
else
    fail=$((fail + 1))
    echo "FAIL csv-label-escaped: could not train the model it needs"
fi

echo "hostile: $pass passed, $fail failed"
[ $fail -eq 0 ]
