/* model/vecops_impl.h - the body of model/vecops.h, written as plain loops
 * the compiler vectorises; included by vecops.c (baseline) and
 * vecops_avx2.c (AVX2 + FMA) with VEC(name) giving each copy its names. */
#include <math.h>
#include <stdint.h>
#include <string.h>

/* exp(x) for x in [-87, 88] (clamped), within 2 ulp: 2^n * p(r), with
 * n = round(x / ln 2) by the 1.5 * 2^23 trick and p a degree-7 polynomial
 * (Cephes expf's coefficients) on |r| <= ln 2 / 2. Branch-free, so loops
 * calling it vectorise. */
static inline float VEC(exp)(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float shift = 12582912.0f; /* 1.5 * 2^23 */
    float t = x * 1.44269504088896341f + shift;
    float n = t - shift;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t ti, pi; /* unsigned: the shift of a negative n wraps as intended */
    memcpy(&ti, &t, 4);
    memcpy(&pi, &p, 4);
    pi += (ti - 0x4b400000u) << 23; /* ti - bits(shift) = n */
    memcpy(&p, &pi, 4);
    return p;
}

static void VEC(quick_gelu)(float *restrict x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + VEC(exp)(-1.702f * x[i]));
}

/* erf(z) = 1 - erfc(z) for z >= 0, with erfc = t exp(-z^2 + P(t)) (the
 * Chebyshev fit of Numerical Recipes, relative error below 1.2e-7), and
 * erf's odd symmetry. */
static void VEC(gelu)(float *restrict x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i], z = fabsf(v) * 0.70710678118654752f;
        float t = 1.0f / (1.0f + 0.5f * z);
        float poly = -z * z - 1.26551223f +
                     t * (1.00002368f +
                          t * (0.37409196f +
                               t * (0.09678418f +
                                    t * (-0.18628806f +
                                         t * (0.27886807f +
                                              t * (-1.13520398f +
                                                   t * (1.48851587f +
                                                        t * (-0.82215223f + t * 0.17087277f))))))));
        float erfc = t * VEC(exp)(poly);
        float erf = 1.0f - erfc;
        x[i] = 0.5f * v * (1.0f + (v < 0 ? -erf : erf));
    }
}

static void VEC(attention_head)(const float *q, const float *k, const float *v, size_t ld, int n,
                                int hd, int causal, float *out, float *scratch) {
    int np = (n + 15) & ~15;
    float *restrict kt = scratch;                  /* [hd, np]: k transposed */
    float *restrict s = scratch + (size_t)hd * np; /* [np]: one row of scores */
    for (int j = 0; j < n; j++)
        for (int c = 0; c < hd; c++) kt[(size_t)c * np + j] = k[(size_t)j * ld + c];
    for (int c = 0; c < hd; c++)
        for (int j = n; j < np; j++) kt[(size_t)c * np + j] = 0.0f;
    for (int i = 0; i < n; i++) {
        const float *restrict qi = q + (size_t)i * ld;
        int nj = causal ? i + 1 : n, nv = (nj + 15) & ~15; /* columns computed */
        for (int j = 0; j < nv; j++) s[j] = 0.0f;
        for (int c = 0; c < hd; c++) {
            float qc = qi[c];
            const float *restrict kc = kt + (size_t)c * np;
            for (int j = 0; j < nv; j++) s[j] += qc * kc[j];
        }
        float mx = -INFINITY;
        for (int j = 0; j < nj; j++) mx = s[j] > mx ? s[j] : mx;
        for (int j = 0; j < nj; j++) s[j] = VEC(exp)(s[j] - mx);
        double sum = 0; /* double: as the reference, whatever nj */
        for (int j = 0; j < nj; j++) sum += s[j];
        float inv = (float)(1.0 / sum);
        float *restrict oi = out + (size_t)i * ld;
        for (int c = 0; c < hd; c++) oi[c] = 0.0f;
        for (int j = 0; j < nj; j++) {
            float p = s[j] * inv;
            const float *restrict vj = v + (size_t)j * ld;
            for (int c = 0; c < hd; c++) oi[c] += p * vj[c];
        }
    }
}
