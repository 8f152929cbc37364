/* index/indexer.c - see indexer.h. */
#include "index/indexer.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/file.h"
#include "core/guard.h"
#include "core/pool.h"
#include "index/ann.h"
#include "index/db_internal.h"
#include "index/walk.h"

typedef cs_index_file found_file;
typedef cs_index_item item;

struct cs_index_job {
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
    char **roots; /* resolved */
    int n_roots;
    item *todo; /* new or changed files */
    size_t n_todo;
};

typedef struct cs_index_job run;

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
    if (r->be->keep && !r->be->keep(r->be->keep_user, e->path)) return r->stop;
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

/* Decides, by content hash, which files need the model (under the lock). */
cs_status cs_index_job_plan(run *r, item *items, int n_items, float *reused, int *n_embed,
                            cs_error *err) {
    *n_embed = 0;
    size_t row = (size_t)r->db->dim * sizeof(float);
    cs_status st = CS_OK;
    cs_db_lock(r->db);
    for (int i = 0; i < n_items && !st; i++) {
        item *it = &items[i];
        if (it->act == CS_ACT_FAIL) continue;
        if (it->old_id >= 0 && !memcmp(it->hash, it->old_hash, 16)) {
            it->act = CS_ACT_TOUCH; /* touched, same bytes */
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
            it->act = CS_ACT_REUSE; /* renamed or copied */
            it->width = sqlite3_column_int(s, 1);
            it->height = sqlite3_column_int(s, 2);
            float *v = reused + (size_t)i * r->db->dim;
            memcpy(v, sqlite3_column_blob(s, 3), row);
            it->vec = v;
            const char *precision = (const char *)sqlite3_column_text(s, 4);
            snprintf(it->precision, sizeof it->precision, "%s", precision ? precision : "");
        } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            st = cs_db_sql_fail(r->db, err, it->f->path);
        } else {
            it->act = CS_ACT_EMBED;
            for (int j = 0; j < i; j++)
                if (items[j].act == CS_ACT_EMBED && !memcmp(items[j].hash, it->hash, 16)) {
                    it->act = CS_ACT_DUP; /* a copy within this batch */
                    it->slot = j;
                    break;
                }
            if (it->act == CS_ACT_EMBED) it->slot = (*n_embed)++;
        }
        sqlite3_reset(s);
    }
    cs_db_unlock(r->db);
    return st;
}

/* Writes the batch in one transaction. */
static cs_status store(run *r, item *items, int n_items, cs_error *err) {
    cs_status st = cs_db_begin(r->db, err);
    if (st) return st; /* not in a transaction: nothing to roll back */
    for (int i = 0; i < n_items && !st; i++) {
        item *it = &items[i];
        const found_file *f = it->f;
        if (it->act == CS_ACT_TOUCH) {
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
        } else if (it->act == CS_ACT_FAIL) {
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
            st = cs_db_put_one(r->db, &e, it->precision, err);
        }
    }
    if (st) {
        cs_db_rollback(r->db);
        return st;
    }
    return cs_db_commit(r->db, err);
}

cs_status cs_index_job_store(run *r, item *items, int n_items, cs_error *err) {
    double t = elapsed(r);
    cs_status st = store(r, items, n_items, err);
    if (st) return st;
    r->stats->store_s += elapsed(r) - t;
    for (int i = 0; i < n_items; i++) {
        item *it = &items[i];
        switch (it->act) {
        case CS_ACT_EMBED:
            r->stats->embedded++;
            break;
        case CS_ACT_REUSE:
        case CS_ACT_DUP:
            r->stats->reused++;
            break;
        case CS_ACT_TOUCH:
            r->stats->unchanged++;
            break;
        case CS_ACT_FAIL:
            failed(r, it->f->path, &it->error);
            if (it->old_id >= 0) r->stats->removed++; /* store() dropped its row */
            break;
        }
    }
    return CS_OK;
}

void cs_index_job_progress(run *r, int64_t processed, const char *current) {
    r->prog.processed = processed;
    progress(r, CS_INDEX_EMBED, current);
}

/* The batches one after the other, in this process; each batch's decoding
 * also hashes the next batch's files (cs_index_embed_items, ahead). */
static cs_status process(run *r, int batch, cs_error *err) {
    item *items = malloc(2 * (size_t)batch * sizeof *items), *next = items + batch;
    /* a batch's pixels (600 kB an image): 2 MiB pages, not thousands of fresh
     * 4 KiB ones faulted in by the first batch (cs_alloc_huge) */
    float *inputs = cs_alloc_huge((size_t)batch * r->be->input_floats * sizeof(float));
    float *outputs = malloc((size_t)batch * r->db->dim * sizeof(float));
    float *reused = malloc((size_t)batch * r->db->dim * sizeof(float));
    cs_status st = CS_OK;
    if (!items || !inputs || !outputs || !reused)
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory for a batch of %d", r->db->path, batch);
    for (size_t at = 0; !st && at < r->n_todo && !r->stop; at += (size_t)batch) {
        int n = (int)(r->n_todo - at < (size_t)batch ? r->n_todo - at : (size_t)batch);
        int more = (int)(r->n_todo - at - (size_t)n), n_next = more < batch ? more : batch;
        double t = elapsed(r);
        if (at == 0) {
            memcpy(items, r->todo, (size_t)n * sizeof *items);
            cs_index_hash_items(r->be->pool, &r->db->guard, items, n);
        } else {
            memcpy(items, next, (size_t)n * sizeof *items); /* hashed with the last batch */
        }
        memcpy(next, r->todo + at + (size_t)n, (size_t)n_next * sizeof *items);
        int n_embed = 0;
        st = cs_index_job_plan(r, items, n, reused, &n_embed, err);
        if (st) break;
        r->stats->hash_s += elapsed(r) - t;
        st = cs_index_embed_items(r->be, &r->db->guard, items, n, n_embed, more, r->db->dim, inputs,
                                  outputs, next, n_next, &r->stats->decode_s, &r->stats->embed_s,
                                  err);
        if (!st) st = cs_index_job_store(r, items, n, err);
        if (!st) cs_index_job_progress(r, (int64_t)(at + (size_t)n), items[n - 1].f->path);
    }
    free(items);
    free(inputs);
    free(outputs);
    free(reused);
    return st;
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

static void free_job(run *r) {
    for (size_t i = 0; i < r->n_files; i++) free(r->files[i].path);
    free(r->files);
    for (size_t i = 0; i < r->n_bad; i++) free(r->bad[i]);
    free(r->bad);
    for (int i = 0; i < r->n_roots; i++) free(r->roots[i]);
    free(r->roots);
    free(r->todo);
    free(r);
}

static const cs_index_opts default_opts;

cs_status cs_index_job_start(cs_db *db, const cs_index_backend *be, const char *const *roots_in,
                             int n_roots, const cs_index_opts *opts, cs_index_stats *stats,
                             cs_index_job **out, cs_error *err) {
    *out = NULL;
    memset(stats, 0, sizeof *stats);
    if (db->readonly) return cs_fail(err, CS_EINVAL, "%s: opened read-only", db->path);
    run *r = calloc(1, sizeof *r);
    if (!r) return cs_fail(err, CS_ENOMEM, "out of memory");
    *r = (run){.db = db, .be = be, .o = opts ? opts : &default_opts, .stats = stats};
    /* the database's files as they are now (the -wal and -shm exist while
     * it is open): never taken for images, whatever path reaches them */
    cs_guard_set_family(&db->guard, db->path);
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    /* roots resolved, so stored paths are absolute and canonical */
    r->roots = calloc((size_t)n_roots + 1, sizeof *r->roots);
    if (!r->roots) {
        free(r);
        return cs_fail(err, CS_ENOMEM, "out of memory");
    }
    r->n_roots = n_roots;
    cs_status st = CS_OK;
    for (int i = 0; i < n_roots && !st; i++) {
        char buf[PATH_MAX];
        if (!realpath(roots_in[i], buf))
            st = cs_fail(err, errno == ENOENT ? CS_ENOTFOUND : CS_EIO, "%s: %s", roots_in[i],
                         strerror(errno));
        else if (!(r->roots[i] = strdup(buf)))
            st = cs_fail(err, CS_ENOMEM, "out of memory");
    }
    if (!st) st = walk_roots(r, r->roots, n_roots, err);
    stats->walk_s = elapsed(r);
    if (!st && !r->stop) st = classify(r, &r->todo, &r->n_todo, err);
    if (st) {
        free_job(r);
        return st;
    }
    r->prog.to_process = (int64_t)r->n_todo;
    if (!r->stop) progress(r, CS_INDEX_EMBED, NULL);
    *out = r;
    return CS_OK;
}

cs_index_item *cs_index_job_todo(cs_index_job *r, size_t *n) {
    *n = r->n_todo;
    return r->todo;
}

int cs_index_job_stopped(const cs_index_job *r) {
    return r->stop;
}

cs_status cs_index_job_finish(cs_index_job *r, cs_status st, cs_error *err) {
    for (int i = 0; i < r->n_roots && !st && !r->stop && !r->o->keep_missing; i++)
        st = prune(r, r->roots[i], err);
    if (!st) {
        /* a fresh vector file for the next cold search (also repairs one a
         * crashed run left stale) */
        cs_error verr;
        if (cs_db_write_vectors(r->db, &verr) != CS_OK)
            cs_log(&r->db->log, CS_LOG_WARN, "%s", verr.message);
        /* then the approximate index of large catalogues (index/ann.h); when
         * it fails, searches use the exact scan, so the run still succeeds */
        else if (cs_db_update_ann(r->db, r->be->pool, &verr) != CS_OK)
            cs_log(&r->db->log, CS_LOG_WARN, "%s", verr.message);
    }
    r->stats->stopped = r->stop;
    progress(r, CS_INDEX_DONE, NULL);
    free_job(r);
    return st;
}

cs_status cs_index_run(cs_db *db, const cs_index_backend *be, const char *const *roots, int n_roots,
                       const cs_index_opts *opts, cs_index_stats *stats, cs_error *err) {
    cs_index_stats local;
    if (!stats) stats = &local;
    cs_index_job *r;
    cs_status st = cs_index_job_start(db, be, roots, n_roots, opts, stats, &r, err);
    if (st) return st;
    int batch = r->o->batch_size > 0 ? r->o->batch_size : CS_INDEX_BATCH;
    if (!r->stop) st = process(r, batch, err);
    return cs_index_job_finish(r, st, err);
}
