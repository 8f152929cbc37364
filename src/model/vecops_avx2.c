/* model/vecops_avx2.c - model/vecops_impl.h built with AVX2 + FMA. */
#define VEC(name) cs_vec_avx2_##name
#include "model/vecops_impl.h"

void cs_vec_avx2_quick_gelu_(float *x, size_t n);
void cs_vec_avx2_gelu_(float *x, size_t n);
void cs_vec_avx2_attention_head_(const float *q, const float *k, const float *v, size_t ld, int n,
                                 int hd, int causal, float *out, float *scratch);

void cs_vec_avx2_quick_gelu_(float *x, size_t n) {
    cs_vec_avx2_quick_gelu(x, n);
}
void cs_vec_avx2_gelu_(float *x, size_t n) {
    cs_vec_avx2_gelu(x, n);
}
void cs_vec_avx2_attention_head_(const float *q, const float *k, const float *v, size_t ld, int n,
                                 int hd, int causal, float *out, float *scratch) {
    cs_vec_avx2_attention_head(q, k, v, ld, n, hd, causal, out, scratch);
}
