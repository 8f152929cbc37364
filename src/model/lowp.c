/* model/lowp.c - a tower's matrices packed once for the BF16 or int8
 * kernels (cs_model_opts.precision).
 *
 * When a tower is first used at that precision, each encoder-layer matrix
 * (and the image tower's patch embedding: 2.6% of its FLOPs, and at int8
 * nearly lossless, as its inputs are 8-bit pixels normalised per channel)
 * is packed into the kernel's panels: BF16 (half the F32 bytes) or int8
 * with a scale per output channel (a quarter). The mapped originals are
 * then released, so the process holds the smaller copy only. The two
 * final projections (one row per embedding) and the text tower's token
 * table stay as stored. */
#include "model/lowp.h"

#include <stdlib.h>

#include "core/file.h"
#include "model/linear.h"

typedef struct lmat {
    cs_weight *w;
    uint8_t *out;
} lmat;

typedef struct ljob {
    lmat *mats;
    cs_lp_type type;
    float *rows; /* per worker: 2 max_k floats */
    int max_k;
} ljob;

static void weight_row(const void *ctx, int r, float *out) {
    cs_weight_row(ctx, r, out);
}

static size_t share(cs_lp_type type, const cs_weight *w) {
    return (cs_lp_bytes(type, w->n, w->k) + 63) & ~(size_t)63;
}

static void pack_task(void *ctx, int task, int worker) {
    ljob *J = ctx;
    cs_weight *w = J->mats[task].w;
    cs_lp_panels pk;
    cs_lp_pack(J->type, w->n, w->k, weight_row, w, J->rows + (size_t)worker * 2 * J->max_k,
               J->mats[task].out, &pk);
    cs_map_release(w->data, (size_t)w->n * (size_t)w->k * cs_dtype_size(w->dtype));
    w->lp = pk;
}

cs_status cs_tower_pack_lp(cs_tower *T, cs_lp_type type, cs_pool *pool, cs_error *err) {
    int n = 0;
    ljob J = {calloc((size_t)6 * T->cfg->layers + 1, sizeof(lmat)), type, NULL, 0};
    if (!J.mats) return cs_fail(err, CS_ENOMEM, "%s: out of memory", "packing the weights");
    if (T->patch.data) J.mats[n++].w = &T->patch;
    for (int l = 0; l < T->cfg->layers; l++) {
        cs_layer_weights *L = &T->layers[l];
        cs_weight *w[6] = {&L->q, &L->k, &L->v, &L->o, &L->fc1, &L->fc2};
        for (int i = 0; i < 6; i++) J.mats[n++].w = w[i];
    }
    size_t bytes = 0;
    for (int t = 0; t < n; t++) {
        bytes += share(type, J.mats[t].w);
        if (J.mats[t].w->k > J.max_k) J.max_k = J.mats[t].w->k;
    }
    uint8_t *arena = aligned_alloc(64, bytes);
    J.rows = malloc((size_t)cs_pool_threads(pool) * 2 * (size_t)J.max_k * sizeof(float));
    if (!arena || !J.rows) {
        free(arena), free(J.rows), free(J.mats);
        return cs_fail(err, CS_ENOMEM, "out of memory for %zu bytes of packed weights", bytes);
    }
    cs_map_hint_huge(arena, bytes);
    for (size_t t = 0, at = 0; t < (size_t)n; at += share(type, J.mats[t].w), t++)
        J.mats[t].out = arena + at;
    cs_pool_for(pool, n, pack_task, &J);
    T->larena = arena;
    free(J.rows);
    free(J.mats);
    return CS_OK;
}
