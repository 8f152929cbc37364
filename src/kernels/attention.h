/* kernels/attention.h - one head of scaled dot-product attention. */
#ifndef CS_KERNELS_ATTENTION_H
#define CS_KERNELS_ATTENTION_H

#include <stddef.h>

/* Floats of scratch cs_attention_head needs for n positions, head size hd. */
size_t cs_attention_scratch_floats(int n, int hd);

/* One head over n positions:
 *   out_i = sum_j softmax_j(scale * q_i . k_j) v_j     (j <= i when causal)
 * q, k, v, out: rows of hd floats, row stride ld; scale > 0 (hd^-0.5).
 * scratch: cs_attention_scratch_floats(n, hd) floats. */
void cs_attention_head(const float *q, const float *k, const float *v, size_t ld, int n, int hd,
                       float scale, int causal, float *out, float *scratch);

/* The same for the nq queries at positions [first, first + nq) only: q and
 * out hold their rows (row stride ldq), k and v all n positions' (ld). Each
 * output row has the bits cs_attention_head gives it among all n. */
void cs_attention_rows(const float *q, size_t ldq, int first, int nq, const float *k,
                       const float *v, size_t ld, int n, int hd, float scale, int causal,
                       float *out, float *scratch);

#endif
