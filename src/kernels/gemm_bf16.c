/* kernels/gemm_bf16.c - the BF16 micro-kernel (AVX512_BF16) and the
 * conversion of x to BF16 (kernels/gemm_lp.h). Built for plain x86-64 like
 * the rest; only these target-attributed functions use the extension, and
 * gemm_lp.c calls them only when cs_cpu_has(CS_CPU_BF16). */
#if defined(__x86_64__) || defined(_M_X64)
#include <string.h>

#include "kernels/gemm_lp_tile.h"

#define BF16        __attribute__((target("avx512f,avx512bf16,avx512vl,avx512bw,fma")))
#define BF16_INLINE BF16 __attribute__((always_inline)) static inline

enum { NV = CS_LP_NR / 16, MR = CS_LP_MR };

/* An R x 64 tile: 4R accumulators; a step (a pair of k) is 4 panel loads,
 * R broadcasts of a row's BF16 pair and 4R vdpbf16ps (32 products each).
 * The same structure as the F32 kernel (gemm_avx512.c), and, as there,
 * each element summed in the same order whatever R. */
BF16_INLINE void tile(int R, int steps, const uint8_t *a, size_t lda, const uint8_t *b, float *c,
                      size_t ldc, int nv, const float *bias, int add) {
    __m512 acc[MR][NV];
#pragma GCC unroll 6
    for (int i = 0; i < R; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (int q = 0; q < steps; q++) {
        lp_prefetch(R, q, a, lda, c, ldc, add);
        __m512bh bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            bv[v] =
                (__m512bh)_mm512_load_si512((const void *)(b + (size_t)q * 4 * CS_LP_NR + 64 * v));
#pragma GCC unroll 6
        for (int i = 0; i < R; i++) {
            int32_t pair;
            memcpy(&pair, a + (size_t)i * lda + 4 * (size_t)q, 4);
            __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], av, bv[v]);
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        __mmask16 mk = lp_mask(nv, v);
        if (!mk) continue;
        __m512 bias_v = bias ? _mm512_maskz_loadu_ps(mk, bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 6
        for (int i = 0; i < R; i++) {
            float *cr = c + (size_t)i * ldc + 16 * v;
            __m512 r = _mm512_add_ps(acc[i][v], bias_v);
            lp_store(cr, r, mk, add);
        }
    }
}

BF16 void cs_lp_micro_bf16_avx512(int rows, int steps, const cs_lp_tile *t, const uint8_t *b,
                                  const float *ws, const float *cs, float *c, size_t ldc, int nv,
                                  const float *bias, int add) {
    (void)ws, (void)cs;
    const uint8_t *a = t->a;
    size_t lda = t->lda;
    LP_BY_ROWS(rows, tile, steps, a, lda, b, c, ldc, nv, bias, add)
}

/* Rows of x to BF16 (round to nearest even), zero padded to kp. */
BF16 void cs_lp_convert_bf16_avx512(const float *x, size_t ldx, int r0, int r1, int k, int kp,
                                    uint8_t *out, size_t ldo, float *xs, float *xlo) {
    (void)xs, (void)xlo;
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * ldx;
        uint16_t *o = (uint16_t *)(void *)(out + (size_t)r * ldo);
        int p = 0;
        for (; p + 32 <= k; p += 32) {
            __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(xr + p + 16), _mm512_loadu_ps(xr + p));
            _mm512_storeu_si512((void *)(o + p), (__m512i)h);
        }
        for (; p < k; p += 16) {
            int left = k - p < 16 ? k - p : 16;
            __mmask16 mk = (__mmask16)((1u << left) - 1);
            __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mk, xr + p));
            _mm256_mask_storeu_epi16(o + p, mk, (__m256i)h);
        }
        for (p = k; p < kp; p++) o[p] = 0;
    }
}
#else
typedef int cs_gemm_bf16_unused; /* ISO C wants something in a file */
#endif
