/* dist/dist_shard.c - every rank indexes its share of the files into its own
 * catalogue (see dist.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "dist/dist.h"
#include "dist/dist_tags.h"
#include "dist/wire.h"
#include "index/indexer.h"

int cs_dist_shard_of(const char *path, int n) {
    uint64_t h = 14695981039346656037ull; /* FNV-1a: stable across hosts and builds */
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return (int)(h % (uint64_t)n);
}

typedef struct shard_run {
    int rank, size;
    const cs_index_opts *user; /* the caller's callbacks (rank 0's report) */
    cs_wbuf failures;          /* ranks > 0: "path\0message" of each file skipped */
    int n_failures;
} shard_run;

static int keep(void *user, const char *path) {
    const shard_run *s = user;
    return cs_dist_shard_of(path, s->size) == s->rank;
}

static void on_error(void *user, const char *path, const cs_error *e) {
    shard_run *s = user;
    cs_w_str(&s->failures, path);
    cs_w_u32(&s->failures, (uint32_t)e->status);
    cs_w_str(&s->failures, e->message);
    s->n_failures++;
}

static void add_stats(cs_index_stats *to, const cs_index_stats *s) {
    to->found += s->found;
    to->embedded += s->embedded;
    to->reused += s->reused;
    to->unchanged += s->unchanged;
    to->removed += s->removed;
    to->failed += s->failed;
    to->stopped |= s->stopped;
}

/* Ranks > 0: the counts, the failures and the status, to rank 0. */
static void report(cs_comm *comm, const shard_run *s, const cs_index_stats *st, cs_status status,
                   const cs_error *err) {
    cs_wbuf w = {0};
    cs_w_bytes(&w, st, sizeof *st);
    cs_w_u32(&w, (uint32_t)status);
    cs_w_str(&w, status ? err->message : "");
    cs_w_u32(&w, (uint32_t)s->n_failures);
    cs_w_bytes(&w, s->failures.data, s->failures.len);
    cs_error e;
    if (!w.oom) cs_comm_send(comm, 0, TAG_SHARD_DONE, w.data, w.len, &e);
    cs_wbuf_free(&w);
}

/* Rank 0: each other rank's report, added to its own. */
static cs_status gather(cs_comm *comm, const cs_index_opts *opts, cs_index_stats *stats,
                        cs_status st, cs_error *err) {
    for (int got = 1; got < cs_comm_size(comm); got++) {
        int from, tag;
        void *buf;
        size_t len;
        cs_error e;
        if (cs_comm_recv_any(comm, -1, &from, &tag, &buf, &len, &e) != CS_OK) {
            if (!st) *err = e, st = e.status;
            continue;
        }
        cs_rbuf r = {buf, len, 0};
        cs_index_stats s;
        cs_r_bytes(&r, &s, sizeof s);
        cs_status rs = (cs_status)cs_r_u32(&r);
        char *msg = cs_r_str(&r);
        if (tag == TAG_SHARD_DONE && !r.bad) add_stats(stats, &s);
        if (rs && !st) st = cs_fail(err, rs, "rank %d: %s", from, msg ? msg : "failed");
        free(msg);
        int n = (int)cs_r_u32(&r);
        for (int i = 0; i < n && !r.bad; i++) {
            char *path = cs_r_str(&r);
            cs_error fe = {.status = (cs_status)cs_r_u32(&r)};
            char *m = cs_r_str(&r);
            if (path && m && opts && opts->on_error) {
                snprintf(fe.message, sizeof fe.message, "%s (rank %d)", m, from);
                opts->on_error(opts->error_user, path, &fe);
            }
            free(path);
            free(m);
        }
        free(buf);
    }
    return st;
}

cs_status cs_dist_index_shard(cs_comm *comm, cs_db *db, cs_model *model, const char *const *roots,
                              int n_roots, const cs_index_opts *opts, cs_index_stats *stats,
                              const cs_error *setup_error, cs_error *err) {
    shard_run s = {.rank = cs_comm_rank(comm), .size = cs_comm_size(comm), .user = opts};
    cs_index_stats local = {0};
    cs_index_stats *st_out = s.rank == 0 ? stats : &local;
    memset(st_out, 0, sizeof *st_out);
    cs_index_opts o = opts ? *opts : (cs_index_opts){0};
    if (s.rank != 0) {
        o.on_error = on_error; /* reported by rank 0 */
        o.error_user = &s;
        o.progress = NULL;
    }
    cs_status st;
    if (!db || !model) {
        *err = *setup_error;
        st = setup_error->status;
    } else {
        cs_index_backend be;
        st = cs_index_model_backend(model, &o, &be, err);
        if (!st) {
            be.keep = keep;
            be.keep_user = &s;
            cs_model_info mi;
            cs_model_get_info(model, &mi);
            cs_db_info di;
            st = cs_db_get_info(db, &di, err);
            if (!st && (strcmp(mi.id, di.model_id) != 0 || mi.embed_dim != di.dim))
                st = cs_fail(err, CS_EMISMATCH, "%s: the database belongs to model %s, not %s",
                             di.path, di.model_id, mi.id);
            if (!st) st = cs_index_run(db, &be, roots, n_roots, &o, st_out, err);
            free(be.user);
        }
    }
    if (s.rank != 0) {
        report(comm, &s, st_out, st, err);
        cs_wbuf_free(&s.failures);
        return st;
    }
    return gather(comm, opts, stats, st, err);
}
