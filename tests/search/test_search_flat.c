/* tests/search/test_search_flat.c - cs_search_flat against a plain reference:
 * double-precision dot products and a full sort (score descending, id
 * ascending), over many n / dim / k, both kernels, with and without threads. */
#include <math.h>

#include "core/cpu.h"
#include "core/pool.h"
#include "index/search_internal.h"
#include "test.h"

typedef struct ref_hit {
    int64_t id;
    double score;
} ref_hit;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}
static float rng_uniform(void) { /* [-1, 1) */
    return (float)((double)(rng_next() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static int ref_cmp(const void *pa, const void *pb) {
    const ref_hit *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* All n rows scored in double and sorted best first. */
static ref_hit *reference(const float *v, int64_t n, int dim, const float *q) {
    ref_hit *r = malloc((size_t)(n ? n : 1) * sizeof *r);
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < dim; j++) s += (double)v[i * dim + j] * q[j];
        r[i] = (ref_hit){i, s};
    }
    qsort(r, (size_t)n, sizeof *r, ref_cmp);
    return r;
}

typedef struct setup {
    const char *name;
    cs_pool *pool;
    cs_isa isa;
} setup;

/* `exact`: the data are small integers, so float sums are exact and the hits
 * must equal the reference id for id (ties included). Otherwise scores may
 * differ by rounding, so a hit may swap with a reference hit only when their
 * true scores are within eps. */
static void check_case(const setup *s, const float *v, int64_t n, int dim, const float *q, int k,
                       const ref_hit *ref, int exact) {
    int64_t want = (int64_t)k < n ? k : n;
    cs_hit *hits = malloc((size_t)(k > 0 ? k : 1) * sizeof *hits);
    for (int i = 0; i < k; i++) hits[i] = (cs_hit){-7, -7.0f}; /* poison */
    int64_t got = cs_search_flat_isa(s->pool, v, n, dim, q, k, hits, s->isa);
    CHECK_MSG(got == want, "%s n=%lld dim=%d k=%d: %lld hits, want %lld", s->name, (long long)n,
              dim, k, (long long)got, (long long)want);
    if (got != want) {
        free(hits);
        return;
    }
    double eps = 1e-5 * (dim + 1);
    for (int64_t i = 0; i < got; i++) {
        int64_t id = hits[i].id;
        CHECK_MSG(id >= 0 && id < n, "%s: hit %lld has id %lld", s->name, (long long)i,
                  (long long)id);
        if (id < 0 || id >= n) break;
        if (i > 0) /* best first, equal scores by ascending id */
            CHECK_MSG(hits[i - 1].score > hits[i].score ||
                          (hits[i - 1].score == hits[i].score && hits[i - 1].id < id),
                      "%s n=%lld dim=%d k=%d: hits %lld and %lld out of order", s->name,
                      (long long)n, dim, k, (long long)i - 1, (long long)i);
        if (exact) {
            CHECK_MSG(id == ref[i].id && hits[i].score == (float)ref[i].score,
                      "%s n=%lld dim=%d k=%d: hit %lld is (%lld, %g), want (%lld, %g)", s->name,
                      (long long)n, dim, k, (long long)i, (long long)id, hits[i].score,
                      (long long)ref[i].id, ref[i].score);
            continue;
        }
        double truth = 0;
        for (int j = 0; j < dim; j++) truth += (double)v[id * dim + j] * q[j];
        CHECK_MSG(fabs(truth - hits[i].score) <= eps, "%s: hit %lld score %g, true %g", s->name,
                  (long long)i, hits[i].score, truth);
        CHECK_MSG(id == ref[i].id || fabs(truth - ref[i].score) <= eps,
                  "%s n=%lld dim=%d k=%d: hit %lld is id %lld (%g), want id %lld (%g)", s->name,
                  (long long)n, dim, k, (long long)i, (long long)id, truth, (long long)ref[i].id,
                  ref[i].score);
    }
    free(hits);
}

static void run_grid(const setup *setups, int n_setups, int exact) {
    static const int64_t ns[] = {0, 1, 2, 7, 8, 9, 31, 100, 257, 1000, 40000};
    static const int dims[] = {1, 3, 7, 8, 9, 15, 16, 17, 33, 100, 512, 515};
    static const int ks[] = {1, 2, 5, 10, 64};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof dims / sizeof *dims; b++) {
            int64_t n = ns[a];
            int dim = dims[b];
            if (n * dim > 3000000) continue; /* keeps the test quick under ASan */
            float *v = malloc((size_t)(n * dim + 1) * sizeof *v);
            float *q = malloc((size_t)dim * sizeof *q);
            /* exact: entries in {-1, 0, 1} give integer scores and many ties */
            for (int64_t i = 0; i < n * dim; i++)
                v[i] = exact ? (float)((int)(rng_next() % 3) - 1) : rng_uniform();
            for (int j = 0; j < dim; j++)
                q[j] = exact ? (float)((int)(rng_next() % 3) - 1) : rng_uniform();
            ref_hit *ref = reference(v, n, dim, q);
            for (int s = 0; s < n_setups; s++) {
                for (size_t c = 0; c < sizeof ks / sizeof *ks; c++)
                    check_case(&setups[s], v, n, dim, q, ks[c], ref, exact);
                check_case(&setups[s], v, n, dim, q, (int)n + 5, ref, exact); /* k > n */
            }
            free(ref);
            free(q);
            free(v);
        }
}

/* Degenerate arguments return 0 hits and touch nothing. */
static void check_degenerate(void) {
    float v[4] = {1, 2, 3, 4}, q[2] = {1, 1};
    cs_hit h[2] = {{-7, -7.0f}, {-7, -7.0f}};
    CHECK_EQ_INT(cs_search_flat(NULL, v, 2, 2, q, 0, h), 0);
    CHECK_EQ_INT(cs_search_flat(NULL, v, 2, 2, q, -3, h), 0);
    CHECK_EQ_INT(cs_search_flat(NULL, v, 0, 2, q, 2, h), 0);
    CHECK_EQ_INT(cs_search_flat(NULL, v, -1, 2, q, 2, h), 0);
    CHECK_EQ_INT(cs_search_flat(NULL, v, 2, 0, q, 2, h), 0);
    CHECK_EQ_INT(cs_search_flat(NULL, NULL, 2, 2, q, 2, h), 0);
    CHECK(h[0].id == -7 && h[1].id == -7);
    /* 2 hits: row 1 = (3,4) scores 7, row 0 = (1,2) scores 3 */
    CHECK_EQ_INT(cs_search_flat(NULL, v, 2, 2, q, 2, h), 2);
    CHECK(h[0].id == 1 && h[0].score == 7.0f && h[1].id == 0 && h[1].score == 3.0f);
}

/* A row of NaNs ranks after every real score instead of scrambling the heap. */
static void check_nan(void) {
    float v[3 * 2] = {1, 0, NAN, NAN, 0, 1};
    float q[2] = {1, 2};
    cs_hit h[3];
    CHECK_EQ_INT(cs_search_flat(NULL, v, 3, 2, q, 3, h), 3);
    CHECK(h[0].id == 2 && h[1].id == 0 && h[2].id == 1);
}

/* Called from inside a task of the same pool: runs inline, same answer. */
typedef struct nested_ctx {
    cs_pool *pool;
    const float *v, *q;
    int64_t n;
    int dim;
    cs_hit hits[4][10];
    int64_t count[4];
} nested_ctx;

static void nested_task(void *vctx, int task, int worker) {
    (void)worker;
    nested_ctx *c = vctx;
    c->count[task] = cs_search_flat(c->pool, c->v, c->n, c->dim, c->q, 10, c->hits[task]);
}

static void check_nested(cs_pool *pool) {
    nested_ctx c = {.pool = pool, .n = 50000, .dim = 9};
    float *v = malloc((size_t)c.n * c.dim * sizeof *v), q[9];
    for (int64_t i = 0; i < c.n * c.dim; i++) v[i] = (float)((int)(rng_next() % 5) - 2);
    for (int j = 0; j < c.dim; j++) q[j] = (float)((int)(rng_next() % 5) - 2);
    c.v = v;
    c.q = q;
    ref_hit *ref = reference(v, c.n, c.dim, q);
    cs_pool_for(pool, 4, nested_task, &c);
    for (int t = 0; t < 4; t++) {
        CHECK_EQ_INT(c.count[t], 10);
        for (int i = 0; i < 10; i++)
            CHECK_MSG(c.hits[t][i].id == ref[i].id, "nested task %d hit %d: id %lld, want %lld", t,
                      i, (long long)c.hits[t][i].id, (long long)ref[i].id);
    }
    free(ref);
    free(v);
}

int main(void) {
    cs_pool *pool3 = cs_pool_create(3);
    CHECK(pool3 != NULL);
    setup setups[4];
    int n_setups = 0;
    setups[n_setups++] = (setup){"generic/1", NULL, CS_ISA_GENERIC};
    setups[n_setups++] = (setup){"generic/3", pool3, CS_ISA_GENERIC};
    if (cs_cpu_level_get() >= CS_CPU_AVX2) {
        setups[n_setups++] = (setup){"avx2/1", NULL, CS_ISA_AVX2};
        setups[n_setups++] = (setup){"avx2/3", pool3, CS_ISA_AVX2};
    } else {
        fprintf(stderr, "note: this CPU has no AVX2+FMA; only the generic kernel is tested\n");
    }
    run_grid(setups, n_setups, 1);
    run_grid(setups, n_setups, 0);
    check_degenerate();
    check_nan();
    check_nested(pool3);
    cs_pool_free(pool3);
    return cs_test_done("search_flat");
}
