/*
 * gemm_amx.c - the bf16 product's AMX step: a 32 x 32 block of C as four
 * 16 x 16 float tiles, each += (16 x 32 bf16 tile of A) x (32 x 16 bf16 tile of
 * B) by one TDPBF16PS per 32 k.
 *
 * AMX has eight tile registers of up to 16 rows x 64 bytes. The step keeps
 * four of them as sums (C00, C01, C10, C11), two for A tiles and two for B
 * tiles: per 32 k, four loads of 1 KiB feed four TDPBF16PS (16,384
 * multiply-adds each), every tile loaded serving two products. The packed
 * layout (gemm_bf16.h) is the tiles' own, so each load is one TILELOADD with a
 * 64-byte stride. Edge steps (m or n <= 16) use one A or one B tile only; the
 * packing's zero rows and columns fill the rest, and only the valid corner is
 * stored (through the AVX-512 store, bp_bf16_store_avx512).
 *
 * Tile state: every thread that runs a product loads the configuration
 * (all eight tiles 16 x 64 bytes) before the first step and releases the tiles
 * after the last (bp_amx_tiles_begin / _end), so no thread keeps tile state
 * between products, and a thread that never multiplies in bf16 never has any.
 * Linux's permission to use the tiles is gemm_bf16.c's to ask for.
 *
 * Compiled for AMX by target attributes; empty where the compiler or CPU
 * family has no AMX.
 */
#include "gemm_bf16_kernel.h"

#if BP_BF16_AMX_CODE
#include <immintrin.h>

#define BP_AMX_TARGET __attribute__((target("amx-tile,amx-bf16")))

enum { SLIVER = BP_BF16_SLIVER, TILE = BP_BF16_TILE, TILE_K = BP_BF16_TILE_K };

/* The 64-byte tile configuration (palette 1): tiles 0-3 the sums, 4-5 A, 6-7 B,
   each 16 rows of 64 bytes. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
} tile_config;

/* A constant, not built on the stack: GCC 12's _tile_loadconfig tells the
   compiler it reads only a pointer's worth of the configuration, so stores to
   a local copy's later bytes were dropped as dead (seen: LDTILECFG then read a
   zeroed shape and faulted). */
static const _Alignas(64) tile_config config = {
    .palette = 1,
    .bytes_per_row = {64, 64, 64, 64, 64, 64, 64, 64},
    .rows = {16, 16, 16, 16, 16, 16, 16, 16},
};

BP_AMX_TARGET
void bp_amx_tiles_begin(void) { _tile_loadconfig(&config); }

BP_AMX_TARGET
void bp_amx_tiles_end(void) { _tile_release(); }

enum { STRIDE = 64 }; /* bytes per row of every packed tile */

BP_AMX_TARGET
void bp_bf16_step_amx(size_t chunks, const uint16_t *a0, const uint16_t *a1, const uint16_t *b0,
                      const uint16_t *b1, const bp_tile_dest *dest)
{
    /* The sums, 32 floats a row: tile C00 at 0, C01 at 16, C10 at 16 rows down. */
    _Alignas(64) float sums[2 * SLIVER * 2 * SLIVER];
    const size_t down = 2 * SLIVER * SLIVER;
    const int two_m = dest->m > SLIVER, two_n = dest->n > SLIVER;
    _tile_zero(0);
    if (two_m && two_n) {
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (size_t t = 0; t < chunks; t++) {
            const size_t o = t * TILE;
            _tile_loadd(4, a0 + o, STRIDE);
            _tile_loadd(6, b0 + o, STRIDE);
            _tile_loadd(7, b1 + o, STRIDE);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_loadd(5, a1 + o, STRIDE);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
        _tile_stored(1, sums + SLIVER, 2 * SLIVER * sizeof(float));
        _tile_stored(2, sums + down, 2 * SLIVER * sizeof(float));
        _tile_stored(3, sums + down + SLIVER, 2 * SLIVER * sizeof(float));
    } else if (two_n) {
        _tile_zero(1);
        for (size_t t = 0; t < chunks; t++) {
            const size_t o = t * TILE;
            _tile_loadd(4, a0 + o, STRIDE);
            _tile_loadd(6, b0 + o, STRIDE);
            _tile_loadd(7, b1 + o, STRIDE);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
        }
        _tile_stored(1, sums + SLIVER, 2 * SLIVER * sizeof(float));
    } else if (two_m) {
        _tile_zero(2);
        for (size_t t = 0; t < chunks; t++) {
            const size_t o = t * TILE;
            _tile_loadd(4, a0 + o, STRIDE);
            _tile_loadd(5, a1 + o, STRIDE);
            _tile_loadd(6, b0 + o, STRIDE);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(2, 5, 6);
        }
        _tile_stored(2, sums + down, 2 * SLIVER * sizeof(float));
    } else {
        for (size_t t = 0; t < chunks; t++) {
            const size_t o = t * TILE;
            _tile_loadd(4, a0 + o, STRIDE);
            _tile_loadd(6, b0 + o, STRIDE);
            _tile_dpbf16ps(0, 4, 6);
        }
    }
    _tile_stored(0, sums, 2 * SLIVER * sizeof(float));
    bp_bf16_store_avx512(sums, dest);
}

#else /* no AMX for this compiler or CPU family: never called (gemm_bf16.c) */

void bp_amx_tiles_begin(void) {}
void bp_amx_tiles_end(void) {}

void bp_bf16_step_amx(size_t chunks, const uint16_t *a0, const uint16_t *a1, const uint16_t *b0,
                      const uint16_t *b1, const bp_tile_dest *dest)
{
    (void)chunks, (void)a0, (void)a1, (void)b0, (void)b1, (void)dest;
}

#endif
