/* model/prepack.c - the image tower's matrices packed once for the GEMM.
 *
 * Read from the checkpoint's map, every product packs the slices of W it
 * needs (kernels/gemm.c): each weight read from DRAM, transposed into panels,
 * once per call and thread. At a few images a thread that is a visible
 * share of the encoder's time (docs/engine.md, "Packed once"). ONNX
 * Runtime packs its weights once, when a session is made; so do we, when
 * the image tower is first used for bulk work (model.c: CS_EMBED_BULK, or
 * 64+ images in one call; not a query image), and the kernel then
 * streams each panel from memory, fetching the next one ahead
 * (gemm.c, panel_after).
 *
 * Memory: only F32 matrices are packed (the panels are float32: packing F16
 * or BF16 would double them, and an F16 file is chosen for its size), and
 * the mapped originals are then released from the resident set, so the
 * process holds one copy of the weights either way. With a cache folder
 * the panels are kept there (model/packcache.c): later processes map them,
 * for any batch, and share the page cache's copy.
 * Not the text tower: a query reads its weights once per call anyway, and
 * a cold search would pay for the pass over them. */
#include "model/prepack.h"

#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/fnv.h"
#include "kernels/gemm.h"
#include "model/linear.h"

/* Raise it whenever cs_gemm_pack writes other panels for the same kernel
 * and weights, so that packings kept by older builds are not used. */
enum { PACK_FORMAT = 1 };

typedef struct pmat {
    cs_weight *w;
    float *out;
} pmat;

/* A matrix's share of the arena: its panels, to a whole cache line. */
static size_t share(const cs_weight *w) {
    return (cs_gemm_panels_floats(w->n, w->k) + 15) & ~(size_t)15;
}

static void pack_task(void *ctx, int task, int worker) {
    (void)worker;
    pmat *p = &((pmat *)ctx)[task];
    cs_weight *w = p->w;
    cs_gemm_pack(w->n, w->k, w->data, (size_t)w->k, CS_DT_F32, NULL, p->out, &w->panels);
    cs_map_release(w->data, (size_t)w->n * (size_t)w->k * sizeof(float));
}

/* Everything the panels depend on but the weights: the kernel and every
 * matrix's shape, in order. */
static cs_pack_layout layout(const pmat *mats, int n) {
    cs_gemm_panels g = cs_gemm_panels_at(NULL);
    int head[3] = {PACK_FORMAT, g.nr, g.kc};
    uint64_t h = cs_fnv(CS_FNV_SEED, head, sizeof head);
    h = cs_fnv(h, cs_gemm_kernel_name(), strlen(cs_gemm_kernel_name()));
    for (int t = 0; t < n; t++) {
        int shape[2] = {mats[t].w->n, mats[t].w->k};
        h = cs_fnv(h, shape, sizeof shape);
    }
    return (cs_pack_layout){"f32", h};
}

/* What kept panels are checked against: the matrices and their places. */
typedef struct kept_check {
    const pmat *mats;
    int n;
    const size_t *at;
} kept_check;

/* Whether the kept panels of the smallest matrix equal fresh ones
 * (cs_pack_check_fn). */
static int same_as_fresh(const uint8_t *kept, void *ctx) {
    const kept_check *k = ctx;
    int s = 0;
    for (int t = 1; t < k->n; t++)
        if ((size_t)k->mats[t].w->n * k->mats[t].w->k < (size_t)k->mats[s].w->n * k->mats[s].w->k)
            s = t;
    const cs_weight *w = k->mats[s].w;
    size_t floats = cs_gemm_panels_floats(w->n, w->k);
    float *out = aligned_alloc(64, share(w) * sizeof(float));
    int same = 0;
    if (out) {
        cs_gemm_panels pk;
        cs_gemm_pack(w->n, w->k, w->data, (size_t)w->k, CS_DT_F32, NULL, out, &pk);
        same = !memcmp(out, (const float *)(const void *)kept + k->at[s], floats * sizeof(float));
    }
    free(out);
    return same;
}

cs_status cs_tower_prepack(cs_tower *T, cs_pool *pool, const cs_pack_cache *pc, int kept_only,
                           cs_error *err) {
    int n = 0;
    pmat *mats = calloc((size_t)6 * T->cfg->layers, sizeof(pmat));
    size_t *at = calloc((size_t)6 * T->cfg->layers, sizeof *at);
    if (!mats || !at) {
        free(mats), free(at);
        return cs_fail(err, CS_ENOMEM, "prepack: out of memory");
    }
    for (int l = 0; l < T->cfg->layers; l++) {
        cs_layer_weights *L = &T->layers[l];
        cs_weight *w[6] = {&L->q, &L->k, &L->v, &L->o, &L->fc1, &L->fc2};
        for (int i = 0; i < 6; i++)
            if (w[i]->dtype == CS_DT_F32 && !w[i]->panels.p) mats[n++].w = w[i];
    }
    size_t floats = 0;
    for (int t = 0; t < n; t++) at[t] = floats, floats += share(mats[t].w);
    cs_pack_layout lay = layout(mats, n);
    kept_check check = {mats, n, at};
    const float *kept = n ? (const float *)(const void *)cs_pack_map(
                                pc, &lay, floats * sizeof(float), same_as_fresh, &check, &T->kept)
                          : NULL;
    if (kept) {
        for (int t = 0; t < n; t++) mats[t].w->panels = cs_gemm_panels_at(kept + at[t]);
        T->parena = (void *)kept;
    }
    /* nothing F32 (or packed already), or the kept panels mapped, or none
     * kept and none to be made */
    if (n == 0 || kept || kept_only) {
        free(mats), free(at);
        return CS_OK;
    }
    float *arena = aligned_alloc(64, floats * sizeof(float));
    if (!arena) {
        free(mats), free(at);
        return cs_fail(err, CS_ENOMEM, "prepack: out of memory for %zu bytes of weights",
                       floats * sizeof(float));
    }
    cs_map_hint_huge(arena, floats * sizeof(float));
    for (int t = 0; t < n; t++) mats[t].out = arena + at[t];
    cs_pool_for(pool, n, pack_task, mats);
    T->parena = arena;
    cs_pack_store(pc, &lay, arena, floats * sizeof(float));
    free(mats), free(at);
    return CS_OK;
}
