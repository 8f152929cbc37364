/* index/indexer.c - see indexer.h. */
#include "index/indexer.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/guard.h"
#include "core/pool.h"
#include "index/db_internal.h"
#include "index/walk.h"

#define MAX_FILE_BYTES ((size_t)1 << 31) /* larger files are not photos we can decode */

typedef struct found_file {
    char *path;
    int64_t size, mtime_ns;
} found_file;

enum action { ACT_EMBED, ACT_REUSE, ACT_DUP, ACT_TOUCH, ACT_FAIL };

/* One new or changed file of the batch in flight. */
typedef struct item {
    const found_file *f;
    int64_t old_id; /* the row of this path, or -1 */
    uint8_t old_hash[16], hash[16];
    enum action act;
    int slot; /* ACT_EMBED: its input row; ACT_DUP: the item it copies */
    int width, height;
    const float *vec;
    cs_error error;
} item;

typedef struct run {
    cs_db *db;
    const cs_index_backend *be;
    const cs_index_opts *o;
    cs_index_stats *stats;
    cs_index_progress prog;
    struct timespec t0;
    found_file *files;
    size_t n_files, cap_files;
    char **bad; /* paths the walk could not read: rows below them are kept */
    size_t n_bad;
    int stop, oom;
    /* the batch in flight */
    item *items;
    int n_items;
    int more; /* files of the run after this batch */
    float *inputs, *outputs, *reused;
} run;

static double elapsed(const run *r) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - r->t0.tv_sec) + (double)(t.tv_nsec - r->t0.tv_nsec) * 1e-9;
}

static void progress(run *r, cs_index_phase phase, const char *current) {
    r->prog.phase = phase;
    r->prog.current = current;
    r->prog.elapsed_s = elapsed(r);
    r->prog.embedded = r->stats->embedded;
    r->prog.reused = r->stats->reused;
    r->prog.unchanged = r->stats->unchanged;
    r->prog.removed = r->stats->removed;
    r->prog.failed = r->stats->failed;
    if (r->o->progress && r->o->progress(r->o->progress_user, &r->prog)) r->stop = 1;
}

static void failed(run *r, const char *path, const cs_error *e) {
    r->stats->failed++;
    if (r->o->on_error) r->o->on_error(r->o->error_user, path, e);
}

/* ---- 1. walk ------------------------------------------------------------- */

static int on_file(void *user, const cs_walk_entry *e) {
    run *r = user;
    if (r->n_files == r->cap_files) {
        size_t cap = r->cap_files ? 2 * r->cap_files : 1024;
        found_file *grown = realloc(r->files, cap * sizeof *grown);
        if (!grown) return r->oom = 1;
        r->files = grown;
        r->cap_files = cap;
    }
    found_file *f = &r->files[r->n_files];
    if (!(f->path = strdup(e->path))) return r->oom = 1;
    f->size = e->size;
    f->mtime_ns = e->mtime_ns;
    r->n_files++;
    r->prog.found = (int64_t)r->n_files;
    if (r->n_files % 500 == 0) progress(r, CS_INDEX_WALK, f->path);
    return r->stop;
}

static void on_walk_error(void *user, const char *path, const cs_error *e) {
    run *r = user;
    char **grown = realloc(r->bad, (r->n_bad + 1) * sizeof *grown);
    if (grown) {
        r->bad = grown;
        if ((r->bad[r->n_bad] = strdup(path))) r->n_bad++;
    }
    failed(r, path, e);
}

static int cmp_files(const void *a, const void *b) {
    return strcmp(((const found_file *)a)->path, ((const found_file *)b)->path);
}

static cs_status walk_roots(run *r, char **roots, int n_roots, cs_error *err) {
    cs_walk_opts wo = {.excludes = r->o->excludes,
                       .n_excludes = r->o->n_excludes,
                       .follow_symlinks = r->o->follow_symlinks,
                       .include_hidden = r->o->include_hidden,
                       .is_image = r->be->is_image,
                       .guard = &r->db->guard};
    for (int i = 0; i < n_roots && !r->stop; i++) {
        cs_status st = cs_walk(roots[i], &wo, on_file, on_walk_error, r, err);
        if (st) return st;
        if (r->oom) return cs_fail(err, CS_ENOMEM, "%s: out of memory", roots[i]);
    }
    /* sorted by path: a stable order, overlapping roots deduplicated, and the
     * list doubles as the set of paths seen (for dropping missing files) */
    if (r->n_files) qsort(r->files, r->n_files, sizeof *r->files, cmp_files);
    size_t n = 0;
    for (size_t i = 0; i < r->n_files; i++) {
        if (n && !strcmp(r->files[n - 1].path, r->files[i].path))
            free(r->files[i].path);
        else
            r->files[n++] = r->files[i];
    }
    r->n_files = n;
    r->stats->found = (int64_t)n;
    r->prog.found = (int64_t)n;
    return CS_OK;
}

/* ---- 2. what changed ---------------------------------------------------- */

/* Looks each found file up by path. Unchanged ones (same size and mtime) are
 * counted; the others are returned in *todo with their old row, if any. */
static cs_status classify(run *r, item **todo, size_t *n_todo, cs_error *err) {
    *n_todo = 0;
    *todo = malloc((r->n_files + 1) * sizeof **todo);
    if (!*todo) return cs_fail(err, CS_ENOMEM, "%s: out of memory", r->db->path);
    cs_status st = CS_OK;
    cs_db_lock(r->db);
    sqlite3_exec(r->db->sql, "BEGIN", NULL, NULL, NULL);
    for (size_t i = 0; i < r->n_files && !st; i++) {
        sqlite3_stmt *s = cs_db_stmt(r->db, SQL_BY_PATH, err);
        if (!s) {
            st = err ? err->status : CS_EIO;
            break;
        }
        const found_file *f = &r->files[i];
        sqlite3_bind_text(s, 1, f->path, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        item it = {.f = f, .old_id = -1};
        if (rc == SQLITE_ROW) {
            if (sqlite3_column_int64(s, 1) == f->size &&
                sqlite3_column_int64(s, 2) == f->mtime_ns) {
                r->stats->unchanged++;
                sqlite3_reset(s);
                continue;
            }
            it.old_id = sqlite3_column_int64(s, 0);
            if (sqlite3_column_bytes(s, 3) == 16)
                memcpy(it.old_hash, sqlite3_column_blob(s, 3), 16);
        } else if (rc != SQLITE_DONE) {
            st = cs_db_sql_fail(r->db, err, f->path);
        }
        sqlite3_reset(s);
        (*todo)[(*n_todo)++] = it;
    }
    sqlite3_exec(r->db->sql, "COMMIT", NULL, NULL, NULL);
    cs_db_unlock(r->db);
    return st;
}

/* ---- 3. one batch ---------------------------------------------------------- */

static void hash_task(void *ctx, int task, int worker) {
    (void)worker;
    item *it = &((run *)ctx)->items[task];
    char *data = NULL;
    size_t size = 0;
    if (cs_guard_read_file(&((run *)ctx)->db->guard, it->f->path, MAX_FILE_BYTES, &data, &size,
                           &it->error) != CS_OK) {
        it->act = ACT_FAIL;
        return;
    }
    cs_hash128(data, size, it->hash);
    free(data);
}

static void prepare_task(void *ctx, int task, int worker) {
    (void)worker;
    run *r = ctx;
    item *it = &r->items[task];
    if (it->act != ACT_EMBED) return;
    char *data = NULL;
    size_t size = 0;
    float *input = r->inputs + (size_t)it->slot * r->be->input_floats;
    if (cs_guard_read_file(&r->db->guard, it->f->path, MAX_FILE_BYTES, &data, &size,
                           &it->error) != CS_OK ||
        r->be->prepare(r->be->user, data, size, it->f->path, input, &it->width, &it->height,
                       &it->error) != CS_OK)
        it->act = ACT_FAIL;
    free(data);
}

/* Decides, by content hash, which files need the model (under the lock). */
static cs_status plan(run *r, int *n_embed, cs_error *err) {
    *n_embed = 0;
    size_t row = (size_t)r->db->dim * sizeof(float);
    cs_status st = CS_OK;
    cs_db_lock(r->db);
    for (int i = 0; i < r->n_items && !st; i++) {
        item *it = &r->items[i];
        if (it->act == ACT_FAIL) continue;
        if (it->old_id >= 0 && !memcmp(it->hash, it->old_hash, 16)) {
            it->act = ACT_TOUCH; /* touched, same bytes */
            continue;
        }
        sqlite3_stmt *s = cs_db_stmt(r->db, SQL_BY_HASH, err);
        if (!s) {
            st = err ? err->status : CS_EIO;
            break;
        }
        sqlite3_bind_blob(s, 1, it->hash, 16, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(s, 3) == row) {
            it->act = ACT_REUSE; /* renamed or copied */
            it->width = sqlite3_column_int(s, 1);
            it->height = sqlite3_column_int(s, 2);
            float *v = r->reused + (size_t)i * r->db->dim;
            memcpy(v, sqlite3_column_blob(s, 3), row);
            it->vec = v;
        } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            st = cs_db_sql_fail(r->db, err, it->f->path);
        } else {
            it->act = ACT_EMBED;
            for (int j = 0; j < i; j++)
                if (r->items[j].act == ACT_EMBED && !memcmp(r->items[j].hash, it->hash, 16)) {
                    it->act = ACT_DUP; /* a copy within this batch */
                    it->slot = j;
                    break;
                }
            if (it->act == ACT_EMBED) it->slot = (*n_embed)++;
        }
        sqlite3_reset(s);
    }
    cs_db_unlock(r->db);
    return st;
}

/* Moves the inputs of the files that decoded to the front, so the model
 * sees only those; returns their number and sets each item's vector. */
static int compact(run *r) {
    size_t nf = r->be->input_floats;
    int n = 0;
    for (int i = 0; i < r->n_items; i++) {
        item *it = &r->items[i];
        if (it->act != ACT_EMBED) continue;
        if (it->slot != n)
            memmove(r->inputs + (size_t)n * nf, r->inputs + (size_t)it->slot * nf,
                    nf * sizeof(float));
        it->slot = n;
        it->vec = r->outputs + (size_t)n * r->db->dim;
        n++;
    }
    for (int i = 0; i < r->n_items; i++) {
        item *it = &r->items[i];
        if (it->act != ACT_DUP) continue;
        const item *src = &r->items[it->slot];
        if (src->act == ACT_FAIL) {
            /* the same bytes fail the same way, but the message names the
             * file it is about */
            const char *why = src->error.message;
            size_t n = strlen(src->f->path);
            if (!strncmp(why, src->f->path, n) && !strncmp(why + n, ": ", 2)) why += n + 2;
            it->act = ACT_FAIL;
            cs_fail(&it->error, src->error.status, "%s: %s", it->f->path, why);
        } else {
            it->vec = src->vec;
            it->width = src->width;
            it->height = src->height;
        }
    }
    return n;
}

/* Writes the batch in one transaction. */
static cs_status store(run *r, cs_error *err) {
    cs_status st = cs_db_begin(r->db, err);
    if (st) return st; /* not in a transaction: nothing to roll back */
    for (int i = 0; i < r->n_items && !st; i++) {
        item *it = &r->items[i];
        const found_file *f = it->f;
        if (it->act == ACT_TOUCH) {
            sqlite3_stmt *s = cs_db_stmt(r->db, SQL_TOUCH, err);
            if (!s) {
                st = err ? err->status : CS_EIO;
                break;
            }
            sqlite3_bind_int64(s, 1, f->size);
            sqlite3_bind_int64(s, 2, f->mtime_ns);
            sqlite3_bind_int64(s, 3, it->old_id);
            if (sqlite3_step(s) != SQLITE_DONE) st = cs_db_sql_fail(r->db, err, f->path);
            sqlite3_reset(s);
        } else if (it->act == ACT_FAIL) {
            if (it->old_id < 0) continue;
            /* the file changed into something we cannot read: its old vector
             * no longer describes it */
            sqlite3_stmt *s = cs_db_stmt(r->db, SQL_DEL_PATH, err);
            if (!s) {
                st = err ? err->status : CS_EIO;
                break;
            }
            sqlite3_bind_text(s, 1, f->path, -1, SQLITE_STATIC);
            if (sqlite3_step(s) != SQLITE_DONE) st = cs_db_sql_fail(r->db, err, f->path);
            sqlite3_reset(s);
        } else {
            cs_db_entry e = {.path = f->path,
                             .size = f->size,
                             .mtime_ns = f->mtime_ns,
                             .width = it->width,
                             .height = it->height,
                             .embedding = it->vec};
            memcpy(e.hash, it->hash, 16);
            st = cs_db_put_one(r->db, &e, err);
        }
    }
    if (st) {
        cs_db_rollback(r->db);
        return st;
    }
    return cs_db_commit(r->db, err);
}

static cs_status run_batch(run *r, cs_error *err) {
    double t = elapsed(r);
    cs_pool_for(r->be->pool, r->n_items, hash_task, r);
    int n_embed = 0;
    cs_status st = plan(r, &n_embed, err);
    if (st) return st;
    r->stats->hash_s += elapsed(r) - t;
    t = elapsed(r);
    if (n_embed) cs_pool_for(r->be->pool, r->n_items, prepare_task, r);
    int n_ok = compact(r);
    r->stats->decode_s += elapsed(r) - t;
    t = elapsed(r);
    if (n_ok) {
        st = r->be->embed(r->be->user, r->inputs, n_ok, r->more, r->outputs, err);
        if (st) return st;
    }
    r->stats->embed_s += elapsed(r) - t;
    t = elapsed(r);
    st = store(r, err);
    if (st) return st;
    r->stats->store_s += elapsed(r) - t;
    for (int i = 0; i < r->n_items; i++) {
        item *it = &r->items[i];
        switch (it->act) {
        case ACT_EMBED:
            r->stats->embedded++;
            break;
        case ACT_REUSE:
        case ACT_DUP:
            r->stats->reused++;
            break;
        case ACT_TOUCH:
            r->stats->unchanged++;
            break;
        case ACT_FAIL:
            failed(r, it->f->path, &it->error);
            if (it->old_id >= 0) r->stats->removed++; /* store() dropped its row */
            break;
        }
    }
    return CS_OK;
}

static cs_status process(run *r, item *todo, size_t n_todo, int batch, cs_error *err) {
    r->items = malloc((size_t)batch * sizeof *r->items);
    r->inputs = malloc((size_t)batch * r->be->input_floats * sizeof(float));
    r->outputs = malloc((size_t)batch * r->db->dim * sizeof(float));
    r->reused = malloc((size_t)batch * r->db->dim * sizeof(float));
    if (!r->items || !r->inputs || !r->outputs || !r->reused)
        return cs_fail(err, CS_ENOMEM, "%s: out of memory for a batch of %d", r->db->path, batch);
    r->prog.to_process = (int64_t)n_todo;
    progress(r, CS_INDEX_EMBED, NULL);
    for (size_t at = 0; at < n_todo && !r->stop; at += (size_t)batch) {
        r->n_items = (int)(n_todo - at < (size_t)batch ? n_todo - at : (size_t)batch);
        memcpy(r->items, todo + at, (size_t)r->n_items * sizeof *r->items);
        r->more = (int)(n_todo - at - (size_t)r->n_items);
        cs_status st = run_batch(r, err);
        if (st) return st;
        r->prog.processed = (int64_t)(at + (size_t)r->n_items);
        progress(r, CS_INDEX_EMBED, r->items[r->n_items - 1].f->path);
    }
    return CS_OK;
}

/* ---- 4. files gone --------------------------------------------------------- */

static int seen(const run *r, const char *path) {
    found_file key = {.path = (char *)path};
    if (r->n_files && bsearch(&key, r->files, r->n_files, sizeof key, cmp_files)) return 1;
    for (size_t i = 0; i < r->n_bad; i++) {
        size_t n = strlen(r->bad[i]);
        if (!strncmp(path, r->bad[i], n) && (path[n] == '/' || path[n] == '\0')) return 1;
    }
    return 0;
}

/* Deletes the rows below `root` whose files the walk did not find. */
static cs_status prune(run *r, const char *root, cs_error *err) {
    size_t n = strlen(root);
    char *lo = malloc(n + 2), *hi = malloc(n + 2);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", root);
    }
    /* [root + "/", root + "0"): every path below root ('0' follows '/') */
    memcpy(lo, root, n);
    memcpy(hi, root, n);
    lo[n] = '/';
    hi[n] = '0';
    lo[n + 1] = hi[n + 1] = '\0';
    sqlite3_stmt *q = NULL, *del = NULL;
    cs_status st = cs_db_begin(r->db, err);
    if (st) {
        free(lo);
        free(hi);
        return st;
    }
    if (!st && (sqlite3_prepare_v2(r->db->sql,
                                   "SELECT id, path FROM images WHERE (path >= ?1 AND path < ?2) "
                                   "OR path = ?3",
                                   -1, &q, NULL) ||
                sqlite3_prepare_v2(r->db->sql, "DELETE FROM images WHERE id = ?", -1, &del, NULL)))
        st = cs_db_sql_fail(r->db, err, "dropping missing files");
    if (!st) {
        sqlite3_bind_text(q, 1, lo, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, hi, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, root, -1, SQLITE_STATIC);
    }
    int64_t removed = 0;
    int rc;
    while (!st && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (seen(r, (const char *)sqlite3_column_text(q, 1))) continue;
        /* deleting the row just read is safe in SQLite while stepping */
        sqlite3_bind_int64(del, 1, sqlite3_column_int64(q, 0));
        if (sqlite3_step(del) != SQLITE_DONE) st = cs_db_sql_fail(r->db, err, "deleting a row");
        sqlite3_reset(del);
        removed++;
    }
    if (!st && rc != SQLITE_DONE) st = cs_db_sql_fail(r->db, err, "dropping missing files");
    sqlite3_finalize(q);
    sqlite3_finalize(del);
    free(lo);
    free(hi);
    if (st) {
        cs_db_rollback(r->db);
        return st;
    }
    if (!removed) {
        cs_db_rollback(r->db); /* nothing changed: leave the generation alone */
        return CS_OK;
    }
    r->stats->removed += removed;
    return cs_db_commit(r->db, err);
}

/* ---- the run --------------------------------------------------------------- */

static void free_run(run *r, char **roots, int n_roots, item *todo) {
    for (size_t i = 0; i < r->n_files; i++) free(r->files[i].path);
    free(r->files);
    for (size_t i = 0; i < r->n_bad; i++) free(r->bad[i]);
    free(r->bad);
    for (int i = 0; i < n_roots; i++) free(roots[i]);
    free(roots);
    free(todo);
    free(r->items);
    free(r->inputs);
    free(r->outputs);
    free(r->reused);
}

cs_status cs_index_run(cs_db *db, const cs_index_backend *be, const char *const *roots_in,
                       int n_roots, const cs_index_opts *opts, cs_index_stats *stats,
                       cs_error *err) {
    static const cs_index_opts defaults;
    cs_index_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    if (db->readonly) return cs_fail(err, CS_EINVAL, "%s: opened read-only", db->path);
    run r = {.db = db, .be = be, .o = opts ? opts : &defaults, .stats = stats};
    /* the database's files as they are now (the -wal and -shm exist while
     * it is open): never taken for images, whatever path reaches them */
    cs_guard_set_family(&db->guard, db->path);
    clock_gettime(CLOCK_MONOTONIC, &r.t0);
    int batch = r.o->batch_size > 0 ? r.o->batch_size : 32;
    item *todo = NULL;
    size_t n_todo = 0;
    /* roots resolved, so stored paths are absolute and canonical */
    char **roots = calloc((size_t)n_roots + 1, sizeof *roots);
    if (!roots) return cs_fail(err, CS_ENOMEM, "out of memory");
    cs_status st = CS_OK;
    for (int i = 0; i < n_roots && !st; i++) {
        char buf[PATH_MAX];
        if (!realpath(roots_in[i], buf))
            st = cs_fail(err, errno == ENOENT ? CS_ENOTFOUND : CS_EIO, "%s: %s", roots_in[i],
                         strerror(errno));
        else if (!(roots[i] = strdup(buf)))
            st = cs_fail(err, CS_ENOMEM, "out of memory");
    }
    if (!st) st = walk_roots(&r, roots, n_roots, err);
    stats->walk_s = elapsed(&r);
    if (!st && !r.stop) st = classify(&r, &todo, &n_todo, err);
    if (!st && !r.stop) st = process(&r, todo, n_todo, batch, err);
    for (int i = 0; i < n_roots && !st && !r.stop && !r.o->keep_missing; i++)
        st = prune(&r, roots[i], err);
    if (!st) {
        /* a fresh vector file for the next cold search (also repairs one a
         * crashed run left stale) */
        cs_error verr;
        if (cs_db_write_vectors(db, &verr) != CS_OK)
            cs_log(&db->log, CS_LOG_WARN, "%s", verr.message);
    }
    stats->stopped = r.stop;
    progress(&r, CS_INDEX_DONE, NULL);
    free_run(&r, roots, n_roots, todo);
    return st;
}
