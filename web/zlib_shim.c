/*
 * zlib_shim.c - the part of zlib's interface the library calls, for the
 * WebAssembly build only (web/build.sh).
 *
 * The native library links the system's zlib. Emscripten's zlib port is
 * downloaded from the network when first used, which this build must never
 * need, so the playground links this file instead, compiled against the
 * system's own <zlib.h> (the declarations and the z_stream layout are zlib's).
 *
 * What it provides: crc32, which the model files' checksum needs, computed
 * four bits at a time (the reflected polynomial 0xEDB88320; the sixteen
 * entries below are its remainders of 0..15); and inflate's entry points,
 * which refuse every stream with a message that says why. The page decodes
 * gzip-compressed uploads itself (the browser's DecompressionStream) before
 * the library sees them, so the library's gzip path is not reached from it.
 *
 * Left out on purpose: deflate and everything else of zlib's that the
 * library does not call.
 */
#include <zlib.h>

static const unsigned long crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};

uLong ZEXPORT crc32(uLong crc, const Bytef *buf, uInt len)
{
    if (!buf) return 0;
    unsigned long c = ~crc & 0xFFFFFFFFu;
    for (uInt i = 0; i < len; i++) {
        c ^= buf[i];
        c = (c >> 4) ^ crc_nibble[c & 15];
        c = (c >> 4) ^ crc_nibble[c & 15];
    }
    return ~c & 0xFFFFFFFFu;
}

const char *ZEXPORT zlibVersion(void) { return "(a stand-in without inflate: web/zlib_shim.c)"; }

int ZEXPORT inflateInit2_(z_streamp strm, int windowBits, const char *version, int stream_size)
{
    (void)windowBits, (void)version, (void)stream_size;
    if (!strm) return Z_STREAM_ERROR;
    strm->msg = NULL;
    return Z_OK;
}

int ZEXPORT inflate(z_streamp strm, int flush)
{
    (void)flush;
    if (!strm) return Z_STREAM_ERROR;
    strm->msg = (char *)"this WebAssembly build reads no gzip data: decompress the file first";
    return Z_DATA_ERROR;
}

int ZEXPORT inflateReset(z_streamp strm) { return strm ? Z_OK : Z_STREAM_ERROR; }

int ZEXPORT inflateEnd(z_streamp strm) { return strm ? Z_OK : Z_STREAM_ERROR; }
