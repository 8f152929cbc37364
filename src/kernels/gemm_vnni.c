/* kernels/gemm_vnni.c - the int8 micro-kernel (AVX-512 VNNI) and the
 * vector steps of quantising x to uint8 (kernels/gemm_lp.h). Built for plain x86-64 like
 * the rest; only these target-attributed functions use the extension, and
 * gemm_lp.c calls them only when cs_cpu_has(CS_CPU_VNNI). */
#if defined(__x86_64__) || defined(_M_X64)
#include <string.h>

#include "kernels/gemm_lp_tile.h"

#define VNNI        __attribute__((target("avx512f,avx512vnni,avx512vl,avx512bw,fma")))
#define VNNI_INLINE VNNI __attribute__((always_inline)) static inline

enum { NV = CS_LP_NR / 16, MR = CS_LP_MR, KB = CS_LP_KB };

/* acc += u8 a . s8 b, four bytes a lane. In asm: GCC 12 compiles the
 * intrinsic (_mm512_dpbusd_epi32) as if the accumulator were not updated in
 * place, copying all 24 accumulators through the stack every step (the
 * kernel ran at 37% of the instruction's peak instead of the BF16 kernel's
 * 85%). */
VNNI_INLINE __m512i dpbusd(__m512i acc, __m512i a, __m512i b) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

/* An R x 64 tile: 4R int32 accumulators; a step (a quad of k) is 4 panel
 * loads, R broadcasts of a row's 4 bytes and 4R vpdpbusd (64 products
 * each, exact). Then the block's sums to float:
 *   c (+)= ws[j] (xs[i] acc + xlo[i] cs[j]) (+ bias[j])
 * with the operations gemm_lp.c's portable kernel does, so the two agree
 * to the bit. */
VNNI_INLINE void tile(int R, int steps, const cs_lp_tile *t, const uint8_t *b, const float *ws,
                      const float *cs, float *c, size_t ldc, int nv, const float *bias, int add) {
    const uint8_t *a = t->a;
    size_t lda = t->lda;
    __m512i acc[MR][NV];
#pragma GCC unroll 6
    for (int i = 0; i < R; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_si512();
    for (int q = 0; q < steps; q++) {
        lp_prefetch(R, q, a, lda, c, ldc, add);
        __m512i bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            bv[v] = _mm512_load_si512((const void *)(b + (size_t)q * 4 * CS_LP_NR + 64 * v));
#pragma GCC unroll 6
        for (int i = 0; i < R; i++) {
            int32_t quad;
            memcpy(&quad, a + (size_t)i * lda + 4 * (size_t)q, 4);
            __m512i av = _mm512_set1_epi32(quad);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] = dpbusd(acc[i][v], av, bv[v]);
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        __mmask16 mk = lp_mask(nv, v);
        if (!mk) continue;
        __m512 ws_v = _mm512_maskz_loadu_ps(mk, ws + 16 * v);
        __m512 cs_v = _mm512_maskz_loadu_ps(mk, cs + 16 * v);
        __m512 bias_v = bias ? _mm512_maskz_loadu_ps(mk, bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 6
        for (int i = 0; i < R; i++) {
            float *cr = c + (size_t)i * ldc + 16 * v;
            __m512 lo = _mm512_mul_ps(_mm512_set1_ps(t->xlo[(size_t)i * t->lds]), cs_v);
            __m512 s = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][v]),
                                       _mm512_set1_ps(t->xs[(size_t)i * t->lds]), lo);
            __m512 r = bias ? _mm512_fmadd_ps(s, ws_v, bias_v) : _mm512_mul_ps(s, ws_v);
            lp_store(cr, r, mk, add);
        }
    }
}

VNNI void cs_lp_micro_i8_avx512(int rows, int steps, const cs_lp_tile *t, const uint8_t *b,
                                const float *ws, const float *cs, float *c, size_t ldc, int nv,
                                const float *bias, int add){
    LP_BY_ROWS(rows, tile, steps, t, b, ws, cs, c, ldc, nv, bias, add)}

/* One block's range and quantisation (gemm_lp.h, cs_lp_range_fn and
 * cs_lp_quant_fn), 16 lanes at a time; a short last vector masked. */
VNNI void cs_lp_range_avx512(const float *x, int n, float *lo, float *hi) {
    __m512 lo_v = _mm512_set1_ps(x[0]), hi_v = lo_v;
    for (int p = 0; p < n; p += 16) {
        __mmask16 mk = n - p >= 16 ? 0xffff : (__mmask16)((1u << (n - p)) - 1);
        __m512 v = _mm512_mask_loadu_ps(lo_v, mk, x + p); /* masked lanes: a value of x */
        lo_v = _mm512_min_ps(lo_v, v);
        hi_v = _mm512_max_ps(hi_v, v);
    }
    *lo = _mm512_reduce_min_ps(lo_v), *hi = _mm512_reduce_max_ps(hi_v);
}

VNNI void cs_lp_quant_avx512(const float *x, int n, float lo, float inv, uint8_t *u) {
    __m512 inv_v = _mm512_set1_ps(inv), lo_v = _mm512_set1_ps(lo);
    for (int p = 0; p < n; p += 16) {
        __mmask16 mk = n - p >= 16 ? 0xffff : (__mmask16)((1u << (n - p)) - 1);
        __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, x + p), lo_v), inv_v);
        __m512i q = _mm512_max_epi32(_mm512_cvtps_epi32(v), _mm512_setzero_si512());
        _mm512_mask_cvtusepi32_storeu_epi8(u + p, mk, q);
    }
}
#else
typedef int cs_gemm_vnni_unused; /* ISO C wants something in a file */
#endif
