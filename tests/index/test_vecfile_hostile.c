/* tests/index/test_vecfile_hostile.c - a crafted or damaged DB.vectors never
 * crashes a search and never changes its answer:
 *  - header fields whose sizes overflow (a count that wraps
 *    vectors_offset + count * dim * 4 to the file's size), offsets that point
 *    elsewhere, ids out of order: the file is not used, results come from
 *    SQLite;
 *  - NaN, infinite or scaled rows under an intact header: found while
 *    scanning, the file is distrusted with a warning, the search runs again
 *    on SQLite and returns the full k with finite scores;
 *  - the same damage in SQLite itself: an error naming the database.
 * The reference is the same search on the database with no vector file. */
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/db_internal.h"
#include "test.h"

#define DIM  16
#define ROWS 40
#define K    10

static char db_path[512], vec_path[600];
static int warnings;

static void count_warn(void *user, cs_log_level level, const char *msg) {
    (void)user, (void)msg;
    if (level == CS_LOG_WARN) warnings++;
}

static cs_db *open_db(int flags) {
    cs_db_opts o = {.model_id = "m", .dim = DIM, .flags = flags, .log = count_warn};
    cs_db *db = NULL;
    cs_error err;
    CHECK_OK(cs_db_open(db_path, &o, &db, &err), &err);
    return db;
}

static void query(float *q) {
    for (int j = 0; j < DIM; j++) q[j] = (float)(j % 5) - 2;
}

/* The top K of a read-only search; returns how many, ids and scores out. */
static int search(int64_t *ids, float *scores, cs_status *status) {
    cs_db *db = open_db(CS_DB_READONLY);
    if (!db) return -1;
    float q[DIM];
    query(q);
    cs_search_opts so = {.k = K};
    cs_result *res = NULL;
    int n = 0;
    cs_error err;
    *status = cs_db_search(db, q, &so, &res, &n, &err);
    for (int i = 0; i < n; i++) {
        ids[i] = res[i].id;
        scores[i] = res[i].score;
    }
    cs_results_free(res, n);
    cs_db_close(db);
    return n;
}

static void write_at(uint64_t off, const void *p, size_t n) {
    FILE *f = fopen(vec_path, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, (long)off, SEEK_SET);
    fwrite(p, 1, n, f);
    fclose(f);
}

static char *good;
static size_t good_size;

static void restore(void) {
    FILE *f = fopen(vec_path, "wb");
    fwrite(good, 1, good_size, f);
    fclose(f);
}

int main(void) {
    snprintf(db_path, sizeof db_path, "%s/c.db", cs_test_tmpdir());
    snprintf(vec_path, sizeof vec_path, "%s.vectors", db_path);
    cs_db *db = open_db(CS_DB_CREATE);
    if (!db) return cs_test_done("index.vecfile_hostile");
    static float emb[ROWS][DIM];
    cs_db_entry e[ROWS];
    char names[ROWS][32];
    for (int i = 0; i < ROWS; i++) {
        snprintf(names[i], 32, "/img/%03d.jpg", i);
        for (int j = 0; j < DIM; j++) emb[i][j] = sinf((float)(i * DIM + j));
        e[i] = (cs_db_entry){.path = names[i], .size = i + 1, .embedding = emb[i]};
        e[i].hash[0] = (uint8_t)i;
    }
    cs_error err;
    CHECK_OK(cs_db_put(db, e, ROWS, &err), &err);
    cs_db_close(db);

    /* the reference: no vector file (read-only: none is written) */
    int64_t ref_ids[K], ids[K];
    float ref_scores[K], scores[K];
    cs_status st;
    CHECK(search(ref_ids, ref_scores, &st) == K && st == CS_OK);
    /* the writer makes the file */
    db = open_db(0);
    CHECK_OK(cs_db_write_vectors(db, &err), &err);
    cs_db_close(db);
    good = cs_test_read(vec_path, &good_size);
    CHECK(good != NULL && good_size > 64);
    if (!good) return cs_test_done("index.vecfile_hostile");

    /* the header: count, dim, offsets, the ids; each alone */
    struct {
        const char *what;
        uint64_t off;
        uint64_t value;
        size_t n;
    } hdr[] = {
        {"count wrapping the size check", 16, (1ull << 62) + ROWS, 8},
        {"count 2^61", 16, 1ull << 61, 8},
        {"count + 1", 16, ROWS + 1, 8},
        {"count - 1", 16, ROWS - 1, 8},
        {"count -1", 16, UINT64_MAX, 8},
        {"dim 0", 12, 0, 4},
        {"dim 2^30", 12, 1u << 30, 4},
        {"ids offset", 48, 8, 8},
        {"vectors offset past the end", 56, UINT64_MAX - 63, 8},
        {"vectors offset 0", 56, 0, 8},
        {"version", 8, 2, 4},
        {"ids out of order", 64, INT64_MAX, 8},
        {"ids repeated", 64 + 8, 1, 8},
    };
    for (size_t t = 0; t < sizeof hdr / sizeof *hdr; t++) {
        restore();
        write_at(hdr[t].off, &hdr[t].value, hdr[t].n);
        int n = search(ids, scores, &st);
        CHECK_MSG(n == K && st == CS_OK && !memcmp(ids, ref_ids, sizeof ids) &&
                      !memcmp(scores, ref_scores, sizeof scores),
                  "%s: %d results, status %d", hdr[t].what, n, st);
    }
    /* truncated and grown */
    for (int cut = 1; cut <= 64; cut *= 4) {
        restore();
        CHECK(truncate(vec_path, (off_t)(good_size - (size_t)cut)) == 0);
        CHECK(search(ids, scores, &st) == K && st == CS_OK && !memcmp(ids, ref_ids, sizeof ids));
    }
    restore();
    CHECK(truncate(vec_path, (off_t)good_size + 4096) == 0);
    CHECK(search(ids, scores, &st) == K && st == CS_OK && !memcmp(ids, ref_ids, sizeof ids));

    /* rows: NaN, infinity, a scaled row, under an intact header */
    const uint64_t voff = ((64 + ROWS * 8) + 63) & ~63ull;
    float bad_values[] = {NAN, INFINITY, -INFINITY, 1e30f};
    for (size_t b = 0; b < sizeof bad_values / sizeof *bad_values; b++) {
        restore();
        for (int r = 0; r < ROWS; r += 7) /* several rows, one value each */
            write_at(voff + ((uint64_t)r * DIM + 3) * 4, &bad_values[b], 4);
        warnings = 0;
        int n = search(ids, scores, &st);
        CHECK_MSG(n == K && st == CS_OK, "bad value %g: %d results, status %d",
                  (double)bad_values[b], n, st);
        for (int i = 0; i < n; i++) CHECK(isfinite(scores[i]) && fabsf(scores[i]) <= 1.01f);
        CHECK_MSG(!memcmp(ids, ref_ids, sizeof ids), "bad value %g: other results",
                  (double)bad_values[b]);
        CHECK_MSG(warnings == 1, "bad value %g: %d warnings", (double)bad_values[b], warnings);
    }
    /* a whole row scaled by 100: scores far above 1 */
    restore();
    float big[DIM];
    for (int j = 0; j < DIM; j++) big[j] = 100 * emb[5][j];
    write_at(voff + 5ull * DIM * 4, big, sizeof big);
    CHECK(search(ids, scores, &st) == K && st == CS_OK && !memcmp(ids, ref_ids, sizeof ids));

    /* a writer repairs the file: the next index run (here: write_vectors
     * after the snapshot was distrusted) rewrites it from SQLite */
    db = open_db(0);
    float q[DIM];
    query(q);
    cs_search_opts so = {.k = K};
    cs_result *res = NULL;
    int n = 0;
    CHECK_OK(cs_db_search(db, q, &so, &res, &n, &err), &err);
    cs_results_free(res, n);
    cs_db_close(db);
    size_t size = 0;
    char *now = cs_test_read(vec_path, &size);
    CHECK_MSG(now && size == good_size && !memcmp(now, good, size), "the writer repaired the file");
    free(now);

    /* damage in SQLite itself: an error, not a shorter list */
    restore();
    unlink(vec_path);
    {
        sqlite3 *s = NULL;
        CHECK(sqlite3_open(db_path, &s) == SQLITE_OK);
        float nanrow[DIM];
        for (int j = 0; j < DIM; j++) nanrow[j] = NAN;
        sqlite3_stmt *u = NULL;
        CHECK(sqlite3_prepare_v2(s, "UPDATE images SET embedding = ? WHERE id = 4", -1, &u, NULL) ==
              SQLITE_OK);
        sqlite3_bind_blob(u, 1, nanrow, sizeof nanrow, SQLITE_STATIC);
        CHECK(sqlite3_step(u) == SQLITE_DONE);
        sqlite3_finalize(u);
        sqlite3_close(s);
    }
    n = search(ids, scores, &st);
    CHECK_MSG(st == CS_EFORMAT, "NaN rows in SQLite: status %d, %d results", st, n);
    free(good);
    return cs_test_done("index.vecfile_hostile");
}
