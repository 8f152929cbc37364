/* index/ann_knn.c - cs_db_knn: the k nearest rows of many rows of the
 * catalogue (a k-NN graph, for duplicates), one query per row, rows in
 * parallel, through DB.ann when it is current. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "index/ann.h"

enum { ROWS_PER_TASK = 64 };

typedef struct knn_job {
    const cs_vecs *v;
    const cs_ann *ann;
    const int64_t *ids;
    const float *const *vecs; /* the query rows' vectors */
    int64_t n;
    int k;
    cs_hit *out;
    cs_hit *scratch; /* (k + 1) per worker */
    int failed;
} knn_job;

static void knn_task(void *ctx, int task, int worker) {
    knn_job *j = ctx;
    cs_hit *h = j->scratch + (size_t)worker * (j->k + 1);
    int64_t end = (int64_t)(task + 1) * ROWS_PER_TASK;
    if (end > j->n) end = j->n;
    for (int64_t i = (int64_t)task * ROWS_PER_TASK; i < end; i++) {
        /* one more than wanted: the row finds itself (usually first) */
        int64_t got = cs_snapshot_topk(NULL, j->v, j->ann, NULL, j->vecs[i], j->k + 1, h, NULL);
        if (got < 0) {
            j->failed = 1;
            got = 0;
        }
        cs_hit *o = j->out + (size_t)i * j->k;
        int m = 0;
        for (int64_t t = 0; t < got && m < j->k; t++)
            if (h[t].id != j->ids[i]) o[m++] = h[t];
        for (; m < j->k; m++) o[m] = (cs_hit){-1, -INFINITY};
    }
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The vector of row `id` in v, or NULL. */
static const float *row_of(const cs_vecs *v, int64_t id) {
    const int64_t *hit = v->n ? bsearch(&id, v->ids, (size_t)v->n, sizeof id, cmp_i64) : NULL;
    if (hit && !cs_vecs_masked(v, hit - v->ids)) return v->vectors + (hit - v->ids) * v->dim;
    hit = v->n_delta ? bsearch(&id, v->delta_ids, (size_t)v->n_delta, sizeof id, cmp_i64) : NULL;
    return hit ? v->delta_vectors + (hit - v->delta_ids) * v->dim : NULL;
}

/* Every row of v in id order: ids and vector pointers. */
static int64_t all_rows(const cs_vecs *v, int64_t *ids, const float **vecs) {
    int64_t i = 0, j = 0, n = 0;
    while (i < v->n || j < v->n_delta) {
        if (i < v->n && cs_vecs_masked(v, i)) {
            i++;
        } else if (j < v->n_delta && (i == v->n || v->delta_ids[j] < v->ids[i])) {
            ids[n] = v->delta_ids[j];
            vecs[n++] = v->delta_vectors + j++ * v->dim;
        } else {
            ids[n] = v->ids[i];
            vecs[n++] = v->vectors + i++ * v->dim;
        }
    }
    return n;
}

cs_status cs_db_knn(cs_db *db, cs_pool *pool, const int64_t *ids, int64_t n, int k,
                    int64_t **ids_out, int64_t *n_out, cs_hit **nbrs_out, cs_error *err) {
    *nbrs_out = NULL;
    if (ids_out) *ids_out = NULL;
    if (n_out) *n_out = 0;
    if (k <= 0 || (ids && n < 0) || (!ids && (!ids_out || !n_out)))
        return cs_fail(err, CS_EINVAL, "%s: k-NN: bad arguments (k = %d)", db->path, k);
    cs_vecs *v = NULL;
    cs_status st = cs_db_vectors_opt(db, !cs_db_ann_present(db), &v, err);
    if (st) return st;
    cs_ann *ann = cs_db_ann_for(db, v);
    int64_t total = cs_vecs_count(v), nq = ids ? n : total;
    int64_t *qids = malloc((size_t)(nq + 1) * sizeof *qids);
    const float **qv = malloc((size_t)(nq + 1) * sizeof *qv);
    int threads = cs_pool_threads(pool);
    knn_job j = {v, ann, qids, qv, nq, k, NULL, NULL, 0};
    j.out = malloc(((size_t)nq * k + 1) * sizeof *j.out);
    j.scratch = malloc((size_t)threads * (k + 1) * sizeof *j.scratch);
    if (!qids || !qv || !j.out || !j.scratch) {
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory for the k-NN of %lld rows", db->path,
                     (long long)nq);
    } else if (ids) {
        for (int64_t i = 0; i < n && !st; i++) {
            qids[i] = ids[i];
            if (!(qv[i] = row_of(v, ids[i])))
                st = cs_fail(err, CS_ENOTFOUND, "%s: no image %lld", db->path, (long long)ids[i]);
        }
    } else {
        nq = j.n = all_rows(v, qids, qv);
    }
    if (!st) {
        cs_pool_for(pool, (int)((nq + ROWS_PER_TASK - 1) / ROWS_PER_TASK), knn_task, &j);
        if (j.failed) st = cs_fail(err, CS_ENOMEM, "%s: out of memory in the k-NN", db->path);
    }
    free(qv);
    free(j.scratch);
    cs_db_ann_release(db, ann);
    cs_vecs_release(v);
    if (st || ids) free(qids);
    if (st) {
        free(j.out);
        return st;
    }
    if (!ids) {
        *ids_out = qids;
        *n_out = nq;
    }
    *nbrs_out = j.out;
    return CS_OK;
}
