/* dist/dist_search.c - a query over catalogues held by different ranks:
 * rank 0 asks every shard, each answers from its own catalogue, rank 0
 * merges (see dist.h). Rank 0 serialises its requests (one lock), so the
 * server's connection threads may call these at once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "dist/dist.h"
#include "dist/dist_tags.h"
#include "dist/wire.h"

static pthread_mutex_t talk = PTHREAD_MUTEX_INITIALIZER;

/* ---- rank 0 ----------------------------------------------------------------- */

/* Sends the request to every shard but rank 0. */
static cs_status ask_all(cs_comm *comm, int tag, const cs_wbuf *w, cs_error *err) {
    if (w->oom) return cs_fail(err, CS_ENOMEM, "out of memory for a request");
    for (int r = 1; r < cs_comm_size(comm); r++) {
        cs_status st =
            cs_comm_send(comm, r, tag, w->data ? w->data : (const void *)"", w->len, err);
        if (st) return st;
    }
    return CS_OK;
}

static cs_status ask_one(cs_comm *comm, int rank, int tag, const cs_wbuf *w, cs_error *err) {
    if (w->oom) return cs_fail(err, CS_ENOMEM, "out of memory for a request");
    return cs_comm_send(comm, rank, tag, w->data ? w->data : (const void *)"", w->len, err);
}

/* A shard's reply: its status first (a failure names the rank). */
static cs_status answer(cs_comm *comm, int rank, void **buf, cs_rbuf *r, cs_error *err) {
    int from, tag;
    size_t len;
    cs_status st = cs_comm_recv_any(comm, rank, &from, &tag, buf, &len, err);
    if (st) return st;
    *r = (cs_rbuf){*buf, len, 0};
    cs_status rs = (cs_status)cs_r_u32(r);
    char *msg = cs_r_str(r);
    if (r->bad)
        st = cs_fail(err, CS_EINTERNAL, "rank %d sent a malformed reply", rank);
    else if (rs)
        st = cs_fail(err, rs, "shard of rank %d: %s", rank, msg ? msg : "failed");
    free(msg);
    return st;
}

typedef struct hit {
    cs_result r;
    int64_t gid;
} hit;

static int by_score(const void *a, const void *b) {
    const hit *x = a, *y = b;
    if (x->r.score != y->r.score) return x->r.score > y->r.score ? -1 : 1;
    return strcmp(x->r.path, y->r.path);
}

static cs_status add_hits(hit **all, int *n, const cs_result *res, int k, int rank, int size) {
    hit *grown = realloc(*all, ((size_t)*n + (size_t)k + 1) * sizeof *grown);
    if (!grown) return CS_ENOMEM;
    *all = grown;
    for (int i = 0; i < k; i++) {
        hit *h = &(*all)[(*n)++];
        h->r = res[i];
        h->gid = res[i].id * size + rank;
        h->r.id = h->gid;
        h->r.path = strdup(res[i].path ? res[i].path : "");
        if (!h->r.path) return CS_ENOMEM;
    }
    return CS_OK;
}

/* The search itself, under the lock; exclude_gid: a row left out (-1: none). */
static cs_status search_locked(cs_comm *comm, cs_db *db, const float *q, int dim,
                               const cs_search_opts *o, int64_t exclude_gid, cs_result **out,
                               int *n_out, cs_error *err) {
    int size = cs_comm_size(comm), k = o->k > 0 ? o->k : 10;
    cs_wbuf w = {0};
    cs_w_u32(&w, (uint32_t)k);
    cs_w_u32(&w, (uint32_t)o->use_threshold);
    cs_w_bytes(&w, &o->threshold, sizeof o->threshold);
    cs_w_u32(&w, (uint32_t)o->n_exclude_paths);
    for (int i = 0; i < o->n_exclude_paths; i++) cs_w_str(&w, o->exclude_paths[i]);
    cs_w_i64(&w, exclude_gid);
    cs_w_u32(&w, (uint32_t)dim);
    cs_w_bytes(&w, q, (size_t)dim * sizeof *q);
    cs_status st = ask_all(comm, TAG_Q_SEARCH, &w, err);
    cs_wbuf_free(&w);
    if (st) return st;
    hit *all = NULL;
    int n = 0;
    /* rank 0's own shard meanwhile */
    cs_search_opts lo = *o;
    lo.k = k;
    int64_t ex = exclude_gid >= 0 && exclude_gid % size == 0 ? exclude_gid / size : -1;
    if (ex >= 0) {
        lo.exclude_ids = &ex;
        lo.n_exclude_ids = 1;
    }
    cs_result *res = NULL;
    int nr = 0;
    cs_status mine = cs_db_search(db, q, &lo, &res, &nr, err);
    if (!mine && add_hits(&all, &n, res, nr, 0, size))
        mine = cs_fail(err, CS_ENOMEM, "out of memory");
    cs_results_free(res, nr);
    st = mine;
    for (int r = 1; r < size; r++) {
        void *buf = NULL;
        cs_rbuf rb;
        cs_error e;
        cs_status s = answer(comm, r, &buf, &rb, &e);
        int m = s ? 0 : (int)cs_r_u32(&rb);
        for (int i = 0; i < m && !rb.bad; i++) {
            cs_result h = {0};
            h.id = cs_r_i64(&rb);
            cs_r_bytes(&rb, &h.score, sizeof h.score);
            h.width = (int)cs_r_u32(&rb);
            h.height = (int)cs_r_u32(&rb);
            h.path = cs_r_str(&rb);
            if (h.path && add_hits(&all, &n, &h, 1, r, size)) s = CS_ENOMEM;
            free(h.path);
        }
        if (!s && rb.bad) s = cs_fail(&e, CS_EINTERNAL, "rank %d sent a malformed reply", r);
        if (s && !st) {
            *err = e;
            st = s;
        }
        free(buf);
    }
    if (!st) {
        qsort(all, (size_t)n, sizeof *all, by_score);
        int keep = n < k ? n : k;
        *out = calloc((size_t)keep + 1, sizeof **out);
        if (!*out) st = cs_fail(err, CS_ENOMEM, "out of memory");
        for (int i = 0; !st && i < keep; i++) {
            (*out)[i] = all[i].r;
            all[i].r.path = NULL;
        }
        if (!st) *n_out = keep;
    }
    for (int i = 0; i < n; i++) free(all[i].r.path);
    free(all);
    return st;
}

static int db_dim(cs_db *db) {
    cs_db_info info;
    cs_error e;
    return cs_db_get_info(db, &info, &e) == CS_OK ? info.dim : 0;
}

cs_status cs_dist_search(cs_comm *comm, cs_db *db, const float *query, const cs_search_opts *opts,
                         cs_result **out, int *n, cs_error *err) {
    *out = NULL;
    *n = 0;
    cs_search_opts o = opts ? *opts : (cs_search_opts){0};
    pthread_mutex_lock(&talk);
    cs_status st = search_locked(comm, db, query, db_dim(db), &o, -1, out, n, err);
    pthread_mutex_unlock(&talk);
    return st;
}

/* For the server: leaves out one row by global id. */
cs_status cs_dist_search_excluding(cs_comm *comm, cs_db *db, const float *query, int k,
                                   int64_t exclude_gid, cs_result **out, int *n, cs_error *err) {
    *out = NULL;
    *n = 0;
    cs_search_opts o = {.k = k};
    pthread_mutex_lock(&talk);
    cs_status st = search_locked(comm, db, query, db_dim(db), &o, exclude_gid, out, n, err);
    pthread_mutex_unlock(&talk);
    return st;
}

cs_status cs_dist_find_vector(cs_comm *comm, cs_db *db, const char *path, float *out,
                              cs_error *err) {
    int64_t id;
    cs_error e;
    if (cs_db_find(db, path, &id, &e) == CS_OK) return cs_db_get_vector(db, id, out, err);
    int dim = db_dim(db), found = 0;
    cs_wbuf w = {0};
    cs_w_str(&w, path);
    pthread_mutex_lock(&talk);
    cs_status st = ask_all(comm, TAG_Q_FIND, &w, err);
    for (int r = 1; !st && r < cs_comm_size(comm); r++) {
        void *buf = NULL;
        cs_rbuf rb;
        cs_status s = answer(comm, r, &buf, &rb, &e);
        if (!s && cs_r_u32(&rb) && !found) {
            cs_r_bytes(&rb, out, (size_t)dim * sizeof *out);
            found = !rb.bad;
        }
        if (s && s != CS_ENOTFOUND && !st) {
            *err = e;
            st = s;
        }
        free(buf);
    }
    pthread_mutex_unlock(&talk);
    cs_wbuf_free(&w);
    if (!st && !found)
        st = cs_fail(err, CS_ENOTFOUND, "%s: not in any shard of the catalogue", path);
    return st;
}

/* One request to the rank holding global id gid; its reply in *buf / *rb. */
static cs_status ask_owner(cs_comm *comm, int tag, int64_t gid, void **buf, cs_rbuf *rb,
                           cs_error *err) {
    int size = cs_comm_size(comm), rank = (int)(gid % size);
    cs_wbuf w = {0};
    cs_w_i64(&w, gid / size);
    cs_status st = ask_one(comm, rank, tag, &w, err);
    cs_wbuf_free(&w);
    if (!st) st = answer(comm, rank, buf, rb, err);
    return st;
}

cs_status cs_dist_get(cs_comm *comm, cs_db *db, int64_t gid, cs_db_image *out, cs_error *err) {
    memset(out, 0, sizeof *out);
    int size = cs_comm_size(comm);
    if (gid < 0) return cs_fail(err, CS_ENOTFOUND, "no image %lld", (long long)gid);
    if (gid % size == 0) {
        cs_status st = cs_db_get(db, gid / size, out, err);
        out->id = gid;
        return st;
    }
    void *buf = NULL;
    cs_rbuf rb;
    pthread_mutex_lock(&talk);
    cs_status st = ask_owner(comm, TAG_Q_GET, gid, &buf, &rb, err);
    pthread_mutex_unlock(&talk);
    if (!st) {
        out->id = gid;
        out->path = cs_r_str(&rb);
        out->size = cs_r_i64(&rb);
        out->mtime_ns = cs_r_i64(&rb);
        out->width = (int)cs_r_u32(&rb);
        out->height = (int)cs_r_u32(&rb);
        cs_r_bytes(&rb, out->hash, 16);
        if (rb.bad) {
            cs_db_image_clear(out);
            st = cs_fail(err, CS_EINTERNAL, "a malformed reply");
        }
    }
    free(buf);
    return st;
}

cs_status cs_dist_get_vector(cs_comm *comm, cs_db *db, int64_t gid, float *out, cs_error *err) {
    int size = cs_comm_size(comm);
    if (gid < 0) return cs_fail(err, CS_ENOTFOUND, "no image %lld", (long long)gid);
    if (gid % size == 0) return cs_db_get_vector(db, gid / size, out, err);
    void *buf = NULL;
    cs_rbuf rb;
    pthread_mutex_lock(&talk);
    cs_status st = ask_owner(comm, TAG_Q_VECTOR, gid, &buf, &rb, err);
    pthread_mutex_unlock(&talk);
    if (!st) {
        cs_r_bytes(&rb, out, (size_t)db_dim(db) * sizeof *out);
        if (rb.bad) st = cs_fail(err, CS_EINTERNAL, "a malformed reply");
    }
    free(buf);
    return st;
}

cs_status cs_dist_count(cs_comm *comm, cs_db *db, int64_t *count, cs_error *err) {
    cs_db_info info;
    cs_status st = cs_db_get_info(db, &info, err);
    if (st) return st;
    *count = info.count;
    cs_wbuf w = {0};
    pthread_mutex_lock(&talk);
    st = ask_all(comm, TAG_Q_COUNT, &w, err);
    for (int r = 1; !st && r < cs_comm_size(comm); r++) {
        void *buf = NULL;
        cs_rbuf rb;
        st = answer(comm, r, &buf, &rb, err);
        if (!st) *count += cs_r_i64(&rb);
        free(buf);
    }
    pthread_mutex_unlock(&talk);
    return st;
}

cs_status cs_dist_shard_check(cs_comm *comm, const char *model_id, int dim, cs_error *err) {
    cs_wbuf w = {0};
    cs_w_str(&w, model_id);
    cs_w_u32(&w, (uint32_t)dim);
    pthread_mutex_lock(&talk);
    cs_status st = ask_all(comm, TAG_Q_CHECK, &w, err);
    cs_wbuf_free(&w);
    for (int r = 1; r < cs_comm_size(comm); r++) {
        void *buf = NULL;
        cs_rbuf rb;
        cs_error e;
        cs_status s = st ? st : answer(comm, r, &buf, &rb, &e);
        if (s && !st) {
            *err = e;
            st = s;
        }
        free(buf);
    }
    pthread_mutex_unlock(&talk);
    return st;
}

void cs_dist_shard_stop(cs_comm *comm) {
    cs_error e;
    pthread_mutex_lock(&talk);
    for (int r = 1; r < cs_comm_size(comm); r++) cs_comm_send(comm, r, TAG_Q_STOP, "", 0, &e);
    pthread_mutex_unlock(&talk);
}

/* ---- the other ranks ---------------------------------------------------------- */

static void put_status(cs_wbuf *w, cs_status st, const cs_error *e) {
    cs_w_u32(w, (uint32_t)st);
    cs_w_str(w, st ? e->message : "");
}

static void serve_search(cs_db *db, cs_pool *pool, int size, int rank, cs_rbuf *r, cs_wbuf *w) {
    cs_search_opts o = {.pool = pool};
    o.k = (int)cs_r_u32(r);
    o.use_threshold = (int)cs_r_u32(r);
    cs_r_bytes(r, &o.threshold, sizeof o.threshold);
    int ne = (int)cs_r_u32(r);
    if (ne < 0 || (size_t)ne > r->left) { /* each path takes at least 4 bytes */
        r->bad = 1;
        ne = 0;
    }
    char **paths = calloc((size_t)ne + 1, sizeof *paths);
    for (int i = 0; paths && i < ne && !r->bad; i++) paths[i] = cs_r_str(r);
    int64_t gid = cs_r_i64(r); /* a global id: this rank's when it divides so */
    int64_t ex = gid >= 0 && gid % size == rank ? gid / size : -1;
    int dim = (int)cs_r_u32(r);
    const float *q = cs_r_view(r, (size_t)dim * sizeof(float));
    cs_error e;
    cs_status st = CS_OK;
    float *qa = NULL;
    if (r->bad || !paths || dim != db_dim(db)) {
        st = cs_fail(&e, CS_EINVAL, "a malformed search request");
    } else if (!(qa = malloc((size_t)dim * sizeof *qa))) {
        st = cs_fail(&e, CS_ENOMEM, "out of memory");
    }
    cs_result *res = NULL;
    int n = 0;
    if (!st) {
        memcpy(qa, q, (size_t)dim * sizeof *qa); /* aligned, whatever the message's layout */
        o.exclude_paths = (const char *const *)paths;
        o.n_exclude_paths = ne;
        if (ex >= 0) {
            o.exclude_ids = &ex;
            o.n_exclude_ids = 1;
        }
        st = cs_db_search(db, qa, &o, &res, &n, &e);
    }
    put_status(w, st, &e);
    cs_w_u32(w, (uint32_t)(st ? 0 : n));
    for (int i = 0; !st && i < n; i++) {
        cs_w_i64(w, res[i].id);
        cs_w_bytes(w, &res[i].score, sizeof res[i].score);
        cs_w_u32(w, (uint32_t)res[i].width);
        cs_w_u32(w, (uint32_t)res[i].height);
        cs_w_str(w, res[i].path ? res[i].path : "");
    }
    cs_results_free(res, n);
    for (int i = 0; paths && i < ne; i++) free(paths[i]);
    free(paths);
    free(qa);
}

static void serve_one(cs_comm *comm, cs_db *db, cs_pool *pool, int tag, cs_rbuf *r, cs_wbuf *w) {
    cs_error e;
    cs_status st;
    int size = cs_comm_size(comm), rank = cs_comm_rank(comm);
    switch (tag) {
    case TAG_Q_CHECK: {
        char *id = cs_r_str(r);
        int dim = (int)cs_r_u32(r);
        cs_db_info info;
        st = cs_db_get_info(db, &info, &e);
        if (!st && (!id || strcmp(id, info.model_id) != 0 || dim != info.dim))
            st = cs_fail(&e, CS_EMISMATCH, "%s belongs to model %s, rank 0's to %s", info.path,
                         info.model_id, id ? id : "?");
        free(id);
        put_status(w, st, &e);
        return;
    }
    case TAG_Q_SEARCH:
        serve_search(db, pool, size, rank, r, w);
        return;
    case TAG_Q_FIND: {
        char *path = cs_r_str(r);
        int64_t id;
        st = path ? cs_db_find(db, path, &id, &e) : cs_fail(&e, CS_EINVAL, "a malformed request");
        float *v = st ? NULL : malloc((size_t)db_dim(db) * sizeof *v);
        if (!st && !v) st = cs_fail(&e, CS_ENOMEM, "out of memory");
        if (!st) st = cs_db_get_vector(db, id, v, &e);
        put_status(w, st == CS_ENOTFOUND ? CS_OK : st, &e);
        cs_w_u32(w, st == CS_OK);
        if (!st) cs_w_bytes(w, v, (size_t)db_dim(db) * sizeof *v);
        free(v);
        free(path);
        return;
    }
    case TAG_Q_GET: {
        cs_db_image img = {0};
        st = cs_db_get(db, cs_r_i64(r), &img, &e);
        put_status(w, st, &e);
        if (!st) {
            cs_w_str(w, img.path);
            cs_w_i64(w, img.size);
            cs_w_i64(w, img.mtime_ns);
            cs_w_u32(w, (uint32_t)img.width);
            cs_w_u32(w, (uint32_t)img.height);
            cs_w_bytes(w, img.hash, 16);
        }
        cs_db_image_clear(&img);
        return;
    }
    case TAG_Q_VECTOR: {
        float *v = malloc((size_t)db_dim(db) * sizeof *v);
        st = v ? cs_db_get_vector(db, cs_r_i64(r), v, &e) : cs_fail(&e, CS_ENOMEM, "out of memory");
        put_status(w, st, &e);
        if (!st) cs_w_bytes(w, v, (size_t)db_dim(db) * sizeof *v);
        free(v);
        return;
    }
    case TAG_Q_COUNT: {
        cs_db_info info;
        st = cs_db_get_info(db, &info, &e);
        put_status(w, st, &e);
        cs_w_i64(w, st ? 0 : info.count);
        return;
    }
    }
    st = cs_fail(&e, CS_EINTERNAL, "unexpected request (tag %d)", tag);
    put_status(w, st, &e);
}

cs_status cs_dist_shard_serve(cs_comm *comm, cs_db *db, cs_pool *pool, const cs_error *setup_error,
                              cs_error *err) {
    for (;;) {
        int from, tag;
        void *buf;
        size_t len;
        cs_status st = cs_comm_recv_any(comm, 0, &from, &tag, &buf, &len, err);
        if (st) return st;
        if (tag == TAG_Q_STOP) {
            free(buf);
            return CS_OK;
        }
        cs_rbuf r = {buf, len, 0};
        cs_wbuf w = {0};
        if (!db)
            put_status(&w, setup_error->status, setup_error);
        else
            serve_one(comm, db, pool, tag, &r, &w);
        free(buf);
        st = w.oom ? cs_fail(err, CS_ENOMEM, "out of memory")
                   : cs_comm_send(comm, 0, TAG_Q_REPLY, w.data, w.len, err);
        cs_wbuf_free(&w);
        if (st) return st;
    }
}
