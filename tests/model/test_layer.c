/* tests/model/test_layer.c - one encoder layer (model/ops.c) computing one
 * row of each sequence alone (`only`: a tower's last layer, whose pooled
 * token is all that is read) against the same layer over every row. The
 * rows computed must have the bits they get among all, with F32 weights and
 * with BF16 and int8 panels, causal (texts: the last row of each sequence)
 * and not (images: the first); the rows not computed must be left as they
 * were. Sequences of 1, 7 and 50 rows, on one thread and on two. */
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "kernels/gemm_lp.h"
#include "model/ops.h"
#include "test.h"

enum { D = 64, HEADS = 4, MLP = 256, NSEQ = 3 };
static const int LENS[NSEQ] = {7, 1, 50};

static uint32_t rng = 4242;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) / 16777216.0 - 0.5);
}

/* Everything a layer's weights hold, to free at the end. */
static void *owned[64];
static int n_owned;
static void *own(void *p) {
    owned[n_owned++] = p;
    return p;
}

static float *vec(int n, float scale, float base) {
    float *v = own(malloc((size_t)n * sizeof(float)));
    for (int i = 0; i < n; i++) v[i] = base + scale * frand();
    return v;
}

static void row_of(const void *ctx, int r, float *out) {
    const cs_weight *w = ctx;
    memcpy(out, (const float *)w->data + (size_t)r * w->k, (size_t)w->k * sizeof(float));
}

/* W [n, k] of random F32 values, packed for `lp` unless CS_LP_NONE. */
static cs_weight weight(int n, int k, cs_lp_type lp) {
    cs_weight w = {.data = vec(n * k, 0.5f, 0.0f), .dtype = CS_DT_F32, .n = n, .k = k};
    if (lp != CS_LP_NONE) {
        size_t bytes = (cs_lp_bytes(lp, n, k) + 63) / 64 * 64;
        uint8_t *p = own(aligned_alloc(64, bytes));
        float *row = malloc(2 * (size_t)k * sizeof(float));
        cs_lp_pack(lp, n, k, row_of, &w, row, p, &w.lp);
        free(row);
    }
    return w;
}

static cs_layer_weights layer(cs_lp_type lp) {
    cs_layer_weights L = {.ln1_w = vec(D, 0.2f, 1.0f),
                          .ln1_b = vec(D, 0.1f, 0.0f),
                          .ln2_w = vec(D, 0.2f, 1.0f),
                          .ln2_b = vec(D, 0.1f, 0.0f),
                          .q = weight(D, D, lp),
                          .k = weight(D, D, lp),
                          .v = weight(D, D, lp),
                          .o = weight(D, D, lp),
                          .fc1 = weight(MLP, D, lp),
                          .fc2 = weight(D, MLP, lp),
                          .q_b = vec(D, 0.1f, 0.0f),
                          .k_b = vec(D, 0.1f, 0.0f),
                          .v_b = vec(D, 0.1f, 0.0f),
                          .o_b = vec(D, 0.1f, 0.0f),
                          .fc1_b = vec(MLP, 0.1f, 0.0f),
                          .fc2_b = vec(D, 0.1f, 0.0f)};
    return L;
}

static void check(cs_pool *pool, cs_lp_type lp, int causal, const char *what) {
    cs_tower_config cfg = {.width = D,
                           .layers = 1,
                           .heads = HEADS,
                           .mlp = MLP,
                           .act = causal ? CS_ACT_QUICK_GELU : CS_ACT_GELU,
                           .ln_eps = 1e-5f};
    cs_layer_weights L = layer(lp);
    int start[NSEQ], len[NSEQ], only[NSEQ], rows = 0, max_seq = 0;
    for (int s = 0; s < NSEQ; s++) {
        start[s] = rows, len[s] = LENS[s];
        only[s] = causal ? rows + len[s] - 1 : rows;
        rows += len[s];
        max_seq = len[s] > max_seq ? len[s] : max_seq;
    }
    size_t n = (size_t)rows * D;
    float *x = malloc(n * sizeof(float)), *all = malloc(n * sizeof(float));
    float *part = malloc(n * sizeof(float));
    size_t floats = cs_encoder_scratch_floats(&cfg, rows, max_seq, cs_pool_threads(pool));
    float *scratch = malloc(floats * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = 2.0f * frand();
    memcpy(all, x, n * sizeof(float));
    memcpy(part, x, n * sizeof(float));
    cs_error err;
    CHECK(cs_encoder_layer(pool, &cfg, &L, all, rows, start, len, NSEQ, causal, NULL, scratch,
                           &err) == CS_OK);
    CHECK(cs_encoder_layer(pool, &cfg, &L, part, rows, start, len, NSEQ, causal, only, scratch,
                           &err) == CS_OK);
    for (int s = 0; s < NSEQ; s++) {
        for (int r = start[s]; r < start[s] + len[s]; r++) {
            const float *want = r == only[s] ? all : x;
            CHECK_MSG(!memcmp(part + (size_t)r * D, want + (size_t)r * D, D * sizeof(float)),
                      "%s: sequence %d, row %d: %s", what, s, r - start[s],
                      r == only[s] ? "not the bits of the layer over every row"
                                   : "changed, though not computed");
        }
    }
    CHECK_MSG(memcmp(all, x, n * sizeof(float)) != 0, "%s: the layer changed nothing", what);
    free(x), free(all), free(part), free(scratch);
    while (n_owned) free(owned[--n_owned]);
}

int main(void) {
    static const struct {
        cs_lp_type lp;
        const char *name;
    } precisions[] = {{CS_LP_NONE, "fp32"}, {CS_LP_BF16, "bf16"}, {CS_LP_I8, "int8"}};
    for (int threads = 1; threads <= 2; threads++) {
        cs_pool *pool = cs_pool_create(threads);
        for (size_t p = 0; p < sizeof precisions / sizeof *precisions; p++)
            for (int causal = 0; causal < 2; causal++) {
                char what[64];
                snprintf(what, sizeof what, "%s, %s, %d thread(s)", precisions[p].name,
                         causal ? "causal" : "not causal", threads);
                check(pool, precisions[p].lp, causal, what);
            }
        cs_pool_free(pool);
    }
    return cs_test_done("layer");
}
