/* bench/bench_ann_update.c - keeping the approximate index current: N rows
 * added and N removed in a large catalogue, timed (the SQLite writes, then
 * cs_db_finish: the vector file and DB.ann brought up to date, new rows
 * assigned to the existing lists), and the recall@10 of the queries before
 * the change (against GT.i32), after it while the index is still the old
 * one (removed rows hidden, new rows scanned exactly), and after the
 * update; the references after the change are the exact scan's. Every
 * search checks that no removed row comes back.
 *
 *   bench_ann_update --db DB --queries Q.npy --gt GT.i32 [--n 10000] [--nq 1000]
 *
 * It changes DB: run it on a copy (cp DB DB-wal DB.vectors DB.ann). The
 * rows removed are the best match of every query and then every 97th row;
 * the rows added lie near the queries (query + noise), so that they enter
 * the top 10. GT.i32 as in bench_ann (rows of an import into an empty
 * database: id = row + 1). One JSON object. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "clipsearch.h"
#include "index/npy.h"

static uint64_t rng = 12345;
static double gauss(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    double u = ((rng >> 11) + 0.5) / 9007199254740992.0;
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    double v = ((rng >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct ctx {
    cs_db *db;
    const cs_npy *q;
    int64_t nq;
    const int64_t *removed; /* sorted */
    int64_t n_removed;
    int64_t returned_removed;
} ctx;

/* Top 10 ids of query i (exact or through the index) into ids. */
static int search(ctx *c, int64_t i, int exact, int64_t ids[10]) {
    float v[4096];
    cs_npy_row(c->q, i, v);
    cs_search_opts so = {.k = 10, .exact = exact};
    cs_result *res;
    int n;
    cs_error err;
    if (cs_db_search(c->db, v, &so, &res, &n, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    for (int j = 0; j < 10; j++) ids[j] = j < n ? res[j].id : -1;
    for (int j = 0; j < n; j++)
        if (c->n_removed &&
            bsearch(&res[j].id, c->removed, (size_t)c->n_removed, sizeof *c->removed, cmp_i64))
            c->returned_removed++;
    cs_results_free(res, n);
    return n;
}

/* Recall@10 of the index against refs (nq x 10 ids). */
static double recall(ctx *c, const int64_t *refs) {
    int64_t hit = 0;
    for (int64_t i = 0; i < c->nq; i++) {
        int64_t ids[10];
        search(c, i, 0, ids);
        for (int j = 0; j < 10; j++)
            for (int r = 0; r < 10; r++) hit += ids[j] >= 0 && ids[j] == refs[i * 10 + r];
    }
    return (double)hit / (10.0 * (double)c->nq);
}

int main(int argc, char **argv) {
    const char *dbp = NULL, *qp = NULL, *gtp = NULL;
    int64_t n = 10000, nq = 1000;
    const bench_opt opts[] = {{"--db", 's', &dbp},
                              {"--queries", 's', &qp},
                              {"--gt", 's', &gtp},
                              {"--n", 'l', &n},
                              {"--nq", 'l', &nq}};
    bench_parse_opts(argc, argv, 1, opts, sizeof opts / sizeof *opts);
    if (!dbp || !qp || !gtp || n < 1 || nq < 1) {
        fprintf(stderr, "usage: bench_ann_update --db DB --queries Q.npy --gt GT.i32 [--n 10000] "
                        "[--nq 1000]\n");
        return 2;
    }
    cs_error err;
    cs_npy q;
    cs_db *db;
    cs_db_opts o = {0};
    if (cs_npy_open(qp, &q, &err) != CS_OK || cs_db_open(dbp, &o, &db, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    if (nq > q.rows) nq = q.rows;
    int dim = q.cols;
    int32_t *gt = bench_read_gt(gtp, q.rows);
    if (!gt) return 1;
    int64_t *refs = malloc((size_t)nq * 10 * sizeof *refs);
    cs_db_info info;
    if (cs_db_get_info(db, &info, &err) != CS_OK) return 1;
    int64_t count = info.count;
    ctx c = {db, &q, nq, NULL, 0, 0};
    for (int64_t i = 0; i < nq * 10; i++) refs[i] = (int64_t)gt[i] + 1;
    double r_before = recall(&c, refs);

    /* the rows to remove: each query's best, then every 97th row */
    int64_t *rm = malloc((size_t)n * sizeof *rm), m = 0;
    for (int64_t i = 0; i < nq && m < n; i++) rm[m++] = (int64_t)gt[i * 10] + 1;
    for (int64_t id = 1; id <= count && m < n; id += 97) rm[m++] = id;
    qsort(rm, (size_t)m, sizeof *rm, cmp_i64);
    int64_t u = 0;
    for (int64_t i = 0; i < m; i++)
        if (!u || rm[i] != rm[u - 1]) rm[u++] = rm[i];
    m = u;
    char **rm_paths = malloc((size_t)m * sizeof *rm_paths);
    for (int64_t i = 0; i < m; i++) {
        cs_db_image img;
        if (cs_db_get(db, rm[i], &img, &err) != CS_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        rm_paths[i] = img.path;
    }
    /* the rows to add: near the queries */
    float *add = malloc((size_t)n * dim * sizeof *add);
    char(*paths)[48] = malloc((size_t)n * sizeof *paths);
    cs_db_entry *e = calloc((size_t)n, sizeof *e);
    for (int64_t i = 0; i < n; i++) {
        float *v = add + i * dim;
        cs_npy_row(&q, i % nq, v);
        double s = 0;
        for (int d = 0; d < dim; d++) s += (double)v[d] * v[d];
        for (int d = 0; d < dim; d++) v[d] = (float)(v[d] / sqrt(s) + 0.03 * gauss());
        snprintf(paths[i], sizeof paths[i], "/added/%07lld.jpg", (long long)i);
        e[i] = (cs_db_entry){.path = paths[i], .embedding = v};
        memcpy(e[i].hash, &i, sizeof i);
        e[i].hash[15] = 0xad;
    }

    double t0 = now_ms();
    for (int64_t b = 0; b < n; b += 1000)
        if (cs_db_put(db, e + b, (int)(n - b < 1000 ? n - b : 1000), &err) != CS_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
    double t_put = now_ms() - t0;
    t0 = now_ms();
    if (cs_db_remove(db, (const char *const *)rm_paths, (int)m, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    double t_remove = now_ms() - t0;
    c.removed = rm;
    c.n_removed = m;

    /* the references after the change: the exact scan */
    for (int64_t i = 0; i < nq; i++) search(&c, i, 1, refs + i * 10);
    double r_stale = recall(&c, refs); /* the old index, rows hidden, new rows scanned */
    t0 = now_ms();
    if (cs_db_finish(db, NULL, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    double t_finish = now_ms() - t0;
    if (cs_db_get_info(db, &info, &err) != CS_OK) return 1;
    double r_after = recall(&c, refs);
    int64_t new_hits = 0;
    for (int64_t i = 0; i < nq * 10; i++) new_hits += refs[i] > count;
    printf("{\"rows\": %lld, \"added\": %lld, \"removed\": %lld, \"queries\": %lld, "
           "\"put_s\": %.2f, \"remove_s\": %.2f, \"finish_s\": %.2f, \"index_after\": \"%s\", "
           "\"recall_before\": %.4f, \"recall_old_index\": %.4f, \"recall_updated\": %.4f, "
           "\"new_rows_in_references\": %lld, \"removed_rows_returned\": %lld}\n",
           (long long)count, (long long)n, (long long)m, (long long)nq, t_put / 1e3, t_remove / 1e3,
           t_finish / 1e3, info.search_index, r_before, r_stale, r_after, (long long)new_hits,
           (long long)c.returned_removed);
    for (int64_t i = 0; i < m; i++) free(rm_paths[i]);
    free(rm_paths);
    free(rm);
    free(add);
    free(paths);
    free(e);
    free(gt);
    free(refs);
    cs_db_close(db);
    cs_npy_close(&q);
    return c.returned_removed ? 1 : 0;
}
