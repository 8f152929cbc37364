/* index/search_flat.c - exact top-k by inner product (see clipsearch/search.h).
 *
 * The rows are cut into tasks of consecutive rows for the pool. Each worker
 * keeps its own bounded min-heap of the k best hits seen so far (its root is
 * the worst of them), fed from a small block of scores the dot kernel fills;
 * at the end the workers' heaps are merged into the caller's, which is the
 * output array itself, and sorted best first. Memory: one heap of k hits per
 * extra worker, allocated once per call; nothing per vector. */
#include <math.h>
#include <stdlib.h>

#include "core/cpu.h"
#include "core/pool.h"
#include "index/search_internal.h"

enum {
    SCAN_BLOCK = 256,          /* scores computed per kernel call (1 KiB on the stack) */
    MIN_ROWS_PER_TASK = 16384, /* below this a task costs more to hand out than to run */
    TASKS_PER_THREAD = 8       /* enough tasks that an uneven thread catches up */
};

void cs_dot_rows_generic(const float *rows, int64_t nrows, int dim, const float *q, float *out) {
    for (int64_t r = 0; r < nrows; r++) {
        const float *a = rows + r * (int64_t)dim;
        /* 8 independent partial sums: the compiler can keep them in vector
         * registers without reassociating a single sum. */
        float acc[8] = {0};
        int j = 0;
        for (; j + 8 <= dim; j += 8)
            for (int l = 0; l < 8; l++) acc[l] += a[j + l] * q[j + l];
        float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for (; j < dim; j++) s += a[j] * q[j];
        out[r] = s;
    }
}

/* ---- a bounded heap of hits, worst at the root ---------------------------- */

/* The order of results: higher score first, then lower id. */
static inline int hit_worse(cs_hit a, cs_hit b) {
    return a.score < b.score || (a.score == b.score && a.id > b.id);
}

static void sift_down(cs_hit *h, int size, int i) {
    cs_hit x = h[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= size) break;
        if (c + 1 < size && hit_worse(h[c + 1], h[c])) c++;
        if (!hit_worse(h[c], x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void sift_up(cs_hit *h, int i) {
    cs_hit x = h[i];
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!hit_worse(x, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

typedef struct topk {
    cs_hit *h;
    int size, cap;
    int64_t bad; /* scores beyond the scan's limit (NaN included) */
} topk;

static inline void topk_push(topk *t, int64_t id, float score) {
    if (isnan(score)) score = -INFINITY; /* a NaN row ranks last, deterministically */
    cs_hit x = {id, score};
    if (t->size < t->cap) {
        t->h[t->size] = x;
        sift_up(t->h, t->size++);
    } else if (hit_worse(t->h[0], x)) {
        t->h[0] = x;
        sift_down(t->h, t->size, 0);
    }
}

/* Heap sort in place: repeatedly moving the worst to the end leaves the
 * array best first. */
static void topk_sort(topk *t) {
    for (int end = t->size - 1; end > 0; end--) {
        cs_hit w = t->h[0];
        t->h[0] = t->h[end];
        t->h[end] = w;
        sift_down(t->h, end, 0);
    }
}

/* ---- the scan --------------------------------------------------------------- */

typedef struct scan_ctx {
    const float *vectors;
    int64_t n;
    int dim;
    const float *query;
    int64_t rows_per_task;
    cs_dot_rows_fn dot;
    float limit; /* |score| above it (or NaN) is counted as bad */
    topk *heaps; /* one per worker */
    int n_heaps;
} scan_ctx;

static void scan_rows(const scan_ctx *c, int64_t begin, int64_t end, topk *t) {
    float scores[SCAN_BLOCK];
    for (int64_t b = begin; b < end; b += SCAN_BLOCK) {
        int64_t m = end - b < SCAN_BLOCK ? end - b : SCAN_BLOCK;
        c->dot(c->vectors + b * (int64_t)c->dim, m, c->dim, c->query, scores);
        for (int64_t i = 0; i < m; i++) {
            t->bad += !(fabsf(scores[i]) <= c->limit); /* one compare: damage is found cheaply */
            /* The common case, a score below the current k-th, costs one
             * compare; ties go to topk_push, which orders them by id. */
            if (t->size == t->cap && scores[i] < t->h[0].score) continue;
            topk_push(t, b + i, scores[i]);
        }
    }
}

static void scan_task(void *vctx, int task, int worker) {
    const scan_ctx *c = vctx;
    int64_t begin = (int64_t)task * c->rows_per_task;
    int64_t end = begin + c->rows_per_task < c->n ? begin + c->rows_per_task : c->n;
    /* A call nested in another pool's task runs all tasks inline on that one
     * thread under its worker index, which may exceed ours: any heap will do. */
    scan_rows(c, begin, end, &c->heaps[worker < c->n_heaps ? worker : 0]);
}

static cs_dot_rows_fn pick_kernel(cs_isa isa) {
#if defined(__x86_64__) || defined(_M_X64)
    if (isa != CS_ISA_GENERIC && cs_cpu_level_get() >= CS_CPU_AVX2) return cs_dot_rows_avx2;
#else
    (void)isa;
#endif
    return cs_dot_rows_generic;
}

int64_t cs_search_flat_isa(cs_pool *pool, const float *vectors, int64_t n, int dim,
                           const float *query, int k, cs_hit *hits, cs_isa isa) {
    return cs_search_flat_checked(pool, vectors, n, dim, query, k, hits, isa, INFINITY, NULL);
}

int64_t cs_search_flat_checked(cs_pool *pool, const float *vectors, int64_t n, int dim,
                               const float *query, int k, cs_hit *hits, cs_isa isa, float limit,
                               int64_t *n_bad) {
    if (n_bad) *n_bad = 0;
    if (!vectors || !query || !hits || n <= 0 || dim <= 0 || k <= 0) return 0;
    int cap = (int64_t)k < n ? k : (int)n;
    scan_ctx c = {vectors, n, dim, query, n, pick_kernel(isa), limit, NULL, 0};

    int threads = cs_pool_threads(pool);
    int64_t tasks = (n + MIN_ROWS_PER_TASK - 1) / MIN_ROWS_PER_TASK;
    if (tasks > (int64_t)threads * TASKS_PER_THREAD) tasks = (int64_t)threads * TASKS_PER_THREAD;
    topk *heaps = NULL;
    cs_hit *scratch = NULL;
    if (threads > 1 && tasks > 1) {
        heaps = calloc((size_t)threads, sizeof *heaps);
        scratch = malloc((size_t)(threads - 1) * (size_t)cap * sizeof *scratch);
        if (!heaps || !scratch) { /* out of memory: the one-thread scan needs none */
            free(heaps);
            free(scratch);
            heaps = NULL;
        }
    }

    topk single = {hits, 0, cap, 0};
    if (!heaps) {
        scan_rows(&c, 0, n, &single);
        topk_sort(&single);
        if (n_bad) *n_bad = single.bad;
        return single.size;
    }
    heaps[0] = single;
    for (int w = 1; w < threads; w++) heaps[w] = (topk){scratch + (size_t)(w - 1) * cap, 0, cap, 0};
    c.heaps = heaps;
    c.n_heaps = threads;
    c.rows_per_task = (n + tasks - 1) / tasks;
    cs_pool_for(pool, (int)((n + c.rows_per_task - 1) / c.rows_per_task), scan_task, &c);
    /* Heap 0 lives in `hits`; merge the others into it. */
    int64_t bad = heaps[0].bad;
    for (int w = 1; w < threads; w++) {
        bad += heaps[w].bad;
        for (int i = 0; i < heaps[w].size; i++)
            topk_push(&heaps[0], heaps[w].h[i].id, heaps[w].h[i].score);
    }
    if (n_bad) *n_bad = bad;
    topk_sort(&heaps[0]);
    int64_t count = heaps[0].size;
    free(heaps);
    free(scratch);
    return count;
}

int64_t cs_search_flat(cs_pool *pool, const float *vectors, int64_t n, int dim, const float *query,
                       int k, cs_hit *hits) {
    return cs_search_flat_isa(pool, vectors, n, dim, query, k, hits, CS_ISA_AUTO);
}
