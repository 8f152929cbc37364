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
 * process holds one copy of the weights either way. What is lost is the
 * sharing of the page cache's copy between processes using the model.
 * Not the text tower: a query reads its weights once per call anyway, and
 * a cold search would pay for the pass over them. */
#include "model/prepack.h"

#include <stdlib.h>

#include "core/file.h"
#include "kernels/gemm.h"
#include "model/linear.h"

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

cs_status cs_tower_prepack(cs_tower *T, cs_pool *pool, cs_error *err) {
    int n = 0;
    pmat *mats = calloc((size_t)6 * T->cfg->layers, sizeof(pmat));
    if (!mats) return cs_fail(err, CS_ENOMEM, "prepack: out of memory");
    for (int l = 0; l < T->cfg->layers; l++) {
        cs_layer_weights *L = &T->layers[l];
        cs_weight *w[6] = {&L->q, &L->k, &L->v, &L->o, &L->fc1, &L->fc2};
        for (int i = 0; i < 6; i++)
            if (w[i]->dtype == CS_DT_F32 && !w[i]->panels.p) mats[n++].w = w[i];
    }
    if (n == 0) { /* nothing F32, or packed already */
        free(mats);
        return CS_OK;
    }
    size_t floats = 0;
    for (int t = 0; t < n; t++) floats += share(mats[t].w);
    float *arena = aligned_alloc(64, floats * sizeof(float));
    if (!arena) {
        free(mats);
        return cs_fail(err, CS_ENOMEM, "prepack: out of memory for %zu bytes of weights",
                       floats * sizeof(float));
    }
    cs_map_hint_huge(arena, floats * sizeof(float));
    for (size_t t = 0, at = 0; t < (size_t)n; at += share(mats[t].w), t++) mats[t].out = arena + at;
    cs_pool_for(pool, n, pack_task, mats);
    T->parena = arena;
    free(mats);
    return CS_OK;
}
