/* dist/dist_index.c - indexing over the ranks of an MPI job (see dist.h):
 * rank 0, which hands out the chunks and stores what comes back; the other
 * ranks' side is dist_index_worker.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/file.h"
#include "dist/dist.h"
#include "dist/dist_index_worker.h"
#include "dist/dist_tags.h"
#include "dist/wire.h"
#include "index/db_internal.h"
#include "index/indexer.h"

/* Files read on rank 0 and sent with a chunk: at most this many bytes a
 * message (MPI counts in int). */
#define SHIP_MAX ((size_t)1 << 30)

/* ---- rank 0: the chunks and who has them ------------------------------------ */

typedef struct chunk {
    cs_index_item *items; /* a slice of the job's todo, changed in place */
    int n, n_embed, more;
    float *reused, *vecs; /* n x dim each */
    char **bytes;         /* ship: each item's file, read on rank 0 */
} chunk;

enum { STAGE_HASH = 1, STAGE_EMBED };

/* Rank 0's own worker, a thread beside the coordinator: it takes one chunk
 * at a time through this mailbox and works on the chunk's items in place. */
typedef struct local_worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond, done_cond; /* work given; work done */
    chunk *job;
    int stage, done, quit;
    cs_status st;
    cs_error err;
    const cs_index_backend *be;
    cs_file_guard *guard; /* the catalogue's own files: never read as images */
    int dim;
} local_worker;

typedef struct peer {
    int rank;  /* 0: the local worker */
    int ready; /* said READY (the local one always is) */
    int dead;  /* failed: given no more work */
    chunk *c;  /* in flight, or NULL */
} peer;

typedef struct master {
    cs_comm *comm;
    cs_index_job *job;
    const cs_index_backend *be;
    cs_index_item *todo;
    size_t n_todo, next, stored;
    int batch, dim, ship, n_peers, inflight;
    const char *model_id;
    peer *peers;
    local_worker lw;
    cs_status st; /* the first failure: nothing more is handed out */
    cs_error *err;
} master;

static void chunk_free(chunk *c) {
    if (!c) return;
    if (c->bytes)
        for (int i = 0; i < c->n; i++) free(c->bytes[i]);
    free(c->bytes);
    free(c->reused);
    free(c->vecs);
    free(c);
}

static void *local_main(void *arg) {
    local_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->quit && (!w->job || w->done)) pthread_cond_wait(&w->cond, &w->lock);
        if (w->quit) break;
        chunk *c = w->job;
        int stage = w->stage;
        pthread_mutex_unlock(&w->lock);
        cs_status st = CS_OK;
        cs_error err = {0};
        if (stage == STAGE_HASH) {
            cs_index_hash_items(w->be->pool, w->guard, c->items, c->n);
        } else {
            float *inputs = malloc((size_t)c->n_embed * w->be->input_floats * sizeof *inputs);
            if (!inputs)
                st = cs_fail(&err, CS_ENOMEM, "out of memory for %d images", c->n_embed);
            else
                st = cs_index_embed_items(w->be, w->guard, c->items, c->n, c->n_embed, c->more,
                                          w->dim, inputs, c->vecs, NULL, 0, NULL, NULL, &err);
            free(inputs);
        }
        pthread_mutex_lock(&w->lock);
        w->st = st;
        w->err = err;
        w->done = 1;
        pthread_cond_signal(&w->done_cond);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void local_give(local_worker *w, chunk *c, int stage) {
    pthread_mutex_lock(&w->lock);
    w->job = c;
    w->stage = stage;
    w->done = 0;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* The stage the local worker finished (0: none yet). */
static int local_take(local_worker *w, cs_status *st, cs_error *err) {
    pthread_mutex_lock(&w->lock);
    int stage = w->job && w->done ? w->stage : 0;
    if (stage) {
        *st = w->st;
        *err = w->err;
        w->job = NULL;
    }
    pthread_mutex_unlock(&w->lock);
    return stage;
}

/* Waits until the local worker is done or `us` microseconds have passed
 * (us < 0: no limit). */
static void local_wait(local_worker *w, long us) {
    pthread_mutex_lock(&w->lock);
    if (us < 0) {
        while (w->job && !w->done) pthread_cond_wait(&w->done_cond, &w->lock);
    } else if (!(w->job && w->done)) {
        /* also when it has nothing to do: then this is the pause */
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += us * 1000;
        t.tv_sec += t.tv_nsec / 1000000000;
        t.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&w->done_cond, &w->lock, &t);
    }
    pthread_mutex_unlock(&w->lock);
}

/* ---- rank 0: messages to the workers ------------------------------------------ */

static cs_status send_wbuf(master *m, int rank, int tag, cs_wbuf *w) {
    cs_status st = w->oom ? cs_fail(m->err, CS_ENOMEM, "out of memory for a message")
                          : cs_comm_send(m->comm, rank, tag, w->data, w->len, m->err);
    cs_wbuf_free(w);
    return st;
}

static cs_status give_hash(master *m, peer *p) {
    if (p->rank == 0) {
        local_give(&m->lw, p->c, STAGE_HASH);
        return CS_OK;
    }
    cs_wbuf w = {0};
    cs_w_u32(&w, (uint32_t)p->c->n);
    for (int i = 0; i < p->c->n; i++) cs_w_str(&w, p->c->items[i].f->path);
    return send_wbuf(m, p->rank, TAG_HASH, &w);
}

static cs_status give_embed(master *m, peer *p) {
    chunk *c = p->c;
    if (p->rank == 0) {
        local_give(&m->lw, c, STAGE_EMBED);
        return CS_OK;
    }
    cs_wbuf w = {0};
    cs_w_u32(&w, (uint32_t)c->more);
    cs_w_u32(&w, (uint32_t)c->n_embed);
    for (int i = 0; i < c->n; i++) {
        const cs_index_item *it = &c->items[i];
        if (it->act != CS_ACT_EMBED) continue; /* slots 0.. in item order */
        cs_w_str(&w, it->f->path);
        cs_w_u32(&w, it->data != NULL);
        if (it->data) {
            cs_w_i64(&w, (int64_t)it->data_size);
            cs_w_bytes(&w, it->data, it->data_size);
        }
    }
    return send_wbuf(m, p->rank, TAG_EMBED, &w);
}

/* ---- rank 0: a chunk's life ------------------------------------------------------ */

/* Rank 0 reads the chunk's files (ship): hashes them here, so that only the
 * files the model needs travel. A file too large for one message fails. */
static void ship_read(master *m, chunk *c) {
    size_t total = 0;
    for (int i = 0; i < c->n; i++) {
        cs_index_item *it = &c->items[i];
        size_t size = 0;
        if (cs_guard_read_file(m->lw.guard, it->f->path, CS_INDEX_MAX_FILE_BYTES, &c->bytes[i],
                               &size, &it->error) != CS_OK) {
            it->act = CS_ACT_FAIL;
            continue;
        }
        if (size > SHIP_MAX - 4096 || total + size > SHIP_MAX - 4096 * (size_t)c->n) {
            cs_fail(&it->error, CS_ELIMIT, "%s: %zu bytes: too large to send to another host",
                    it->f->path, size);
            it->act = CS_ACT_FAIL;
            free(c->bytes[i]);
            c->bytes[i] = NULL;
            continue;
        }
        total += size;
        it->data = c->bytes[i];
        it->data_size = size;
    }
    cs_index_hash_items(NULL, NULL, c->items, c->n); /* in memory: no second read */
    (void)m;
}

static cs_status store_chunk(master *m, chunk *c) {
    cs_status st = cs_index_job_store(m->job, c->items, c->n, m->err);
    if (st) return st;
    m->stored += (size_t)c->n;
    cs_index_job_progress(m->job, (int64_t)m->stored, c->items[c->n - 1].f->path);
    return CS_OK;
}

/* After the hashes: the plan, then the model where it is needed. */
static cs_status planned(master *m, peer *p) {
    chunk *c = p->c;
    cs_status st = cs_index_job_plan(m->job, c->items, c->n, c->reused, &c->n_embed, m->err);
    if (st) return st;
    if (c->n_embed) return give_embed(m, p);
    p->c = NULL;
    m->inflight--;
    st = store_chunk(m, c);
    chunk_free(c);
    return st;
}

/* The next chunk: a quarter of what is left per peer, at most a batch, at
 * least 4 (the model runs fewer than 4 images a call less efficiently) or
 * the batch when smaller. */
static int chunk_size(const master *m) {
    size_t left = m->n_todo - m->next, least = m->batch < 4 ? (size_t)m->batch : 4;
    /* alone, rank 0 has no one to finish with: whole batches, as one process */
    size_t k = m->n_peers > 1 ? left / (4 * (size_t)m->n_peers) : (size_t)m->batch;
    if (k > (size_t)m->batch) k = (size_t)m->batch;
    if (k < least) k = least;
    return (int)(k < left ? k : left);
}

static cs_status assign(master *m, peer *p) {
    int n = chunk_size(m);
    chunk *c = calloc(1, sizeof *c);
    if (!c) return cs_fail(m->err, CS_ENOMEM, "out of memory");
    c->items = m->todo + m->next;
    c->n = n;
    m->next += (size_t)n;
    c->more = (int)(m->n_todo - m->next);
    c->reused = malloc((size_t)n * (size_t)m->dim * sizeof(float));
    c->vecs = malloc((size_t)n * (size_t)m->dim * sizeof(float));
    c->bytes = m->ship ? calloc((size_t)n, sizeof *c->bytes) : NULL;
    if (!c->reused || !c->vecs || (m->ship && !c->bytes)) {
        chunk_free(c);
        return cs_fail(m->err, CS_ENOMEM, "out of memory for a chunk of %d", n);
    }
    p->c = c;
    m->inflight++;
    if (!m->ship) return give_hash(m, p);
    ship_read(m, c);
    return planned(m, p);
}

/* ---- rank 0: what comes back ------------------------------------------------------ */

/* "... (rank 2 on node7)": which host said so. */
static void from_rank(cs_error *e, int rank, const char *host) {
    size_t n = strlen(e->message);
    snprintf(e->message + n, sizeof e->message - n, " (rank %d on %s)", rank, host);
}

static cs_status on_hashed(master *m, peer *p, cs_rbuf *r, const char *host) {
    chunk *c = p->c;
    for (int i = 0; i < c->n; i++) {
        cs_index_item *it = &c->items[i];
        if (cs_r_u32(r)) {
            cs_r_bytes(r, it->hash, 16);
            continue;
        }
        it->act = CS_ACT_FAIL;
        it->error.status = (cs_status)cs_r_u32(r);
        char *msg = cs_r_str(r);
        snprintf(it->error.message, sizeof it->error.message, "%s", msg ? msg : "");
        free(msg);
        from_rank(&it->error, p->rank, host);
    }
    if (r->bad) return cs_fail(m->err, CS_EINTERNAL, "rank %d sent a malformed reply", p->rank);
    return planned(m, p);
}

static cs_status on_vecs(master *m, peer *p, cs_rbuf *r, const char *host) {
    chunk *c = p->c;
    size_t row = (size_t)m->dim * sizeof(float);
    int slot = 0;
    for (int i = 0; i < c->n; i++) {
        cs_index_item *it = &c->items[i];
        if (it->act != CS_ACT_EMBED) continue;
        if (cs_r_u32(r)) {
            it->width = (int)cs_r_u32(r);
            it->height = (int)cs_r_u32(r);
            char *precision = cs_r_str(r);
            snprintf(it->precision, sizeof it->precision, "%s", precision ? precision : "");
            free(precision);
            float *v = c->vecs + (size_t)slot * m->dim;
            cs_r_bytes(r, v, row);
            it->vec = v;
        } else {
            it->act = CS_ACT_FAIL;
            it->error.status = (cs_status)cs_r_u32(r);
            char *msg = cs_r_str(r);
            snprintf(it->error.message, sizeof it->error.message, "%s", msg ? msg : "");
            free(msg);
            from_rank(&it->error, p->rank, host);
        }
        slot++;
    }
    if (r->bad) return cs_fail(m->err, CS_EINTERNAL, "rank %d sent a malformed reply", p->rank);
    cs_index_resolve_dups(c->items, c->n);
    return CS_OK;
}

/* The chunk a peer finished: it gets its next one first (so it works while
 * rank 0 writes), then this one is stored. */
static cs_status finished(master *m, peer *p) {
    chunk *c = p->c;
    p->c = NULL;
    m->inflight--;
    cs_status st = CS_OK;
    if (!m->st && m->next < m->n_todo && !cs_index_job_stopped(m->job)) st = assign(m, p);
    cs_status st2 = store_chunk(m, c);
    chunk_free(c);
    return st ? st : st2;
}

static void fail_once(master *m, cs_status st) {
    if (!m->st) m->st = st;
}

static void on_message(master *m, int from, int tag, void *buf, size_t len) {
    cs_rbuf r = {buf, len, 0};
    peer *p = &m->peers[from];
    char host[256] = "";
    if (tag == TAG_READY) {
        char *id = cs_r_str(&r);
        int dim = (int)cs_r_u32(&r);
        char *h = cs_r_str(&r);
        if (!id || !h || strcmp(id, m->model_id) != 0 || dim != m->dim)
            fail_once(m, cs_fail(m->err, CS_EMISMATCH,
                                 "rank %d on %s opened model %s; rank 0 has %s: give every "
                                 "host the same model folder",
                                 from, h ? h : "?", id ? id : "?", m->model_id));
        else
            p->ready = 1;
        free(id);
        free(h);
        return;
    }
    if (tag == TAG_FATAL) {
        char *msg = cs_r_str(&r);
        p->dead = 1;
        if (p->c) {
            chunk_free(p->c);
            p->c = NULL;
            m->inflight--;
        }
        fail_once(m, cs_fail(m->err, CS_EIO, "rank %d: %s", from, msg ? msg : "failed"));
        free(msg);
        return;
    }
    if (!p->c || (tag != TAG_HASHED && tag != TAG_VECS)) {
        fail_once(m, cs_fail(m->err, CS_EINTERNAL, "rank %d sent an unexpected message (tag %d)",
                             from, tag));
        return;
    }
    char *h = cs_r_str(&r);
    snprintf(host, sizeof host, "%s", h ? h : "?");
    free(h);
    cs_status st = tag == TAG_HASHED ? on_hashed(m, p, &r, host) : on_vecs(m, p, &r, host);
    if (!st && tag == TAG_VECS) st = finished(m, p);
    if (st) fail_once(m, st);
}

/* Waits for the next event: the local worker done, or a message. Between
 * two probes it sleeps on the local worker (woken when it is done): 50 us
 * doubling to 2 ms, so that waiting costs well under 1% of a core however
 * long a chunk takes; alone (one rank), it sleeps until the worker is done. */
static void step(master *m) {
    long us = 50;
    for (;;) {
        cs_status lst;
        cs_error lerr;
        int stage = local_take(&m->lw, &lst, &lerr);
        if (stage) {
            peer *p = &m->peers[0];
            cs_status st = lst;
            if (st) {
                *m->err = lerr;
                p->dead = 1;
                chunk_free(p->c);
                p->c = NULL;
                m->inflight--;
            } else if (stage == STAGE_HASH) {
                st = planned(m, p);
            } else {
                st = finished(m, p);
            }
            if (st) fail_once(m, st);
            return;
        }
        int from, tag;
        size_t len;
        if (cs_comm_probe(m->comm, -1, &from, &tag, &len)) {
            void *buf = malloc(len ? len : 1);
            cs_error e;
            if (!buf) {
                fail_once(m, cs_fail(m->err, CS_ENOMEM, "out of memory for a message"));
                return;
            }
            if (cs_comm_recv(m->comm, from, tag, buf, len, &e) != CS_OK) {
                *m->err = e;
                fail_once(m, e.status);
            } else {
                on_message(m, from, tag, buf, len);
            }
            free(buf);
            return;
        }
        local_wait(&m->lw, m->n_peers == 1 ? -1 : us);
        if (us < 2000) us *= 2;
    }
}

static cs_status run_master(master *m) {
    for (;;) {
        int more = !m->st && m->next < m->n_todo && !cs_index_job_stopped(m->job);
        for (int i = 0; more && i < m->n_peers; i++) {
            peer *p = &m->peers[i];
            if (!p->ready || p->dead || p->c) continue;
            cs_status st = assign(m, p);
            if (st) fail_once(m, st);
            more = !m->st && m->next < m->n_todo && !cs_index_job_stopped(m->job);
        }
        if (!m->inflight && !more) break;
        step(m);
    }
    return m->st;
}

static void stop_workers(cs_comm *comm) {
    cs_error e;
    for (int r = 1; r < cs_comm_size(comm); r++) cs_comm_send(comm, r, TAG_STOP, "", 0, &e);
}

static cs_status rank0(cs_comm *comm, cs_db *db, cs_model *model, const char *const *roots,
                       int n_roots, const cs_index_opts *opts, int ship, cs_index_stats *stats,
                       cs_error *err) {
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    cs_db_info di;
    cs_status st = cs_db_get_info(db, &di, err);
    if (st) return st;
    if (strcmp(mi.id, di.model_id) != 0 || mi.embed_dim != di.dim)
        return cs_fail(err, CS_EMISMATCH, "%s: the database belongs to model %s, not %s", di.path,
                       di.model_id, mi.id);
    cs_index_backend be;
    st = cs_index_model_backend(model, opts, &be, err);
    if (st) return st;
    cs_index_job *job = NULL;
    st = cs_index_job_start(db, &be, roots, n_roots, opts, stats, &job, err);
    if (st) {
        free(be.user);
        return st;
    }
    master m = {.comm = comm,
                .job = job,
                .be = &be,
                .batch = opts && opts->batch_size > 0 ? opts->batch_size : CS_INDEX_BATCH,
                .dim = mi.embed_dim,
                .ship = ship,
                .n_peers = cs_comm_size(comm),
                .model_id = mi.id,
                .err = err};
    m.todo = cs_index_job_todo(job, &m.n_todo);
    m.peers = calloc((size_t)m.n_peers, sizeof *m.peers);
    m.lw.be = &be;
    m.lw.guard = &db->guard;
    m.lw.dim = mi.embed_dim;
    pthread_mutex_init(&m.lw.lock, NULL);
    pthread_cond_init(&m.lw.cond, NULL);
    pthread_cond_init(&m.lw.done_cond, NULL);
    int started = 0;
    if (!m.peers)
        st = cs_fail(err, CS_ENOMEM, "out of memory");
    else if (pthread_create(&m.lw.thread, NULL, local_main, &m.lw) != 0)
        st = cs_fail(err, CS_EINTERNAL, "cannot start a thread");
    else
        started = 1;
    if (!st) {
        for (int i = 0; i < m.n_peers; i++) m.peers[i].rank = i;
        m.peers[0].ready = 1;
        st = run_master(&m);
    }
    if (started) {
        pthread_mutex_lock(&m.lw.lock);
        m.lw.quit = 1;
        pthread_cond_signal(&m.lw.cond);
        pthread_mutex_unlock(&m.lw.lock);
        pthread_join(m.lw.thread, NULL);
    }
    pthread_mutex_destroy(&m.lw.lock);
    pthread_cond_destroy(&m.lw.cond);
    pthread_cond_destroy(&m.lw.done_cond);
    free(m.peers);
    st = cs_index_job_finish(job, st, err);
    free(be.user);
    return st;
}

cs_status cs_dist_index(cs_comm *comm, cs_db *db, cs_model *model, const char *const *roots,
                        int n_roots, const cs_index_opts *opts, int ship, cs_index_stats *stats,
                        const cs_error *setup_error, cs_error *err) {
    if (cs_comm_rank(comm) != 0) return cs_dist_index_worker(comm, model, opts, setup_error, err);
    cs_status st;
    if (!db || !model) {
        *err = *setup_error;
        st = setup_error->status;
    } else {
        st = rank0(comm, db, model, roots, n_roots, opts, ship, stats, err);
    }
    stop_workers(comm);
    return st;
}
