/* tests/index/test_ann.c - the approximate index of a catalogue (DB.ann) on
 * 20k synthetic CLIP-like rows (clusters in a cone; image-like queries near
 * them, text-like ones farther off): recall@10 against a brute-force
 * reference in double precision, exact scores, rows removed by another
 * handle never returned (while the index is still the old one and after
 * its update), rows added found, a stale or damaged file detected and the
 * scan used, and the batch k-NN. With CLIPSEARCH_ANN_BITS=4 (ctest
 * index.ann_sq4) the same with codes of 4 bits. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/ann.h"
#include "test.h"

enum { N = 20000, DIM = 48, TOPICS = 200, NQ = 200, K = 10 };

static uint64_t rng = 42;
static double uni(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void) {
    return sqrt(-2 * log(uni())) * cos(6.283185307179586 * uni());
}
static void unit(float *v) {
    double s = 0;
    for (int d = 0; d < DIM; d++) s += (double)v[d] * v[d];
    for (int d = 0; d < DIM; d++) v[d] = (float)(v[d] / sqrt(s));
}

static float *base, *queries;
static uint8_t *gone; /* row i removed */

static void make_data(void) {
    float mean[DIM], topic[TOPICS][DIM];
    for (int d = 0; d < DIM; d++) mean[d] = (float)gauss();
    unit(mean);
    /* per dimension: the topics spread 0.6 around the common direction,
     * the rows 0.35 around their topic */
    for (int t = 0; t < TOPICS; t++)
        for (int d = 0; d < DIM; d++) topic[t][d] = mean[d] + 0.6f * (float)gauss();
    base = malloc((size_t)N * DIM * sizeof *base);
    queries = malloc((size_t)NQ * DIM * sizeof *queries);
    for (int i = 0; i < N; i++) {
        int t = (int)(uni() * TOPICS);
        for (int d = 0; d < DIM; d++) base[i * DIM + d] = topic[t][d] + 0.35f * (float)gauss();
        unit(base + i * DIM);
    }
    for (int i = 0; i < NQ; i++) { /* the second half: farther (text-like) */
        int t = (int)(uni() * TOPICS);
        float extra = i < NQ / 2 ? 0.0f : 0.8f;
        for (int d = 0; d < DIM; d++)
            queries[i * DIM + d] = topic[t][d] + (0.35f + extra) * (float)gauss();
        unit(queries + i * DIM);
    }
}

/* Brute force in double over the rows not removed: the reference top K
 * (row numbers). */
static void reference(const float *q, int out[K]) {
    double best[K];
    for (int j = 0; j < K; j++) best[j] = -1e9, out[j] = -1;
    for (int i = 0; i < N; i++) {
        if (gone[i]) continue;
        double s = 0;
        for (int d = 0; d < DIM; d++) s += (double)q[d] * base[i * DIM + d];
        if (s <= best[K - 1]) continue;
        int j = K - 1;
        while (j > 0 && best[j - 1] < s) best[j] = best[j - 1], out[j] = out[j - 1], j--;
        best[j] = s, out[j] = i;
    }
}

static int64_t first_id;
static int refs[NQ][K];

/* The references of every query for the rows now present. */
static void refresh_refs(void) {
    for (int i = 0; i < NQ; i++) reference(queries + i * DIM, refs[i]);
}

/* recall@10 of db's search over the queries [from, to); checks the scores
 * are exact and that no removed row comes back. */
static double recall(cs_db *db, int from, int to, int exact) {
    int hit = 0;
    cs_search_opts so = {.k = K, .exact = exact};
    for (int i = from; i < to; i++) {
        const int *ref = refs[i];
        cs_result *res;
        int n;
        cs_error err;
        CHECK_OK(cs_db_search(db, queries + i * DIM, &so, &res, &n, &err), &err);
        for (int j = 0; j < n; j++) {
            int64_t row = res[j].id - first_id;
            CHECK_MSG(row >= 0 && row < N && !gone[row], "query %d returned row %lld (removed)", i,
                      (long long)row);
            if (row < 0 || row >= N) continue;
            double s = 0;
            for (int d = 0; d < DIM; d++) s += (double)queries[i * DIM + d] * base[row * DIM + d];
            CHECK_MSG(fabs(s - res[j].score) < 1e-4, "score %f, exact %f", res[j].score, s);
            for (int r = 0; r < K; r++) hit += ref[r] == row;
        }
        cs_results_free(res, n);
    }
    return hit / (double)(K * (to - from));
}

static char logged[512];
static void on_log(void *user, cs_log_level level, const char *m) {
    (void)user;
    if (level <= CS_LOG_WARN) snprintf(logged, sizeof logged, "%s", m);
}

static void fill(cs_db *db) {
    cs_db_entry *e = calloc(1000, sizeof *e);
    char(*paths)[32] = malloc(1000 * sizeof *paths);
    cs_error err;
    for (int b = 0; b < N; b += 1000) {
        for (int i = 0; i < 1000; i++) {
            snprintf(paths[i], sizeof paths[i], "/t/%06d.jpg", b + i);
            e[i] = (cs_db_entry){.path = paths[i], .embedding = base + (size_t)(b + i) * DIM};
            memcpy(e[i].hash, &(int){b + i}, sizeof(int));
        }
        CHECK_OK(cs_db_put(db, e, 1000, &err), &err);
    }
    free(e);
    free(paths);
}

static void check_knn(cs_db *db) {
    int64_t *ids = NULL, n = 0;
    cs_hit *nb = NULL;
    cs_error err;
    CHECK_OK(cs_db_knn(db, NULL, NULL, 0, 5, &ids, &n, &nb, &err), &err);
    int64_t alive = 0;
    for (int i = 0; i < N; i++) alive += !gone[i];
    CHECK_EQ_INT(n, alive);
    int agree = 0, total = 0;
    for (int64_t i = 0; nb && i < n; i += 197) {
        int64_t row = ids[i] - first_id;
        int ref[K];
        gone[row] ^= 1; /* not itself */
        reference(base + row * DIM, ref);
        gone[row] ^= 1;
        for (int j = 0; j < 5; j++) {
            CHECK(nb[i * 5 + j].id != ids[i]);
            for (int r = 0; r < 5; r++) agree += nb[i * 5 + j].id - first_id == ref[r];
        }
        total += 5;
    }
    CHECK_MSG(agree >= 0.9 * total, "k-NN agrees on %d of %d", agree, total);
    free(ids);
    free(nb);
}

/* Overwrites one byte of a file. */
static void poke(const char *path, long at, int byte) {
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, at, SEEK_SET);
    fputc(byte, f);
    fclose(f);
}

/* NaN into the first value of the best row of each of the first NQ / 4
 * queries in DB.vectors (64-byte header, ids, rows 64-byte aligned; the
 * rows present in id order). */
static void damage_vectors(const char *db_path) {
    char vp[4200];
    snprintf(vp, sizeof vp, "%s.vectors", db_path);
    int64_t alive = 0;
    for (int i = 0; i < N; i++) alive += !gone[i];
    uint64_t voff = ((64 + (uint64_t)alive * 8) + 63) & ~63ull;
    FILE *f = fopen(vp, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    float nan = NAN;
    for (int q = 0; q < NQ / 4; q++) {
        int row = refs[q][0], pos = 0;
        for (int i = 0; i < row; i++) pos += !gone[i];
        fseek(f, (long)(voff + (uint64_t)pos * DIM * 4), SEEK_SET);
        fwrite(&nan, 4, 1, f);
    }
    fclose(f);
}

int main(void) {
    setenv("CLIPSEARCH_ANN_MIN_ROWS", "5000", 1);
    make_data();
    gone = calloc(N, 1);
    char path[4096], ann_path[4200], saved[4200];
    snprintf(path, sizeof path, "%s/c.db", cs_test_tmpdir());
    snprintf(ann_path, sizeof ann_path, "%s.ann", path);
    snprintf(saved, sizeof saved, "%s.old", path);
    cs_error err;
    cs_db *w = NULL, *r = NULL;
    cs_db_opts o = {.model_id = "synthetic", .dim = DIM, .flags = CS_DB_CREATE};
    CHECK_OK(cs_db_open(path, &o, &w, &err), &err);
    if (!w) return cs_test_done("index.ann");
    fill(w);
    CHECK_OK(cs_db_finish(w, NULL, &err), &err);
    cs_db_info info;
    CHECK_OK(cs_db_get_info(w, &info, &err), &err);
    /* index.ann_sq4 runs this file again with CLIPSEARCH_ANN_BITS=4 */
    const char *bits = getenv("CLIPSEARCH_ANN_BITS");
    const char *kind = bits && !strcmp(bits, "4") ? "ivf-sq4" : "ivf-sq8";
    CHECK_MSG(strcmp(info.search_index, kind) == 0, "index %s, not %s", info.search_index, kind);
    CHECK(info.index_lists > 0 && info.index_bytes > 0);
    first_id = 1;

    /* recall floors: the measured values on this set are ~0.99 / ~0.97 */
    cs_db_opts ro = {.flags = CS_DB_READONLY, .log = on_log};
    CHECK_OK(cs_db_open(path, &ro, &r, &err), &err);
    refresh_refs();
    double ri = recall(r, 0, NQ / 2, 0), rt = recall(r, NQ / 2, NQ, 0);
    printf("recall@10: image-like %.3f, text-like %.3f\n", ri, rt);
    CHECK(ri >= 0.95);
    CHECK(rt >= 0.90);
    CHECK(recall(r, 0, NQ, 1) == 1.0); /* --exact */

    /* another handle removes the rows the queries like best; r keeps the
     * old index (its snapshot's base) and must hide them */
    cs_vecs *v = NULL;
    CHECK_OK(cs_db_vectors(r, &v, &err), &err);
    cs_ann *a = v ? cs_db_ann_for(r, v) : NULL;
    CHECK(a != NULL);
    cs_db_ann_release(r, a);
    cs_vecs_release(v);
    char cmd[8600];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", ann_path, saved);
    CHECK(system(cmd) == 0);
    const char *rm[NQ * 3];
    char(*rmp)[32] = malloc(NQ * 3 * sizeof *rmp);
    int nrm = 0;
    for (int i = 0; i < NQ; i++) {
        const int *ref = refs[i];
        for (int j = 0; j < 3; j++)
            if (ref[j] >= 0 && !gone[ref[j]]) {
                gone[ref[j]] = 1;
                snprintf(rmp[nrm], 32, "/t/%06d.jpg", ref[j]);
                rm[nrm] = rmp[nrm];
                nrm++;
            }
    }
    CHECK_OK(cs_db_remove(w, rm, nrm, &err), &err);
    refresh_refs();
    double after = recall(r, 0, NQ, 0); /* checks no removed row comes back */
    printf("removed %d rows: recall@10 %.3f (old index, rows hidden)\n", nrm, after);
    CHECK(after >= 0.93);
    CHECK_OK(cs_db_vectors(r, &v, &err), &err);
    a = v ? cs_db_ann_for(r, v) : NULL;
    CHECK(a != NULL); /* still the index: the snapshot caught up from its base */
    cs_db_ann_release(r, a);
    cs_vecs_release(v);

    /* the writer brings the index up to date (the lists of unchanged rows
     * reused): same recall, nothing removed returned */
    CHECK_OK(cs_db_finish(w, NULL, &err), &err);
    CHECK_OK(cs_db_get_info(w, &info, &err), &err);
    CHECK_MSG(strcmp(info.search_index, kind) == 0, "index %s, not %s", info.search_index, kind);
    cs_db_close(r);
    CHECK_OK(cs_db_open(path, &ro, &r, &err), &err);
    double updated = recall(r, 0, NQ, 0);
    printf("after the update: recall@10 %.3f\n", updated);
    CHECK(updated >= 0.93);
    check_knn(r);
    cs_db_close(r);

    /* the old file put back: stale, detected, the scan used (exact) */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", saved, ann_path);
    CHECK(system(cmd) == 0);
    CHECK_OK(cs_db_get_info(w, &info, &err), &err);
    CHECK(strcmp(info.search_index, "exact") == 0 && strcmp(info.index_note, "stale") == 0);
    CHECK_OK(cs_db_open(path, &ro, &r, &err), &err);
    logged[0] = '\0';
    CHECK(recall(r, 0, NQ, 0) == 1.0);
    CHECK_MSG(strstr(logged, "exact scan") != NULL, "log: %s", logged);
    cs_db_close(r);

    /* rebuilt by the writer, then damaged (a centroid, then the length) */
    CHECK_OK(cs_db_finish(w, NULL, &err), &err);
    CHECK_OK(cs_db_get_info(w, &info, &err), &err);
    CHECK_MSG(strcmp(info.search_index, kind) == 0, "index %s, not %s", info.search_index, kind);
    poke(ann_path, CS_ANN_HEADER + 5, 0x7f);
    CHECK_OK(cs_db_get_info(w, &info, &err), &err);
    CHECK(strcmp(info.index_note, "damaged") == 0);
    CHECK_OK(cs_db_open(path, &ro, &r, &err), &err);
    logged[0] = '\0';
    CHECK(recall(r, 0, NQ / 4, 0) == 1.0);
    CHECK_MSG(strstr(logged, "checksum") != NULL, "log: %s", logged);
    cs_db_close(r);
    CHECK_OK(cs_db_finish(w, NULL, &err), &err);
    CHECK(truncate(ann_path, 4096) == 0);
    CHECK_OK(cs_db_get_info(w, &info, &err), &err);
    CHECK(strcmp(info.index_note, "damaged") == 0);

    /* NaN in DB.vectors rows the index re-ranks: the vector file is
     * distrusted (as by the scan) and the search runs on SQLite's rows */
    CHECK_OK(cs_db_finish(w, NULL, &err), &err);
    damage_vectors(path);
    CHECK_OK(cs_db_open(path, &ro, &r, &err), &err);
    logged[0] = '\0';
    double damaged_recall = recall(r, 0, NQ / 4, 0);
    CHECK_MSG(damaged_recall >= 0.9, "recall %.3f with damaged rows", damaged_recall);
    CHECK_MSG(strstr(logged, "not unit vectors") != NULL, "log: %s", logged);
    cs_db_close(r);

    cs_db_close(w);
    free(rmp);
    free(gone);
    free(base);
    free(queries);
    return cs_test_done("index.ann");
}
