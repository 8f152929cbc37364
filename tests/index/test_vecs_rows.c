/* tests/index/test_vecs_rows.c - cs_vecs_read_rows (index/db_internal.h):
 * the rows it copies are the snapshot's rows, byte for byte, whether the
 * snapshot was read from SQLite (copied from memory) or mapped from the
 * vector file (read with pread() on the map's own descriptor), in any
 * order, first and last rows included. A test of the bytes: the search's
 * re-rank scores whatever this returns. */
#include <unistd.h>

#include "index/db_internal.h"
#include "test.h"
#include "synth_rows.h"

#define DIM  24
#define ROWS 300

static void check_rows(const cs_vecs *v, const char *what) {
    const int64_t rows[] = {0, ROWS - 1, 17, 17, 128, 1, 255, 42, 299, 3, 77, 200, 5, 6, 7, 8, 9};
    int n = (int)(sizeof rows / sizeof rows[0]);
    float *out = malloc((size_t)n * DIM * sizeof *out);
    CHECK(out != NULL);
    if (!out) return;
    memset(out, 0xff, (size_t)n * DIM * sizeof *out);
    cs_vecs_read_rows(v, rows, n, out);
    for (int i = 0; i < n; i++)
        CHECK_MSG(memcmp(out + (size_t)i * DIM, v->vectors + rows[i] * DIM, DIM * sizeof(float)) ==
                      0,
                  "%s: row %lld differs", what, (long long)rows[i]);
    free(out);
}

int main(void) {
    const char *dir = cs_test_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    cs_error err;
    cs_db *db = NULL;
    cs_db_opts o = {
        .model_id = "test-model", .dim = DIM, .model_name = "test", .flags = CS_DB_CREATE};
    CHECK_OK(cs_db_open(path, &o, &db, &err), &err);
    if (!db) return cs_test_done("index.vecs_rows");
    cs_test_rows rows;
    cs_test_rows_make(&rows, ROWS, DIM);
    CHECK_OK(cs_db_put(db, rows.e, ROWS, &err), &err);

    cs_vecs *v = NULL;
    CHECK_OK(cs_db_vectors(db, &v, &err), &err);
    CHECK(v && v->source == VECS_SQL && v->n == ROWS);
    if (v) check_rows(v, "from SQLite");
    cs_vecs_release(v);

    CHECK_OK(cs_db_write_vectors(db, &err), &err);
    cs_db_close(db);
    o.flags = CS_DB_READONLY;
    db = NULL;
    CHECK_OK(cs_db_open(path, &o, &db, &err), &err);
    v = NULL;
    if (db) CHECK_OK(cs_db_vectors(db, &v, &err), &err);
    CHECK(v && v->source == VECS_FILE && v->n == ROWS && v->fd >= 0);
    if (v && v->source == VECS_FILE) check_rows(v, "from the vector file");
    cs_vecs_release(v);
    cs_db_close(db);
    cs_test_rows_free(&rows);
    return cs_test_done("index.vecs_rows");
}
