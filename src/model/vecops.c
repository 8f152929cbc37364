/* model/vecops.c - model/vecops.h for the baseline CPU, and the dispatch. */
#include "model/vecops.h"

#include "model/cpu.h"

#define VEC(name) cs_vec_base_##name
#include "model/vecops_impl.h"

#if defined(__x86_64__) || defined(_M_X64)
void cs_vec_avx2_quick_gelu_(float *x, size_t n);
void cs_vec_avx2_gelu_(float *x, size_t n);
void cs_vec_avx2_attention_head_(const float *q, const float *k, const float *v, size_t ld, int n,
                                 int hd, int causal, float *out, float *scratch);
#define HAVE_AVX2() (cs_cpu_level_get() >= CS_CPU_AVX2)
#else
#define HAVE_AVX2()                 0
#define cs_vec_avx2_quick_gelu_     cs_vec_base_quick_gelu
#define cs_vec_avx2_gelu_           cs_vec_base_gelu
#define cs_vec_avx2_attention_head_ cs_vec_base_attention_head
#endif

void cs_vec_quick_gelu(float *x, size_t n) {
    if (HAVE_AVX2())
        cs_vec_avx2_quick_gelu_(x, n);
    else
        cs_vec_base_quick_gelu(x, n);
}

void cs_vec_gelu(float *x, size_t n) {
    if (HAVE_AVX2())
        cs_vec_avx2_gelu_(x, n);
    else
        cs_vec_base_gelu(x, n);
}

size_t cs_attention_scratch_floats(int n, int hd) {
    size_t np = ((size_t)n + 15) & ~(size_t)15;
    return np * (size_t)hd + np;
}

void cs_attention_head(const float *q, const float *k, const float *v, size_t ld, int n, int hd,
                       int causal, float *out, float *scratch) {
    if (HAVE_AVX2())
        cs_vec_avx2_attention_head_(q, k, v, ld, n, hd, causal, out, scratch);
    else
        cs_vec_base_attention_head(q, k, v, ld, n, hd, causal, out, scratch);
}
