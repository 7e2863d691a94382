#!/usr/bin/env python3
"""Compare the parameters of two .bpm model files.

usage: tools/bpm_compare.py A.bpm B.bpm [TOLERANCE]
Prints the largest difference relative to the largest parameter and exits 0 when it is
at most TOLERANCE (default 1e-5), 1 otherwise. Standard library only; the format is in
docs/FORMATS.md.
"""
import struct
import sys


def params(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89BPM\r\n\x1a\n":
        raise SystemExit("%s: not a .bpm file" % path)
    pos = 24
    while pos + 12 <= len(data) - 4:
        tag, length = data[pos:pos + 4], struct.unpack("<Q", data[pos + 4:pos + 12])[0]
        body = pos + 12
        if tag == b"PARM":
            count = struct.unpack("<Q", data[body:body + 8])[0]
            return struct.unpack("<%df" % count, data[body + 8:body + 8 + 4 * count])
        pos = body + length
    raise SystemExit("%s: no PARM chunk" % path)


def main():
    a, b = params(sys.argv[1]), params(sys.argv[2])
    tolerance = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-5
    if len(a) != len(b):
        print("different parameter counts: %d and %d" % (len(a), len(b)))
        return 1
    scale = max(abs(x) for x in a) or 1.0
    worst = max(abs(x - y) for x, y in zip(a, b)) / scale
    print("max relative difference %.3g (tolerance %g)" % (worst, tolerance))
    return 0 if worst <= tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
