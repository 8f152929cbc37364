/* kernels/gemm_avxvnni.c - the int8 micro-kernel and the vector steps of
 * quantising x for CPUs with AVX-VNNI but not AVX-512 (Intel Alder Lake
 * and later client parts, Sierra Forest): the VEX-encoded, 256-bit
 * vpdpbusd. The same panels
 * (kernels/gemm_lp.h) and the same arithmetic as the AVX-512 kernel
 * (gemm_vnni.c), so all three int8 kernels give the same bits. Built for
 * plain x86-64 like the rest; gemm_lp.c calls these only when
 * cs_cpu_has(CS_CPU_AVXVNNI). */
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/gemm_lp.h"

#define AVXVNNI        __attribute__((target("avx2,avxvnni,fma")))
#define AVXVNNI_INLINE AVXVNNI __attribute__((always_inline)) static inline

enum { KB = CS_LP_KB, HALF = CS_LP_NR / 2, R_MAX = 3 };

/* acc += u8 a . s8 b (b from memory), four bytes a lane. {vex}: the
 * assembler would otherwise pick the EVEX form (AVX-512 VNNI), which this
 * CPU may not have; asm also keeps GCC from copying the accumulators
 * through the stack (see gemm_vnni.c). */
AVXVNNI_INLINE __m256i dpbusd(__m256i acc, __m256i a, const uint8_t *b) {
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a), "m"(*(const __m256i *)b));
    return acc;
}

/* The valid lanes of the 8 columns from column j on (of nv). */
AVXVNNI_INLINE __m256i lanes(int nv, int j) {
    int left = nv - j < 0 ? 0 : nv - j > 8 ? 8 : nv - j;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* An R x 32 tile, half h of the panel's 64 columns: 4R int32 accumulators
 * and one broadcast (13 of the 16 registers at R = 3); a step (a quad of
 * k) is R broadcasts and 4R vpdpbusd reading the panel from L1. Then, as
 * gemm_vnni.c, c (+)= ws[j] (xs[i] acc + xlo[i] cs[j]) (+ bias[j]). */
AVXVNNI_INLINE void tile(int R, int h, int steps, const cs_lp_tile *t, const uint8_t *b,
                         const float *ws, const float *cs, float *c, size_t ldc, int nv,
                         const float *bias, int add) {
    __m256i acc[R_MAX][4];
#pragma GCC unroll 3
    for (int i = 0; i < R; i++)
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) acc[i][v] = _mm256_setzero_si256();
    const uint8_t *bh = b + 4 * HALF * h;
    for (int q = 0; q < steps; q++) {
        const uint8_t *bq = bh + (size_t)q * 4 * CS_LP_NR;
#pragma GCC unroll 3
        for (int i = 0; i < R; i++) {
            int32_t quad;
            memcpy(&quad, t->a + (size_t)i * t->lda + 4 * (size_t)q, 4);
            __m256i av = _mm256_set1_epi32(quad);
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) acc[i][v] = dpbusd(acc[i][v], av, bq + 32 * v);
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
        int j = HALF * h + 8 * v; /* this vector's first column */
        if (j >= nv) break;
        __m256i mk = lanes(nv, j);
        int whole = nv - j >= 8;
        __m256 ws_v = _mm256_loadu_ps(ws + j), cs_v = _mm256_loadu_ps(cs + j); /* padded to 64 */
        __m256 bias_v = !bias   ? _mm256_setzero_ps()
                        : whole ? _mm256_loadu_ps(bias + j)
                                : _mm256_maskload_ps(bias + j, mk);
#pragma GCC unroll 3
        for (int i = 0; i < R; i++) {
            float *cr = c + (size_t)i * ldc + j;
            __m256 lo = _mm256_mul_ps(_mm256_set1_ps(t->xlo[(size_t)i * t->lds]), cs_v);
            __m256 s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][v]),
                                       _mm256_set1_ps(t->xs[(size_t)i * t->lds]), lo);
            __m256 r = bias ? _mm256_fmadd_ps(s, ws_v, bias_v) : _mm256_mul_ps(s, ws_v);
            if (whole) {
                if (add) r = _mm256_add_ps(_mm256_loadu_ps(cr), r);
                _mm256_storeu_ps(cr, r);
            } else {
                if (add) r = _mm256_add_ps(_mm256_maskload_ps(cr, mk), r);
                _mm256_maskstore_ps(cr, mk, r);
            }
        }
    }
}

/* Rows three at a time (what the registers hold), each over both halves. */
#define AVXVNNI_TILE(R, ...)                                                                       \
    do {                                                                                           \
        tile(R, 0, __VA_ARGS__);                                                                   \
        if (nv > HALF) tile(R, 1, __VA_ARGS__);                                                    \
    } while (0)

AVXVNNI void cs_lp_micro_i8_avxvnni(int rows, int steps, const cs_lp_tile *t, const uint8_t *b,
                                    const float *ws, const float *cs, float *c, size_t ldc, int nv,
                                    const float *bias, int add) {
    for (int r0 = 0; r0 < rows; r0 += R_MAX) {
        cs_lp_tile tr = {t->a + (size_t)r0 * t->lda, t->lda, t->xs + (size_t)r0 * t->lds,
                         t->xlo + (size_t)r0 * t->lds, t->lds};
        float *cr = c + (size_t)r0 * ldc;
        switch (rows - r0) {
        case 1:
            AVXVNNI_TILE(1, steps, &tr, b, ws, cs, cr, ldc, nv, bias, add);
            break;
        case 2:
            AVXVNNI_TILE(2, steps, &tr, b, ws, cs, cr, ldc, nv, bias, add);
            break;
        default:
            AVXVNNI_TILE(3, steps, &tr, b, ws, cs, cr, ldc, nv, bias, add);
            break;
        }
    }
}

/* One block's range and quantisation (gemm_lp.h, cs_lp_range_fn and
 * cs_lp_quant_fn) for the AVX-VNNI kernel, 8 lanes at a time, the last few
 * one by one; they need AVX2 only, hence their names. */
AVXVNNI void cs_lp_range_avx2(const float *x, int n, float *lo, float *hi) {
    __m256 lo_v = _mm256_set1_ps(x[0]), hi_v = lo_v;
    int p = 0;
    for (; p + 8 <= n; p += 8) {
        __m256 v = _mm256_loadu_ps(x + p);
        lo_v = _mm256_min_ps(lo_v, v);
        hi_v = _mm256_max_ps(hi_v, v);
    }
    float l8[8], h8[8];
    _mm256_storeu_ps(l8, lo_v);
    _mm256_storeu_ps(h8, hi_v);
    float l = l8[0], h = h8[0];
    for (int i = 1; i < 8; i++) l = l8[i] < l ? l8[i] : l, h = h8[i] > h ? h8[i] : h;
    for (; p < n; p++) l = x[p] < l ? x[p] : l, h = x[p] > h ? x[p] : h;
    *lo = l, *hi = h;
}

AVXVNNI void cs_lp_quant_avx2(const float *x, int n, float lo, float inv, uint8_t *u) {
    __m256 inv_v = _mm256_set1_ps(inv), lo_v = _mm256_set1_ps(lo);
    int p = 0;
    for (; p + 8 <= n; p += 8) {
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + p), lo_v), inv_v);
        __m256i q = _mm256_max_epi32(_mm256_cvtps_epi32(v), _mm256_setzero_si256());
        __m128i w16 = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        _mm_storel_epi64((__m128i *)(void *)(u + p), _mm_packus_epi16(w16, w16));
    }
    for (; p < n; p++) {
        float v = nearbyintf((x[p] - lo) * inv);
        u[p] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}
#else
typedef int cs_gemm_avxvnni_unused; /* ISO C wants something in a file */
#endif
