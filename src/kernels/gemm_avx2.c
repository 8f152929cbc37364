/* kernels/gemm_avx2.c - AVX2 + FMA kernels (F16C for half weights). Built
 * with -mavx2 -mfma -mf16c; reached only through cs_cpu_level_get(). */
#include <immintrin.h>

#include "kernels/gemm_kernel.h"

/* 6 x 16 tile: 12 accumulators + 2 panel vectors + 1 broadcast = 15 of the
 * 16 ymm registers; per step of k 8 loads feed 12 FMAs. */
enum { MR = 6, NR = 16 };

static void micro_6x16(int kc, const float *a, size_t lda, const float *b, float *c, size_t ldc,
                       const float *bias, int add) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const float *a0 = a, *a3 = a + 3 * lda;
    for (int p = 0; p < kc; p++, b += NR) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8), av;
#define ROW(r, base, off)                                                                          \
    av = _mm256_broadcast_ss(base + (off)*lda + p);                                                \
    c##r##0 = _mm256_fmadd_ps(av, b0, c##r##0);                                                    \
    c##r##1 = _mm256_fmadd_ps(av, b1, c##r##1);
        ROW(0, a0, 0)
        ROW(1, a0, 1)
        ROW(2, a0, 2)
        ROW(3, a3, 0)
        ROW(4, a3, 1)
        ROW(5, a3, 2)
#undef ROW
    }
    __m256 bias0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 bias1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#define STORE(r)                                                                                   \
    {                                                                                              \
        float *cr = c + (r)*ldc;                                                                   \
        __m256 v0 = _mm256_add_ps(c##r##0, bias0), v1 = _mm256_add_ps(c##r##1, bias1);             \
        if (add) {                                                                                 \
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));                                           \
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8));                                       \
        }                                                                                          \
        _mm256_storeu_ps(cr, v0);                                                                  \
        _mm256_storeu_ps(cr + 8, v1);                                                              \
    }
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5)
#undef STORE
}

/* 8 elements of W at w (any type) as floats. */
static inline __m256 load8(const void *w, cs_dtype wt, size_t i) {
    if (wt == CS_DT_F32) return _mm256_loadu_ps((const float *)w + i);
    if (wt == CS_DT_I8) /* before the scale */
        return _mm256_cvtepi32_ps(
            _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const int8_t *)w + i))));
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
    if (wt == CS_DT_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* r[t] = column t of the 8 x 8 block held in rows r[0..7]. */
static inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
#pragma GCC unroll 4
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 2
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* Any nr that is a multiple of 8 (the AVX-512 packer uses it for [k, n]). */
void cs_mm_pack_b_avx2(const cs_mm_src *s, int nv, int kc, int nr, const void *next, float *b) {
    const void *w = s->w;
    size_t ldw = s->ldw;
    cs_dtype wt = s->wt;
    if (s->kn && nv < nr) { /* the last columns of a [k, n] matrix: rare */
        cs_mm_pack_b_scalar(s, nv, kc, nr, next, b);
        return;
    }
    if (s->kn) { /* W[k, n]: a row of the panel is contiguous already */
        for (int p = 0; p < kc; p++)
            for (int j = 0; j < nr; j += 8) {
                __m256 v = load8(w, wt, (size_t)p * ldw + j);
                if (s->scale) v = _mm256_mul_ps(v, _mm256_loadu_ps(s->scale + j));
                _mm256_store_ps(b + (size_t)p * nr + j, v);
            }
        return;
    }
    /* rows of W past nv (the last panel of a matrix; the keys of a short
     * sequence in attention) pack as zeros */
    int p8 = kc & ~7;
    size_t es = cs_dtype_size(wt);
    for (int j = 0; j < nr; j += 8)
        for (int p = 0; p < p8; p += 8) {
            __m256 r[8];
            if (next && (p * es) % 64 == 0) /* a line of each row of the next panel */
                for (int i = 0; i < 8 && j + i < nv; i++)
                    _mm_prefetch((const char *)next + ((size_t)(j + i) * ldw + p) * es,
                                 _MM_HINT_T1);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                r[i] = j + i < nv ? load8(w, wt, (size_t)(j + i) * ldw + p) : _mm256_setzero_ps();
            if (s->scale)
                for (int i = 0; i < 8 && j + i < nv; i++)
                    r[i] = _mm256_mul_ps(r[i], _mm256_set1_ps(s->scale[j + i]));
            transpose8(r);
#pragma GCC unroll 8
            for (int t = 0; t < 8; t++) _mm256_store_ps(b + (size_t)(p + t) * nr + j, r[t]);
        }
    for (int p = p8; p < kc; p++)
        for (int j = 0; j < nr; j++) b[(size_t)p * nr + j] = j < nv ? cs_mm_src_at(s, j, p) : 0.0f;
}

const cs_mm_kernel cs_mm_avx2 = {"avx2", MR, NR, 256, micro_6x16, NULL, cs_mm_pack_b_avx2};
