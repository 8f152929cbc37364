/* index/dups_ivf.c - the pairs at cosine >= T in a large collection, by an
 * inverted-file pass: a row is compared only with the rows of the few
 * lists nearest to it.
 *
 *  1. k-means (spherical: centroids kept at unit length, so the inner
 *     product ranks them) on an evenly spaced sample of the rows;
 *  2. each row finds its nprobe nearest centroids: it is stored in the
 *     first (its list) and probes the others;
 *  3. per list, its rows against each other (upper triangle) and the rows
 *     probing it against its rows, gathered into contiguous blocks for the
 *     GEMM kernels (cs_dups_scan).
 *
 * A pair is found when one row's list is among the other's probes. Near
 * copies (cosine >= 0.9) nearly always share their nearest centroid; the
 * probes catch those that sit near a boundary. Cost: n x nlist dot
 * products to assign plus about n x nprobe x n / nlist to compare, least
 * at nlist = sqrt(nprobe n) (1732 lists for 1M rows, probe 3). Memory
 * beyond the rows: nlist centroids, n x nprobe list numbers, and per
 * worker the gathered rows of the list in hand. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/pool.h"
#include "index/dups_internal.h"
#include "kernels/gemm.h"

enum {
    KMEANS_ITERS = 6,
    SAMPLE_PER_LIST = 32, /* k-means sample: this many rows per list... */
    SAMPLE_MAX = 65536,   /* ...at most */
    ASSIGN_BLOCK = 256,   /* rows per assignment task */
    MAX_PROBE = 16
};

/* ---- nearest centroids ---------------------------------------------------- */

typedef struct assign_ctx {
    const float *x, *cent;
    int64_t n;
    int dim, nlist, nprobe;
    int32_t *probe; /* n x nprobe, nearest first */
    float **scratch;
    int n_scratch;
    atomic_int failed;
} assign_ctx;

static void assign_task(void *vctx, int task, int worker) {
    assign_ctx *c = vctx;
    int64_t r0 = (int64_t)task * ASSIGN_BLOCK;
    int m = (int)(c->n - r0 < ASSIGN_BLOCK ? c->n - r0 : ASSIGN_BLOCK);
    float *y = worker < c->n_scratch ? c->scratch[worker]
                                     : malloc((size_t)ASSIGN_BLOCK * c->nlist * sizeof *y);
    cs_error e;
    if (!y || cs_gemm(NULL, m, c->nlist, c->dim, c->x + r0 * c->dim, (size_t)c->dim, c->cent,
                      (size_t)c->dim, CS_DT_F32, NULL, y, (size_t)c->nlist, 0, &e) != CS_OK) {
        atomic_store(&c->failed, 1);
    } else {
        for (int i = 0; i < m; i++) {
            const float *s = y + (size_t)i * c->nlist;
            int32_t *p = c->probe + (r0 + i) * c->nprobe;
            float best[MAX_PROBE];
            int k = 0;
            for (int l = 0; l < c->nlist; l++) { /* insertion into a sorted top-nprobe */
                if (k == c->nprobe && !(s[l] > best[k - 1])) continue;
                int at = k < c->nprobe ? k++ : k - 1;
                while (at > 0 && s[l] > best[at - 1]) {
                    best[at] = best[at - 1];
                    p[at] = p[at - 1];
                    at--;
                }
                best[at] = s[l];
                p[at] = l;
            }
        }
    }
    if (worker >= c->n_scratch) free(y);
}

/* probe[r * nprobe ..]: the nprobe centroids nearest to row r. */
static int assign(cs_pool *pool, const float *x, int64_t n, int dim, const float *cent, int nlist,
                  int nprobe, int32_t *probe) {
    int threads = cs_pool_threads(pool);
    assign_ctx c = {x, cent, n, dim, nlist, nprobe, probe, NULL, threads, 0};
    c.scratch = calloc((size_t)threads, sizeof *c.scratch);
    int ok = c.scratch != NULL;
    for (int w = 0; ok && w < threads; w++)
        ok = (c.scratch[w] = malloc((size_t)ASSIGN_BLOCK * nlist * sizeof(float))) != NULL;
    if (ok) cs_pool_for(pool, (int)((n + ASSIGN_BLOCK - 1) / ASSIGN_BLOCK), assign_task, &c);
    for (int w = 0; c.scratch && w < threads; w++) free(c.scratch[w]);
    free(c.scratch);
    return ok && !atomic_load(&c.failed);
}

/* ---- k-means ---------------------------------------------------------------- */

static void normalize(float *v, int dim) {
    double s = 0;
    for (int j = 0; j < dim; j++) s += (double)v[j] * v[j];
    float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    for (int j = 0; j < dim; j++) v[j] *= inv;
}

/* nlist unit centroids from an evenly spaced sample of the rows. */
static int train(cs_pool *pool, const float *x, int64_t n, int dim, int nlist, float *cent) {
    int64_t s = (int64_t)nlist * SAMPLE_PER_LIST;
    if (s > SAMPLE_MAX) s = SAMPLE_MAX;
    if (s < nlist) s = nlist;
    if (s > n) s = n;
    float *sample = malloc((size_t)s * dim * sizeof *sample);
    float *sum = malloc((size_t)nlist * dim * sizeof *sum);
    int32_t *near = malloc((size_t)s * sizeof *near);
    int64_t *count = malloc((size_t)nlist * sizeof *count);
    int ok = sample && sum && near && count;
    for (int64_t i = 0; ok && i < s; i++) /* rows spread over the whole collection */
        memcpy(sample + i * dim, x + (i * n / s) * dim, (size_t)dim * sizeof *sample);
    for (int l = 0; ok && l < nlist; l++) /* seeds spread over the sample */
        memcpy(cent + (size_t)l * dim, sample + ((int64_t)l * s / nlist) * dim,
               (size_t)dim * sizeof *cent);
    for (int it = 0; ok && it < KMEANS_ITERS; it++) {
        ok = assign(pool, sample, s, dim, cent, nlist, 1, near);
        if (!ok) break;
        memset(sum, 0, (size_t)nlist * dim * sizeof *sum);
        memset(count, 0, (size_t)nlist * sizeof *count);
        for (int64_t i = 0; i < s; i++) {
            float *c = sum + (size_t)near[i] * dim;
            const float *v = sample + i * dim;
            for (int j = 0; j < dim; j++) c[j] += v[j];
            count[near[i]]++;
        }
        for (int l = 0; l < nlist; l++) {
            /* an empty list takes a sample row, so no centroid is wasted */
            const float *src =
                count[l] ? sum + (size_t)l * dim : sample + (((int64_t)l * 7919 + it) % s) * dim;
            memcpy(cent + (size_t)l * dim, src, (size_t)dim * sizeof *cent);
            normalize(cent + (size_t)l * dim, dim);
        }
    }
    free(sample);
    free(sum);
    free(near);
    free(count);
    return ok;
}

/* ---- comparing within lists ------------------------------------------------- */

/* CSR lists: the rows of list l are rows[start[l] .. start[l + 1]). */
typedef struct csr {
    int64_t *rows, *start;
} csr;

/* Rows by their first probe (members) or by their other probes (visitors). */
static int build_csr(const int32_t *probe, int64_t n, int nprobe, int nlist, int members, csr *c) {
    c->start = calloc((size_t)nlist + 1, sizeof *c->start);
    int from = members ? 0 : 1, to = members ? 1 : nprobe;
    c->rows = malloc((size_t)(n * (to - from) + 1) * sizeof *c->rows);
    if (!c->start || !c->rows) return 0;
    for (int64_t r = 0; r < n; r++)
        for (int p = from; p < to; p++) c->start[probe[r * nprobe + p] + 1]++;
    for (int l = 0; l < nlist; l++) c->start[l + 1] += c->start[l];
    int64_t *fill = malloc(((size_t)nlist + 1) * sizeof *fill);
    if (!fill) return 0;
    memcpy(fill, c->start, ((size_t)nlist + 1) * sizeof *fill);
    for (int64_t r = 0; r < n; r++)
        for (int p = from; p < to; p++) c->rows[fill[probe[r * nprobe + p]]++] = r;
    free(fill);
    return 1;
}

typedef struct worker_buf {
    float *a, *b, *y;
    int64_t cap_a, cap_b;
} worker_buf;

typedef struct probe_ctx {
    const float *x;
    int dim;
    float threshold;
    csr members, visitors;
    cs_dup_lists *lists;
    worker_buf *bufs;
    int n_bufs;
    atomic_int failed;
} probe_ctx;

/* The rows ids[0..m) copied one after the other into *buf (grown). */
static float *gather(const float *x, int dim, const int64_t *ids, int64_t m, float **buf,
                     int64_t *cap) {
    if (m > *cap) {
        float *p = realloc(*buf, (size_t)m * dim * sizeof *p);
        if (!p) return NULL;
        *buf = p;
        *cap = m;
    }
    for (int64_t i = 0; i < m; i++)
        memcpy(*buf + i * dim, x + ids[i] * dim, (size_t)dim * sizeof **buf);
    return *buf;
}

static void probe_list(probe_ctx *c, int l, worker_buf *w) {
    const int64_t *mem = c->members.rows + c->members.start[l];
    int64_t nm = c->members.start[l + 1] - c->members.start[l];
    const int64_t *vis = c->visitors.rows + c->visitors.start[l];
    int64_t nv = c->visitors.start[l + 1] - c->visitors.start[l];
    if (nm == 0) return;
    const float *a = gather(c->x, c->dim, mem, nm, &w->a, &w->cap_a);
    const float *b = nv ? gather(c->x, c->dim, vis, nv, &w->b, &w->cap_b) : NULL;
    if (!a || (nv && !b) ||
        cs_dups_scan(a, mem, 0, nm, a, mem, 0, nm, c->dim, 1, c->threshold, c->lists, w->y) ||
        (nv && cs_dups_scan(b, vis, 0, nv, a, mem, 0, nm, c->dim, 0, c->threshold, c->lists, w->y)))
        atomic_store(&c->failed, 1);
}

static void probe_task(void *vctx, int task, int worker) {
    probe_ctx *c = vctx;
    if (atomic_load(&c->failed)) return;
    if (worker < c->n_bufs) {
        probe_list(c, task, &c->bufs[worker]);
        return;
    }
    worker_buf w = {0}; /* nested in another pool's task: buffers of its own */
    w.y = malloc(CS_DUPS_SCRATCH * sizeof *w.y);
    if (w.y)
        probe_list(c, task, &w);
    else
        atomic_store(&c->failed, 1);
    free(w.a);
    free(w.b);
    free(w.y);
}

static int probe_all(cs_pool *pool, const float *x, int dim, float threshold, const int32_t *probe,
                     int64_t n, int nprobe, int nlist, cs_dup_lists *l) {
    int threads = cs_pool_threads(pool);
    probe_ctx c = {x, dim, threshold, {0}, {0}, l, NULL, threads, 0};
    c.bufs = calloc((size_t)threads, sizeof *c.bufs);
    int ok = c.bufs && build_csr(probe, n, nprobe, nlist, 1, &c.members) &&
             build_csr(probe, n, nprobe, nlist, 0, &c.visitors);
    for (int w = 0; ok && w < threads; w++)
        ok = (c.bufs[w].y = malloc(CS_DUPS_SCRATCH * sizeof(float))) != NULL;
    if (ok) cs_pool_for(pool, nlist, probe_task, &c);
    for (int w = 0; c.bufs && w < threads; w++) {
        free(c.bufs[w].a);
        free(c.bufs[w].b);
        free(c.bufs[w].y);
    }
    free(c.bufs);
    free(c.members.rows);
    free(c.members.start);
    free(c.visitors.rows);
    free(c.visitors.start);
    return ok && !atomic_load(&c.failed);
}

cs_status cs_dups_find_ivf_with(cs_pool *pool, const float *vectors, int64_t n, int dim,
                                float threshold, int nlist, int nprobe, cs_dup_lists *l,
                                cs_error *err) {
    if (n < 2) return CS_OK;
    if (nprobe <= 0) nprobe = CS_DUPS_NPROBE;
    if (nprobe > MAX_PROBE) nprobe = MAX_PROBE;
    if (nlist <= 0) nlist = (int)sqrt((double)nprobe * (double)n);
    if (nlist > n) nlist = (int)n;
    if (nlist < 1) nlist = 1;
    if (nprobe > nlist) nprobe = nlist;
    float *cent = malloc((size_t)nlist * dim * sizeof *cent);
    int32_t *probe = malloc((size_t)n * nprobe * sizeof *probe);
    int ok = cent && probe && train(pool, vectors, n, dim, nlist, cent) &&
             assign(pool, vectors, n, dim, cent, nlist, nprobe, probe) &&
             probe_all(pool, vectors, dim, threshold, probe, n, nprobe, nlist, l);
    free(cent);
    free(probe);
    return ok ? CS_OK : cs_fail(err, CS_ENOMEM, "duplicates: out of memory for the IVF pass");
}

cs_status cs_dups_find_ivf(cs_pool *pool, const float *vectors, int64_t n, int dim, float threshold,
                           cs_dup_lists *l, cs_error *err) {
    return cs_dups_find_ivf_with(pool, vectors, n, dim, threshold, 0, 0, l, err);
}
