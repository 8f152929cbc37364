/* kernels/gemm_lp_tile.h - what the BF16 and int8 AVX-512 micro-kernels
 * (gemm_bf16.c, gemm_vnni.c) share: the prefetches of a tile, the masked
 * store of its results, and the dispatch on its row count. Their inner
 * products differ; everything around them is this. Internal to those two
 * files, which compile it with their own target attributes (a superset of
 * AVX-512 F, so these inline into them). */
#ifndef CS_KERNELS_GEMM_LP_TILE_H
#define CS_KERNELS_GEMM_LP_TILE_H

#include <immintrin.h>

#include "kernels/gemm_lp.h"

#define LP_TILE_INLINE __attribute__((target("avx512f"), always_inline)) static inline

/* At step q of a tile of R rows of x (4 bytes a row and step), every 16
 * steps: for x, the line after next of these rows, and this line of the
 * next tile's rows (which would come from L3 once y's stores have pushed
 * them out of L2); early on, when adding into y, a row of y's tile. */
LP_TILE_INLINE void lp_prefetch(int R, int q, const uint8_t *a, size_t lda, const float *c,
                                size_t ldc, int add) {
    if (q & 15) return;
#pragma GCC unroll 6
    for (int i = 0; i < R; i++) {
        _mm_prefetch((const char *)(a + (size_t)i * lda + 4 * q + 128), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + (size_t)(CS_LP_MR + i) * lda + 4 * q), _MM_HINT_T1);
    }
    if (add && q / 16 < R)
#pragma GCC unroll 4
        for (int v = 0; v < CS_LP_NR / 16; v++)
            _mm_prefetch((const char *)(c + (size_t)(q / 16) * ldc + 16 * v), _MM_HINT_T0);
}

/* The lanes of vector v of a panel that hold one of its nv columns. */
LP_TILE_INLINE __mmask16 lp_mask(int nv, int v) {
    int left = nv - 16 * v;
    return left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
}

/* y[lanes mk] = r, or += r with add. A whole vector is stored plainly:
 * masked stores are slower. */
LP_TILE_INLINE void lp_store(float *cr, __m512 r, __mmask16 mk, int add) {
    if (mk == 0xffff) {
        if (add) r = _mm512_add_ps(_mm512_loadu_ps(cr), r);
        _mm512_storeu_ps(cr, r);
        return;
    }
    if (add) r = _mm512_add_ps(_mm512_maskz_loadu_ps(mk, cr), r);
    _mm512_mask_storeu_ps(cr, mk, r);
}

_Static_assert(CS_LP_MR == 6, "LP_BY_ROWS names the row counts 1 to 6");

/* TILE(R, ...) with R a constant from 1 to CS_LP_MR, so that each row count
 * gets its own unrolled copy. */
// clang-format off
#define LP_BY_ROWS(rows, TILE, ...)                                                                \
    switch (rows) {                                                                                \
    case 1: TILE(1, __VA_ARGS__); break;                                                           \
    case 2: TILE(2, __VA_ARGS__); break;                                                           \
    case 3: TILE(3, __VA_ARGS__); break;                                                           \
    case 4: TILE(4, __VA_ARGS__); break;                                                           \
    case 5: TILE(5, __VA_ARGS__); break;                                                           \
    default: TILE(6, __VA_ARGS__); break;                                                          \
    }
// clang-format on

#endif
