/* cli/search_npy.c - see search_npy.h. Queries run in parallel, each on
 * one thread (a query through the approximate index takes about a
 * millisecond: splitting one is not worth it); blocks of queries are
 * printed in order as they finish. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_db.h"
#include "core/error.h"
#include "core/pool.h"
#include "index/npy.h"
#include "search_npy.h"

enum { BLOCK = 1024 };

typedef struct job {
    cs_db *db;
    const cs_npy *npy;
    cs_search_opts so;
    int64_t first;
    cs_result **res;
    int *n;
    cs_error *errs;
    cs_status *st;
} job;

static void one_query(void *ctx, int task, int worker) {
    (void)worker;
    job *j = ctx;
    float *q = malloc((size_t)j->npy->cols * sizeof *q);
    if (!q) {
        j->st[task] = cs_fail(&j->errs[task], CS_ENOMEM, "out of memory");
        return;
    }
    cs_npy_row(j->npy, j->first + task, q);
    j->st[task] = cs_db_search(j->db, q, &j->so, &j->res[task], &j->n[task], &j->errs[task]);
    free(q);
}

static int print_one(const cs_result *r, int n) {
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++)
        json_array_append_new(arr, json_pack("{s:I, s:s, s:f}", "id", (json_int_t)r[i].id, "path",
                                             r[i].path, "score", (double)r[i].score));
    json_t *o = arr ? json_pack("{s:o}", "results", arr) : NULL;
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    int ok = s && puts(s) >= 0;
    free(s);
    json_decref(o);
    return ok ? CLI_OK : CLI_FAIL;
}

/* Every query finite (a NaN query would rank rows arbitrarily). */
static int check_queries(const char *file, const cs_npy *npy) {
    float *q = malloc((size_t)npy->cols * sizeof *q);
    if (!q) return CLI_FAIL;
    for (int64_t r = 0; r < npy->rows; r++) {
        cs_npy_row(npy, r, q);
        for (int d = 0; d < npy->cols; d++)
            if (!isfinite(q[d])) {
                cli_error("%s: query %lld is not finite (NaN or inf)", file, (long long)r);
                free(q);
                return CLI_FAIL;
            }
    }
    free(q);
    return CLI_OK;
}

int cli_search_npy(const char *npy_file, const cli_result_opts *ro, int threads) {
    cs_npy npy;
    cs_error err;
    if (cs_npy_open(npy_file, &npy, &err) != CS_OK) return cli_fail(&err);
    int rc = check_queries(npy_file, &npy);
    cs_db_opts o = {.flags = CS_DB_READONLY}; /* any model: the vectors are given */
    cs_db *db = NULL;
    cs_db_info info;
    if (!rc) rc = cli_db_open(ro->db, &o, &db);
    if (!rc && cs_db_get_info(db, &info, &err) != CS_OK) rc = cli_fail(&err);
    if (!rc && info.dim != npy.cols) {
        cli_error("%s: queries of %d dimensions, but the database holds %d (model %s)", npy_file,
                  npy.cols, info.dim, info.model_id);
        rc = CLI_FAIL;
    }
    cs_pool *pool = rc ? NULL : cs_pool_create(threads);
    job j = {db, &npy, ro->search, 0, NULL, NULL, NULL, NULL};
    j.so.pool = NULL; /* one thread per query */
    j.res = calloc(BLOCK, sizeof *j.res);
    j.n = calloc(BLOCK, sizeof *j.n);
    j.errs = calloc(BLOCK, sizeof *j.errs);
    j.st = calloc(BLOCK, sizeof *j.st);
    if (!rc && (!pool || !j.res || !j.n || !j.errs || !j.st)) rc = CLI_FAIL;
    for (int64_t b = 0; !rc && b < npy.rows; b += BLOCK) {
        int m = (int)(npy.rows - b < BLOCK ? npy.rows - b : BLOCK);
        j.first = b;
        cs_pool_for(pool, m, one_query, &j);
        for (int i = 0; i < m; i++) {
            if (!rc && j.st[i] != CS_OK) rc = cli_fail(&j.errs[i]);
            if (!rc) rc = print_one(j.res[i], j.n[i]);
            cs_results_free(j.res[i], j.n[i]);
            j.res[i] = NULL;
        }
    }
    free(j.res);
    free(j.n);
    free(j.errs);
    free(j.st);
    cs_pool_free(pool);
    cs_db_close(db);
    cs_npy_close(&npy);
    return rc;
}
