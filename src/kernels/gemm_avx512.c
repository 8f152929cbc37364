/* kernels/gemm_avx512.c - the AVX-512 micro-kernel. The file is built for
 * plain x86-64 like the rest of the library; only the functions carrying
 * the target attribute use AVX-512, and the driver calls them only when
 * cs_cpu_level_get() reports it. */
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "kernels/gemm_kernel.h"

#define AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

/* 6 x 64 tile: 24 accumulators; the FMAs take x straight from memory as an
 * embedded broadcast, so a step of k is 4 panel loads + 6 broadcasts for 24
 * FMAs (8 x 32 and 12 x 32 issue more loads per FMA; 14 x 32 spills). */
enum { MR = 6, NV = 4, NR = 16 * NV, KC = 128 };

/* 16 elements of W at w (any type) as floats (int8: before the scale). */
AVX512 static inline __m512 load16(const void *w, cs_dtype wt, size_t i) {
    if (wt == CS_DT_F32) return _mm512_loadu_ps((const float *)w + i);
    if (wt == CS_DT_I8)
        return _mm512_cvtepi32_ps(
            _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)((const int8_t *)w + i))));
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i));
    if (wt == CS_DT_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* r[c] = column c of the 16 x 16 block held in rows r[0..15]: three rounds
 * of 16 shuffles (pairs, quads, then 128-bit lanes). */
AVX512 static inline void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
#pragma GCC unroll 8
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    /* u[4q + s], lane L: column 4L + s of rows 4q..4q+3 */
#pragma GCC unroll 4
    for (int s = 0; s < 4; s++) {
        __m512 a0 = _mm512_shuffle_f32x4(u[s], u[4 + s], 0x88);
        __m512 a1 = _mm512_shuffle_f32x4(u[8 + s], u[12 + s], 0x88);
        __m512 b0 = _mm512_shuffle_f32x4(u[s], u[4 + s], 0xdd);
        __m512 b1 = _mm512_shuffle_f32x4(u[8 + s], u[12 + s], 0xdd);
        r[s] = _mm512_shuffle_f32x4(a0, a1, 0x88);
        r[8 + s] = _mm512_shuffle_f32x4(a0, a1, 0xdd);
        r[4 + s] = _mm512_shuffle_f32x4(b0, b1, 0x88);
        r[12 + s] = _mm512_shuffle_f32x4(b0, b1, 0xdd);
    }
}

/* The packer for nr a multiple of 16: W[n, k] goes through 16 x 16
 * transposes, which move a whole panel row per shuffle sequence (packing is
 * a visible share of a ViT-B/32 layer; bench/bench_gemm). */
AVX512 static void pack_b_avx512(const cs_mm_src *s, int nv, int kc, int nr, const void *next,
                                 float *b) {
    if (s->kn) { /* W[k, n]: rows of the panel are contiguous, a copy (V in attention) */
        cs_mm_pack_b_avx2(s, nv, kc, nr, next, b);
        return;
    }
    const void *w = s->w;
    size_t ldw = s->ldw;
    cs_dtype wt = s->wt;
    /* rows of W past nv (the last panel of a matrix; the keys of a short
     * sequence in attention) pack as zeros */
    int p16 = kc & ~15;
    size_t es = cs_dtype_size(wt);
    for (int j = 0; j < nr; j += 16) {
        for (int p = 0; p < p16; p += 16) {
            __m512 r[16];
            if (next && (p * es) % 64 == 0) /* a line of each row of the next panel */
                for (int i = 0; i < 16 && j + i < nv; i++)
                    _mm_prefetch((const char *)next + ((size_t)(j + i) * ldw + p) * es,
                                 _MM_HINT_T1);
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                r[i] = j + i < nv ? load16(w, wt, (size_t)(j + i) * ldw + p) : _mm512_setzero_ps();
            if (s->scale)
                for (int i = 0; i < 16 && j + i < nv; i++)
                    r[i] = _mm512_mul_ps(r[i], _mm512_set1_ps(s->scale[j + i]));
            transpose16(r);
#pragma GCC unroll 16
            for (int t = 0; t < 16; t++) _mm512_store_ps(b + (size_t)(p + t) * nr + j, r[t]);
        }
        for (int p = p16; p < kc; p++)
            for (int i = 0; i < 16; i++)
                b[(size_t)p * nr + j + i] = j + i < nv ? cs_mm_src_at(s, j + i, p) : 0.0f;
    }
}

/* One step of k for R rows: acc[i][v] += x[i, p] * panel[p, 16v..16v+15]. */
#define AVX512_INLINE AVX512 __attribute__((always_inline)) static inline
AVX512_INLINE void step(int R, __m512 acc[MR][NV], const float *a, size_t lda, int p,
                        const float *b) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) bv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
        __m512 av = _mm512_set1_ps(a[(size_t)i * lda + p]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
    }
}

/* An R x 64 tile (R <= MR, a constant once inlined). Software prefetch
 * (each 16 steps of k: the line two ahead in each row of x; over the first
 * chunks, the tile of y the kernel adds into at the end) makes the whole
 * image encoder faster (A/B in one process, `clipsearch bench`): the rows
 * of x stream from L2 at a stride the hardware prefetcher follows late,
 * and y's tile would otherwise be fetched only when it is needed. Each element is summed in
 * the same order whatever R, so a row gets the same bits in any tile. */
AVX512_INLINE void tile(int R, int kc, const float *a, size_t lda, const float *b, float *c,
                        size_t ldc, const float *bias, int add) {
    __m512 acc[MR][NV];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    int p = 0;
    for (int chunk = 0; p + 16 <= kc; p += 16, chunk++) {
#pragma GCC unroll 8
        for (int i = 0; i < R; i++)
            _mm_prefetch((const char *)(a + (size_t)i * lda + p + 32), _MM_HINT_T0);
        if (chunk < R)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                _mm_prefetch((const char *)(c + (size_t)chunk * ldc + 16 * v), _MM_HINT_T0);
#pragma GCC unroll 16
        for (int q = 0; q < 16; q++) step(R, acc, a, lda, p + q, b + (size_t)(p + q) * NR);
    }
    for (; p < kc; p++) step(R, acc, a, lda, p, b + (size_t)p * NR);
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        __m512 bias_v = bias ? _mm512_loadu_ps(bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            float *cr = c + (size_t)i * ldc + 16 * v;
            __m512 r = _mm512_add_ps(acc[i][v], bias_v);
            _mm512_storeu_ps(cr, add ? _mm512_add_ps(r, _mm512_loadu_ps(cr)) : r);
        }
    }
}

AVX512 static void micro_6x64(int kc, const float *a, size_t lda, const float *b, float *c,
                              size_t ldc, const float *bias, int add) {
    tile(MR, kc, a, lda, b, c, ldc, bias, add);
}

/* The last rows of x (fewer than MR) in place: no padded copy, no work on
 * rows that are not there (at 4 images a thread, 200 rows = 33 tiles + 2).
 * One copy of the tile per row count, each unrolled for it. */
AVX512 static void micro_rows_64(int rows, int kc, const float *a, size_t lda, const float *b,
                                 float *c, size_t ldc, const float *bias, int add) {
    // clang-format off
    switch (rows) {
    case 1: tile(1, kc, a, lda, b, c, ldc, bias, add); break;
    case 2: tile(2, kc, a, lda, b, c, ldc, bias, add); break;
    case 3: tile(3, kc, a, lda, b, c, ldc, bias, add); break;
    case 4: tile(4, kc, a, lda, b, c, ldc, bias, add); break;
    default: tile(5, kc, a, lda, b, c, ldc, bias, add); break;
    }
    // clang-format on
}

const cs_mm_kernel cs_mm_avx512 = {"avx512", MR, NR, KC, micro_6x64, micro_rows_64, pack_b_avx512};
#else
typedef int cs_gemm_avx512_unused; /* ISO C wants something in a file */
#endif
