/* index/db_internal.h - what the catalogue's files share: the cs_db handle,
 * the vector snapshot, and helpers for SQL under the handle's lock. */
#ifndef CS_INDEX_DB_INTERNAL_H
#define CS_INDEX_DB_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "clipsearch/index.h"
#include "core/error.h"
#include "core/file.h"
#include "core/guard.h"

/* An immutable set of vectors. The base rows: row r = (ids[r], vectors[r *
 * dim ...]), ids ascending, mapped from the vector file or loaded from
 * SQLite. A snapshot made by catching up with later commits (VECS_CHANGES)
 * shares the base rows of an older snapshot (held in `base`), hides those
 * removed or rewritten since (`masked`) and adds the rows written since (the
 * delta, ids ascending): catching up then costs what changed, not a copy of
 * every vector. Reference-counted, so a search keeps using the snapshot it
 * started with while another thread swaps in a newer one. */
typedef struct cs_vecs {
    atomic_int refs;
    uint64_t generation;
    int dim;
    int64_t n; /* base rows */
    const int64_t *ids;
    const float *vectors;
    enum { VECS_FILE, VECS_SQL, VECS_CHANGES } source; /* how it was made */
    cs_map map;                                        /* when mapped from the file */
    int fd;      /* VECS_FILE: the descriptor the map was made from (cs_vecs_read_rows) */
    void *owned; /* when loaded from SQLite: one block holding ids then vectors */
    struct cs_vecs *base;
    uint8_t *masked; /* bit r set: base row r is gone */
    int64_t n_masked, n_delta;
    int64_t *delta_ids;
    float *delta_vectors;
} cs_vecs;

/* ---- DB.vectors, the snapshot as a file (vecfile.c) ---------------------- */
#define CS_VECFILE_HEADER 64
/* Where the vectors of `count` rows start: after the header and the ids, 64-byte aligned. */
uint64_t cs_vecfile_vectors_offset(uint64_t count);
/* 1 when `size` bytes at data are a whole, consistent vector file of the
 * database with this dim, generation and uuid (hex): every header field
 * checked with overflow-safe arithmetic, the ids strictly ascending. The
 * vectors themselves are checked as they are scanned (cs_db_distrust_file). */
int cs_vecfile_check(const void *data, size_t size, int dim, uint64_t gen, const char uuid_hex[33]);
/* The file mapped as a snapshot if it is the database's current one (gen);
 * NULL otherwise. populate: a search will read every vector, so map them
 * all now (cs_prefault: one system call, cheaper than a fault per few
 * pages). */
cs_vecs *cs_vecfile_map(cs_db *db, uint64_t gen, int populate);
/* Writes a plain snapshot (no base) to the file, atomically. */
cs_status cs_vecfile_write(cs_db *db, const cs_vecs *v, cs_error *err);
/* Writes the file straight from SQLite, row by row, in one read
 * transaction: what indexing does at its end, without holding every vector
 * in memory (1M images would be 2 GB). Under the lock. */
cs_status cs_vecfile_write_sql(cs_db *db, cs_error *err);
/* Opens a read transaction (the caller COMMITs it, also on failure) and
 * reads the generation and row count it sees. */
cs_status cs_db_begin_read(cs_db *db, uint64_t *gen, int64_t *count, cs_error *err);

/* Base rows rows[0..n) of v (each < v->n) copied into out (n x dim floats).
 * From the vector file they are read with pread() rather than through the
 * map: a few hundred rows scattered over a large file, each in a span of
 * the map no page table covers yet, cost a page fault and a new page table
 * each through the map (25-90 us a row on this virtual machine, 3 us read;
 * docs/performance.md). Same bytes either way. */
void cs_vecs_read_rows(const cs_vecs *v, const int64_t *rows, int n, float *out);

/* The number of rows a snapshot holds. */
int64_t cs_vecs_count(const cs_vecs *v);
/* Every row of v in id order, as a plain snapshot (NULL when out of memory). */
cs_vecs *cs_vecs_flatten(const cs_vecs *v);
/* 1 when base row r of v is hidden. */
static inline int cs_vecs_masked(const cs_vecs *v, int64_t r) {
    return v->masked && (v->masked[r >> 3] >> (r & 7) & 1);
}

struct cs_db {
    sqlite3 *sql;
    pthread_mutex_t lock; /* recursive; guards sql and the statements below */
    char *path, *vec_path;
    char *model_id, *model_name, *model_source;
    int dim, readonly;
    int vec_file_bad; /* the vector file held damaged rows: not mapped again */
    int has_gen;      /* rows carry the generation that wrote them (schema 2) */
    char uuid[33];    /* the database's identity, hex, also in its vector file */
    /* rows carry the precision of their embedding (a column older versions
     * did not make); the names cs_db_precisions met, each copied once */
    int has_precision;
    char **prec_names;
    int n_prec_names;
    /* cs_db_precisions' last count, kept while the generation it counted
     * holds (counting reads the column's whole index: tens of ms a million
     * rows, and the server's /api/stats asks on every page load) */
    cs_db_precision *prec_rows;
    int n_prec_rows, prec_counted;
    uint64_t prec_gen;
    cs_logger log;
    pthread_mutex_t snap_lock; /* guards snap */
    cs_vecs *snap;
    sqlite3_stmt *stmts[16]; /* cs_db_stmt's cache, by enum cs_db_sql */
    /* the database's own files: what reads files for it (the indexer, the
     * server) opens through it (core/guard.h); released after sqlite3_close */
    cs_file_guard guard;
    pthread_mutex_t ann_lock; /* guards the three below (index/ann_db.c) */
    struct cs_ann *ann;       /* DB.ann, when it matched a snapshot's generation */
    uint64_t ann_tried_gen;   /* the generation last looked for, and whether */
    int ann_tried;            /* it was (so a missing file is not re-read per query) */
};

/* The statements used per row, prepared once per handle. */
typedef enum cs_db_sql {
    SQL_PUT = 0,  /* upsert: path, size, mtime_ns, hash, width, height, embedding, precision */
    SQL_BY_PATH,  /* path -> id, size, mtime_ns, hash */
    SQL_BY_HASH,  /* hash -> id, width, height, embedding, precision */
    SQL_GET,      /* id -> path, size, mtime_ns, width, height, hash */
    SQL_VECTOR,   /* id -> embedding */
    SQL_DEL_PATH, /* path */
    SQL_TOUCH,    /* size, mtime_ns, id */
    SQL_COUNT_
} cs_db_sql;

/* The cached statement, reset and unbound, or NULL with *err filled. Use and
 * reset it under the lock. */
sqlite3_stmt *cs_db_stmt(cs_db *db, cs_db_sql which, cs_error *err);

/* Locking around SQL use. */
void cs_db_lock(cs_db *db);
void cs_db_unlock(cs_db *db);

/* A sqlite failure as a cs_error naming the database. */
cs_status cs_db_sql_fail(cs_db *db, cs_error *err, const char *what);

/* Runs SQL without results (under the caller's lock). */
cs_status cs_db_exec(cs_db *db, const char *sql, cs_error *err);

/* A write transaction: takes the lock, BEGIN IMMEDIATE. commit bumps the
 * generation and releases the lock; rollback releases it too. */
cs_status cs_db_begin(cs_db *db, cs_error *err);
cs_status cs_db_commit(cs_db *db, cs_error *err);
void cs_db_rollback(cs_db *db);

/* The commit counter as stored now (under the lock). */
cs_status cs_db_generation(cs_db *db, uint64_t *gen, cs_error *err);

/* The stored form of an absolute path of an indexed file: the folder
 * resolved (realpath), the last component kept. Into buf. */
cs_status cs_db_resolve_path(const char *path, char *buf, size_t cap, cs_error *err);

/* Upserts one row inside an open transaction (embedding normalised here);
 * precision: what the embedding was computed at (NULL or "": not recorded). */
cs_status cs_db_put_one(cs_db *db, const cs_db_entry *e, const char *precision, cs_error *err);

/* The current vector snapshot (reloaded when the database moved on); release
 * it with cs_vecs_release. */
cs_status cs_db_vectors(cs_db *db, cs_vecs **out, cs_error *err);
/* The same; populate: a vector file newly mapped is prefaulted at once (a
 * search reads all of it), else left to cs_vecs_prefault. */
cs_status cs_db_vectors_opt(cs_db *db, int populate, cs_vecs **out, cs_error *err);
/* Prefaults slice `part` of n_parts equal slices of v's vector file (nothing
 * for snapshots read from SQLite): threads can share the work. */
void cs_vecs_prefault(const cs_vecs *v, int part, int n_parts);
void cs_vecs_release(cs_vecs *v);
/* Makes the vector file current (after indexing): written from the handle's
 * snapshot, caught up first; nothing when the file already is current. */
cs_status cs_db_write_vectors(cs_db *db, cs_error *err);
/* A search found `n_bad` damaged rows in snapshot v: when they came from
 * the vector file, it is distrusted (logged; later snapshots read SQLite
 * until the file is rewritten) and 1 is returned (search again); else 0. */
int cs_db_distrust_file(cs_db *db, const cs_vecs *v, int64_t n_bad);
/* Drops the snapshot (at close). */
void cs_db_drop_vectors(cs_db *db);

/* The catalogue's own files (the database, its -wal and -shm, its vector
 * and index files) as they are now, for whatever opens or replaces a file
 * by a path it did not choose: an indexed path, a result, a destination
 * (core/guard.h). Each call looks again (one read of the folder). */
cs_file_guard *cs_db_file_guard(cs_db *db);
/* 1 when path (followed) is one of the files cs_db_file_guard last saw. */
int cs_db_own_file(cs_db *db, const char *path);
/* Drops the approximate index held (at close; index/ann_db.c). */
void cs_db_drop_ann(cs_db *db);

/* cs_query_parse with the test for image files given (is_image_file may be
 * NULL: then only the flags make image terms). */
cs_status cs_query_parse_with(cs_query *q, const char *const *words, int n, int flags,
                              int (*is_image_file)(const char *path), cs_error *err);

/* Scales v (n floats) to unit length; a zero vector stays zero. */
void cs_db_normalize(float *v, int n);

#endif
