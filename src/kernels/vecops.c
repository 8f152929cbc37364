/* kernels/vecops.c - kernels/vecops.h: the portable code, and the dispatch to
 * the AVX2 versions (vecops_avx2.c) and AVX-512 activations
 * (vecops_avx512.c) where the CPU has them. */
#include "kernels/vecops.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"

#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/vecops_avx2.h"
#define HAVE_AVX2()   (cs_cpu_level_get() >= CS_CPU_AVX2)
#define HAVE_AVX512() (cs_cpu_level_get() >= CS_CPU_AVX512)
#else
#define HAVE_AVX2()                                   0
#define HAVE_AVX512()                                 0
#define cs_vec_avx512_quick_gelu(x, n)                (void)0
#define cs_vec_avx512_gelu(x, n)                      (void)0
#define cs_vec_avx2_quick_gelu(x, n)                  (void)0
#define cs_vec_avx2_gelu(x, n)                        (void)0
#define cs_vec_avx2_softmax(s, nj, n, scale)          (void)0
#define cs_vec_avx2_layernorm_row(x, d, w, b, eps, y) (void)0
#define cs_vec_avx2_quantize_row(w, k, q)             0.0f
#endif

void cs_vec_quick_gelu(float *x, size_t n) {
    if (HAVE_AVX512()) {
        cs_vec_avx512_quick_gelu(x, n);
        return;
    }
    if (HAVE_AVX2()) {
        cs_vec_avx2_quick_gelu(x, n);
        return;
    }
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

void cs_vec_gelu(float *x, size_t n) {
    if (HAVE_AVX512()) {
        cs_vec_avx512_gelu(x, n);
        return;
    }
    if (HAVE_AVX2()) {
        cs_vec_avx2_gelu(x, n);
        return;
    }
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

void cs_vec_softmax(float *s, int nj, int n, float scale) {
    if (HAVE_AVX2()) {
        cs_vec_avx2_softmax(s, nj, n, scale);
        return;
    }
    float mx = -INFINITY;
    for (int j = 0; j < nj; j++) mx = s[j] > mx ? s[j] : mx;
    double sum = 0;
    for (int j = 0; j < nj; j++) {
        s[j] = expf((s[j] - mx) * scale);
        sum += s[j];
    }
    float inv = (float)(1.0 / sum);
    for (int j = 0; j < nj; j++) s[j] *= inv;
    for (int j = nj; j < n; j++) s[j] = 0.0f;
}

void cs_vec_layernorm_row(const float *x, int d, const float *w, const float *b, float eps,
                          float *y) {
    if (HAVE_AVX2()) {
        cs_vec_avx2_layernorm_row(x, d, w, b, eps, y);
        return;
    }
    double s = 0, ss = 0;
    for (int i = 0; i < d; i++) s += x[i];
    double mean = s / d;
    for (int i = 0; i < d; i++) {
        double t = x[i] - mean;
        ss += t * t;
    }
    float inv = (float)(1.0 / sqrt(ss / d + eps)), mf = (float)mean;
    for (int i = 0; i < d; i++) y[i] = (x[i] - mf) * inv * w[i] + b[i];
}

float cs_vec_quantize_row(const float *w, int k, int8_t *q) {
    if (HAVE_AVX2()) return cs_vec_avx2_quantize_row(w, k, q);
    float amax = 0.0f;
    for (int i = 0; i < k; i++) {
        float a = fabsf(w[i]);
        amax = a > amax ? a : amax; /* NaN: ignored */
    }
    if (!(amax > 0.0f && amax <= 3.4e38f)) { /* zeros, or not finite */
        memset(q, 0, (size_t)k);
        return 1.0f;
    }
    float inv = 127.0f / amax;
    for (int i = 0; i < k; i++) q[i] = cs_vec_quantize_one(w[i] * inv);
    return amax / 127.0f;
}
