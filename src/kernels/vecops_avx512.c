/* kernels/vecops_avx512.c - the element-wise activations of kernels/vecops.h
 * in 16 lanes. Each is its AVX2 twin in vecops_avx2.c step for step (the
 * same operations in the same order, so the same bits), twice as wide: the
 * activation after fc1 is a visible share of an int8 forward pass
 * (docs/performance.md). Built for plain x86-64 like the rest of the library;
 * only the target-attributed functions use AVX-512, and vecops.c calls
 * them only when cs_cpu_level_get() reports it. Tails go to the AVX2
 * versions. */
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <stddef.h>

#include "kernels/vecops_avx2.h"

#define AVX512 __attribute__((target("avx512f,avx2,fma")))

/* exp8 of vecops_avx2.c: 2^n p(r), n = round(x / ln 2), Cephes' polynomial. */
AVX512 static inline __m512 exp16(__m512 x) {
    const __m512 shift = _mm512_set1_ps(12582912.0f); /* 1.5 * 2^23 */
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), shift);
    __m512 nf = _mm512_sub_ps(t, shift);
    __m512 r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(nf, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(
        _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4b400000)), 23);
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(p), e));
}

AVX512 void cs_vec_avx512_quick_gelu(float *x, size_t n) {
    const __m512 one = _mm512_set1_ps(1.0f), k = _mm512_set1_ps(-1.702f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        _mm512_storeu_ps(x + i, _mm512_div_ps(v, _mm512_add_ps(one, exp16(_mm512_mul_ps(k, v)))));
    }
    if (i < n) cs_vec_avx2_quick_gelu(x + i, n - i);
}

AVX512 void cs_vec_avx512_gelu(float *x, size_t n) {
    static const float c[10] = {-1.26551223f, 1.00002368f,  0.37409196f, 0.09678418f,  -0.18628806f,
                                0.27886807f,  -1.13520398f, 1.48851587f, -0.82215223f, 0.17087277f};
    const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512i vi = _mm512_castps_si512(v);
        __m512 z = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_andnot_si512(sign, vi)),
                                 _mm512_set1_ps(0.70710678118654752f));
        __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(half, z, one));
        __m512 p = _mm512_set1_ps(c[9]);
        for (int j = 8; j >= 0; j--) p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(c[j]));
        p = _mm512_fnmadd_ps(z, z, p);
        __m512 erf = _mm512_sub_ps(one, _mm512_mul_ps(t, exp16(p)));
        /* erf(-z) = -erf(z) */
        __m512i odd = _mm512_or_si512(_mm512_castps_si512(erf), _mm512_and_si512(sign, vi));
        erf = _mm512_castsi512_ps(odd);
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_mul_ps(half, v), _mm512_add_ps(one, erf)));
    }
    if (i < n) cs_vec_avx2_gelu(x + i, n - i);
}
#else
typedef int cs_vecops_avx512_unused; /* ISO C wants something in a file */
#endif
