/* bench/bench_catalog.c - a large catalogue for timing cold searches, and
 * the cost of the catalogue's own steps.
 *
 * usage: bench_catalog --model DIR --db PATH [--n 100000]
 *
 * Fills PATH (made for DIR's model, so `clipsearch search --model DIR --db
 * PATH "a ball"` runs against it) with n random unit vectors under fake
 * paths, writes the vector file, then prints one JSON object with the time
 * to insert, to open the database cold and map its vectors, to load the same
 * vectors from SQLite instead (what the vector file saves), and to run one
 * search. bench/cold_search.sh times the whole command with hyperfine. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clipsearch.h"
#include "index/db_internal.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void random_unit(uint64_t *s, float *v, int dim) {
    for (int j = 0; j < dim; j++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        v[j] = (float)((double)(*s >> 11) / 9007199254740992.0 - 0.5);
    }
    double ss = 0;
    for (int j = 0; j < dim; j++) ss += (double)v[j] * v[j];
    for (int j = 0; j < dim; j++) v[j] = (float)(v[j] / sqrt(ss));
}

static int die(const cs_error *err) {
    fprintf(stderr, "bench_catalog: %s\n", err->message);
    return 1;
}

int main(int argc, char **argv) {
    static const struct option longs[] = {{"model", required_argument, NULL, 'm'},
                                          {"db", required_argument, NULL, 'd'},
                                          {"n", required_argument, NULL, 'n'},
                                          {0, 0, 0, 0}};
    const char *model_dir = NULL, *path = NULL;
    long n = 100000;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'm')
            model_dir = optarg;
        else if (c == 'd')
            path = optarg;
        else if (c == 'n')
            n = atol(optarg);
        else
            return 2;
    }
    if (!model_dir || !path || n <= 0) {
        fprintf(stderr, "usage: bench_catalog --model DIR --db PATH [--n 100000]\n");
        return 2;
    }
    cs_error err;
    cs_model *model = NULL;
    if (cs_model_open(model_dir, NULL, &model, &err)) return die(&err);
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    int dim = mi.embed_dim;
    char vpath[4200];
    snprintf(vpath, sizeof vpath, "%s.vectors", path);
    unlink(path);
    unlink(vpath);

    /* insert in batches of 1000, as indexing would (one transaction each) */
    cs_db *db = NULL;
    if (cs_db_open_model(path, model, CS_DB_CREATE | CS_DB_RESET, &db, &err)) return die(&err);
    double t0 = now();
    int batch = 1000;
    float *vecs = malloc((size_t)batch * dim * sizeof *vecs);
    cs_db_entry *e = calloc((size_t)batch, sizeof *e);
    char(*names)[96] = malloc((size_t)batch * sizeof *names);
    uint64_t seed = 42;
    for (long at = 0; at < n; at += batch) {
        int m = (int)(n - at < batch ? n - at : batch);
        for (int i = 0; i < m; i++) {
            random_unit(&seed, vecs + (size_t)i * dim, dim);
            snprintf(names[i], sizeof names[i], "/bench/photos/%04ld/img%07ld.jpg", (at + i) / 1000,
                     at + i);
            e[i] = (cs_db_entry){.path = names[i],
                                 .size = 3000000 + at + i,
                                 .mtime_ns = at + i,
                                 .width = 4000,
                                 .height = 3000,
                                 .embedding = vecs + (size_t)i * dim};
            cs_hash128(names[i], strlen(names[i]), e[i].hash);
        }
        if (cs_db_put(db, e, m, &err)) return die(&err);
    }
    double t_insert = now() - t0;
    t0 = now();
    if (cs_db_write_vectors(db, &err)) return die(&err);
    double t_write = now() - t0;
    cs_db_close(db);

    /* a fresh handle, as a new process has: open + map the vector file */
    t0 = now();
    if (cs_db_open_model(path, model, CS_DB_READONLY, &db, &err)) return die(&err);
    cs_vecs *v = NULL;
    if (cs_db_vectors(db, &v, &err)) return die(&err);
    double t_open_map = now() - t0;
    int mapped = v->map.data != NULL;
    float *q = malloc((size_t)dim * sizeof *q);
    random_unit(&seed, q, dim);
    cs_search_opts so = {.k = 10};
    cs_result *res = NULL;
    int nres = 0;
    t0 = now();
    if (cs_db_search(db, q, &so, &res, &nres, &err)) return die(&err);
    double t_search = now() - t0;
    cs_results_free(res, nres);
    cs_vecs_release(v);
    cs_db_close(db);

    /* a long-lived reader (the server) after another handle commits one
     * batch of 32 new rows: it merges the changes instead of reloading */
    cs_db *reader = NULL, *writer = NULL;
    if (cs_db_open_model(path, model, CS_DB_READONLY, &reader, &err)) return die(&err);
    if (cs_db_vectors(reader, &v, &err)) return die(&err);
    cs_vecs_release(v);
    if (cs_db_open_model(path, model, 0, &writer, &err)) return die(&err);
    for (int i = 0; i < 32; i++) {
        random_unit(&seed, vecs + (size_t)i * dim, dim);
        snprintf(names[i], sizeof names[i], "/bench/photos/new/img%07d.jpg", i);
        e[i] = (cs_db_entry){.path = names[i],
                             .size = 1,
                             .mtime_ns = 1,
                             .width = 4000,
                             .height = 3000,
                             .embedding = vecs + (size_t)i * dim};
    }
    if (cs_db_put(writer, e, 32, &err)) return die(&err);
    t0 = now();
    if (cs_db_vectors(reader, &v, &err)) return die(&err);
    double t_catch_up = now() - t0;
    cs_vecs_release(v);
    const char *added[32];
    for (int i = 0; i < 32; i++) added[i] = names[i];
    if (cs_db_remove(writer, added, 32, &err)) return die(&err);
    cs_db_close(writer);
    cs_db_close(reader);

    /* the same vectors read from SQLite (what a stale or missing file costs) */
    unlink(vpath);
    t0 = now();
    if (cs_db_open_model(path, model, CS_DB_READONLY, &db, &err)) return die(&err);
    if (cs_db_vectors(db, &v, &err)) return die(&err);
    double t_open_sql = now() - t0;
    cs_vecs_release(v);
    cs_db_close(db);
    /* put the file back for the command-line timings */
    if (cs_db_open_model(path, model, 0, &db, &err)) return die(&err);
    if (cs_db_write_vectors(db, &err)) return die(&err);
    cs_db_close(db);

    printf("{\"n\": %ld, \"dim\": %d, \"insert_rows_per_second\": %.0f, "
           "\"write_vector_file_ms\": %.1f, \"open_and_map_ms\": %.2f, \"mapped\": %s, "
           "\"search_top10_ms\": %.2f, \"open_and_load_from_sqlite_ms\": %.1f, "
           "\"reader_catch_up_after_32_rows_ms\": %.1f}\n",
           n, dim, (double)n / t_insert, t_write * 1e3, t_open_map * 1e3, mapped ? "true" : "false",
           t_search * 1e3, t_open_sql * 1e3, t_catch_up * 1e3);
    free(vecs);
    free(e);
    free(names);
    free(q);
    cs_model_close(model);
    return 0;
}
