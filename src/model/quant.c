/* model/quant.c - int8 weights, an opt-in (cs_model_opts.int8).
 *
 * Each encoder-layer matrix of a tower is quantised when the tower is first
 * used, per row (an output channel), symmetrically:
 *   W[j, :] ~ q[j, :] * scale[j],  scale[j] = max |W[j, :]| / 127.
 * Weight-only: the activations stay float32, and the GEMM turns each panel
 * back into float as it packs it (kernels/gemm*.c, CS_DT_I8), so the
 * arithmetic is the float path's; what changes is the weights' rounding (at
 * most half a step, 1/254 of the row's largest weight) and their size: a
 * quarter of F32, less memory and a quarter of the bytes to stream from
 * DRAM per call. The patch embedding and the two final projections (first
 * and last, small) stay as stored. Cosine to the stored weights' embeddings
 * and the speed: `clipsearch bench --int8`, tests/model/test_fidelity.c. */
#include "model/quant.h"

#include <stdlib.h>

#include "core/file.h"
#include "model/linear.h"
#include "kernels/vecops.h"

/* One matrix: where it is stored, and its int8 copy in the arena. */
typedef struct qmat {
    cs_weight *w;
    int8_t *q;
    float *scale;
} qmat;

typedef struct qjob {
    qmat *mats;  /* 6 a layer, in layer order */
    float *rows; /* per worker: max_k floats (F16/BF16 rows as float) */
    int max_k;
} qjob;

/* Sizes in the arena round up to whole cache lines (every part aligned). */
static size_t block(size_t bytes) {
    return (bytes + 63) & ~(size_t)63;
}

/* The arena's layout, matrix after matrix: its scales, then its rows.
 * Returns the size; with an arena, also sets each matrix's pointers. */
static size_t layout(qmat *mats, int n, uint8_t *arena) {
    size_t at = 0;
    for (int t = 0; t < n; t++) {
        const cs_weight *w = mats[t].w;
        if (arena) mats[t].scale = (float *)(void *)(arena + at);
        at += block((size_t)w->n * sizeof(float));
        if (arena) mats[t].q = (int8_t *)(arena + at);
        at += block((size_t)w->n * (size_t)w->k);
    }
    return at;
}

static void quantize_task(void *ctx, int task, int worker) {
    qjob *J = ctx;
    const qmat *m = &J->mats[task];
    const cs_weight *w = m->w;
    float *row = J->rows + (size_t)worker * J->max_k;
    for (int r = 0; r < w->n; r++) {
        const float *src = (const float *)w->data + (size_t)r * w->k; /* F32: in place */
        if (w->dtype != CS_DT_F32) {
            cs_weight_row(w, r, row);
            src = row;
        }
        m->scale[r] = cs_vec_quantize_row(src, w->k, m->q + (size_t)r * w->k);
    }
    /* the stored matrix is not read again: out of the resident set */
    cs_map_release(w->data, (size_t)w->n * (size_t)w->k * cs_dtype_size(w->dtype));
}

cs_status cs_tower_quantize(cs_tower *T, cs_pool *pool, cs_error *err) {
    int n = 6 * T->cfg->layers;
    qjob J = {calloc((size_t)n, sizeof(qmat)), NULL, 0};
    if (!J.mats) return cs_fail(err, CS_ENOMEM, "int8: out of memory");
    for (int l = 0; l < T->cfg->layers; l++) {
        cs_layer_weights *L = &T->layers[l];
        cs_weight *w[6] = {&L->q, &L->k, &L->v, &L->o, &L->fc1, &L->fc2};
        for (int i = 0; i < 6; i++) {
            J.mats[6 * l + i].w = w[i];
            if (w[i]->k > J.max_k) J.max_k = w[i]->k;
        }
    }
    size_t bytes = layout(J.mats, n, NULL);
    uint8_t *arena = aligned_alloc(64, bytes);
    J.rows = malloc((size_t)cs_pool_threads(pool) * (size_t)J.max_k * sizeof(float));
    if (!arena || !J.rows) {
        free(arena);
        free(J.rows);
        free(J.mats);
        return cs_fail(err, CS_ENOMEM, "int8: out of memory for %zu bytes of weights", bytes);
    }
    layout(J.mats, n, arena);
    cs_pool_for(pool, n, quantize_task, &J);
    for (int t = 0; t < n; t++) {
        J.mats[t].w->data = J.mats[t].q;
        J.mats[t].w->dtype = CS_DT_I8;
        J.mats[t].w->scale = J.mats[t].scale;
    }
    T->qarena = arena;
    free(J.rows);
    free(J.mats);
    return CS_OK;
}
