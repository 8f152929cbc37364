/* bench/bench_cold_query.c - where the time of a cold `clipsearch search`
 * goes: the same steps as the command, each timed once, in a fresh process.
 *
 * usage: bench_cold_query --model DIR --db PATH [--threads N] [TEXT]
 *
 * Prints one JSON object of milliseconds: pool, model_open, query_embed
 * (tokenizer load + text encoder, weights touched for the first time),
 * db_open, search (vector file mapped + scanned + paths looked up), total.
 * Run it after bench_catalog; bench/cold_search.sh runs both and hyperfine. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clipsearch.h"

#include "bench_util.h"

static int die(const cs_error *err) {
    fprintf(stderr, "bench_cold_query: %s\n", err->message);
    return 1;
}

int main(int argc, char **argv) {
    static const struct option longs[] = {{"model", required_argument, NULL, 'm'},
                                          {"db", required_argument, NULL, 'd'},
                                          {"threads", required_argument, NULL, 't'},
                                          {0, 0, 0, 0}};
    const char *model_dir = NULL, *path = NULL;
    int threads = 0, c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'm')
            model_dir = optarg;
        else if (c == 'd')
            path = optarg;
        else if (c == 't')
            threads = atoi(optarg);
        else
            return 2;
    }
    if (!model_dir || !path) {
        fprintf(stderr, "usage: bench_cold_query --model DIR --db PATH [--threads N] [TEXT]\n");
        return 2;
    }
    const char *text = optind < argc ? argv[optind] : "a ball";
    cs_error err;
    double t0 = now_ms(), t = t0;
    double ms[6];
    cs_pool *pool = cs_pool_create(threads);
    ms[0] = now_ms() - t;
    t = now_ms();
    cs_model_opts mo = {.pool = pool};
    cs_model *model = NULL;
    if (cs_model_open(model_dir, &mo, &model, &err)) return die(&err);
    ms[1] = now_ms() - t;
    t = now_ms();
    cs_query *q = cs_query_new();
    if (cs_query_parse(q, &text, 1, 0, &err)) return die(&err);
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    float *vec = malloc((size_t)mi.embed_dim * sizeof *vec);
    if (cs_query_embed(q, model, vec, &err)) return die(&err);
    ms[2] = now_ms() - t;
    t = now_ms();
    cs_db *db = NULL;
    if (cs_db_open_model(path, model, CS_DB_READONLY, &db, &err)) return die(&err);
    ms[3] = now_ms() - t;
    t = now_ms();
    cs_search_opts so = {.k = 10, .pool = pool};
    cs_result *res = NULL;
    int n = 0;
    if (cs_db_search(db, vec, &so, &res, &n, &err)) return die(&err);
    ms[4] = now_ms() - t;
    ms[5] = now_ms() - t0;
    cs_db_info info;
    if (cs_db_get_info(db, &info, &err)) return die(&err);
    printf("{\"rows\": %lld, \"threads\": %d, \"pool_ms\": %.2f, \"model_open_ms\": %.2f, "
           "\"query_embed_ms\": %.2f, \"db_open_ms\": %.2f, \"search_ms\": %.2f, "
           "\"total_ms\": %.2f}\n",
           (long long)info.count, cs_pool_threads(pool), ms[0], ms[1], ms[2], ms[3], ms[4], ms[5]);
    cs_results_free(res, n);
    cs_db_close(db);
    cs_query_free(q);
    free(vec);
    cs_model_close(model);
    cs_pool_free(pool);
    return 0;
}
