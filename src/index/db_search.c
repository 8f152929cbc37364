/* index/db_search.c - top-k queries over the catalogue: exact scan of the
 * vector snapshot, then exclusions, threshold, and the rows' paths. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "clipsearch/search.h"
#include "index/ann.h"
#include "index/db_internal.h"
#include "index/search_internal.h"

/* Orders hits best first; equal scores: lower id first. */
static int better(const cs_hit *a, const cs_hit *b) {
    return a->score > b->score || (a->score == b->score && a->id < b->id);
}

int64_t cs_snapshot_topk(cs_pool *pool, const cs_vecs *v, const cs_ann *ann, const cs_ann_params *p,
                         const float *q, int want, cs_hit *hits, int64_t *n_bad) {
    int64_t bad_a = 0, bad_b = 0;
    if (n_bad) *n_bad = 0;
    /* the base scan returns masked rows too: ask for as many more */
    int64_t kb = (int64_t)want + v->n_masked, kd = want;
    if (kb > v->n) kb = v->n;
    if (kd > v->n_delta) kd = v->n_delta;
    cs_hit *a = malloc((size_t)(kb + 1) * sizeof *a), *b = malloc((size_t)(kd + 1) * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return -1;
    }
    int64_t na = 0;
    if (ann) { /* ids, masked rows already left out */
        na = kb ? cs_ann_search(ann, v, q, want, p, a, &bad_a) : 0;
    } else if (kb) {
        na = cs_search_flat_checked(pool, v->vectors, v->n, v->dim, q, (int)kb, a, CS_ISA_AUTO,
                                    CS_UNIT_LIMIT, &bad_a);
        int64_t m = 0;
        for (int64_t i = 0; i < na; i++) /* rows -> ids, masked dropped */
            if (!cs_vecs_masked(v, a[i].id)) a[m++] = (cs_hit){v->ids[a[i].id], a[i].score};
        na = m;
    }
    int64_t nb = kd ? cs_search_flat_checked(pool, v->delta_vectors, v->n_delta, v->dim, q, (int)kd,
                                             b, CS_ISA_AUTO, CS_UNIT_LIMIT, &bad_b)
                    : 0;
    if (n_bad) *n_bad = bad_a + bad_b;
    if (na < 0) {
        free(a);
        free(b);
        return -1;
    }
    for (int64_t i = 0; i < nb; i++) b[i].id = v->delta_ids[b[i].id];
    int64_t i = 0, j = 0, n = 0;
    while (n < want && (i < na || j < nb))
        hits[n++] = j == nb || (i < na && better(&a[i], &b[j])) ? a[i++] : b[j++];
    free(a);
    free(b);
    return n;
}

static int has_id(const int64_t *ids, int n, int64_t id) {
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return 1;
    return 0;
}

/* Fills one result's path and image size from SQLite; CS_ENOTFOUND when the
 * row went away since the snapshot was taken (another process pruned it). */
static cs_status fill_result(cs_db *db, cs_result *r, cs_error *err) {
    cs_db_image img;
    cs_status st = cs_db_get(db, r->id, &img, err);
    if (st) return st;
    r->path = img.path;
    r->width = img.width;
    r->height = img.height;
    return CS_OK;
}

/* The ids not to return: the caller's, plus the rows of the caller's paths. */
static cs_status collect_excluded(cs_db *db, const cs_search_opts *o, int64_t **ids, int *n,
                                  cs_error *err) {
    *n = 0;
    *ids = malloc(((size_t)o->n_exclude_ids + (size_t)o->n_exclude_paths + 1) * sizeof **ids);
    if (!*ids) return cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
    for (int i = 0; i < o->n_exclude_ids; i++) (*ids)[(*n)++] = o->exclude_ids[i];
    for (int i = 0; i < o->n_exclude_paths; i++) {
        int64_t id;
        cs_error e;
        if (cs_db_find(db, o->exclude_paths[i], &id, &e) == CS_OK) (*ids)[(*n)++] = id;
    }
    return CS_OK;
}

cs_status cs_db_search(cs_db *db, const float *query, const cs_search_opts *opts, cs_result **out,
                       int *n_out, cs_error *err) {
    *out = NULL;
    *n_out = 0;
    cs_search_opts o = {0};
    if (opts) o = *opts;
    int k = o.k > 0 ? o.k : 10;
    int64_t *excl = NULL;
    int n_excl = 0;
    cs_vecs *v = NULL;
    cs_hit *hits = NULL;
    cs_result *res = NULL;
    float *q = malloc((size_t)db->dim * sizeof *q);
    if (!q) return cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
    memcpy(q, query, (size_t)db->dim * sizeof *q);
    cs_db_normalize(q, db->dim);
    cs_status st = collect_excluded(db, &o, &excl, &n_excl, err);
    /* with an index only the candidates' rows are read: no need to map
     * every vector before the search */
    int use_ann = !o.exact && cs_db_ann_present(db);
    cs_ann *ann = NULL;
    cs_ann_params ap = {.nprobe = o.nprobe};
    int64_t want = 0, got = 0, bad = 0;
    /* a damaged vector file is dropped and the search runs again on the
     * rows read from SQLite; damage there is an error */
    for (int attempt = 0; attempt < 2 && !st; attempt++) {
        if (!st) st = cs_db_vectors_opt(db, !use_ann, &v, err);
        ann = !st && use_ann ? cs_db_ann_for(db, v) : NULL;
        /* ask for as many more as could be excluded, so k remain after */
        want = v ? (int64_t)k + n_excl : 0;
        if (v && want > cs_vecs_count(v)) want = cs_vecs_count(v);
        if (!st && want > 0) {
            res = calloc((size_t)(want < k ? want : k), sizeof *res);
            hits = malloc((size_t)want * sizeof *hits);
            if (res && hits) got = cs_snapshot_topk(o.pool, v, ann, &ap, q, (int)want, hits, &bad);
            if (!res || !hits || got < 0)
                st = cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
        }
        if (st || !bad) break;
        if (attempt == 0 && cs_db_distrust_file(db, v, bad)) {
            cs_db_ann_release(db, ann);
            ann = NULL;
            cs_vecs_release(v);
            v = NULL;
            free(hits);
            hits = NULL;
            free(res);
            res = NULL;
            continue;
        }
        st = cs_fail(err, CS_EFORMAT,
                     "%s: %lld stored embedding%s not unit vectors (NaN, infinite or damaged); "
                     "re-index with --reset to rebuild them",
                     db->path, (long long)bad, bad == 1 ? " is" : "s are");
    }
    int n = 0;
    if (!st && want > 0) {
        for (int64_t i = 0; i < got && n < k && !st; i++) {
            int64_t id = hits[i].id;
            if (has_id(excl, n_excl, id)) continue;
            if (o.use_threshold && hits[i].score < o.threshold) break;
            res[n].id = id;
            res[n].score = hits[i].score;
            cs_error e;
            cs_status fs = fill_result(db, &res[n], &e);
            if (fs == CS_OK)
                n++;
            else if (fs != CS_ENOTFOUND) {
                st = fs;
                if (err) *err = e;
            }
        }
    }
    cs_db_ann_release(db, ann);
    cs_vecs_release(v);
    free(hits);
    free(excl);
    free(q);
    if (st) {
        cs_results_free(res, n);
        return st;
    }
    *out = res;
    *n_out = n;
    return CS_OK;
}

cs_status cs_db_similar(cs_db *db, int64_t id, const cs_search_opts *opts, cs_result **out, int *n,
                        cs_error *err) {
    *out = NULL;
    *n = 0;
    float *q = malloc((size_t)db->dim * sizeof *q);
    int64_t *excl = NULL;
    cs_search_opts o = {0};
    if (opts) o = *opts;
    if (q) excl = malloc(((size_t)o.n_exclude_ids + 1) * sizeof *excl);
    if (!q || !excl) {
        free(q);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
    }
    cs_status st = cs_db_get_vector(db, id, q, err);
    if (!st) {
        if (o.n_exclude_ids) memcpy(excl, o.exclude_ids, (size_t)o.n_exclude_ids * sizeof *excl);
        excl[o.n_exclude_ids] = id;
        o.exclude_ids = excl;
        o.n_exclude_ids++;
        st = cs_db_search(db, q, &o, out, n, err);
    }
    free(excl);
    free(q);
    return st;
}

void cs_results_free(cs_result *results, int n) {
    if (!results) return;
    for (int i = 0; i < n; i++) free(results[i].path);
    free(results);
}
