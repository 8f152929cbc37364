/* model/forward.h - the two towers' forward passes (raw projected features). */
#ifndef CS_MODEL_FORWARD_H
#define CS_MODEL_FORWARD_H

#include "model/weights.h"

/* chw: n images of [3, image_size, image_size], normalised.
 * out: n rows of embed_dim, before L2 normalisation. */
cs_status cs_vision_forward(cs_pool *pool, const cs_clip_config *cfg, const cs_tower *T,
                            const float *chw, int n, float *out, cs_error *err);

/* The position whose output CLIP pools: the first end-of-text token (what
 * argmax(ids) finds for legacy configs, eos_token_id == 2), else the first
 * eos_token_id (0 if absent), as transformers does. */
int cs_text_pool_index(const cs_clip_config *cfg, const int32_t *ids, int n_ids);

/* ids[i]: n_ids[i] token ids (1..context_length, each < vocab_size, checked
 * by the caller). Only positions up to the pooled token are computed: the
 * tower is causal, so later ones cannot change it. */
cs_status cs_text_forward(cs_pool *pool, const cs_clip_config *cfg, const cs_tower *T,
                          const int32_t *const *ids, const int *n_ids, int n, float *out,
                          cs_error *err);

#endif
