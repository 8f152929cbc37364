/* model/lowp.c - a tower's matrices packed once for the BF16 or int8
 * kernels (cs_model_opts.precision).
 *
 * When a tower is first used at that precision, each encoder-layer matrix
 * (and the image tower's patch embedding: 2.6% of its FLOPs, and at int8
 * nearly lossless, as its inputs are 8-bit pixels normalised per channel)
 * is packed into the kernel's panels: BF16 (half the F32 bytes) or int8
 * with a scale per output channel (a quarter). The mapped originals are
 * then released, so the process holds the smaller copy only; with a cache
 * folder the packing is kept there and later processes map it instead of
 * packing (model/packcache.c). The two
 * final projections (one row per embedding) and the text tower's token
 * table stay as stored. */
#include "model/lowp.h"

#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/fnv.h"
#include "model/linear.h"
#include "model/smooth.h"

/* The packer's format: raise it whenever cs_lp_pack writes other bytes for
 * the same weights, so that packings kept by older builds are not used. */
enum { PACK_FORMAT = 2 };

typedef struct lmat {
    cs_weight *w;
    const float *colscale; /* W's columns times these before packing (smooth.c), or NULL */
    uint8_t *out;
} lmat;

typedef struct ljob {
    lmat *mats;
    cs_lp_type type;
    float *rows; /* per worker: 2 max_k floats */
    int max_k;
} ljob;

/* Row r of a matrix, its columns scaled if the matrix has scales. */
static void weight_row(const void *ctx, int r, float *out) {
    const lmat *m = ctx;
    cs_weight_row(m->w, r, out);
    if (m->colscale)
        for (int p = 0; p < m->w->k; p++) out[p] *= m->colscale[p];
}

static size_t share(cs_lp_type type, const cs_weight *w) {
    return (cs_lp_bytes(type, w->n, w->k) + 63) & ~(size_t)63;
}

static void pack_task(void *ctx, int task, int worker) {
    ljob *J = ctx;
    cs_weight *w = J->mats[task].w;
    cs_lp_panels pk;
    cs_lp_pack(J->type, w->n, w->k, weight_row, &J->mats[task],
               J->rows + (size_t)worker * 2 * J->max_k, J->mats[task].out, &pk);
    cs_map_release(w->data, (size_t)w->n * (size_t)w->k * cs_dtype_size(w->dtype));
    w->lp = pk;
}

/* Everything the packed bytes depend on but the weights: the kernels'
 * geometry and every matrix's shape, in order. */
static cs_pack_layout layout(cs_lp_type type, const lmat *mats, int n) {
    int head[4] = {PACK_FORMAT, type, CS_LP_NR, CS_LP_KB};
    uint64_t h = cs_fnv(CS_FNV_SEED, head, sizeof head);
    for (int t = 0; t < n; t++) {
        int shape[3] = {mats[t].w->n, mats[t].w->k, (int)mats[t].w->dtype};
        h = cs_fnv(h, shape, sizeof shape);
    }
    return (cs_pack_layout){type == CS_LP_BF16 ? "bf16" : "int8", h};
}

/* What a kept packing is checked against: the matrices and their places. */
typedef struct kept_check {
    cs_lp_type type;
    const lmat *mats;
    int n;
    const size_t *at;
} kept_check;

/* Whether the kept packing of the smallest matrix equals a fresh one
 * (cs_pack_check_fn). */
static int same_as_fresh(const uint8_t *kept, void *ctx) {
    const kept_check *k = ctx;
    int s = 0;
    for (int t = 1; t < k->n; t++)
        if ((size_t)k->mats[t].w->n * k->mats[t].w->k < (size_t)k->mats[s].w->n * k->mats[s].w->k)
            s = t;
    const cs_weight *w = k->mats[s].w;
    size_t bytes = cs_lp_bytes(k->type, w->n, w->k);
    uint8_t *out = aligned_alloc(64, share(k->type, w));
    float *row = malloc((size_t)2 * w->k * sizeof(float));
    int same = 0;
    if (out && row) {
        cs_lp_panels pk;
        cs_lp_pack(k->type, w->n, w->k, weight_row, &k->mats[s], row, out, &pk);
        same = !memcmp(out, kept + k->at[s], bytes);
    }
    free(out), free(row);
    return same;
}

/* int8: the column scales of a layer's q, k, v (after layer_norm1) and
 * fc1 (after layer_norm2), smooth.c; NULL where no channel moves. */
static void smooth_layer(cs_layer_weights *L, int d, float *s1, float *s2, lmat *six) {
    int m1 = cs_smooth_scales(L->ln1_w, L->ln1_b, d, s1);
    int m2 = cs_smooth_scales(L->ln2_w, L->ln2_b, d, s2);
    for (int i = 0; i < 3; i++) six[i].colscale = m1 ? s1 : NULL;
    six[4].colscale = m2 ? s2 : NULL;
}

/* The other half of the move: the norm's output divided by what its
 * readers' columns were multiplied by. The vectors are the tower's own
 * F32 copies (weights.c), written here once, before any forward pass. */
static void divide_norm(const float *w, const float *b, int d, const float *s) {
    for (int p = 0; p < d; p++) ((float *)w)[p] /= s[p], ((float *)b)[p] /= s[p];
}

cs_status cs_tower_pack_lp(cs_tower *T, cs_lp_type type, cs_pool *pool, const cs_pack_cache *pc,
                           int kept_only, cs_error *err) {
    int n = 0, d = T->cfg->width, layers = T->cfg->layers;
    ljob J = {calloc((size_t)6 * layers + 1, sizeof(lmat)), type, NULL, 0};
    size_t *at = calloc((size_t)6 * layers + 1, sizeof *at);
    float *scales = type == CS_LP_I8 ? malloc((size_t)layers * 2 * d * sizeof(float)) : NULL;
    uint8_t *arena = NULL;
    cs_status st = CS_OK;
    if (!J.mats || !at || (type == CS_LP_I8 && !scales)) {
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", "packing the weights");
        goto done;
    }
    if (T->patch.data) J.mats[n++].w = &T->patch;
    for (int l = 0; l < layers; l++) {
        cs_layer_weights *L = &T->layers[l];
        cs_weight *w[6] = {&L->q, &L->k, &L->v, &L->o, &L->fc1, &L->fc2};
        for (int i = 0; i < 6; i++) J.mats[n + i].w = w[i];
        if (scales)
            smooth_layer(L, d, scales + (size_t)2 * l * d, scales + (size_t)(2 * l + 1) * d,
                         &J.mats[n]);
        n += 6;
    }
    size_t bytes = 0;
    for (int t = 0; t < n; t++) {
        at[t] = bytes;
        bytes += share(type, J.mats[t].w);
        if (J.mats[t].w->k > J.max_k) J.max_k = J.mats[t].w->k;
    }
    cs_pack_layout lay = layout(type, J.mats, n);
    kept_check check = {type, J.mats, n, at};
    const uint8_t *kept = cs_pack_map(pc, &lay, bytes, same_as_fresh, &check, &T->kept);
    if (kept) {
        for (int t = 0; t < n; t++)
            cs_lp_view(type, J.mats[t].w->n, J.mats[t].w->k, kept + at[t], &J.mats[t].w->lp);
        T->larena = (void *)kept;
    } else if (kept_only) {
        goto done; /* F32 as it was: the norms stay undivided */
    } else {
        arena = aligned_alloc(64, bytes);
        J.rows = malloc((size_t)cs_pool_threads(pool) * 2 * (size_t)J.max_k * sizeof(float));
        if (!arena || !J.rows) {
            free(arena);
            st = cs_fail(err, CS_ENOMEM, "out of memory for %zu bytes of packed weights", bytes);
            goto done;
        }
        cs_map_hint_huge(arena, bytes);
        for (int t = 0; t < n; t++) J.mats[t].out = arena + at[t];
        cs_pool_for(pool, n, pack_task, &J);
        T->larena = arena;
        cs_pack_store(pc, &lay, arena, bytes);
    }
    for (int l = 0; scales && l < layers; l++) {
        cs_layer_weights *L = &T->layers[l];
        divide_norm(L->ln1_w, L->ln1_b, d, scales + (size_t)2 * l * d);
        divide_norm(L->ln2_w, L->ln2_b, d, scales + (size_t)(2 * l + 1) * d);
    }
done:
    free(J.rows);
    free(J.mats);
    free(at);
    free(scales);
    return st;
}
