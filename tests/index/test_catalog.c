/* The catalogue without a model: create, reopen, model mismatch, reset,
 * transactions, upserts, lookups, search against a brute-force ranking in
 * double precision, the vector file and its staleness, iteration, and
 * concurrent readers while a writer commits. Vectors are synthetic. */
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/db_internal.h"
#include "index/content_hash.h"
#include "test.h"

#define DIM 8
#define N   200

static float vecs[N][DIM];
static char paths[N][64];

/* A deterministic pseudo-random vector per row (not normalised: the
 * catalogue must normalise on the way in). */
static void make_rows(void) {
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < DIM; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            vecs[i][j] = (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1) * (1 + i % 3);
        }
        snprintf(paths[i], sizeof paths[i], "/photos/img%03d.jpg", i);
    }
}

static cs_db_entry entry(int i) {
    cs_db_entry e = {.path = paths[i],
                     .size = 1000 + i,
                     .mtime_ns = 5000 + i,
                     .width = 10 + i,
                     .height = 20 + i,
                     .embedding = vecs[i]};
    cs_hash128(paths[i], strlen(paths[i]), e.hash);
    return e;
}

/* The expected ranking: cosine in double, best first, ties by lower index. */
static double cosine(const float *a, const float *b) {
    double ab = 0, aa = 0, bb = 0;
    for (int j = 0; j < DIM; j++)
        ab += (double)a[j] * b[j], aa += (double)a[j] * a[j], bb += (double)b[j] * b[j];
    return ab / sqrt(aa * bb);
}

static int expected_rank(const float *q, int *order, const int *skip, int n_skip) {
    int n = 0;
    for (int i = 0; i < N; i++) {
        int skipped = 0;
        for (int s = 0; s < n_skip; s++) skipped |= skip[s] == i;
        if (!skipped) order[n++] = i;
    }
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && cosine(vecs[order[b]], q) > cosine(vecs[order[b - 1]], q); b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    return n;
}

static cs_db *open_db(const char *path, const char *model, int dim, int flags, cs_error *err) {
    cs_db_opts o = {.model_id = model, .dim = dim, .model_name = "test-model", .flags = flags};
    cs_db *db = NULL;
    if (cs_db_open(path, &o, &db, err) != CS_OK) return NULL;
    return db;
}

static void test_open_and_mismatch(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/sub/folder/a.db", dir);
    cs_error err;
    cs_db *db = open_db(path, "model-A", DIM, CS_DB_READONLY, &err);
    CHECK(!db && err.status == CS_ENOTFOUND);
    db = open_db(path, NULL, 0, CS_DB_CREATE, &err);
    CHECK(!db && err.status == CS_EINVAL); /* creating needs a model */
    db = open_db(path, "model-A", DIM, CS_DB_CREATE, &err);
    CHECK_MSG(db != NULL, "%s", err.message);
    if (!db) return;
    cs_db_entry e[3] = {entry(0), entry(1), entry(2)};
    CHECK_OK(cs_db_put(db, e, 3, &err), &err);
    cs_db_close(db);

    /* another model is refused, with both models named */
    db = open_db(path, "model-B", DIM, 0, &err);
    CHECK(!db && err.status == CS_EMISMATCH);
    CHECK_MSG(strstr(err.message, "model-A") && strstr(err.message, "model-B"), "%s", err.message);
    db = open_db(path, "model-A", DIM + 1, 0, &err);
    CHECK(!db && err.status == CS_EMISMATCH);

    /* no model: opens whatever it holds */
    db = open_db(path, NULL, 0, CS_DB_READONLY, &err);
    CHECK_MSG(db != NULL, "%s", err.message);
    cs_db_info info;
    if (db) {
        CHECK_OK(cs_db_get_info(db, &info, &err), &err);
        CHECK_EQ_INT(info.count, 3);
        CHECK_EQ_INT(info.dim, DIM);
        CHECK(!strcmp(info.model_id, "model-A"));
        CHECK(!strcmp(info.model_name, "test-model"));
        CHECK(info.size_bytes > 0);
        /* read-only: writes refused */
        CHECK(cs_db_put(db, e, 1, &err) == CS_EINVAL);
        cs_db_close(db);
    }

    /* reset re-binds to the new model and empties it */
    db = open_db(path, "model-B", 4, CS_DB_RESET, &err);
    CHECK_MSG(db != NULL, "%s", err.message);
    if (db) {
        CHECK_OK(cs_db_get_info(db, &info, &err), &err);
        CHECK_EQ_INT(info.count, 0);
        CHECK_EQ_INT(info.dim, 4);
        CHECK(!strcmp(info.model_id, "model-B"));
        cs_db_close(db);
    }

    /* a file that is not a database */
    snprintf(path, sizeof path, "%s/junk.db", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not sqlite at all, not even close ................................", f);
    fclose(f);
    db = open_db(path, "model-A", DIM, 0, &err);
    CHECK(!db && err.status == CS_EFORMAT);
    CHECK_MSG(strstr(err.message, "junk.db") != NULL, "%s", err.message);
}

static void test_rows(cs_db *db) {
    cs_error err;
    /* a batch with one bad entry stores nothing */
    cs_db_entry bad[2] = {entry(0), entry(1)};
    bad[1].embedding = NULL;
    CHECK(cs_db_put(db, bad, 2, &err) == CS_EINVAL);
    cs_db_info info;
    CHECK_OK(cs_db_get_info(db, &info, &err), &err);
    CHECK_EQ_INT(info.count, 0);

    cs_db_entry all[N];
    for (int i = 0; i < N; i++) all[i] = entry(i);
    CHECK_OK(cs_db_put(db, all, N, &err), &err);
    /* upsert by path: same id, new values, no duplicate */
    int64_t id5;
    CHECK_OK(cs_db_find(db, "/photos/img005.jpg", &id5, &err), &err);
    cs_db_entry again = entry(5);
    again.width = 999;
    CHECK_OK(cs_db_put(db, &again, 1, &err), &err);
    int64_t id5b;
    CHECK_OK(cs_db_find(db, "/photos/./img005.jpg", &id5b, &err), &err);
    CHECK_EQ_INT(id5, id5b);
    CHECK_OK(cs_db_get_info(db, &info, &err), &err);
    CHECK_EQ_INT(info.count, N);

    cs_db_image img;
    CHECK_OK(cs_db_get(db, id5, &img, &err), &err);
    CHECK(img.path && !strcmp(img.path, "/photos/img005.jpg"));
    CHECK_EQ_INT(img.width, 999);
    CHECK_EQ_INT(img.height, 25);
    CHECK_EQ_INT(img.size, 1005);
    CHECK_EQ_INT(img.mtime_ns, 5005);
    CHECK(!memcmp(img.hash, again.hash, 16));
    cs_db_image_clear(&img);
    CHECK(cs_db_get(db, 999999, &img, &err) == CS_ENOTFOUND);
    int64_t none;
    CHECK(cs_db_find(db, "/photos/nope.jpg", &none, &err) == CS_ENOTFOUND);

    /* stored vectors are normalised */
    float v[DIM];
    CHECK_OK(cs_db_get_vector(db, id5, v, &err), &err);
    double ss = 0;
    for (int j = 0; j < DIM; j++) ss += (double)v[j] * v[j];
    CHECK(fabs(ss - 1) < 1e-5);
    CHECK(cosine(v, vecs[5]) > 0.99999);
}

static int count_rows(void *user, int64_t id, const char *path, const float *vec) {
    int64_t *state = user; /* [0] count, [1] last id, [2] order errors */
    if (id <= state[1]) state[2]++;
    int i = atoi(path + strlen("/photos/img"));
    if (cosine(vec, vecs[i]) < 0.99999) state[2]++;
    state[1] = id;
    state[0]++;
    return 0;
}

static void check_search(cs_db *db, int qi, int k, const int *skip, int n_skip,
                         const cs_search_opts *opts) {
    cs_error err;
    cs_result *r = NULL;
    int n = 0;
    CHECK_OK(cs_db_search(db, vecs[qi], opts, &r, &n, &err), &err);
    int order[N];
    int m = expected_rank(vecs[qi], order, skip, n_skip);
    int want = k < m ? k : m;
    if (opts && opts->use_threshold) {
        want = 0;
        while (want < k && want < m && cosine(vecs[order[want]], vecs[qi]) >= opts->threshold)
            want++;
    }
    CHECK_EQ_INT(n, want);
    for (int i = 0; i < n && i < want; i++) {
        CHECK_MSG(!strcmp(r[i].path, paths[order[i]]), "rank %d: %s, want %s", i, r[i].path,
                  paths[order[i]]);
        CHECK(fabs(r[i].score - cosine(vecs[order[i]], vecs[qi])) < 1e-5);
    }
    cs_results_free(r, n);
}

static void test_search(cs_db *db) {
    cs_error err;
    check_search(db, 7, 10, NULL, 0, NULL); /* default k = 10 */
    cs_search_opts o = {.k = 25};
    check_search(db, 42, 25, NULL, 0, &o);
    o.k = 1000;
    check_search(db, 3, 1000, NULL, 0, &o);
    /* exclusions by id and by path */
    int64_t id7, id9;
    CHECK_OK(cs_db_find(db, paths[7], &id7, &err), &err);
    CHECK_OK(cs_db_find(db, paths[9], &id9, &err), &err);
    const char *ex_paths[] = {paths[9], "/not/indexed.jpg"};
    o = (cs_search_opts){.k = 5,
                         .exclude_ids = &id7,
                         .n_exclude_ids = 1,
                         .exclude_paths = ex_paths,
                         .n_exclude_paths = 2};
    int skip[] = {7, 9};
    check_search(db, 7, 5, skip, 2, &o);
    /* threshold */
    o = (cs_search_opts){.k = 50, .use_threshold = 1, .threshold = 0.5f};
    check_search(db, 11, 50, NULL, 0, &o);
    /* similar: the image itself is excluded */
    cs_result *r;
    int n;
    o = (cs_search_opts){.k = 4};
    CHECK_OK(cs_db_similar(db, id7, &o, &r, &n, &err), &err);
    int order[N];
    int skip7[] = {7};
    expected_rank(vecs[7], order, skip7, 1);
    CHECK_EQ_INT(n, 4);
    for (int i = 0; i < n; i++) CHECK(!strcmp(r[i].path, paths[order[i]]));
    cs_results_free(r, n);

    int64_t state[3] = {0, -1, 0};
    CHECK_OK(cs_db_foreach(db, count_rows, state, &err), &err);
    CHECK_EQ_INT(state[0], N);
    CHECK_EQ_INT(state[2], 0);
}

static void test_vector_file(const char *path) {
    cs_error err;
    char vpath[600];
    snprintf(vpath, sizeof vpath, "%s.vectors", path);
    cs_db *w = open_db(path, "model-A", DIM, 0, &err);
    CHECK_OK(cs_db_write_vectors(w, &err), &err);
    struct stat st;
    CHECK(stat(vpath, &st) == 0);

    /* a fresh read-only handle maps the file */
    cs_db *r = open_db(path, "model-A", DIM, CS_DB_READONLY, &err);
    cs_vecs *v = NULL;
    CHECK_OK(cs_db_vectors(r, &v, &err), &err);
    CHECK(v && v->map.data != NULL && v->n == N);
    cs_vecs_release(v);

    /* the writer removes a row: the reader's next search sees it gone
     * (the file is stale, so it reads SQLite and, read-only, leaves the file) */
    const char *gone[] = {paths[7]};
    CHECK_OK(cs_db_remove(w, gone, 1, &err), &err);
    CHECK_OK(cs_db_vectors(r, &v, &err), &err);
    CHECK(v && v->map.data == NULL && cs_vecs_count(v) == N - 1);
    cs_vecs_release(v);
    cs_result *res;
    int n;
    cs_search_opts o = {.k = 1};
    CHECK_OK(cs_db_search(r, vecs[7], &o, &res, &n, &err), &err);
    CHECK(n == 1 && strcmp(res[0].path, paths[7]) != 0);
    cs_results_free(res, n);

    /* a corrupt file (right header, wrong size) is not trusted */
    CHECK_OK(cs_db_write_vectors(w, &err), &err);
    CHECK(truncate(vpath, st.st_size - 4) == 0);
    cs_db_close(r);
    r = open_db(path, "model-A", DIM, CS_DB_READONLY, &err);
    CHECK_OK(cs_db_vectors(r, &v, &err), &err);
    CHECK(v && v->map.data == NULL && v->n == N - 1);
    cs_vecs_release(v);
    cs_db_close(r);
    /* a fresh writable handle repairs it */
    cs_db_close(w);
    w = open_db(path, "model-A", DIM, 0, &err);
    CHECK_OK(cs_db_vectors(w, &v, &err), &err);
    cs_vecs_release(v);
    r = open_db(path, "model-A", DIM, CS_DB_READONLY, &err);
    CHECK_OK(cs_db_vectors(r, &v, &err), &err);
    CHECK(v && v->map.data != NULL && v->n == N - 1);
    cs_vecs_release(v);
    cs_db_close(r);
    cs_db_entry back = entry(7);
    CHECK_OK(cs_db_put(w, &back, 1, &err), &err);
    cs_db_close(w);
}

/* A long-lived reader catches up with another handle's writes by reading
 * only the changed rows: after inserts, replaced vectors, removals and a
 * removed-then-re-added path, its snapshot equals a full load. */
static void same_vectors(const cs_vecs *changes, const cs_vecs *b) {
    cs_vecs *a = cs_vecs_flatten(changes);
    CHECK(a != NULL);
    if (!a) return;
    CHECK_EQ_INT(a->n, b->n);
    if (a->n == b->n) {
        CHECK(!memcmp(a->ids, b->ids, (size_t)a->n * sizeof *a->ids));
        CHECK(!memcmp(a->vectors, b->vectors, (size_t)a->n * a->dim * sizeof(float)));
    }
    cs_vecs_release(a);
}

/* Both handles give the same top 30 for a few queries (ids and scores). */
static void same_results(cs_db *x, cs_db *y) {
    cs_error err;
    cs_search_opts o = {.k = 30};
    for (int qi = 0; qi < N; qi += 37) {
        cs_result *rx = NULL, *ry = NULL;
        int nx = 0, ny = 0;
        CHECK_OK(cs_db_search(x, vecs[qi], &o, &rx, &nx, &err), &err);
        CHECK_OK(cs_db_search(y, vecs[qi], &o, &ry, &ny, &err), &err);
        CHECK_EQ_INT(nx, ny);
        for (int i = 0; i < nx && i < ny; i++)
            CHECK_MSG(rx[i].id == ry[i].id && fabsf(rx[i].score - ry[i].score) < 1e-6f,
                      "query %d rank %d: %lld vs %lld", qi, i, (long long)rx[i].id,
                      (long long)ry[i].id);
        cs_results_free(rx, nx);
        cs_results_free(ry, ny);
    }
}

static void test_incremental(const char *path) {
    cs_error err;
    cs_db *w = open_db(path, "model-A", DIM, 0, &err);
    cs_db *r = open_db(path, "model-A", DIM, CS_DB_READONLY, &err);
    cs_vecs *v = NULL, *full = NULL;
    CHECK_OK(cs_db_vectors(r, &v, &err), &err);
    cs_vecs_release(v);
    static const char *const added[] = {"/new/a.jpg", "/new/b.jpg", "/new/c.jpg"};
    for (int round = 0; round < 3; round++) {
        cs_db_entry e[3] = {entry(10 + round), entry(20 + round), entry(30)};
        float other[DIM]; /* same path, a new vector (no exact twin: no ties) */
        for (int j = 0; j < DIM; j++) other[j] = vecs[50 + round][j] + 0.25f * (float)j;
        e[0].embedding = other;
        e[1].path = added[round]; /* a new path */
        CHECK_OK(cs_db_put(w, e, 2, &err), &err);
        const char *gone[] = {paths[60 + round], added[0]};
        CHECK_OK(cs_db_remove(w, gone, round == 2 ? 2 : 1, &err), &err);
        if (round == 1) CHECK_OK(cs_db_put(w, &e[2], 1, &err), &err); /* rewritten as it was */
        if (round == 2) { /* removed, then back under the same path */
            cs_db_entry back = entry(61);
            CHECK_OK(cs_db_put(w, &back, 1, &err), &err);
        }
        CHECK_OK(cs_db_vectors(r, &v, &err), &err);
        CHECK_MSG(v && v->source == VECS_CHANGES, "round %d: source %d", round,
                  v ? (int)v->source : -1);
        /* the file is stale (nobody rewrote it): a fresh reader loads it all */
        cs_db *fresh = open_db(path, "model-A", DIM, CS_DB_READONLY, &err);
        CHECK_OK(cs_db_vectors(fresh, &full, &err), &err);
        CHECK(full && full->source == VECS_SQL);
        if (v && full) same_vectors(v, full);
        same_results(r, fresh);
        cs_vecs_release(v);
        cs_vecs_release(full);
        cs_db_close(fresh);
    }
    cs_db_close(r);
    cs_db_close(w);
}

/* Readers search while a writer commits: no errors, every result valid. */
typedef struct reader_ctx {
    cs_db *db;
    int failures;
} reader_ctx;

static void *reader(void *arg) {
    reader_ctx *c = arg;
    for (int i = 0; i < 60; i++) {
        cs_error err;
        cs_result *r;
        int n;
        cs_search_opts o = {.k = 3};
        if (cs_db_search(c->db, vecs[i % N], &o, &r, &n, &err) != CS_OK || n != 3)
            c->failures++;
        else
            cs_results_free(r, n);
        cs_db_image img;
        int64_t id;
        if (cs_db_find(c->db, paths[(i * 7) % N], &id, &err) == CS_OK &&
            cs_db_get(c->db, id, &img, &err) == CS_OK)
            cs_db_image_clear(&img);
    }
    return NULL;
}

static void test_concurrency(const char *path) {
    cs_error err;
    cs_db *db = open_db(path, "model-A", DIM, 0, &err);
    pthread_t t[3];
    reader_ctx c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = (reader_ctx){db, 0};
        pthread_create(&t[i], NULL, reader, &c[i]);
    }
    for (int i = 0; i < 20; i++) {
        cs_db_entry e = entry(i);
        e.width = 100 + i;
        CHECK_OK(cs_db_put(db, &e, 1, &err), &err);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(c[i].failures, 0);
    }
    cs_db_close(db);
}

static void test_hash(void) {
    uint8_t buf[300], h[16], h2[16], seen[301][16];
    for (int i = 0; i < 300; i++) buf[i] = (uint8_t)(i * 31 + 7);
    /* every length gives a different hash, and the same bytes the same hash */
    for (int len = 0; len <= 300; len++) {
        cs_hash128(buf, (size_t)len, seen[len]);
        cs_hash128(buf, (size_t)len, h2);
        CHECK(!memcmp(seen[len], h2, 16));
        for (int j = 0; j < len; j++) CHECK(memcmp(seen[j], seen[len], 16) != 0);
    }
    /* one flipped bit anywhere changes both halves */
    cs_hash128(buf, sizeof buf, h);
    for (int bit = 0; bit < 300 * 8; bit += 13) {
        buf[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        cs_hash128(buf, sizeof buf, h2);
        CHECK(memcmp(h, h2, 8) != 0 && memcmp(h + 8, h2 + 8, 8) != 0);
        buf[bit / 8] ^= (uint8_t)(1 << (bit % 8));
    }
    /* in pieces of any sizes, the same hash as in one piece */
    for (int len = 0; len <= 300; len += 7) {
        for (int piece = 1; piece <= 70; piece += 3) {
            cs_hash128_state s;
            cs_hash128_init(&s);
            for (int at = 0; at < len; at += piece)
                cs_hash128_update(&s, buf + at, (size_t)(at + piece <= len ? piece : len - at));
            cs_hash128_final(&s, h2);
            CHECK(!memcmp(seen[len], h2, 16));
        }
    }
}

int main(void) {
    make_rows();
    const char *dir = cs_test_tmpdir();
    test_hash();
    test_open_and_mismatch(dir);
    char path[512];
    snprintf(path, sizeof path, "%s/cat.db", dir);
    cs_error err;
    cs_db *db = open_db(path, "model-A", DIM, CS_DB_CREATE, &err);
    CHECK_MSG(db != NULL, "%s", err.message);
    if (db) {
        test_rows(db);
        test_search(db);
        cs_db_close(db);
        test_vector_file(path);
        test_incremental(path);
        test_concurrency(path);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return cs_test_done("index.catalog");
}
