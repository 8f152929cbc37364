/* model/vision.c - the CLIP vision tower (transformers' CLIPVisionTransformer).
 *
 *   pixels [n, 3, S, S] -> patches [n*g*g, 3*p*p] -> patch embeddings [n*g*g, w]
 *   -> [class; patches] + positions [n*(g*g+1), w] -> pre_layrnorm
 *   -> encoder layers -> post_layernorm(class token) [n, w]
 *   -> visual_projection [n, embed_dim]
 */
#include <stdlib.h>
#include <string.h>

#include "core/scratch.h"
#include "kernels/vecops.h"
#include "model/forward.h"

cs_status cs_vision_forward(cs_pool *pool, const cs_clip_config *c, const cs_tower *T,
                            const float *chw, int n, float *out, cs_error *err) {
    const cs_tower_config *tc = T->cfg;
    int p = c->patch_size, S = c->image_size, g = S / p, np = g * g, seq = np + 1;
    int w = tc->width, kp = 3 * p * p, rows = n * seq;
    int threads = cs_pool_threads(pool);
    size_t n_x = (size_t)rows * w, n_patch = (size_t)n * np * kp, n_emb = (size_t)n * np * w;
    size_t n_scr = cs_encoder_scratch_floats(tc, rows, seq, threads);
    size_t n_tmp = n_patch + n_emb > n_scr ? n_patch + n_emb : n_scr;
    size_t got = 0; /* from the scratch cache: a batch's activations are tens of MB */
    float *x = cs_scratch_get((n_x + n_tmp + (size_t)n * w) * sizeof(float), &got);
    int *start = malloc((size_t)n * 2 * sizeof(int));
    if (!x || !start) {
        cs_scratch_put(x, got);
        free(start);
        return cs_fail(err, CS_ENOMEM, "out of memory for %d images", n);
    }
    float *tmp = x + n_x, *pooled = tmp + n_tmp;
    float *patches = tmp, *emb = tmp + n_patch;
    int *len = start + n;

    /* im2col: patch (py, px) of image b, flattened as the conv weight is: c, ky, kx */
    for (int b = 0; b < n; b++)
        for (int py = 0; py < g; py++)
            for (int px = 0; px < g; px++) {
                float *dst = patches + ((size_t)b * np + (size_t)py * g + px) * kp;
                for (int ch = 0; ch < 3; ch++)
                    for (int ky = 0; ky < p; ky++) {
                        const float *src = chw +
                                           (((size_t)b * 3 + ch) * S + (size_t)py * p + ky) * S +
                                           (size_t)px * p;
                        memcpy(dst + (ch * p + ky) * p, src, (size_t)p * sizeof(float));
                    }
            }
    cs_status st = cs_linear(pool, patches, n * np, &T->patch, NULL, emb, err);

    for (int b = 0; b < n; b++) {
        float *xb = x + (size_t)b * seq * w;
        for (int j = 0; j < w; j++) xb[j] = T->cls[j] + T->pos[j];
        for (int t = 0; t < np; t++) {
            const float *e = emb + ((size_t)b * np + t) * w, *ps = T->pos + (size_t)(t + 1) * w;
            float *xt = xb + (size_t)(t + 1) * w;
            for (int j = 0; j < w; j++) xt[j] = e[j] + ps[j];
        }
        start[b] = b * seq;
        len[b] = seq;
    }
    cs_layernorm(pool, x, rows, w, T->ln_pre_w, T->ln_pre_b, tc->ln_eps, x);
    /* the last layer computes the class token alone: nothing else is read */
    for (int l = 0; l < tc->layers && !st; l++)
        st = cs_encoder_layer(pool, tc, &T->layers[l], x, rows, start, len, n, 0,
                              l == tc->layers - 1 ? start : NULL, tmp, err);
    for (int b = 0; b < n; b++)
        cs_vec_layernorm_row(x + (size_t)b * seq * w, w, T->ln_post_w, T->ln_post_b, tc->ln_eps,
                             pooled + (size_t)b * w);
    if (!st) st = cs_linear(pool, pooled, n, &T->proj, NULL, out, err);
    cs_scratch_put(x, got);
    free(start);
    return st;
}
