/* model/text.c - the CLIP text tower (transformers' CLIPTextTransformer).
 *
 *   ids -> token + position embeddings [sum L_i, w] -> causal encoder layers
 *   -> final_layer_norm(pooled token) [n, w] -> text_projection [n, embed_dim]
 * Each text is computed only up to its pooled (end-of-text) token: with the
 * causal mask, the positions after it cannot influence it. */
#include <stdlib.h>
#include <string.h>

#include "core/scratch.h"
#include "kernels/vecops.h"
#include "model/forward.h"

int cs_text_pool_index(const cs_clip_config *c, const int32_t *ids, int n_ids) {
    int best = 0;
    if (c->eos_token_id == 2) { /* legacy: argmax, the first maximum */
        for (int i = 1; i < n_ids; i++)
            if (ids[i] > ids[best]) best = i;
        return best;
    }
    for (int i = 0; i < n_ids; i++)
        if (ids[i] == c->eos_token_id) return i;
    return 0;
}

cs_status cs_text_forward(cs_pool *pool, const cs_clip_config *c, const cs_tower *T,
                          const int32_t *const *ids, const int *n_ids, int n, float *out,
                          cs_error *err) {
    const cs_tower_config *tc = T->cfg;
    int w = tc->width, rows = 0, max_seq = 0;
    int *start = malloc((size_t)n * 3 * sizeof(int));
    if (!start) return cs_fail(err, CS_ENOMEM, "out of memory for %d texts", n);
    int *len = start + n, *last = len + n; /* last: each text's pooled row */
    for (int i = 0; i < n; i++) {
        start[i] = rows;
        len[i] = cs_text_pool_index(c, ids[i], n_ids[i]) + 1;
        rows += len[i];
        last[i] = rows - 1;
        if (len[i] > max_seq) max_seq = len[i];
    }
    size_t n_x = (size_t)rows * w;
    size_t n_scr = cs_encoder_scratch_floats(tc, rows, max_seq, cs_pool_threads(pool));
    size_t got = 0;
    float *x = cs_scratch_get((n_x + n_scr + (size_t)n * w) * sizeof(float), &got);
    if (!x) {
        free(start);
        return cs_fail(err, CS_ENOMEM, "out of memory for %d texts", n);
    }
    float *scratch = x + n_x, *pooled = scratch + n_scr;

    for (int i = 0; i < n; i++)
        for (int t = 0; t < len[i]; t++) {
            float *xt = x + (size_t)(start[i] + t) * w;
            const float *ps = T->pos + (size_t)t * w;
            cs_weight_row(&T->tokens, ids[i][t], xt);
            for (int j = 0; j < w; j++) xt[j] += ps[j];
        }
    cs_status st = CS_OK;
    /* the last layer computes the pooled tokens alone: nothing else is read */
    for (int l = 0; l < tc->layers && !st; l++)
        st = cs_encoder_layer(pool, tc, &T->layers[l], x, rows, start, len, n, 1,
                              l == tc->layers - 1 ? last : NULL, scratch, err);
    for (int i = 0; i < n; i++)
        cs_vec_layernorm_row(x + (size_t)last[i] * w, w, T->ln_post_w, T->ln_post_b, tc->ln_eps,
                             pooled + (size_t)i * w);
    if (!st) st = cs_linear(pool, pooled, n, &T->proj, NULL, out, err);
    cs_scratch_put(x, got);
    free(start);
    return st;
}
