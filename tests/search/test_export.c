/* tests/search/test_export.c - `clipsearch export --faiss`: a catalogue made
 * with cs_db_put is exported by the program; the index holds the stored
 * vectors in id order, OUT.paths their paths, and Python's faiss with the
 * Python tutorial's loading code finds the neighbours cs_search_flat finds. */
#include <math.h>
#include <sys/wait.h>

#include "test.h"

enum { N = 60, DIM = 24 };

static int run(const char *cmd) {
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct stored {
    float v[N * DIM];
    char paths[N][64];
    int n;
} stored;

static int collect(void *user, int64_t id, const char *path, const float *vector) {
    (void)id;
    stored *s = user;
    if (s->n < N) {
        memcpy(s->v + s->n * DIM, vector, sizeof(float) * DIM);
        snprintf(s->paths[s->n], sizeof s->paths[0], "%s", path);
    }
    s->n++;
    return 0;
}

int main(void) {
    const char *prog = getenv("CLIPSEARCH");
    if (!prog) {
        printf("SKIP: $CLIPSEARCH is not set\n");
        return 77;
    }
    const char *dir = cs_test_tmpdir();
    char db_path[512], out[512], cmd[4096];
    snprintf(db_path, sizeof db_path, "%s/catalog.db", dir);
    snprintf(out, sizeof out, "%s/photos.faiss", dir);

    /* a catalogue of N random rows, as a caller that embeds itself writes it */
    cs_error err = {0};
    cs_db_opts opts = {.model_id = "test-model", .dim = DIM, .flags = CS_DB_CREATE};
    cs_db *db = NULL;
    CHECK_OK(cs_db_open(db_path, &opts, &db, &err), &err);
    if (!db) return cs_test_done("export");
    static float raw[N * DIM];
    static char names[N][64];
    cs_db_entry e[N];
    uint32_t seed = 12345;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < DIM; j++) {
            seed = seed * 1664525u + 1013904223u;
            raw[i * DIM + j] = (float)(seed >> 8) / 8388608.0f - 1.0f;
        }
        snprintf(names[i], sizeof names[i], i % 5 ? "/photos/img_%03d.jpg" : "/photos/a b %d.png",
                 i);
        e[i] = (cs_db_entry){.path = names[i],
                             .size = 1000 + i,
                             .mtime_ns = i,
                             .width = 10,
                             .height = 10,
                             .embedding = raw + i * DIM};
        e[i].hash[0] = (uint8_t)i;
        e[i].hash[1] = 7;
    }
    CHECK_OK(cs_db_put(db, e, N, &err), &err);
    stored s = {.n = 0};
    CHECK_OK(cs_db_foreach(db, collect, &s, &err), &err);
    CHECK_EQ_INT(s.n, N);
    cs_db_close(db);

    snprintf(cmd, sizeof cmd, "'%s' export --faiss '%s' --db '%s'", prog, out, db_path);
    CHECK_EQ_INT(run(cmd), 0);
    cs_faiss_index *ix = NULL;
    CHECK_OK(cs_faiss_open(out, &ix, &err), &err);
    if (ix) {
        CHECK_EQ_INT(cs_faiss_ntotal(ix), N);
        CHECK_EQ_INT(cs_faiss_dim(ix), DIM);
        static float back[N * DIM];
        int64_t ids[N];
        CHECK_OK(cs_faiss_read_vectors(ix, back, ids, &err), &err);
        CHECK(memcmp(back, s.v, sizeof back) == 0); /* the stored vectors, in id order */
        for (int i = 0; i < N; i++) CHECK_EQ_INT(ids[i], i);
        cs_faiss_close(ix);
    }
    char **paths = NULL;
    int64_t n_paths = 0;
    CHECK_OK(cs_faiss_read_paths(out, &paths, &n_paths, &err), &err);
    CHECK_EQ_INT(n_paths, N);
    for (int64_t i = 0; i < n_paths && i < N; i++) CHECK(strcmp(paths[i], s.paths[i]) == 0);
    cs_faiss_paths_free(paths, n_paths);

    /* the Python tutorial's code on our export: same neighbours as cs_search_flat */
    if (run("/usr/bin/python3 -c 'import faiss, numpy' 2>/dev/null") == 0) {
        const char *src = getenv("CS_SOURCE_DIR");
        char qpath[600], vpath[600], res[600];
        snprintf(qpath, sizeof qpath, "%s/q.f32", dir);
        snprintf(vpath, sizeof vpath, "%s/v.f32", dir);
        snprintf(res, sizeof res, "%s/res.txt", dir);
        FILE *f = fopen(qpath, "wb");
        fwrite(s.v + 7 * DIM, sizeof(float), DIM, f); /* row 7 as the query */
        fclose(f);
        f = fopen(vpath, "wb");
        fwrite(s.v, sizeof(float), N * DIM, f);
        fclose(f);
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 '%s/tests/search/seed_load.py' '%s' '%s' '%s' 5 "
                 "> '%s'",
                 src ? src : ".", out, qpath, vpath, res);
        CHECK_EQ_INT(run(cmd), 0);
        cs_hit hits[5];
        CHECK_EQ_INT(cs_search_flat(NULL, s.v, N, DIM, s.v + 7 * DIM, 5, hits), 5);
        CHECK_EQ_INT(hits[0].id, 7);
        f = fopen(res, "r");
        char line[512];
        int rank = 0, same = -1;
        while (f && fgets(line, sizeof line, f)) {
            long long id;
            int qi, r, off = 0;
            double score;
            if (sscanf(line, "same_bytes %d", &same) == 1) continue;
            if (sscanf(line, "%d %d %lld %lf %n", &qi, &r, &id, &score, &off) < 4) continue;
            line[strcspn(line, "\n")] = '\0';
            CHECK(rank < 5 && id == hits[rank].id);
            CHECK(rank < 5 && strcmp(line + off, s.paths[hits[rank].id]) == 0);
            rank++;
        }
        if (f) fclose(f);
        CHECK_EQ_INT(rank, 5);
        CHECK_EQ_INT(same, 1);
    }

    snprintf(cmd, sizeof cmd, "'%s' export --faiss '%s' --factory IVF4,Flat --db '%s' >/dev/null",
             prog, out, db_path);
    CHECK_EQ_INT(run(cmd), 0);
    CHECK_OK(cs_faiss_open(out, &ix, &err), &err);
    if (ix) CHECK_EQ_INT(cs_faiss_ntotal(ix), N);
    cs_faiss_close(ix);
    /* usage errors exit 2, failures 1, with the file named */
    snprintf(cmd, sizeof cmd, "'%s' export --db '%s' 2>/dev/null", prog, db_path);
    CHECK_EQ_INT(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "'%s' export --faiss '%s' --factory Nonsense --db '%s' 2>/dev/null",
             prog, out, db_path);
    CHECK_EQ_INT(run(cmd), 1);
    snprintf(cmd, sizeof cmd, "'%s' export --faiss '%s' --db '%s/none.db' 2>/dev/null", prog, out,
             dir);
    CHECK_EQ_INT(run(cmd), 1);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (cs_test_failures == 0) run(cmd);
    return cs_test_done("export");
}
