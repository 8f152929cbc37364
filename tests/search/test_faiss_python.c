/* tests/search/test_faiss_python.c - our export opens in Debian's
 * python3-faiss with the Python tutorial's own loading code (seed_load.py) and
 * returns the neighbours cs_search_flat finds; the file is byte-identical to
 * what Python's faiss writes for the same vectors. Skipped when
 * /usr/bin/python3 has no faiss or numpy. */
#include <math.h>

#include "test.h"

static uint64_t rng_state = 0x853c49e6748fea9bull;
static float rng_uniform(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (float)((rng_state * 0x2545f4914f6cdd1dull) >> 40) / 8388608.0f - 1.0f;
}

static void normalise(float *v, int dim) {
    double s = 0;
    for (int j = 0; j < dim; j++) s += (double)v[j] * v[j];
    for (int j = 0; j < dim; j++) v[j] /= (float)sqrt(s);
}

static void write_raw(const char *path, const float *v, size_t count) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof *v, count, f) != count) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

enum { N = 3000, DIM = 512, NQ = 6, K = 10 };

int main(void) {
    if (system("/usr/bin/python3 -c 'import faiss, numpy' 2>/dev/null") != 0) {
        printf("SKIP: /usr/bin/python3 cannot import faiss and numpy\n");
        return 77;
    }
    const char *src = getenv("CS_SOURCE_DIR");
    if (!src) src = ".";
    const char *dir = cs_test_tmpdir();
    char index_path[512], qpath[512], vpath[512], out[512], cmd[4096];
    snprintf(index_path, sizeof index_path, "%s/photos index.faiss", dir);
    snprintf(qpath, sizeof qpath, "%s/queries.f32", dir);
    snprintf(vpath, sizeof vpath, "%s/vectors.f32", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);

    float *v = malloc((size_t)N * DIM * sizeof *v);
    float q[NQ * DIM];
    char **paths = malloc(N * sizeof *paths);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < DIM; j++) v[i * DIM + j] = rng_uniform();
        normalise(v + i * DIM, DIM);
        paths[i] = malloc(64);
        snprintf(paths[i], 64, i % 7 ? "/home/me/Photos/IMG_%04d.jpg" : "/home/me/été %d.png", i);
    }
    for (int i = 0; i < NQ; i++) {
        for (int j = 0; j < DIM; j++) q[i * DIM + j] = rng_uniform();
        normalise(q + i * DIM, DIM);
    }
    cs_error err = {0};
    CHECK_OK(cs_faiss_export_paths(index_path, v, (const char *const *)paths, N, DIM, NULL, &err),
             &err);
    write_raw(qpath, q, NQ * DIM);
    write_raw(vpath, v, (size_t)N * DIM);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 '%s/tests/search/seed_load.py' '%s' '%s' '%s' %d > '%s'", src,
             index_path, qpath, vpath, K, out);
    CHECK_EQ_INT(system(cmd), 0);

    FILE *f = fopen(out, "r");
    CHECK(f != NULL);
    int lines = 0, same = -1;
    char line[1024];
    cs_hit ours[NQ][K];
    for (int i = 0; i < NQ; i++)
        CHECK_EQ_INT(cs_search_flat(NULL, v, N, DIM, q + i * DIM, K, ours[i]), K);
    while (f && fgets(line, sizeof line, f)) {
        int qi, rank;
        long long id;
        double score;
        int off = 0;
        if (sscanf(line, "same_bytes %d", &same) == 1) continue;
        if (sscanf(line, "%d %d %lld %lf %n", &qi, &rank, &id, &score, &off) < 4 || qi < 0 ||
            qi >= NQ || rank < 0 || rank >= K) {
            CHECK_MSG(0, "unexpected line from seed_load.py: %s", line);
            continue;
        }
        lines++;
        line[strcspn(line, "\n")] = '\0';
        const cs_hit *h = &ours[qi][rank];
        CHECK_MSG(id == h->id, "query %d rank %d: Python faiss says id %lld, we say %lld", qi, rank,
                  id, (long long)h->id);
        CHECK_MSG(fabs(score - h->score) < 1e-5, "query %d rank %d: score %g vs ours %g", qi, rank,
                  score, h->score);
        CHECK_MSG(id >= 0 && id < N && strcmp(line + off, paths[id]) == 0,
                  "query %d rank %d: path '%s', want '%s'", qi, rank, line + off,
                  id >= 0 && id < N ? paths[id] : "?");
    }
    if (f) fclose(f);
    CHECK_EQ_INT(lines, NQ * K);
    CHECK_EQ_INT(same, 1);

    for (int i = 0; i < N; i++) free(paths[i]);
    free(paths);
    free(v);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (cs_test_failures == 0 && system(cmd) != 0) fprintf(stderr, "note: %s failed\n", cmd);
    return cs_test_done("faiss_python");
}
