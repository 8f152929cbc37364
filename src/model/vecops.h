/* model/vecops.h - the element-wise and attention steps of a transformer
 * layer, vectorised: activations (with a polynomial exp instead of a libm
 * call per element) and one attention head. Dispatched at run time like the
 * GEMM (model/cpu.h): vecops_avx2.c and vecops.c compile the same code
 * (vecops_impl.h) for AVX2 and for the baseline. */
#ifndef CS_MODEL_VECOPS_H
#define CS_MODEL_VECOPS_H

#include <stddef.h>

/* In place over n values: x * sigmoid(1.702 x) (CLIP's quick_gelu). */
void cs_vec_quick_gelu(float *x, size_t n);
/* In place: 0.5 x (1 + erf(x / sqrt 2)) (exact GELU, OpenCLIP models). */
void cs_vec_gelu(float *x, size_t n);

/* Floats of scratch cs_attention_head needs for n positions, head size hd. */
size_t cs_attention_scratch_floats(int n, int hd);

/* One head of scaled dot-product attention over n positions:
 *   out_i = sum_j softmax_j(q_i . k_j) v_j     (j <= i when causal)
 * q, k, v, out: rows of hd floats, row stride ld (q already scaled).
 * scratch: cs_attention_scratch_floats(n, hd) floats. */
void cs_attention_head(const float *q, const float *k, const float *v, size_t ld, int n, int hd,
                       int causal, float *out, float *scratch);

#endif
