/* model/ops.h - the small per-row operations of a transformer, and the
 * encoder layer built from them and cs_linear. */
#ifndef CS_MODEL_OPS_H
#define CS_MODEL_OPS_H

#include "core/pool.h"
#include "model/config.h"
#include "model/linear.h"

/* cs_vec_layernorm_row (kernels/vecops.h) over every row of x[rows, d] into y
 * (which may be x), spread over the pool. */
void cs_layernorm(cs_pool *pool, float *x, int rows, int d, const float *w, const float *b,
                  float eps, float *y);

/* The weights of one encoder layer (CLIPEncoderLayer). Vectors are F32. */
typedef struct cs_layer_weights {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    cs_weight q, k, v, o, fc1, fc2; /* [d, d] x 4, [mlp, d], [d, mlp] */
    const float *q_b, *k_b, *v_b, *o_b, *fc1_b, *fc2_b;
} cs_layer_weights;

/* Scratch for cs_encoder_layer over `rows` rows: see cs_encoder_scratch_floats. */
size_t cs_encoder_scratch_floats(const cs_tower_config *cfg, int rows, int max_seq, int threads);

/* One pre-LN encoder layer over a batch of sequences packed row after row:
 * x[rows, d] with sequence s at rows [start[s], start[s] + len[s]).
 *   x = x + out_proj(attention(ln1(x)))   (causal: a position sees only the past)
 *   x = x + fc2(act(fc1(ln2(x))))
 * With `only` (NULL: every row), the layer computes the rows only[s], one
 * of each sequence, and leaves the others as they were: a tower's last
 * layer, of which only the pooled token is read. Their keys and values
 * still come from every row, so those rows get the bits they get among
 * all (each row of a product is summed in a fixed order, kernels/gemm.c);
 * the queries, the attention, out_proj and the MLP of the other rows,
 * 49 of 50 in ViT-B/32's last layer, are not computed.
 * scratch holds cs_encoder_scratch_floats(...) floats. Fails only when the
 * GEMM's scratch cannot be allocated (cs_linear). */
cs_status cs_encoder_layer(cs_pool *pool, const cs_tower_config *cfg, const cs_layer_weights *L,
                           float *x, int rows, const int *start, const int *len, int n_seq,
                           int causal, const int *only, float *scratch, cs_error *err);

#endif
