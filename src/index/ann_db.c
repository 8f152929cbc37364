/* index/ann_db.c - DB.ann and the catalogue: which index a search may use,
 * keeping the file current after writes, what `info` shows. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/ann.h"
#include "index/ann_build.h"

/* Below this many rows the exact scan stays short (it reads 2 KiB a row,
 * ~100 MB at 50k; the measured times are in docs/performance.md) and an
 * index would only cost build time and some recall; above it the scan
 * grows with the rows and the index does not. */
#define DEFAULT_MIN_ROWS 50000

int64_t cs_ann_min_rows(void) {
    const char *e = getenv("CLIPSEARCH_ANN_MIN_ROWS");
    if (e && *e) {
        char *end;
        long long v = strtoll(e, &end, 10);
        if (*end == '\0' && v >= 0) return v;
    }
    return DEFAULT_MIN_ROWS;
}

char *cs_ann_path(const cs_db *db) {
    size_t n = strlen(db->path);
    char *p = malloc(n + sizeof ".ann");
    if (p) {
        memcpy(p, db->path, n);
        memcpy(p + n, ".ann", sizeof ".ann");
    }
    return p;
}

int cs_db_ann_present(const cs_db *db) {
    char *p = cs_ann_path(db);
    struct stat st;
    int yes = p && stat(p, &st) == 0 && st.st_size > 0;
    free(p);
    return yes;
}

static void uuid_bytes(const char *hex, uint8_t out[16]) {
    for (int i = 0; i < 16; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void ann_unref(cs_ann *a) {
    if (a && atomic_fetch_sub(&a->refs, 1) == 1) cs_ann_close(a);
}

void cs_db_ann_release(cs_db *db, cs_ann *a) {
    (void)db;
    ann_unref(a);
}

void cs_db_drop_ann(cs_db *db) {
    pthread_mutex_lock(&db->ann_lock);
    ann_unref(db->ann);
    db->ann = NULL;
    db->ann_tried = 0;
    pthread_mutex_unlock(&db->ann_lock);
}

/* What identifies the file on disk now (it is replaced by rename). */
static uint64_t file_stamp(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    return (uint64_t)st.st_ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)st.st_size ^
           ((uint64_t)st.st_mtim.tv_nsec << 20) ^ (uint64_t)st.st_mtim.tv_sec;
}

cs_ann *cs_db_ann_for(cs_db *db, const cs_vecs *v) {
    uint64_t gen = v->base ? v->base->generation : v->generation;
    char *path = cs_ann_path(db);
    if (!path) return NULL;
    cs_ann *out = NULL;
    pthread_mutex_lock(&db->ann_lock);
    if (db->ann && db->ann->generation == gen) {
        out = db->ann;
    } else {
        /* looked already at this file for this generation: one stat, not a
         * new map per query (a writer may still be making it) */
        uint64_t stamp = file_stamp(path);
        if (!(db->ann_tried && db->ann_tried_gen == (gen ^ stamp))) {
            db->ann_tried = 1;
            db->ann_tried_gen = gen ^ stamp;
            uint8_t uuid[16];
            uuid_bytes(db->uuid, uuid);
            cs_error e = {0};
            cs_ann *a = NULL;
            cs_ann_state s = cs_ann_open(path, db->dim, uuid, gen, &a, &e);
            if (s == CS_ANN_OK) {
                ann_unref(db->ann);
                db->ann = out = a;
            } else if (s == CS_ANN_STALE) {
                cs_log(&db->log, CS_LOG_WARN,
                       "%s: made for another state of the database: searching by exact scan "
                       "until `clipsearch index` or `clipsearch import` updates it",
                       path);
            } else if (s == CS_ANN_DAMAGED) {
                cs_log(&db->log, CS_LOG_WARN,
                       "%s: searching by exact scan; the next `clipsearch index` or `import` "
                       "rebuilds it",
                       e.message);
            } else if (cs_vecs_count(v) >= cs_ann_min_rows()) {
                cs_log(&db->log, CS_LOG_INFO,
                       "%s: no approximate index yet: searching by exact scan", path);
            }
        }
    }
    if (out) atomic_fetch_add(&out->refs, 1);
    pthread_mutex_unlock(&db->ann_lock);
    free(path);
    return out;
}

void cs_db_ann_info(cs_db *db, cs_ann_info *out) {
    memset(out, 0, sizeof *out);
    out->state = CS_ANN_MISSING;
    uint64_t gen = 0;
    cs_error e;
    cs_db_lock(db);
    cs_status st = cs_db_generation(db, &gen, &e);
    cs_db_unlock(db);
    char *path = cs_ann_path(db);
    if (st || !path) {
        free(path);
        return;
    }
    uint8_t uuid[16];
    uuid_bytes(db->uuid, uuid);
    cs_ann *a = NULL;
    out->state = cs_ann_open(path, db->dim, uuid, gen, &a, &e);
    if (a) {
        out->count = a->count;
        out->nlist = a->nlist;
        out->code_bits = a->code_bits;
        out->bytes = (int64_t)a->map.size;
        cs_ann_close(a);
    }
    free(path);
}

/* Removes temporary files of builds whose process is gone (kill -9):
 * DB.ann.tmp.PID. */
static void remove_dead_temps(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    char prefix[4200];
    int plen = snprintf(prefix, sizeof prefix, "%s.tmp.", base);
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    DIR *d = opendir(*dir ? dir : "/");
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, prefix, (size_t)plen) != 0) continue;
        char *end;
        long pid = strtol(de->d_name + plen, &end, 10);
        if (*end || pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
            char f[8400];
            snprintf(f, sizeof f, "%s/%s", *dir ? dir : "", de->d_name);
            unlink(f);
        }
    }
    closedir(d);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct id_list {
    int64_t id;
    uint32_t list;
} id_list;

static int cmp_id_list(const void *a, const void *b) {
    return cmp_i64(&((const id_list *)a)->id, &((const id_list *)b)->id);
}

/* Ids written since generation `since`, ascending (under the lock). */
static cs_status changed_since(cs_db *db, uint64_t since, int64_t **out, int64_t *n,
                               cs_error *err) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = NULL;
    int64_t cap = 0;
    cs_status st = CS_OK;
    cs_db_lock(db);
    if (sqlite3_prepare_v2(db->sql, "SELECT id FROM images INDEXED BY images_gen WHERE gen > ?", -1,
                           &s, NULL) != SQLITE_OK)
        st = cs_db_sql_fail(db, err, "reading changes");
    if (!st) sqlite3_bind_int64(s, 1, (int64_t)since);
    int rc;
    while (!st && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 1024;
            int64_t *g = realloc(*out, (size_t)cap * sizeof *g);
            if (!g) {
                st = cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
                break;
            }
            *out = g;
        }
        (*out)[(*n)++] = sqlite3_column_int64(s, 0);
    }
    if (!st && rc != SQLITE_DONE) st = cs_db_sql_fail(db, err, "reading changes");
    sqlite3_finalize(s);
    cs_db_unlock(db);
    if (!st && *n) qsort(*out, (size_t)*n, sizeof **out, cmp_i64);
    return st;
}

/* The lists of v's rows from an older index: rows present there and not
 * written since keep their list; the others are assigned to the nearest of
 * its centroids. */
static cs_status reuse_lists(cs_db *db, cs_pool *pool, const cs_ann *old, const cs_vecs *v,
                             uint32_t *list, int64_t *n_assigned, cs_error *err) {
    int64_t *changed = NULL, n_changed = 0;
    cs_status st = changed_since(db, old->generation, &changed, &n_changed, err);
    id_list *pairs = st ? NULL : malloc((size_t)(old->count + 1) * sizeof *pairs);
    int64_t *todo = st ? NULL : malloc((size_t)(v->n + 1) * sizeof *todo);
    uint32_t *got = st ? NULL : malloc((size_t)(v->n + 1) * sizeof *got);
    if (!st && (!pairs || !todo || !got))
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
    int64_t nt = 0;
    if (!st) {
        for (int l = 0; l < old->nlist; l++)
            for (uint64_t e = old->lists[l]; e < old->lists[l + 1]; e++)
                pairs[e] = (id_list){old->ids[e], (uint32_t)l};
        qsort(pairs, (size_t)old->count, sizeof *pairs, cmp_id_list);
        int64_t i = 0, j = 0;
        for (int64_t r = 0; r < v->n; r++) {
            int64_t id = v->ids[r];
            while (i < old->count && pairs[i].id < id) i++;
            while (j < n_changed && changed[j] < id) j++;
            if (i < old->count && pairs[i].id == id && !(j < n_changed && changed[j] == id))
                list[r] = pairs[i].list;
            else
                todo[nt++] = r;
        }
        st =
            cs_ann_assign(pool, v->vectors, todo, nt, v->dim, old->centroids, old->nlist, got, err);
        for (int64_t t = 0; !st && t < nt; t++) list[todo[t]] = got[t];
    }
    *n_assigned = nt;
    free(changed);
    free(pairs);
    free(todo);
    free(got);
    return st;
}

/* Builds or updates the index of plain snapshot v into path. */
static cs_status build(cs_db *db, cs_pool *pool, const char *path, const cs_vecs *v,
                       const cs_ann *old, cs_error *err) {
    int dim = db->dim;
    int64_t n = v->n;
    int retrain = !old || n > 2 * old->trained_count || 2 * n < old->trained_count || !db->has_gen;
    int bits = cs_ann_choose_bits(n, dim, retrain ? 0 : old->code_bits);
    retrain |= old && bits != old->code_bits; /* the ranges are for the old codes */
    int nlist = retrain ? cs_ann_choose_nlist(n) : old->nlist;
    cs_ann_header h = {.dim = (uint32_t)dim,
                       .nlist = (uint32_t)nlist,
                       .code_bits = (uint32_t)bits,
                       .generation = v->generation,
                       .trained_count = retrain ? (uint64_t)n : (uint64_t)old->trained_count};
    uuid_bytes(db->uuid, h.uuid);
    float *cent = malloc((size_t)nlist * dim * sizeof *cent);
    float *sq = malloc(2 * (size_t)dim * sizeof *sq);
    uint32_t *list = malloc((size_t)(n + 1) * sizeof *list);
    cs_status st = CS_OK;
    int64_t assigned = n;
    if (!cent || !sq || !list) {
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
    } else if (retrain) {
        cs_log(&db->log, CS_LOG_INFO, "%s: training %d lists on %lld rows (%d-bit codes)", path,
               nlist, (long long)n, bits);
        st = cs_ann_train(pool, v->vectors, n, dim, nlist, bits, cent, sq, sq + dim, err);
        if (!st) st = cs_ann_assign(pool, v->vectors, NULL, n, dim, cent, nlist, list, err);
    } else {
        memcpy(cent, old->centroids, (size_t)nlist * dim * sizeof *cent);
        memcpy(sq, old->sq_min, 2 * (size_t)dim * sizeof *sq);
        st = reuse_lists(db, pool, old, v, list, &assigned, err);
    }
    if (!st) st = cs_ann_write(path, &h, cent, sq, sq + dim, list, v, err);
    if (!st)
        cs_log(&db->log, CS_LOG_INFO, "%s: %lld rows in %d lists (%lld assigned)", path,
               (long long)n, nlist, (long long)assigned);
    free(cent);
    free(sq);
    free(list);
    return st;
}

cs_status cs_db_update_ann(cs_db *db, cs_pool *pool, cs_error *err) {
    if (db->readonly) return CS_OK;
    char *path = cs_ann_path(db);
    if (!path) return cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
    remove_dead_temps(path);
    /* a plain snapshot of the current vector file (not one caught up from
     * an older base, whose rows are not in id order) */
    cs_db_drop_vectors(db);
    cs_vecs *v = NULL;
    cs_status st = cs_db_vectors_opt(db, 0, &v, err);
    if (st) {
        free(path);
        return st;
    }
    if (v->n < cs_ann_min_rows()) {
        if (unlink(path) == 0)
            cs_log(&db->log, CS_LOG_INFO, "%s: removed (%lld rows: the exact scan is fast)", path,
                   (long long)v->n);
    } else {
        uint8_t uuid[16];
        uuid_bytes(db->uuid, uuid);
        cs_ann *old = NULL;
        cs_error e;
        if (cs_ann_open(path, db->dim, NULL, 0, &old, &e) == CS_ANN_OK &&
            (memcmp(old->uuid, uuid, 16) != 0 || old->generation > v->generation)) {
            cs_ann_close(old); /* another database's (or a restored one's): start afresh */
            old = NULL;
        }
        if (!old || old->generation != v->generation) st = build(db, pool, path, v, old, err);
        cs_ann_close(old);
    }
    cs_vecs_release(v);
    free(path);
    return st;
}

cs_status cs_db_finish(cs_db *db, cs_pool *pool, cs_error *err) {
    cs_status st = cs_db_write_vectors(db, err);
    return st ? st : cs_db_update_ann(db, pool, err);
}
