/* model/quant.c - int8 weights, an opt-in (cs_model_opts.int8).
 *
 * Each encoder-layer matrix of a tower is quantised when the tower is first
 * used, per row (an output channel), symmetrically:
 *   W[j, :] ~ q[j, :] * scale[j],  scale[j] = max |W[j, :]| / 127.
 * Weight-only: the activations stay float32, and the GEMM turns each panel
 * back into float as it packs it (model/gemm*.c, CS_GEMM_I8), so the
 * arithmetic is the float path's; what changes is the weights' rounding (at
 * most half a step, 1/254 of the row's largest weight) and their size: a
 * quarter of F32, less memory and a quarter of the bytes to stream from
 * DRAM per call. The patch embedding and the two final projections (first
 * and last, small) stay as stored. Cosine to the stored weights' embeddings
 * and the speed: `clipsearch bench --int8`, tests/model/test_int8.c. */
#include "model/quant.h"

#include <stdlib.h>

#include "core/file.h"
#include "model/linear.h"
#include "model/vecops.h"

typedef struct qjob {
    cs_weight *src[6 * 64]; /* the matrices, in layer order */
    int8_t *q[6 * 64];
    float *scale[6 * 64];
    float *rows; /* per worker: max_k floats */
    int max_k;
} qjob;

/* Sizes in the arena round up to whole cache lines (every part aligned). */
static size_t block(size_t bytes) {
    return (bytes + 63) & ~(size_t)63;
}

static void quantize_task(void *ctx, int task, int worker) {
    qjob *J = ctx;
    const cs_weight *w = J->src[task];
    float *row = J->rows + (size_t)worker * J->max_k;
    for (int r = 0; r < w->n; r++) {
        cs_weight_row(w, r, row);
        J->scale[task][r] = cs_vec_quantize_row(row, w->k, J->q[task] + (size_t)r * w->k);
    }
    /* the stored matrix is not read again: out of the resident set */
    cs_map_release(w->data, (size_t)w->n * (size_t)w->k * cs_dtype_size(w->dtype));
}

cs_status cs_tower_quantize(cs_tower *T, cs_pool *pool, cs_error *err) {
    int layers = T->cfg->layers, n = 6 * layers;
    if (layers > 64) return cs_fail(err, CS_ELIMIT, "int8: more than 64 layers");
    qjob *J = calloc(1, sizeof *J);
    if (!J) return cs_fail(err, CS_ENOMEM, "int8: out of memory");
    size_t bytes = 0;
    for (int l = 0; l < layers; l++) {
        cs_layer_weights *L = &T->layers[l];
        cs_weight *w[6] = {&L->q, &L->k, &L->v, &L->o, &L->fc1, &L->fc2};
        for (int i = 0; i < 6; i++) {
            J->src[6 * l + i] = w[i];
            bytes += block((size_t)w[i]->n * sizeof(float)) + block((size_t)w[i]->n * w[i]->k);
            if (w[i]->k > J->max_k) J->max_k = w[i]->k;
        }
    }
    int threads = cs_pool_threads(pool);
    uint8_t *arena = aligned_alloc(64, bytes);
    J->rows = malloc((size_t)threads * (size_t)J->max_k * sizeof(float));
    if (!arena || !J->rows) {
        free(arena);
        free(J->rows);
        free(J);
        return cs_fail(err, CS_ENOMEM, "int8: out of memory for %zu bytes of weights", bytes);
    }
    uint8_t *at = arena;
    for (int t = 0; t < n; t++) {
        J->scale[t] = (float *)(void *)at;
        at += block((size_t)J->src[t]->n * sizeof(float));
        J->q[t] = (int8_t *)at;
        at += block((size_t)J->src[t]->n * (size_t)J->src[t]->k);
    }
    cs_pool_for(pool, n, quantize_task, J);
    for (int t = 0; t < n; t++) {
        J->src[t]->data = J->q[t];
        J->src[t]->dtype = CS_DT_I8;
        J->src[t]->scale = J->scale[t];
    }
    T->qarena = arena;
    free(J->rows);
    free(J);
    return CS_OK;
}
