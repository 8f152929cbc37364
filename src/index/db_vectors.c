/* index/db_vectors.c - the vector snapshot and its file, DB.vectors.
 *
 * Reading 100k embeddings out of SQLite takes far longer than a cold search
 * may take in all (docs/catalog.md), so the rows are also kept in a flat file
 * that is memory-mapped as is:
 *
 *   offset 0   header (64 bytes, little-endian):
 *              magic "CSVECS1\0", u32 version (1), u32 dim, u64 count,
 *              u64 generation, char uuid[16] (raw bytes of the database's
 *              uuid), u64 ids_offset, u64 vectors_offset
 *   ids_offset      int64 ids[count], ascending
 *   vectors_offset  float vectors[count][dim] (64-byte aligned), L2-normalised
 *
 * It is a cache: written atomically (temporary file, fsync, rename) after
 * each indexing run, and trusted only when its uuid and generation equal the
 * database's; otherwise the rows come from SQLite and the file is rewritten
 * when the database is writable. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/checked.h"
#include "index/db_internal.h"

#define VEC_MAGIC    "CSVECS1"
#define VEC_HEADER   64
#define WRITE_BUFFER (4u << 20)

typedef struct vec_header {
    char magic[8];
    uint32_t version, dim;
    uint64_t count, generation;
    uint8_t uuid[16];
    uint64_t ids_offset, vectors_offset;
} vec_header;

_Static_assert(sizeof(vec_header) == VEC_HEADER, "vector file header is 64 bytes");

static void uuid_bytes(const char *hex, uint8_t out[16]) {
    for (int i = 0; i < 16; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static uint64_t vectors_offset(uint64_t count) {
    uint64_t off = VEC_HEADER + count * sizeof(int64_t);
    return (off + 63) & ~(uint64_t)63;
}

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

/* 1 when the header describes a file of exactly `size` bytes holding the
 * database's current vectors. Every size is computed with overflow checks:
 * the fields are whatever the file says (a huge count once wrapped
 * vectors_offset + count * dim * 4 to the file's size). */
static int header_ok(const vec_header *h, uint64_t size, int dim, uint64_t gen,
                     const uint8_t uuid[16]) {
    uint64_t ids_bytes, ids_end, voff, vbytes, end;
    if (memcmp(h->magic, VEC_MAGIC, 8) != 0 || h->version != 1 || h->dim != (uint32_t)dim ||
        h->generation != gen || memcmp(h->uuid, uuid, 16) != 0 || h->ids_offset != VEC_HEADER)
        return 0;
    if (!cs_mul_u64(h->count, sizeof(int64_t), &ids_bytes) ||
        !cs_add_u64(VEC_HEADER, ids_bytes, &ids_end) || !cs_align_u64(ids_end, 64, &voff) ||
        h->vectors_offset != voff || !cs_mul3_u64(h->count, h->dim, sizeof(float), &vbytes) ||
        !cs_add_u64(voff, vbytes, &end) || end != size || h->count > (uint64_t)INT64_MAX)
        return 0;
    return 1;
}

/* 1 when the ids strictly ascend (the snapshot's lookups bisect them). */
static int ids_ascending(const int64_t *ids, uint64_t n) {
    for (uint64_t i = 1; i < n; i++)
        if (ids[i] <= ids[i - 1]) return 0;
    return 1;
}

int cs_vecfile_check(const void *data, size_t size, int dim, uint64_t gen,
                     const char uuid_hex[33]) {
    vec_header h;
    uint8_t uuid[16];
    if (size < VEC_HEADER) return 0;
    uuid_bytes(uuid_hex, uuid);
    memcpy(&h, data, sizeof h);
    return header_ok(&h, size, dim, gen, uuid) &&
           ids_ascending((const int64_t *)((const uint8_t *)data + VEC_HEADER), h.count);
}

/* Maps the vector file if it is the database's current one; NULL otherwise.
 * populate: a search will read every vector, so map them all now
 * (cs_prefault: one system call, cheaper than a fault per few pages). */
static cs_vecs *map_file(cs_db *db, uint64_t gen, int populate) {
    cs_map m = {0};
    cs_error e;
    int fd = -1;
    if (db->vec_file_bad) return NULL;
    if (cs_map_file_fd(db->vec_path, &m, &fd, &e) != CS_OK) return NULL;
    /* before the first read: pages the page cache has to read from disk
     * (it dropped them) come back as 2 MiB folios */
    cs_map_hint_huge(m.data, m.size);
    vec_header h;
    if (!m.data || !cs_vecfile_check(m.data, m.size, db->dim, gen, db->uuid)) goto stale;
    memcpy(&h, m.data, sizeof h);
    cs_vecs *v = calloc(1, sizeof *v);
    if (!v) goto stale;
    atomic_init(&v->refs, 1);
    v->generation = gen;
    v->n = (int64_t)h.count;
    v->dim = db->dim;
    v->map = m;
    v->fd = fd;
    v->source = VECS_FILE;
    v->ids = (const int64_t *)(m.data + h.ids_offset);
    v->vectors = (const float *)(m.data + h.vectors_offset);
    if (populate) cs_prefault(m.data, m.size, 0);
    return v;
stale:
    cs_log(&db->log, CS_LOG_DEBUG, "%s: stale or unreadable, reading vectors from the database",
           db->vec_path);
    cs_unmap(&m);
    close(fd);
    return NULL;
}

/* A snapshot block for up to `cap` rows: ids, then 64-byte aligned vectors. */
static cs_vecs *new_owned(int64_t cap, int dim) {
    size_t voff = (size_t)vectors_offset((uint64_t)cap) - VEC_HEADER;
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

/* Opens a read transaction (the caller COMMITs it, also on failure) and reads
 * the generation and row count it sees. */
static cs_status begin_read(cs_db *db, uint64_t *gen, int64_t *count, cs_error *err) {
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
    cs_status st = begin_read(db, &gen, &count, err);
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

/* The vector file is written to a temporary file beside it through a large
 * buffer (see tmp_open), then fsync'd and renamed over it: readers see the
 * old file or the new one, never a mix. */
typedef struct out_file {
    char *tmp;
    FILE *f;
    char *buf;
} out_file;

static cs_status tmp_open(cs_db *db, out_file *o, cs_error *err) {
    size_t plen = strlen(db->vec_path);
    memset(o, 0, sizeof *o);
    o->tmp = malloc(plen + 8);
    o->buf = malloc(WRITE_BUFFER);
    if (!o->tmp || !o->buf) {
        free(o->tmp);
        free(o->buf);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", db->vec_path);
    }
    memcpy(o->tmp, db->vec_path, plen);
    memcpy(o->tmp + plen, ".XXXXXX", 8);
    int fd = mkstemp(o->tmp);
    if (fd >= 0 && !(o->f = fdopen(fd, "wb"))) close(fd);
    if (!o->f) {
        cs_status st = cs_fail(err, CS_EIO, "%s: %s", o->tmp, strerror(errno));
        if (fd >= 0) unlink(o->tmp);
        free(o->tmp);
        free(o->buf);
        return st;
    }
    /* Whole buffers of 4 MiB go out at 4 MiB-aligned offsets (stdio flushes
     * only full buffers; a larger fwrite goes out directly from such an
     * offset). On Linux with large folios (ext4, xfs, tmpfs) the page cache
     * then holds the file in 2 MiB folios, which a search maps with one
     * page-table entry each: prefaulting the 205 MB of 100k vectors took
     * 0.1 ms instead of 8 (written in 4 KiB pieces), unmapping it at exit
     * 0.05 ms instead of 3. glibc ignores the size unless given the buffer. */
    setvbuf(o->f, o->buf, _IOFBF, WRITE_BUFFER);
    return CS_OK;
}

static cs_status tmp_finish(cs_db *db, out_file *o, cs_status st, cs_error *err) {
    if (!st && (fflush(o->f) != 0 || ferror(o->f)))
        st = cs_fail(err, CS_EIO, "%s: write: %s", o->tmp, strerror(errno));
    if (!st && fsync(fileno(o->f)) != 0)
        st = cs_fail(err, CS_EIO, "%s: fsync: %s", o->tmp, strerror(errno));
    if (fclose(o->f) != 0 && !st)
        st = cs_fail(err, CS_EIO, "%s: close: %s", o->tmp, strerror(errno));
    if (!st && rename(o->tmp, db->vec_path) != 0)
        st = cs_fail(err, CS_EIO, "%s: rename: %s", db->vec_path, strerror(errno));
    if (!st) db->vec_file_bad = 0; /* rewritten from SQLite: trusted again */
    if (st) unlink(o->tmp);
    free(o->tmp);
    free(o->buf);
    return st;
}

static vec_header make_header(cs_db *db, int64_t n, uint64_t gen) {
    vec_header h = {.magic = VEC_MAGIC,
                    .version = 1,
                    .dim = (uint32_t)db->dim,
                    .count = (uint64_t)n,
                    .generation = gen,
                    .ids_offset = VEC_HEADER,
                    .vectors_offset = vectors_offset((uint64_t)n)};
    uuid_bytes(db->uuid, h.uuid);
    return h;
}

static void write_pad(FILE *f, int64_t n) {
    static const uint8_t zeros[64];
    fwrite(zeros, 1, (size_t)vectors_offset((uint64_t)n) - VEC_HEADER - (size_t)n * sizeof(int64_t),
           f);
}

/* Writes a (plain) snapshot to the vector file. */
static cs_status write_file(cs_db *db, const cs_vecs *v, cs_error *err) {
    out_file o;
    cs_status st = tmp_open(db, &o, err);
    if (st) return st;
    FILE *f = o.f;
    vec_header h = make_header(db, v->n, v->generation);
    fwrite(&h, sizeof h, 1, f);
    fwrite(v->ids, sizeof(int64_t), (size_t)v->n, f);
    write_pad(f, v->n);
    fwrite(v->vectors, sizeof(float) * (size_t)v->dim, (size_t)v->n, f);
    return tmp_finish(db, &o, CS_OK, err);
}

/* Writes the vector file straight from SQLite, row by row, in one read
 * transaction: what indexing does at its end, without holding every vector
 * in memory (1M images would be 2 GB). Under the lock. */
static cs_status write_file_sql(cs_db *db, cs_error *err) {
    out_file o;
    cs_status st = tmp_open(db, &o, err);
    if (st) return st;
    FILE *f = o.f;
    uint64_t gen = 0;
    int64_t count = 0, n = 0;
    size_t row = (size_t)db->dim * sizeof(float);
    sqlite3_stmt *s = NULL;
    st = begin_read(db, &gen, &count, err);
    vec_header h = make_header(db, count, gen);
    if (!st) fwrite(&h, sizeof h, 1, f);
    /* two passes in id order: the ids, then the vectors */
    for (int pass = 0; pass < 2 && !st; pass++) {
        if (sqlite3_prepare_v2(db->sql,
                               pass ? "SELECT embedding FROM images ORDER BY id"
                                    : "SELECT id FROM images ORDER BY id",
                               -1, &s, NULL)) {
            st = cs_db_sql_fail(db, err, "reading vectors");
            break;
        }
        int rc;
        for (n = 0; (rc = sqlite3_step(s)) == SQLITE_ROW && n < count; n++) {
            if (!pass) {
                int64_t id = sqlite3_column_int64(s, 0);
                fwrite(&id, sizeof id, 1, f);
            } else if ((size_t)sqlite3_column_bytes(s, 0) == row) {
                fwrite(sqlite3_column_blob(s, 0), 1, row, f);
            } else {
                st = cs_fail(err, CS_EFORMAT, "%s: a vector of the wrong size", db->path);
                break;
            }
        }
        if (!st && (rc != SQLITE_DONE || n != count))
            st = cs_db_sql_fail(db, err, "reading vectors");
        sqlite3_finalize(s);
        s = NULL;
        if (!pass) write_pad(f, count);
    }
    sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL);
    return tmp_finish(db, &o, st, err);
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
    if (sqlite3_exec(db->sql, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return cs_db_sql_fail(db, err, "reading changes");
    st = cs_db_generation(db, gen, err);
    if (!st && (sqlite3_prepare_v2(db->sql, "SELECT count(*) FROM images", -1, &s, NULL) ||
                sqlite3_step(s) != SQLITE_ROW))
        st = cs_db_sql_fail(db, err, "counting images");
    if (!st) *total = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    s = NULL;
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
        cs_vecs *v = map_file(db, gen, populate);
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
            if (write_file(db, v, &we) != CS_OK) cs_log(&db->log, CS_LOG_WARN, "%s", we.message);
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
        cs_status st = write_file_sql(db, err);
        cs_db_unlock(db);
        return st;
    }
    cs_vecs *v = NULL, *on_disk = NULL;
    cs_status st = cs_db_vectors(db, &v, err);
    if (!st && !(on_disk = map_file(db, v->generation, 0))) {
        cs_vecs *flat = v->base ? cs_vecs_flatten(v) : v;
        st = flat ? write_file(db, flat, err)
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
