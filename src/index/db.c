/* index/db.c - opening the catalogue: schema, model binding, locking,
 * transactions, info.
 *
 * Schema (one database = one model):
 *   meta(key, value): schema, model_id, model_name, dim, uuid, generation
 *   images(id INTEGER PRIMARY KEY, path UNIQUE, size, mtime_ns, hash BLOB(16),
 *          width, height, embedding BLOB(dim float32, L2-normalised), gen,
 *          precision)
 *   removed(id, gen): rows deleted (filled by a trigger)
 * `generation` moves with every write transaction; the vector file beside
 * the database records the generation it was made from. A row's `gen` (and a
 * removed row's) is the generation that wrote it, so a reader holding the
 * vectors of generation G catches up by reading only what changed after G.
 * A row's `precision` is what its embedding was computed at
 * (cs_model_info.image_precision), NULL where not recorded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/parse.h"
#include "index/ann.h"
#include "index/db_internal.h"

#define SCHEMA_VERSION 2

/* What schema 2 added to schema 1: where changed and removed rows are found. */
#define UPGRADE_SQL                                                                                \
    "CREATE INDEX IF NOT EXISTS images_gen ON images(gen);"                                        \
    "CREATE TABLE IF NOT EXISTS removed(id INTEGER PRIMARY KEY, gen INTEGER NOT NULL);"            \
    "CREATE INDEX IF NOT EXISTS removed_gen ON removed(gen);"                                      \
    "CREATE TRIGGER IF NOT EXISTS images_removed AFTER DELETE ON images BEGIN "                    \
    "INSERT OR REPLACE INTO removed(id, gen) "                                                     \
    "VALUES (old.id, (SELECT value + 1 FROM meta WHERE key = 'generation')); END;"

/* The precision column's index: cs_db_precisions counts rows by precision
 * from it without reading the table (2 KiB of embedding a row). */
#define PRECISION_INDEX_SQL "CREATE INDEX IF NOT EXISTS images_precision ON images(precision);"

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS images("
    "  id INTEGER PRIMARY KEY,"
    "  path TEXT NOT NULL UNIQUE,"
    "  size INTEGER NOT NULL,"
    "  mtime_ns INTEGER NOT NULL,"
    "  hash BLOB NOT NULL,"
    "  width INTEGER NOT NULL DEFAULT 0,"
    "  height INTEGER NOT NULL DEFAULT 0,"
    "  embedding BLOB NOT NULL,"
    "  gen INTEGER NOT NULL DEFAULT 0,"
    "  precision TEXT);"
    "CREATE INDEX IF NOT EXISTS images_hash ON images(hash);" UPGRADE_SQL PRECISION_INDEX_SQL;

void cs_db_lock(cs_db *db) {
    pthread_mutex_lock(&db->lock);
}

void cs_db_unlock(cs_db *db) {
    pthread_mutex_unlock(&db->lock);
}

cs_status cs_db_sql_fail(cs_db *db, cs_error *err, const char *what) {
    int code = sqlite3_extended_errcode(db->sql);
    cs_status st = CS_EIO;
    if ((code & 0xff) == SQLITE_NOTADB || (code & 0xff) == SQLITE_CORRUPT) st = CS_EFORMAT;
    if ((code & 0xff) == SQLITE_NOMEM) st = CS_ENOMEM;
    return cs_fail(err, st, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->sql));
}

/* how long a statement waits for another process's lock */
#define BUSY_MS 10000

cs_status cs_db_exec(cs_db *db, const char *sql, cs_error *err) {
    if (sqlite3_exec(db->sql, sql, NULL, NULL, NULL) != SQLITE_OK)
        return cs_db_sql_fail(db, err, "SQL");
    return CS_OK;
}

/* Pages of 32 KiB (taken by a new database only): a row is its 2 KiB
 * embedding and a little more, so SQLite's 4 KiB pages held one row each,
 * 4.2 GB for 1M rows; 32 KiB pages hold 15 (2.3 GB). WAL: readers never
 * block the writer; synchronous=NORMAL keeps every committed batch across a
 * process crash (kill -9).
 *
 * Two processes creating one database at once both switch the new file to
 * WAL. While another connection holds a write lock on a file not yet in
 * WAL, SQLite answers journal_mode=WAL with SQLITE_BUSY at once, busy
 * timeout or not (seen: after 0.0 s with a 2 s timeout), so we try again
 * for as long as the timeout would have waited. */
static cs_status set_journal(cs_db *db, cs_error *err) {
    for (int waited_ms = 0;; waited_ms += 10) {
        cs_status s = cs_db_exec(db,
                                 "PRAGMA page_size=32768; PRAGMA journal_mode=WAL; "
                                 "PRAGMA synchronous=NORMAL",
                                 err);
        if (!s || (sqlite3_errcode(db->sql) & 0xFF) != SQLITE_BUSY || waited_ms >= BUSY_MS)
            return s;
        sqlite3_sleep(10);
    }
}

cs_status cs_db_begin(cs_db *db, cs_error *err) {
    if (db->readonly) return cs_fail(err, CS_EINVAL, "%s: opened read-only", db->path);
    cs_db_lock(db);
    cs_status st = cs_db_exec(db, "BEGIN IMMEDIATE", err);
    if (st != CS_OK) cs_db_unlock(db);
    return st;
}

cs_status cs_db_commit(cs_db *db, cs_error *err) {
    cs_status st =
        cs_db_exec(db, "UPDATE meta SET value = value + 1 WHERE key = 'generation'; COMMIT", err);
    if (st != CS_OK) sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    cs_db_unlock(db);
    return st;
}

void cs_db_rollback(cs_db *db) {
    sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    cs_db_unlock(db);
}

/* One value of meta as text (malloc'd) or NULL when absent. */
static cs_status meta_get(cs_db *db, const char *key, char **out, cs_error *err) {
    *out = NULL;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db->sql, "SELECT value FROM meta WHERE key = ?", -1, &s, NULL))
        return cs_db_sql_fail(db, err, "reading meta");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(s, 0);
        *out = strdup(v ? v : "");
        if (!*out) rc = SQLITE_NOMEM;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return cs_db_sql_fail(db, err, "reading meta");
    return CS_OK;
}

static cs_status meta_set(cs_db *db, const char *key, const char *text, int64_t num,
                          cs_error *err) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db->sql, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1, &s,
                           NULL))
        return cs_db_sql_fail(db, err, "writing meta");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (text)
        sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(s, 2, num);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? CS_OK : cs_db_sql_fail(db, err, "writing meta");
}

cs_status cs_db_generation(cs_db *db, uint64_t *gen, cs_error *err) {
    char *v = NULL;
    cs_status st = meta_get(db, "generation", &v, err);
    if (st != CS_OK) return st;
    long long g = 0;
    cs_status st2 = v ? cs_parse_int(v, 0, INT64_MAX, "generation", &g, err) : CS_OK;
    free(v);
    if (st2)
        return cs_fail(err, CS_EFORMAT, "%s: not a clipsearch database (bad generation)", db->path);
    *gen = (uint64_t)g;
    return CS_OK;
}

static void make_uuid(char out[33]) {
    uint8_t b[16] = {0};
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* no entropy source: time and pid still tell databases apart */
        uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        memcpy(b, &t, sizeof t);
    }
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Writes the identity of a new (or reset) database. Inside a transaction. */
static cs_status bind_model(cs_db *db, const cs_db_opts *o, cs_error *err) {
    char uuid[33];
    make_uuid(uuid);
    cs_status st = CS_OK;
    if (!st) st = meta_set(db, "schema", NULL, SCHEMA_VERSION, err);
    if (!st) st = meta_set(db, "model_id", o->model_id, 0, err);
    if (!st) st = meta_set(db, "model_name", o->model_name ? o->model_name : "", 0, err);
    if (!st) st = meta_set(db, "model_source", o->model_source ? o->model_source : "", 0, err);
    if (!st) st = meta_set(db, "dim", NULL, o->dim, err);
    if (!st) st = meta_set(db, "uuid", uuid, 0, err);
    if (!st) {
        char *g = NULL;
        st = meta_get(db, "generation", &g, err);
        if (!st && !g) st = meta_set(db, "generation", NULL, 0, err);
        free(g);
    }
    return st;
}

/* Creates the folders above a new database file (mkdir -p of its parent). */
static cs_status make_parent_dirs(const char *path, cs_error *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return cs_fail(err, CS_ELIMIT, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return cs_fail(err, CS_EIO, "%s: cannot create folder %s: %s", path, buf,
                           strerror(errno));
        *p = '/';
    }
    return CS_OK;
}

/* Reads the identity from meta and checks it against what the caller wants;
 * binds (or re-binds, with CS_DB_RESET) the model when needed. */
static cs_status check_model(cs_db *db, const cs_db_opts *o, cs_error *err) {
    char *mid = NULL, *mname = NULL, *msource = NULL, *dim = NULL, *uuid = NULL;
    cs_status st = meta_get(db, "model_id", &mid, err);
    int reset = (o->flags & CS_DB_RESET) != 0;
    if (!st && (!mid || reset)) {
        if (!o->model_id || o->dim <= 0) {
            st = mid ? cs_fail(err, CS_EINVAL, "%s: resetting needs a model", db->path)
                     : cs_fail(err, CS_EFORMAT, "%s: not a clipsearch database (no model)",
                               db->path);
        } else if (db->readonly) {
            st = cs_fail(err, CS_EINVAL, "%s: cannot reset a database opened read-only", db->path);
        } else {
            st = cs_db_exec(db, "BEGIN IMMEDIATE", err);
            if (!st && reset) st = cs_db_exec(db, "DELETE FROM images", err);
            if (!st) st = bind_model(db, o, err);
            if (!st)
                st = cs_db_exec(db,
                                "UPDATE meta SET value = value + 1 "
                                "WHERE key = 'generation'; COMMIT",
                                err);
            else
                sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
            free(mid);
            mid = NULL;
            if (!st) st = meta_get(db, "model_id", &mid, err);
        }
    }
    if (!st) st = meta_get(db, "model_name", &mname, err);
    if (!st) st = meta_get(db, "model_source", &msource, err); /* absent in older ones */
    if (!st) st = meta_get(db, "dim", &dim, err);
    if (!st) st = meta_get(db, "uuid", &uuid, err);
    if (!st &&
        (!mid || !dim || !uuid || strlen(uuid) != 32 || strspn(uuid, "0123456789abcdef") != 32))
        st = cs_fail(err, CS_EFORMAT, "%s: not a clipsearch database (incomplete meta)", db->path);
    long long ndim = 0;
    if (!st && cs_parse_int(dim, 1, 65536, "dim", &ndim, err) != CS_OK)
        st = cs_fail(err, CS_EFORMAT, "%s: not a clipsearch database (bad dimension '%.20s')",
                     db->path, dim);
    if (!st && o->model_id && (strcmp(mid, o->model_id) != 0 || ndim != o->dim)) {
        st = cs_fail(err, CS_EMISMATCH,
                     "%s: this database holds embeddings of model %s%s%s(id %s, %s dims%s%s), "
                     "not of the model in use %s%s%s(id %s, %d dims%s%s); re-index it for this "
                     "model (reset) or use another database",
                     db->path, mname && *mname ? "'" : "", mname ? mname : "",
                     mname && *mname ? "' " : "", mid, dim, msource && *msource ? ", from " : "",
                     msource ? msource : "", o->model_name ? "'" : "",
                     o->model_name ? o->model_name : "", o->model_name ? "' " : "", o->model_id,
                     o->dim, o->model_source ? ", from " : "",
                     o->model_source ? o->model_source : "");
    }
    if (!st) {
        db->model_id = mid;
        db->model_name = mname;
        db->model_source = msource;
        db->dim = (int)ndim;
        memcpy(db->uuid, uuid, 33);
        mid = mname = msource = NULL;
    }
    free(mid);
    free(mname);
    free(msource);
    free(dim);
    free(uuid);
    return st;
}

static int prepares(cs_db *db, const char *sql) {
    sqlite3_stmt *q = NULL;
    int ok = sqlite3_prepare_v2(db->sql, sql, -1, &q, NULL) == SQLITE_OK;
    sqlite3_finalize(q);
    return ok;
}

static int has_column_gen(cs_db *db) {
    return prepares(db, "SELECT gen FROM images LIMIT 0") &&
           prepares(db, "SELECT gen FROM removed LIMIT 0");
}

/* Adds the precision column where a writable database lacks it. Older
 * versions name the columns they write and read, so they keep working with
 * it (a row they insert leaves it NULL, not recorded; one they embed again
 * keeps the value it had): no new schema number. */
static cs_status add_precision(cs_db *db, cs_error *err) {
    static const char *const probe = "SELECT precision FROM images LIMIT 0";
    db->has_precision = prepares(db, probe);
    if (db->has_precision || db->readonly || !prepares(db, "SELECT id FROM images LIMIT 0"))
        return CS_OK;
    cs_status s = cs_db_exec(db, "BEGIN IMMEDIATE", err);
    if (s) return s;
    /* another process may have added it while this one waited for the lock */
    if (!prepares(db, probe))
        s = cs_db_exec(db, "ALTER TABLE images ADD COLUMN precision TEXT;" PRECISION_INDEX_SQL,
                       err);
    if (!s) s = cs_db_exec(db, "COMMIT", err);
    if (s) sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    db->has_precision = !s;
    return s;
}

/* Brings a schema 1 database to schema 2 when writable (read-only: readers
 * then reload every vector when the database moves on). */
static cs_status upgrade(cs_db *db, cs_error *err) {
    db->has_gen = has_column_gen(db);
    if (db->has_gen || db->readonly) return CS_OK;
    sqlite3_stmt *q = NULL;
    int old =
        sqlite3_prepare_v2(db->sql, "SELECT id FROM images LIMIT 0", -1, &q, NULL) == SQLITE_OK;
    sqlite3_finalize(q);
    if (!old) return CS_OK; /* not ours: the schema check says so */
    cs_status s = cs_db_exec(db,
                             "BEGIN IMMEDIATE; ALTER TABLE images ADD COLUMN gen INTEGER NOT "
                             "NULL DEFAULT 0;" UPGRADE_SQL
                             "UPDATE meta SET value = 2 WHERE key = 'schema'; COMMIT",
                             err);
    if (s) sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    db->has_gen = !s;
    return s;
}

/* A value of a query returning one integer, or -1 when it cannot run (a
 * table it names is missing). */
static int64_t query_int(cs_db *db, const char *sql) {
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db->sql, sql, -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* 1 when the database has its model bound: the last step of its creation. */
static int has_model(cs_db *db) {
    return query_int(db, "SELECT count(*) FROM meta WHERE key = 'model_id'") > 0;
}

/* Creates the schema and binds the model in ONE transaction, so that a
 * crash or a full disk at any moment leaves either no schema or all of it,
 * and a second process creating the same database at the same time waits
 * for the lock and then finds it made. What an interrupted creation left
 * (our tables, empty, no model: older versions created them one statement
 * at a time) is dropped and made again; anything else is not ours. */
static cs_status create_schema(cs_db *db, const cs_db_opts *o, cs_error *err) {
    cs_status st = cs_db_exec(db, "BEGIN IMMEDIATE", err);
    if (st) return st;
    if (has_model(db)) /* another process made it while we waited */
        return cs_db_exec(db, "COMMIT", err);
    int64_t foreign = query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                    "name NOT IN ('meta', 'images', 'removed')");
    int64_t rows = query_int(db, "SELECT count(*) FROM images");
    if (foreign != 0 || rows > 0)
        st = cs_fail(err, CS_EFORMAT, "%s: not a clipsearch database%s", db->path,
                     rows > 0 ? " (images without a model)" : "");
    else if (!o->model_id || o->dim <= 0)
        st = cs_fail(err, CS_EFORMAT, "%s: not a clipsearch database (no model)", db->path);
    if (!st)
        st = cs_db_exec(db,
                        "DROP TABLE IF EXISTS images; DROP TABLE IF EXISTS removed; "
                        "DROP TABLE IF EXISTS meta;",
                        err);
    if (!st) st = cs_db_exec(db, schema_sql, err);
    if (!st) st = bind_model(db, o, err);
    if (!st)
        st = cs_db_exec(db, "UPDATE meta SET value = value + 1 WHERE key = 'generation'; COMMIT",
                        err);
    if (st) sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

/* 1 when a reader cannot make the -wal and -shm files a WAL database needs
 * beside it: a read-only file system, or a folder it may not write. SQLite
 * then opens the database immutable (it reads the file as it is, taking no
 * locks), which is right there: no one can be writing it either. */
static int cannot_write_beside(const char *path) {
    struct statvfs vfs;
    if (statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) return 1;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    return access(dir, W_OK) != 0 && errno != ENOENT;
}

/* "file:PATH?immutable=1" with the bytes a URI reserves escaped. */
static char *immutable_uri(const char *path) {
    size_t n = strlen(path);
    char *u = malloc(3 * n + 32);
    if (!u) return NULL;
    char *o = u + sprintf(u, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (*p == '%' || *p == '?' || *p == '#' || *p < 0x20 || *p >= 0x7f)
            o += sprintf(o, "%%%02X", *p);
        else
            *o++ = (char)*p;
    strcpy(o, "?immutable=1");
    return u;
}

static cs_status open_sql(cs_db *db, const cs_db_opts *o, cs_error *err) {
    struct stat st;
    int exists = stat(db->path, &st) == 0;
    if (!exists && !(o->flags & CS_DB_CREATE))
        return cs_fail(err, CS_ENOTFOUND, "%s: no such database", db->path);
    if (!exists && (o->flags & CS_DB_READONLY))
        return cs_fail(err, CS_ENOTFOUND, "%s: no such database", db->path);
    if (!exists && !o->model_id)
        return cs_fail(err, CS_EINVAL, "%s: creating a database needs a model", db->path);
    if (!exists) {
        cs_status s = make_parent_dirs(db->path, err);
        if (s) return s;
    }
    int flags = SQLITE_OPEN_FULLMUTEX |
                (db->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    char *uri = NULL;
    if (db->readonly && cannot_write_beside(db->path)) {
        if (!(uri = immutable_uri(db->path)))
            return cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
        flags |= SQLITE_OPEN_URI;
    } else if (!db->readonly && exists && access(db->path, W_OK) != 0) {
        return cs_fail(err, CS_EIO,
                       "%s: cannot write the database: %s (searching it works; indexing needs "
                       "it and its folder writable)",
                       db->path, strerror(errno));
    }
    int rc = sqlite3_open_v2(uri ? uri : db->path, &db->sql, flags, NULL);
    free(uri);
    if (rc != SQLITE_OK) {
        if (!db->sql) return cs_fail(err, CS_ENOMEM, "%s: cannot open database", db->path);
        return cs_db_sql_fail(db, err, "cannot open database");
    }
    sqlite3_busy_timeout(db->sql, BUSY_MS);
    cs_status s = CS_OK;
    if (!db->readonly) {
        s = set_journal(db, err);
        if (!s && !has_model(db)) s = create_schema(db, o, err);
    }
    if (!s) s = upgrade(db, err);
    if (!s) s = add_precision(db, err);
    if (!s) {
        /* also tells "not a database" apart early, with a clear message */
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db->sql,
                               "SELECT count(*) FROM sqlite_master WHERE name IN "
                               "('meta', 'images')",
                               -1, &q, NULL) != SQLITE_OK)
            return cs_db_sql_fail(db, err, "not a clipsearch database");
        int n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
        sqlite3_finalize(q);
        if (n == -1) return cs_db_sql_fail(db, err, "reading schema");
        if (n != 2) return cs_fail(err, CS_EFORMAT, "%s: not a clipsearch database", db->path);
    }
    return s;
}

cs_status cs_db_open(const char *path, const cs_db_opts *opts, cs_db **out, cs_error *err) {
    *out = NULL;
    cs_db_opts o = {0};
    if (opts) o = *opts;
    if (!path || !*path) return cs_fail(err, CS_EINVAL, "database path is empty");
    if (o.model_id && o.dim <= 0)
        return cs_fail(err, CS_EINVAL, "%s: model %s given without its dimension", path,
                       o.model_id);
    cs_db *db = calloc(1, sizeof *db);
    if (!db) return cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&db->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    pthread_mutex_init(&db->snap_lock, NULL);
    cs_guard_init(&db->guard);
    pthread_mutex_init(&db->ann_lock, NULL);
    db->readonly = (o.flags & CS_DB_READONLY) != 0;
    db->log.fn = o.log;
    db->log.user = o.log_user;
    db->path = strdup(path);
    size_t n = strlen(path);
    db->vec_path = malloc(n + sizeof ".vectors");
    if (!db->path || !db->vec_path) {
        cs_db_close(db);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
    }
    memcpy(db->vec_path, path, n);
    memcpy(db->vec_path + n, ".vectors", sizeof ".vectors");
    cs_status st = open_sql(db, &o, err);
    if (!st) st = check_model(db, &o, err);
    if (st) {
        cs_db_close(db);
        return st;
    }
    *out = db;
    return CS_OK;
}

void cs_db_set_log(cs_db *db, cs_log_fn fn, void *user) {
    db->log.fn = fn;
    db->log.user = user;
}

void cs_db_close(cs_db *db) {
    if (!db) return;
    cs_db_drop_vectors(db);
    cs_db_drop_ann(db);
    for (int i = 0; i < SQL_COUNT_; i++) sqlite3_finalize(db->stmts[i]);
    if (db->sql) sqlite3_close_v2(db->sql);
    cs_guard_release(&db->guard); /* after SQLite: closing these drops its locks */
    pthread_mutex_destroy(&db->lock);
    pthread_mutex_destroy(&db->snap_lock);
    pthread_mutex_destroy(&db->ann_lock);
    free(db->path);
    free(db->vec_path);
    free(db->model_id);
    free(db->model_name);
    free(db->model_source);
    for (int i = 0; i < db->n_prec_names; i++) free(db->prec_names[i]);
    free(db->prec_names);
    free(db->prec_rows);
    free(db);
}

cs_file_guard *cs_db_file_guard(cs_db *db) {
    cs_guard_set_family(&db->guard, db->path);
    return &db->guard;
}

int cs_db_own_file(cs_db *db, const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && cs_guard_has(&db->guard, &st);
}

cs_status cs_db_default_path(char *buf, size_t cap, cs_error *err) {
    const char *env = getenv("CLIPSEARCH_DB");
    int n;
    if (env && *env) {
        n = snprintf(buf, cap, "%s", env);
    } else {
        const char *xdg = getenv("XDG_DATA_HOME");
        const char *home = getenv("HOME");
        if (xdg && *xdg == '/')
            n = snprintf(buf, cap, "%s/clipsearch/catalog.db", xdg);
        else if (home && *home)
            n = snprintf(buf, cap, "%s/.local/share/clipsearch/catalog.db", home);
        else
            return cs_fail(err, CS_ENOTFOUND,
                           "no database given and neither XDG_DATA_HOME nor HOME is set");
    }
    if (n < 0 || (size_t)n >= cap) return cs_fail(err, CS_ELIMIT, "database path too long");
    return CS_OK;
}

static int64_t file_size(const char *path, const char *suffix) {
    char buf[4200];
    snprintf(buf, sizeof buf, "%s%s", path, suffix);
    struct stat st;
    return stat(buf, &st) == 0 ? (int64_t)st.st_size : 0;
}

cs_status cs_db_get_info(cs_db *db, cs_db_info *out, cs_error *err) {
    memset(out, 0, sizeof *out);
    cs_db_lock(db);
    sqlite3_stmt *s = NULL;
    cs_status st = CS_OK;
    if (sqlite3_prepare_v2(db->sql, "SELECT count(*) FROM images", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW)
        st = cs_db_sql_fail(db, err, "counting images");
    else
        out->count = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (!st) st = cs_db_generation(db, &out->generation, err);
    cs_db_unlock(db);
    out->path = db->path;
    out->model_id = db->model_id;
    out->model_name = db->model_name ? db->model_name : "";
    out->model_source = db->model_source ? db->model_source : "";
    out->dim = db->dim;
    out->size_bytes = file_size(db->path, "") + file_size(db->path, "-wal") +
                      file_size(db->path, ".vectors") + file_size(db->path, ".ann");
    cs_ann_info ai;
    cs_db_ann_info(db, &ai);
    out->search_index = ai.state != CS_ANN_OK ? "exact" : ai.code_bits == 4 ? "ivf-sq4" : "ivf-sq8";
    out->index_note = ai.state == CS_ANN_STALE     ? "stale"
                      : ai.state == CS_ANN_DAMAGED ? "damaged"
                                                   : "";
    out->index_bytes = ai.bytes;
    out->index_lists = ai.nlist;
    return st;
}

/* A precision's name as the handle keeps it, copied once (the names are a
 * handful). NULL when out of memory. */
static const char *keep_precision_name(cs_db *db, const char *name) {
    for (int i = 0; i < db->n_prec_names; i++)
        if (!strcmp(name, db->prec_names[i])) return db->prec_names[i];
    char **grown = realloc(db->prec_names, ((size_t)db->n_prec_names + 1) * sizeof *grown);
    if (!grown) return NULL;
    db->prec_names = grown;
    return (grown[db->n_prec_names] = strdup(name)) ? grown[db->n_prec_names++] : NULL;
}

/* Counts the rows by precision into db->prec_rows, most first. */
static cs_status count_precisions(cs_db *db, cs_error *err) {
    db->n_prec_rows = 0;
    sqlite3_stmt *s = NULL;
    const char *sql = db->has_precision ? "SELECT precision, count(*) AS c FROM images GROUP BY "
                                          "precision ORDER BY c DESC, precision"
                                        : "SELECT NULL, count(*) FROM images";
    cs_status st = CS_OK;
    int rc = sqlite3_prepare_v2(db->sql, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        int64_t count = sqlite3_column_int64(s, 1);
        if (count == 0) continue; /* without the column, an empty catalogue gives a row of 0 */
        const char *name = (const char *)sqlite3_column_text(s, 0);
        const char *kept = name ? keep_precision_name(db, name) : NULL;
        cs_db_precision *grown =
            name && !kept ? NULL
                          : realloc(db->prec_rows, ((size_t)db->n_prec_rows + 1) * sizeof *grown);
        if (!grown) {
            st = cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
            break;
        }
        db->prec_rows = grown;
        grown[db->n_prec_rows++] = (cs_db_precision){kept, count};
    }
    if (!st && rc != SQLITE_DONE) st = cs_db_sql_fail(db, err, "counting images by precision");
    sqlite3_finalize(s);
    return st;
}

cs_status cs_db_precisions(cs_db *db, cs_db_precision *out, int cap, int *n, cs_error *err) {
    *n = 0;
    cs_db_lock(db);
    /* every write transaction (any process's) moves the generation: the
     * last count holds while it has not moved */
    uint64_t gen = 0;
    cs_status st = db->has_gen ? cs_db_generation(db, &gen, err) : CS_OK;
    if (!st && !(db->prec_counted && db->prec_gen == gen)) {
        st = count_precisions(db, err);
        db->prec_counted = !st && db->has_gen;
        db->prec_gen = gen;
    }
    if (!st) {
        for (int i = 0; i < db->n_prec_rows && i < cap; i++) out[i] = db->prec_rows[i];
        *n = db->n_prec_rows;
    }
    cs_db_unlock(db);
    return st;
}
