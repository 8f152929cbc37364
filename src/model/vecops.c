/* model/vecops.c - model/vecops.h: the portable code, and the dispatch to
 * the AVX2 versions (vecops_avx2.c) where the CPU has them. */
#include "model/vecops.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "model/cpu.h"

#if defined(__x86_64__) || defined(_M_X64)
void cs_vec_avx2_quick_gelu(float *x, size_t n);
void cs_vec_avx2_gelu(float *x, size_t n);
void cs_vec_avx2_attention_head(const float *q, const float *k, const float *v, size_t ld, int n,
                                int hd, int causal, float *out, float *scratch);
#define HAVE_AVX2() (cs_cpu_level_get() >= CS_CPU_AVX2)
#else
#define HAVE_AVX2()                                                          0
#define cs_vec_avx2_quick_gelu(x, n)                                         (void)0
#define cs_vec_avx2_gelu(x, n)                                               (void)0
#define cs_vec_avx2_attention_head(q, k, v, ld, n, hd, causal, out, scratch) (void)0
#endif

void cs_vec_quick_gelu(float *x, size_t n) {
    if (HAVE_AVX2()) {
        cs_vec_avx2_quick_gelu(x, n);
        return;
    }
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

void cs_vec_gelu(float *x, size_t n) {
    if (HAVE_AVX2()) {
        cs_vec_avx2_gelu(x, n);
        return;
    }
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

size_t cs_attention_scratch_floats(int n, int hd) {
    size_t np = ((size_t)n + 15) & ~(size_t)15;
    return np * (size_t)hd + 4 * np;
}

static void attention_portable(const float *q, const float *k, const float *v, size_t ld, int n,
                               int hd, int causal, float *out, float *s) {
    for (int i = 0; i < n; i++) {
        const float *qi = q + (size_t)i * ld;
        int nj = causal ? i + 1 : n;
        float mx = -INFINITY;
        for (int j = 0; j < nj; j++) {
            const float *kj = k + (size_t)j * ld;
            float t = 0;
            for (int c = 0; c < hd; c++) t += qi[c] * kj[c];
            s[j] = t;
            mx = t > mx ? t : mx;
        }
        double sum = 0;
        for (int j = 0; j < nj; j++) {
            s[j] = expf(s[j] - mx);
            sum += s[j];
        }
        float inv = (float)(1.0 / sum), *oi = out + (size_t)i * ld;
        for (int c = 0; c < hd; c++) oi[c] = 0;
        for (int j = 0; j < nj; j++) {
            const float *vj = v + (size_t)j * ld;
            float p = s[j] * inv;
            for (int c = 0; c < hd; c++) oi[c] += p * vj[c];
        }
    }
}

void cs_attention_head(const float *q, const float *k, const float *v, size_t ld, int n, int hd,
                       int causal, float *out, float *scratch) {
    if (HAVE_AVX2())
        cs_vec_avx2_attention_head(q, k, v, ld, n, hd, causal, out, scratch);
    else
        attention_portable(q, k, v, ld, n, hd, causal, out, scratch);
}
