/* index/db_vectors.c - the vector snapshot (cs_vecs): mapped from DB.vectors
 * (vecfile.c) when that file is the database's current one, else caught up
 * from an older snapshot with the rows changed since, else read from SQLite;
 * and DB.vectors rewritten when it is stale. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/db_internal.h"

void cs_vecs_release(cs_vecs *v) {
    if (!v || atomic_fetch_sub(&v->refs, 1) != 1) return;
    cs_unmap(&v->map);
    if (v->source == VECS_FILE) close(v->fd);
    free(v->owned);
    cs_vecs_release(v->base);
    free(v->masked);
    free(v->delta_ids);
    free(v->delta_vectors);
    free(v);
}

int64_t cs_vecs_count(const cs_vecs *v) {
    return v->n - v->n_masked + v->n_delta;
}

/* A snapshot block for up to `cap` rows: ids, then 64-byte aligned vectors. */
static cs_vecs *new_owned(int64_t cap, int dim) {
    size_t voff = (size_t)cs_vecfile_vectors_offset((uint64_t)cap) - CS_VECFILE_HEADER;
    size_t bytes = voff + (size_t)cap * (size_t)dim * sizeof(float);
    cs_vecs *v = calloc(1, sizeof *v);
    if (v && !(v->owned = aligned_alloc(64, (bytes + 64) & ~(size_t)63))) {
        free(v);
        v = NULL;
    }
    if (!v) return NULL;
    atomic_init(&v->refs, 1);
    v->dim = dim;
    v->ids = v->owned;
    v->vectors = (const float *)((char *)v->owned + voff);
    return v;
}

cs_status cs_db_begin_read(cs_db *db, uint64_t *gen, int64_t *count, cs_error *err) {
    *gen = 0;
    *count = 0;
    if (sqlite3_exec(db->sql, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return cs_db_sql_fail(db, err, "reading vectors");
    cs_status st = cs_db_generation(db, gen, err);
    sqlite3_stmt *s = NULL;
    if (!st && (sqlite3_prepare_v2(db->sql, "SELECT count(*) FROM images", -1, &s, NULL) ||
                sqlite3_step(s) != SQLITE_ROW))
        st = cs_db_sql_fail(db, err, "counting images");
    if (!st) *count = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return st;
}

/* Loads every row from SQLite, in one read transaction (under the lock). */
static cs_status load_sql(cs_db *db, cs_vecs **out, cs_error *err) {
    *out = NULL;
    sqlite3_stmt *s = NULL;
    int64_t count = 0;
    uint64_t gen = 0;
    cs_status st = cs_db_begin_read(db, &gen, &count, err);
    size_t row = (size_t)db->dim * sizeof(float);
    cs_vecs *v = st ? NULL : new_owned(count, db->dim);
    if (!st && !v) st = cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
    if (!st &&
        sqlite3_prepare_v2(db->sql, "SELECT id, embedding FROM images ORDER BY id", -1, &s, NULL))
        st = cs_db_sql_fail(db, err, "reading vectors");
    int64_t n = 0;
    while (!st) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW || n >= count) {
            st = cs_db_sql_fail(db, err, "reading vectors");
            break;
        }
        if ((size_t)sqlite3_column_bytes(s, 1) != row) {
            st = cs_fail(err, CS_EFORMAT, "%s: image %lld has a vector of the wrong size", db->path,
                         (long long)sqlite3_column_int64(s, 0));
            break;
        }
        ((int64_t *)v->owned)[n] = sqlite3_column_int64(s, 0);
        memcpy((float *)v->vectors + (size_t)n * db->dim, sqlite3_column_blob(s, 1), row);
        n++;
    }
    sqlite3_finalize(s);
    sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL);
    if (st) {
        if (v) free(v->owned);
        free(v);
        return st;
    }
    v->generation = gen;
    v->source = VECS_SQL;
    v->n = n;
    *out = v;
    return CS_OK;
}

static int cmp_id(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

cs_vecs *cs_vecs_flatten(const cs_vecs *v) {
    cs_vecs *f = new_owned(cs_vecs_count(v), v->dim);
    if (!f) return NULL;
    f->generation = v->generation;
    f->source = VECS_SQL;
    size_t row = (size_t)v->dim * sizeof(float);
    int64_t *fid = f->owned, n = 0, i = 0, j = 0;
    float *fv = (float *)f->vectors;
    while (i < v->n || j < v->n_delta) {
        if (i < v->n && cs_vecs_masked(v, i)) {
            i++;
        } else if (j < v->n_delta && (i == v->n || v->delta_ids[j] < v->ids[i])) {
            fid[n] = v->delta_ids[j];
            memcpy(fv + (size_t)n++ * v->dim, v->delta_vectors + (size_t)j++ * v->dim, row);
        } else {
            fid[n] = v->ids[i];
            memcpy(fv + (size_t)n++ * v->dim, v->vectors + (size_t)i++ * v->dim, row);
        }
    }
    f->n = n;
    return f;
}

/* The rows written or removed after `old` was taken, in one read transaction
 * (under the lock): changed rows as (id, index into vecs) pairs sorted by id,
 * removed ids (ascending). *n_changed = -1 when more changed than is worth
 * merging. */
static cs_status read_changes(cs_db *db, const cs_vecs *old, uint64_t *gen, int64_t **ids,
                              float **vecs, int64_t *n_changed, int64_t **removed,
                              int64_t *n_removed, int64_t *total, cs_error *err) {
    *ids = *removed = NULL;
    *vecs = NULL;
    *n_changed = *n_removed = 0;
    size_t row = (size_t)db->dim * sizeof(float);
    int64_t limit = old->n / 4 + 1024, cap = 0, rcap = 0;
    sqlite3_stmt *s = NULL;
    cs_status st = CS_OK;
    st = cs_db_begin_read(db, gen, total, err);
    if (!st &&
        sqlite3_prepare_v2(db->sql, /* the planner would rather scan the whole table in id order */
                           "SELECT id, embedding FROM images INDEXED BY images_gen WHERE gen > ?",
                           -1, &s, NULL))
        st = cs_db_sql_fail(db, err, "reading changes");
    if (!st) sqlite3_bind_int64(s, 1, (int64_t)old->generation);
    int rc;
    while (!st && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n_changed == limit) {
            *n_changed = -1;
            break;
        }
        if (*n_changed == cap) {
            cap = cap ? 2 * cap : 256;
            int64_t *gi = realloc(*ids, 2 * (size_t)cap * sizeof **ids);
            if (gi) *ids = gi;
            float *gv = gi ? realloc(*vecs, (size_t)cap * row) : NULL;
            if (!gv) {
                st = cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
                break;
            }
            *vecs = gv;
        }
        if ((size_t)sqlite3_column_bytes(s, 1) != row) {
            *n_changed = -1; /* a malformed row: the full load reports it */
            break;
        }
        (*ids)[2 * *n_changed] = sqlite3_column_int64(s, 0);
        (*ids)[2 * *n_changed + 1] = *n_changed; /* where its vector is */
        memcpy(*vecs + (size_t)*n_changed * db->dim, sqlite3_column_blob(s, 1), row);
        (*n_changed)++;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (!st && *n_changed >= 0 &&
        sqlite3_prepare_v2(db->sql, "SELECT id FROM removed WHERE gen > ? ORDER BY id", -1, &s,
                           NULL))
        st = cs_db_sql_fail(db, err, "reading changes");
    if (s) sqlite3_bind_int64(s, 1, (int64_t)old->generation);
    while (!st && s && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n_removed == rcap) {
            rcap = rcap ? 2 * rcap : 256;
            int64_t *g = realloc(*removed, (size_t)rcap * sizeof **removed);
            if (!g) {
                st = cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
                break;
            }
            *removed = g;
        }
        (*removed)[(*n_removed)++] = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL);
    if (!st && *n_changed > 0) qsort(*ids, (size_t)*n_changed, 2 * sizeof **ids, cmp_id);
    return st;
}

/* Hides base row of `id` in v, if v's base has it. */
static void mask_id(cs_vecs *v, int64_t id) {
    const int64_t *hit = v->n ? bsearch(&id, v->ids, (size_t)v->n, sizeof id, cmp_id) : NULL;
    if (!hit) return;
    int64_t r = hit - v->ids;
    if (!cs_vecs_masked(v, r)) {
        v->masked[r >> 3] |= (uint8_t)(1u << (r & 7));
        v->n_masked++;
    }
}

/* The snapshot of the current generation made from an older one and the rows
 * changed since its base: what a long-running reader (the server) does while
 * another process indexes, instead of reading every vector again after each
 * batch. *out stays NULL when a full load is the better (or only safe) way. */
static cs_status load_changes(cs_db *db, cs_vecs *old, cs_vecs **out, cs_error *err) {
    *out = NULL;
    cs_vecs *base = old->base ? old->base : old;
    int64_t *pairs, *removed, n_changed, n_removed, total = 0;
    float *vecs;
    uint64_t gen = 0;
    cs_db_lock(db);
    cs_status st =
        read_changes(db, base, &gen, &pairs, &vecs, &n_changed, &removed, &n_removed, &total, err);
    cs_db_unlock(db);
    cs_vecs *v = st || n_changed < 0 ? NULL : calloc(1, sizeof *v);
    size_t row = (size_t)db->dim * sizeof(float);
    if (v) {
        atomic_init(&v->refs, 1);
        atomic_fetch_add(&base->refs, 1);
        v->base = base;
        v->generation = gen;
        v->source = VECS_CHANGES;
        v->dim = db->dim;
        v->n = base->n;
        v->ids = base->ids;
        v->vectors = base->vectors;
        v->masked = calloc((size_t)(base->n + 8) / 8, 1);
        v->delta_ids = malloc((size_t)(n_changed + 1) * sizeof *v->delta_ids);
        v->delta_vectors = malloc((size_t)(n_changed + 1) * row);
        if (!v->masked || !v->delta_ids || !v->delta_vectors) {
            st = cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
            cs_vecs_release(v);
            v = NULL;
        }
    } else if (!st && n_changed >= 0) {
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
    }
    if (v) {
        /* a changed row hides its old version; so does a removed one */
        for (int64_t j = 0; j < n_changed; j++) {
            mask_id(v, pairs[2 * j]);
            v->delta_ids[j] = pairs[2 * j];
            memcpy(v->delta_vectors + (size_t)j * db->dim,
                   vecs + (size_t)pairs[2 * j + 1] * db->dim, row);
        }
        for (int64_t j = 0; j < n_removed; j++) mask_id(v, removed[j]);
        v->n_delta = n_changed;
        if (cs_vecs_count(v) != total) { /* not the rows SQLite has: take the full load */
            cs_vecs_release(v);
            v = NULL;
        }
    }
    free(pairs);
    free(vecs);
    free(removed);
    *out = v;
    return st;
}

cs_status cs_db_vectors(cs_db *db, cs_vecs **out, cs_error *err) {
    return cs_db_vectors_opt(db, 1, out, err);
}

void cs_vecs_prefault(const cs_vecs *v, int part, int n_parts) {
    if (!v || !v->map.data || n_parts < 1 || part < 0 || part >= n_parts) return;
    size_t step = (v->map.size + (size_t)n_parts - 1) / (size_t)n_parts;
    size_t from = step * (size_t)part;
    if (from < v->map.size)
        cs_prefault(v->map.data + from, v->map.size - from < step ? v->map.size - from : step, 0);
}

cs_status cs_db_vectors_opt(cs_db *db, int populate, cs_vecs **out, cs_error *err) {
    *out = NULL;
    cs_status st;
    uint64_t gen = 0;
    cs_db_lock(db);
    st = cs_db_generation(db, &gen, err);
    cs_db_unlock(db);
    if (st) return st;
    pthread_mutex_lock(&db->snap_lock);
    if (!db->snap || db->snap->generation != gen) {
        cs_vecs *v = cs_vecfile_map(db, gen, populate);
        if (!v && db->snap && db->has_gen && db->snap->generation < gen)
            st = load_changes(db, db->snap, &v, err);
        if (!st && !v) {
            cs_db_lock(db);
            st = load_sql(db, &v, err);
            cs_db_unlock(db);
        }
        /* a full load by a writer repairs the file for the next cold search
         * (catching up does not: a server would rewrite it after every batch
         * another process commits; indexing ends with cs_db_write_vectors) */
        if (!st && v->source == VECS_SQL && !db->readonly) {
            cs_error we;
            if (cs_vecfile_write(db, v, &we) != CS_OK)
                cs_log(&db->log, CS_LOG_WARN, "%s", we.message);
        }
        if (!st) {
            cs_vecs_release(db->snap);
            db->snap = v;
        }
    }
    if (!st) {
        atomic_fetch_add(&db->snap->refs, 1);
        *out = db->snap;
    }
    pthread_mutex_unlock(&db->snap_lock);
    return st;
}

cs_status cs_db_write_vectors(cs_db *db, cs_error *err) {
    if (db->readonly) return CS_OK;
    pthread_mutex_lock(&db->snap_lock);
    int have_snapshot = db->snap != NULL;
    pthread_mutex_unlock(&db->snap_lock);
    if (!have_snapshot) { /* nothing in memory to reuse: stream from SQLite */
        cs_db_lock(db);
        cs_status st = cs_vecfile_write_sql(db, err);
        cs_db_unlock(db);
        return st;
    }
    cs_vecs *v = NULL, *on_disk = NULL;
    cs_status st = cs_db_vectors(db, &v, err);
    if (!st && !(on_disk = cs_vecfile_map(db, v->generation, 0))) {
        cs_vecs *flat = v->base ? cs_vecs_flatten(v) : v;
        st = flat ? cs_vecfile_write(db, flat, err)
                  : cs_fail(err, CS_ENOMEM, "%s: out of memory", db->vec_path);
        if (flat && flat != v) cs_vecs_release(flat);
    }
    cs_vecs_release(on_disk);
    cs_vecs_release(v);
    return st;
}

int cs_db_distrust_file(cs_db *db, const cs_vecs *v, int64_t n_bad) {
    int from_file = v->source == VECS_FILE || (v->base && v->base->source == VECS_FILE);
    if (!from_file) return 0;
    cs_log(&db->log, CS_LOG_WARN,
           "%s: %lld vector%s not unit vectors (NaN, infinite or damaged): the file is not used; "
           "searches read the database until `clipsearch index` rewrites it",
           db->vec_path, (long long)n_bad, n_bad == 1 ? " is" : "s are");
    pthread_mutex_lock(&db->snap_lock);
    db->vec_file_bad = 1;
    cs_vecs_release(db->snap);
    db->snap = NULL;
    pthread_mutex_unlock(&db->snap_lock);
    return 1;
}

void cs_db_drop_vectors(cs_db *db) {
    pthread_mutex_lock(&db->snap_lock);
    cs_vecs_release(db->snap);
    db->snap = NULL;
    pthread_mutex_unlock(&db->snap_lock);
}
