/* bench/bench_cold_query.c - where the time of a cold `clipsearch search`
 * goes: the steps of cs_db_search_query, each timed once, in a fresh process.
 *
 * usage: bench_cold_query --model DIR --db PATH [--threads N] [--plain] [TEXT]
 *
 * Prints one JSON object of milliseconds:
 *   pool, model_open, db_open;
 *   warm: cs_query_warm, as the command runs it: the tokenizer's load on
 *     one thread (from .tokenizer.json.cscache when current) and the
 *     approximate index's opening on another while the others prefault
 *     the text tower's weights (and the vector file when the search
 *     scans it), then all threads prefault;
 *   embed: tokenize + text tower; search: scan + paths; total.
 * --plain skips the warm-up (the tokenizer loads inside embed, and the
 * weights and vectors fault in as they are read): the path before it.
 * Run it after bench_catalog; bench/cold_search.sh runs both and hyperfine. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clipsearch.h"
#include "core/pool.h"
#include "index/db_internal.h"
#include "index/query_warm.h"

#include "bench_util.h"

static int die(const cs_error *err) {
    fprintf(stderr, "bench_cold_query: %s\n", err->message);
    return 1;
}

int main(int argc, char **argv) {
    static const struct option longs[] = {{"model", required_argument, NULL, 'm'},
                                          {"db", required_argument, NULL, 'd'},
                                          {"threads", required_argument, NULL, 't'},
                                          {"plain", no_argument, NULL, 'p'},
                                          {0, 0, 0, 0}};
    const char *model_dir = NULL, *path = NULL;
    int threads = 0, plain = 0, c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'm')
            model_dir = optarg;
        else if (c == 'd')
            path = optarg;
        else if (c == 't')
            threads = atoi(optarg);
        else if (c == 'p')
            plain = 1;
        else
            return 2;
    }
    if (!model_dir || !path) {
        fprintf(stderr,
                "usage: bench_cold_query --model DIR --db PATH [--threads N] [--plain] [TEXT]\n");
        return 2;
    }
    const char *text = optind < argc ? argv[optind] : "a ball";
    cs_error err;
    double t0 = now_ms(), t = t0;
    enum { POOL, MODEL, DB, WARM, EMBED, SEARCH, TOTAL, N_STEPS };
    double ms[N_STEPS] = {0};
    cs_pool *pool = cs_pool_create(threads);
    ms[POOL] = now_ms() - t;
    t = now_ms();
    cs_model_opts mo = {.pool = pool};
    cs_model *model = NULL;
    if (cs_model_open(model_dir, &mo, &model, &err)) return die(&err);
    ms[MODEL] = now_ms() - t;
    t = now_ms();
    cs_db *db = NULL;
    if (cs_db_open_model(path, model, CS_DB_READONLY, &db, &err)) return die(&err);
    ms[DB] = now_ms() - t;
    t = now_ms();
    if (!plain) cs_query_warm(pool, model, CS_PREFETCH_TEXT, db, 0);
    ms[WARM] = now_ms() - t;
    t = now_ms();
    cs_query *q = cs_query_new();
    if (cs_query_parse(q, &text, 1, 0, &err)) return die(&err);
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    float *vec = malloc((size_t)mi.embed_dim * sizeof *vec);
    if (cs_query_embed(q, model, vec, &err)) return die(&err);
    ms[EMBED] = now_ms() - t;
    t = now_ms();
    cs_search_opts so = {.k = 10, .pool = pool};
    cs_result *res = NULL;
    int n = 0;
    if (cs_db_search(db, vec, &so, &res, &n, &err)) return die(&err);
    ms[SEARCH] = now_ms() - t;
    ms[TOTAL] = now_ms() - t0;
    cs_db_info info;
    if (cs_db_get_info(db, &info, &err)) return die(&err);
    printf("{\"rows\": %lld, \"threads\": %d, \"warm_up\": %s, \"pool_ms\": %.2f, "
           "\"model_open_ms\": %.2f, \"db_open_ms\": %.2f, \"warm_ms\": %.2f, "
           "\"embed_ms\": %.2f, \"search_ms\": %.2f, \"total_ms\": %.2f}\n",
           (long long)info.count, cs_pool_threads(pool), plain ? "false" : "true", ms[POOL],
           ms[MODEL], ms[DB], ms[WARM], ms[EMBED], ms[SEARCH], ms[TOTAL]);
    cs_results_free(res, n);
    cs_db_close(db);
    cs_query_free(q);
    free(vec);
    cs_model_close(model);
    cs_pool_free(pool);
    return 0;
}
