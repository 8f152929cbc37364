/* kernels/vecops_avx2.c - kernels/vecops.h with AVX2 + FMA intrinsics (built
 * with -mavx2 -mfma; called only after the CPU check in vecops.c). */
#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/vecops.h"
#include "kernels/vecops_avx2.h"

/* exp(x), x clamped to [-87, 88], within 2 ulp: 2^n p(r) with n = round(x /
 * ln 2) (the 1.5 * 2^23 trick), r = x - n ln 2 in two parts, and p Cephes'
 * expf polynomial on |r| <= ln 2 / 2. */
static inline __m256 exp8(__m256 x) {
    const __m256 shift = _mm256_set1_ps(12582912.0f); /* 1.5 * 2^23 */
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), shift);
    __m256 nf = _mm256_sub_ps(t, shift);
    __m256 r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
    /* the low bits of t hold n: add n to p's exponent */
    __m256i e = _mm256_slli_epi32(
        _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4b400000)), 23);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
}

void cs_vec_avx2_quick_gelu(float *x, size_t n) {
    size_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f), k = _mm256_set1_ps(-1.702f);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, exp8(_mm256_mul_ps(k, v)))));
    }
    for (; i < n; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

/* erf(z) = 1 - erfc(z) for z >= 0 with erfc(z) = t exp(-z^2 + P(t)),
 * t = 1 / (1 + z/2) (the Chebyshev fit of Numerical Recipes, relative error
 * below 1.2e-7), and erf's odd symmetry. */
void cs_vec_avx2_gelu(float *x, size_t n) {
    static const float c[10] = {-1.26551223f, 1.00002368f,  0.37409196f, 0.09678418f,  -0.18628806f,
                                0.27886807f,  -1.13520398f, 1.48851587f, -0.82215223f, 0.17087277f};
    const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 z = _mm256_mul_ps(_mm256_andnot_ps(sign, v), _mm256_set1_ps(0.70710678118654752f));
        __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(half, z, one));
        __m256 p = _mm256_set1_ps(c[9]);
        for (int j = 8; j >= 0; j--) p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(c[j]));
        p = _mm256_fnmadd_ps(z, z, p);
        __m256 erf = _mm256_sub_ps(one, _mm256_mul_ps(t, exp8(p)));
        erf = _mm256_or_ps(erf, _mm256_and_ps(sign, v)); /* erf(-z) = -erf(z) */
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, erf)));
    }
    for (; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

void cs_vec_avx2_softmax(float *s, int nj, int n, float scale) {
    __m256 mx8 = _mm256_set1_ps(-INFINITY);
    int j = 0;
    for (; j + 8 <= nj; j += 8) mx8 = _mm256_max_ps(mx8, _mm256_loadu_ps(s + j));
    float mx = hmax8(mx8);
    for (; j < nj; j++) mx = s[j] > mx ? s[j] : mx;
    __m256 m = _mm256_set1_ps(mx), sc = _mm256_set1_ps(scale);
    __m256d sum4 = _mm256_setzero_pd(); /* in double, like the reference */
    for (j = 0; j + 8 <= nj; j += 8) {
        __m256 e = exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(s + j), m), sc));
        _mm256_storeu_ps(s + j, e);
        sum4 = _mm256_add_pd(sum4, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        sum4 = _mm256_add_pd(sum4, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double part[4], sum = 0;
    _mm256_storeu_pd(part, sum4);
    for (; j < nj; j++) {
        s[j] = expf((s[j] - mx) * scale);
        sum += s[j];
    }
    sum += (part[0] + part[1]) + (part[2] + part[3]);
    __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    for (j = 0; j + 8 <= nj; j += 8)
        _mm256_storeu_ps(s + j, _mm256_mul_ps(_mm256_loadu_ps(s + j), inv));
    for (; j < nj; j++) s[j] *= (float)(1.0 / sum);
    for (j = nj; j < n; j++) s[j] = 0.0f;
}

static inline double hsum4d(__m256d v) {
    double t[4];
    _mm256_storeu_pd(t, v);
    return (t[0] + t[1]) + (t[2] + t[3]);
}

void cs_vec_avx2_layernorm_row(const float *x, int d, const float *w, const float *b, float eps,
                               float *y) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    int i = 0;
    for (; i + 8 <= d; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    double s = hsum4d(_mm256_add_pd(s0, s1));
    for (; i < d; i++) s += x[i];
    double mean = s / d;
    __m256d m4 = _mm256_set1_pd(mean);
    s0 = s1 = _mm256_setzero_pd();
    for (i = 0; i + 8 <= d; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d t0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), m4);
        __m256d t1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), m4);
        s0 = _mm256_fmadd_pd(t0, t0, s0);
        s1 = _mm256_fmadd_pd(t1, t1, s1);
    }
    double ss = hsum4d(_mm256_add_pd(s0, s1));
    for (; i < d; i++) ss += (x[i] - mean) * (x[i] - mean);
    float inv = (float)(1.0 / sqrt(ss / d + eps)), mf = (float)mean;
    __m256 inv8 = _mm256_set1_ps(inv), mf8 = _mm256_set1_ps(mf);
    for (i = 0; i + 8 <= d; i += 8) {
        __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mf8), inv8);
        t = _mm256_mul_ps(t, _mm256_loadu_ps(w + i));
        _mm256_storeu_ps(y + i, _mm256_add_ps(t, _mm256_loadu_ps(b + i)));
    }
    for (; i < d; i++) y[i] = (x[i] - mf) * inv * w[i] + b[i];
}

/* The same steps as the portable version, 8 at a time (the same bits). */
float cs_vec_avx2_quantize_row(const float *w, int k, int8_t *q) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m0 = _mm256_setzero_ps(), m1 = m0;
    int i = 0;
    for (; i + 16 <= k; i += 16) { /* max(|x|, m): a NaN |x| leaves m */
        m0 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(w + i)), m0);
        m1 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(w + i + 8)), m1);
    }
    float t[8], amax = 0.0f;
    _mm256_storeu_ps(t, _mm256_max_ps(m0, m1));
    for (int j = 0; j < 8; j++) amax = t[j] > amax ? t[j] : amax;
    for (; i < k; i++) {
        float a = fabsf(w[i]);
        amax = a > amax ? a : amax;
    }
    if (!(amax > 0.0f && amax <= 3.4e38f)) {
        memset(q, 0, (size_t)k);
        return 1.0f;
    }
    float inv = 127.0f / amax;
    const __m256 vinv = _mm256_set1_ps(inv), hi = _mm256_set1_ps(127.0f),
                 lo = _mm256_set1_ps(-127.0f), half = _mm256_set1_ps(0.5f);
    for (i = 0; i + 8 <= k; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(w + i), vinv);
        v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q)); /* NaN -> 0 */
        v = _mm256_max_ps(_mm256_min_ps(v, hi), lo);
        v = _mm256_add_ps(v, _mm256_or_ps(_mm256_and_ps(v, sign), half));
        __m256i r = _mm256_cvttps_epi32(v);
        __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storel_epi64((__m128i *)(void *)(q + i), _mm_packs_epi16(h, h));
    }
    for (; i < k; i++) q[i] = cs_vec_quantize_one(w[i] * inv);
    return amax / 127.0f;
}
