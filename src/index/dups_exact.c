/* index/dups_exact.c - every pair at cosine >= T, exactly: X X^T in blocks.
 *
 * cs_dups_scan multiplies two sets of rows ROW_BLOCK x COL_BLOCK at a time
 * on the GEMM kernels (one thread each: the callers' tasks are the
 * parallelism) and offers the few scores >= T. The scores of one block
 * pair live in the caller's buffer (512 KiB): memory does not grow with n.
 *
 * The exact pass gives each task a block of ROW_BLOCK rows against the rows
 * after it: only the upper triangle (n^2 / 2 dot products). Early tasks
 * have the most columns; the pool hands tasks out in order, so the long
 * ones start first and the short ones fill in at the end. */
#include <stdatomic.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/pool.h"
#include "index/dups_internal.h"
#include "kernels/gemm.h"

enum { ROW_BLOCK = 256, COL_BLOCK = 512 };
_Static_assert(ROW_BLOCK *COL_BLOCK == CS_DUPS_SCRATCH, "scratch size");

cs_status cs_dups_scan(const float *A, const int64_t *ida, int64_t a0, int64_t na, const float *B,
                       const int64_t *idb, int64_t b0, int64_t nb, int dim, int same,
                       float threshold, cs_dup_lists *l, float *y) {
    for (int64_t i0 = 0; i0 < na; i0 += ROW_BLOCK) {
        int m = (int)(na - i0 < ROW_BLOCK ? na - i0 : ROW_BLOCK);
        for (int64_t j0 = same ? i0 : 0; j0 < nb; j0 += COL_BLOCK) {
            int nc = (int)(nb - j0 < COL_BLOCK ? nb - j0 : COL_BLOCK);
            cs_error e;
            cs_status st = cs_gemm(NULL, m, nc, dim, A + i0 * dim, (size_t)dim, B + j0 * dim,
                                   (size_t)dim, CS_DT_F32, NULL, y, (size_t)nc, 0, &e);
            if (st != CS_OK) return st;
            for (int i = 0; i < m; i++) {
                const float *row = y + (size_t)i * nc;
                /* in the same rows, only the pairs after the row itself */
                int from = same ? (int)(i0 + i + 1 - j0 > 0 ? i0 + i + 1 - j0 : 0) : 0;
                for (int j = from; j < nc; j++) {
                    if (!(row[j] >= threshold)) continue;
                    int64_t a = ida ? ida[i0 + i] : a0 + i0 + i;
                    int64_t b = idb ? idb[j0 + j] : b0 + j0 + j;
                    if (a != b) cs_dup_lists_offer(l, a, b, row[j]);
                }
            }
        }
    }
    return CS_OK;
}

typedef struct exact_ctx {
    const float *x;
    int64_t n;
    int dim;
    float threshold;
    cs_dup_lists *lists;
    float **scratch; /* one score block per worker */
    int n_scratch;
    atomic_int failed;
} exact_ctx;

static void exact_task(void *vctx, int task, int worker) {
    exact_ctx *c = vctx;
    if (atomic_load(&c->failed)) return;
    /* nested in another pool's task, worker may be past our scratch */
    float *y = worker < c->n_scratch ? c->scratch[worker] : malloc(CS_DUPS_SCRATCH * sizeof *y);
    int64_t i0 = (int64_t)task * ROW_BLOCK;
    int64_t m = c->n - i0 < ROW_BLOCK ? c->n - i0 : ROW_BLOCK;
    /* this block against itself and every row after it, as one strip */
    if (!y || cs_dups_scan(c->x + i0 * c->dim, NULL, i0, m, c->x + i0 * c->dim, NULL, i0, c->n - i0,
                           c->dim, 1, c->threshold, c->lists, y) != CS_OK)
        atomic_store(&c->failed, 1);
    if (worker >= c->n_scratch) free(y);
}

cs_status cs_dups_find_exact(cs_pool *pool, const float *vectors, int64_t n, int dim,
                             float threshold, cs_dup_lists *l, cs_error *err) {
    if (n < 2) return CS_OK;
    int threads = cs_pool_threads(pool);
    exact_ctx c = {vectors, n, dim, threshold, l, NULL, threads, 0};
    c.scratch = calloc((size_t)threads, sizeof *c.scratch);
    int ok = c.scratch != NULL;
    for (int w = 0; ok && w < threads; w++)
        ok = (c.scratch[w] = malloc(CS_DUPS_SCRATCH * sizeof(float))) != NULL;
    if (ok) cs_pool_for(pool, (int)((n + ROW_BLOCK - 1) / ROW_BLOCK), exact_task, &c);
    for (int w = 0; c.scratch && w < threads; w++) free(c.scratch[w]);
    free(c.scratch);
    if (!ok || atomic_load(&c.failed))
        return cs_fail(err, CS_ENOMEM, "duplicates: out of memory for the pair scan");
    return CS_OK;
}
