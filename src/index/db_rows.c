/* index/db_rows.c - reading and writing rows of the catalogue: put, remove,
 * get by id, find by path, vectors, iteration in id order. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/db_internal.h"

static const char *const stmt_sql[SQL_COUNT_] = {
    /* gen: the generation this transaction's commit will make */
    [SQL_PUT] = ("INSERT INTO images(path, size, mtime_ns, hash, width, height, embedding, gen, "
                 "precision) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                 "(SELECT value + 1 FROM meta WHERE key = 'generation'), ?8) "
                 "ON CONFLICT(path) DO UPDATE SET size = ?2, mtime_ns = ?3, hash = ?4, "
                 "width = ?5, height = ?6, embedding = ?7, gen = excluded.gen, precision = ?8"),
    [SQL_BY_PATH] = "SELECT id, size, mtime_ns, hash FROM images WHERE path = ?",
    [SQL_BY_HASH] = ("SELECT id, width, height, embedding, precision FROM images WHERE hash = ? "
                     "ORDER BY id LIMIT 1"),
    [SQL_GET] = "SELECT path, size, mtime_ns, width, height, hash FROM images WHERE id = ?",
    [SQL_VECTOR] = "SELECT embedding FROM images WHERE id = ?",
    [SQL_DEL_PATH] = "DELETE FROM images WHERE path = ?",
    [SQL_TOUCH] = "UPDATE images SET size = ?, mtime_ns = ? WHERE id = ?",
};

sqlite3_stmt *cs_db_stmt(cs_db *db, cs_db_sql which, cs_error *err) {
    sqlite3_stmt **s = &db->stmts[which];
    if (!*s && sqlite3_prepare_v3(db->sql, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT, s,
                                  NULL) != SQLITE_OK) {
        cs_db_sql_fail(db, err, "preparing a statement");
        *s = NULL;
        return NULL;
    }
    sqlite3_reset(*s);
    sqlite3_clear_bindings(*s);
    return *s;
}

void cs_db_normalize(float *v, int n) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)v[i] * v[i];
    if (ss <= 0) return;
    float inv = (float)(1.0 / sqrt(ss));
    for (int i = 0; i < n; i++) v[i] *= inv;
}

/* Lexically normalises an absolute path in place: "//", "/./" and "x/.."
 * removed. Used when the folder no longer exists, so realpath cannot help. */
static void normalize_lexically(char *p) {
    char *out = p, *in = p;
    while (*in) {
        while (*in == '/') in++;
        char *seg = in;
        while (*in && *in != '/') in++;
        size_t len = (size_t)(in - seg);
        if (len == 0 || (len == 1 && seg[0] == '.')) continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (out > p && *--out != '/') {
            }
            continue;
        }
        *out++ = '/';
        memmove(out, seg, len);
        out += len;
    }
    if (out == p) *out++ = '/';
    *out = '\0';
}

cs_status cs_db_resolve_path(const char *path, char *buf, size_t cap, cs_error *err) {
    char abs[PATH_MAX];
    int n;
    if (path[0] == '/') {
        n = snprintf(abs, sizeof abs, "%s", path);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) return cs_fail(err, CS_EIO, "getcwd: %s", strerror(errno));
        n = snprintf(abs, sizeof abs, "%s/%s", cwd, path);
    }
    if (n < 0 || (size_t)n >= sizeof abs) return cs_fail(err, CS_ELIMIT, "%s: path too long", path);
    normalize_lexically(abs);
    /* the folder resolved, the last component kept as named */
    char *slash = strrchr(abs, '/');
    char dir[PATH_MAX], real[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", slash == abs ? 1 : (int)(slash - abs), abs);
    const char *base = slash + 1;
    if (!realpath(dir, real)) snprintf(real, sizeof real, "%s", dir);
    n = !*base ? snprintf(buf, cap, "%s", real)
               : snprintf(buf, cap, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base);
    if (n < 0 || (size_t)n >= cap) return cs_fail(err, CS_ELIMIT, "%s: path too long", path);
    return CS_OK;
}

cs_status cs_db_put_one(cs_db *db, const cs_db_entry *e, const char *precision, cs_error *err) {
    sqlite3_stmt *s = cs_db_stmt(db, SQL_PUT, err);
    if (!s) return err ? err->status : CS_EIO;
    float *v = malloc((size_t)db->dim * sizeof *v);
    if (!v) return cs_fail(err, CS_ENOMEM, "%s: out of memory", e->path);
    memcpy(v, e->embedding, (size_t)db->dim * sizeof *v);
    cs_db_normalize(v, db->dim);
    sqlite3_bind_text(s, 1, e->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, e->size);
    sqlite3_bind_int64(s, 3, e->mtime_ns);
    sqlite3_bind_blob(s, 4, e->hash, 16, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, e->width);
    sqlite3_bind_int(s, 6, e->height);
    sqlite3_bind_blob(s, 7, v, db->dim * (int)sizeof *v, SQLITE_STATIC);
    if (precision && *precision) sqlite3_bind_text(s, 8, precision, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    free(v);
    if (rc != SQLITE_DONE) return cs_db_sql_fail(db, err, e->path);
    return CS_OK;
}

cs_status cs_db_put(cs_db *db, const cs_db_entry *entries, int n, cs_error *err) {
    for (int i = 0; i < n; i++)
        if (!entries[i].path || !entries[i].embedding)
            return cs_fail(err, CS_EINVAL, "%s: entry %d has no path or no embedding", db->path, i);
    cs_status st = cs_db_begin(db, err);
    if (st) return st; /* not in a transaction: nothing to roll back */
    for (int i = 0; !st && i < n; i++) st = cs_db_put_one(db, &entries[i], NULL, err);
    if (st) {
        cs_db_rollback(db);
        return st;
    }
    return cs_db_commit(db, err);
}

cs_status cs_db_remove(cs_db *db, const char *const *paths, int n, cs_error *err) {
    cs_status st = cs_db_begin(db, err);
    if (st) return st;
    for (int i = 0; !st && i < n; i++) {
        sqlite3_stmt *s = cs_db_stmt(db, SQL_DEL_PATH, err);
        if (!s) {
            st = err ? err->status : CS_EIO;
            break;
        }
        sqlite3_bind_text(s, 1, paths[i], -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE) st = cs_db_sql_fail(db, err, paths[i]);
        sqlite3_reset(s);
    }
    if (st) {
        cs_db_rollback(db);
        return st;
    }
    return cs_db_commit(db, err);
}

cs_status cs_db_get(cs_db *db, int64_t id, cs_db_image *out, cs_error *err) {
    memset(out, 0, sizeof *out);
    cs_db_lock(db);
    cs_status st = CS_OK;
    sqlite3_stmt *s = cs_db_stmt(db, SQL_GET, err);
    if (!s) st = err ? err->status : CS_EIO;
    if (!st) {
        sqlite3_bind_int64(s, 1, id);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            out->id = id;
            out->path = strdup((const char *)sqlite3_column_text(s, 0));
            out->size = sqlite3_column_int64(s, 1);
            out->mtime_ns = sqlite3_column_int64(s, 2);
            out->width = sqlite3_column_int(s, 3);
            out->height = sqlite3_column_int(s, 4);
            if (sqlite3_column_bytes(s, 5) == 16) memcpy(out->hash, sqlite3_column_blob(s, 5), 16);
            if (!out->path) st = cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
        } else if (rc == SQLITE_DONE) {
            st = cs_fail(err, CS_ENOTFOUND, "%s: no image with id %lld", db->path, (long long)id);
        } else {
            st = cs_db_sql_fail(db, err, "reading an image");
        }
        sqlite3_reset(s);
    }
    cs_db_unlock(db);
    return st;
}

void cs_db_image_clear(cs_db_image *img) {
    if (!img) return;
    free(img->path);
    memset(img, 0, sizeof *img);
}

cs_status cs_db_find(cs_db *db, const char *path, int64_t *id, cs_error *err) {
    *id = -1;
    char real[PATH_MAX];
    cs_status st = cs_db_resolve_path(path, real, sizeof real, err);
    if (st) return st;
    cs_db_lock(db);
    sqlite3_stmt *s = cs_db_stmt(db, SQL_BY_PATH, err);
    if (!s) st = err ? err->status : CS_EIO;
    if (!st) {
        sqlite3_bind_text(s, 1, real, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            *id = sqlite3_column_int64(s, 0);
        else if (rc == SQLITE_DONE)
            st = cs_fail(err, CS_ENOTFOUND, "%s: not in the database %s", path, db->path);
        else
            st = cs_db_sql_fail(db, err, path);
        sqlite3_reset(s);
    }
    cs_db_unlock(db);
    return st;
}

cs_status cs_db_get_vector(cs_db *db, int64_t id, float *out, cs_error *err) {
    cs_db_lock(db);
    cs_status st = CS_OK;
    sqlite3_stmt *s = cs_db_stmt(db, SQL_VECTOR, err);
    if (!s) st = err ? err->status : CS_EIO;
    if (!st) {
        sqlite3_bind_int64(s, 1, id);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == db->dim * (int)sizeof(float))
            memcpy(out, sqlite3_column_blob(s, 0), (size_t)db->dim * sizeof(float));
        else if (rc == SQLITE_ROW)
            st = cs_fail(err, CS_EFORMAT, "%s: image %lld has a vector of the wrong size", db->path,
                         (long long)id);
        else if (rc == SQLITE_DONE)
            st = cs_fail(err, CS_ENOTFOUND, "%s: no image with id %lld", db->path, (long long)id);
        else
            st = cs_db_sql_fail(db, err, "reading a vector");
        sqlite3_reset(s);
    }
    cs_db_unlock(db);
    return st;
}

cs_status cs_db_foreach(cs_db *db, cs_db_row_fn fn, void *user, cs_error *err) {
    cs_db_lock(db);
    sqlite3_stmt *s = NULL;
    cs_status st = CS_OK;
    /* one read transaction: a consistent set of rows even while another
     * process indexes */
    if (sqlite3_exec(db->sql, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->sql, "SELECT id, path, embedding FROM images ORDER BY id", -1, &s,
                           NULL) != SQLITE_OK) {
        st = cs_db_sql_fail(db, err, "reading images");
    }
    size_t want = (size_t)db->dim * sizeof(float);
    float *vec = st ? NULL : malloc(want);
    if (!st && !vec) st = cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
    while (!st) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) {
            st = cs_db_sql_fail(db, err, "reading images");
            break;
        }
        int64_t id = sqlite3_column_int64(s, 0);
        if ((size_t)sqlite3_column_bytes(s, 2) != want) {
            st = cs_fail(err, CS_EFORMAT, "%s: image %lld has a vector of the wrong size", db->path,
                         (long long)id);
            break;
        }
        /* copied: the blob is not aligned for float access */
        memcpy(vec, sqlite3_column_blob(s, 2), want);
        if (fn(user, id, (const char *)sqlite3_column_text(s, 1), vec)) break;
    }
    free(vec);
    sqlite3_finalize(s);
    sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL);
    cs_db_unlock(db);
    return st;
}
