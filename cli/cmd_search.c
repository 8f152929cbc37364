/* cli/cmd_search.c - `clipsearch search QUERY...`: the indexed images
 * nearest to a text, an image, or a weighted mix of both. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli_db.h"
#include "cli_results.h"
#include "mpi_cli.h"
#include "search_npy.h"

static int run(int argc, char **argv);

const cs_cli_command cs_cmd_search = {
    "search", "find the indexed images nearest to a text or an image",
    "usage: clipsearch search [OPTIONS] QUERY...\n"
    "       clipsearch search [OPTIONS] --npy QUERIES.npy --json\n"
    "\n"
    "QUERY is text (\"a dog on a beach\"), or the path of an image file, or a\n"
    "mix, each part added (+) or subtracted (-), with an optional weight:\n"
    "    clipsearch search \"2:golden retriever\" + ./dog.jpg - \"grass\"\n"
    "Words between operators form one part. An image query never returns its\n"
    "own file.\n"
    "\n"
    "A file name holding a control character (line break, tab, escape...) or\n"
    "starting with '\"' is printed in double quotes with C escapes (\\n, \\t,\n"
    "\\xHH, \\\\, \\\"); `clipsearch montage` reads that back. --json escapes as\n"
    "JSON does; -0 prints names unchanged.\n"
    "\n"
    "  -k, --top N        how many results (default 10)\n"
    "  --threshold S      only results with cosine similarity >= S\n"
    "  --image            every part is an image file\n"
    "  --text             every part is text, even if it names a file\n"
    "  --json             {\"query\": ..., \"results\": [{\"path\": ..., \"score\": ...}]}\n"
    "  --tsv              score<TAB>path lines\n"
    "  --paths            paths only, one per line\n"
    "  -0, --null         end each result with a NUL byte instead of a line\n"
    "                     break, names as they are (for xargs -0); alone it\n"
    "                     means --paths -0\n"
    "  --montage OUT.jpg  also write the query and its results as a contact sheet\n"
    "  --model DIR|NAME   the CLIP model: a folder or a downloaded hub name\n"
    "                     (default: $CLIPSEARCH_MODEL, else the default model)\n"
    "  --db PATH          the database (default: $CLIPSEARCH_DB, else\n"
    "                     $XDG_DATA_HOME/clipsearch/catalog.db)\n"
    "  --threads N        threads (default: one per core)\n"
    "  --shard PATTERN    under mpirun or srun: each rank searches its own\n"
    "                     database (PATTERN, %r replaced by the rank) and rank 0\n"
    "                     prints the best of all\n"
    "  --exact            scan every vector even where the catalogue has an\n"
    "                     approximate index (large catalogues; see `info`)\n"
    "  --nprobe N         approximate index: lists scanned (more: better recall,\n"
    "                     slower; default: its own)\n"
    "  --npy FILE         the queries are the rows of this .npy file (N x D\n"
    "                     float32 or float16), no model needed: one line per\n"
    "                     query, in order: {\"results\": [{\"id\", \"path\", \"score\"}]};\n"
    "                     --threads N queries run at a time\n" CLI_PRECISION_HELP,
    run};

enum {
    OPT_MODEL = CLI_OPT_COMMAND,
    OPT_IMAGE,
    OPT_TEXT,
    OPT_THREADS,
    OPT_PRECISION,
    OPT_SHARD,
    OPT_NPY
};

static int search(const char *const *words, int n_words, int flags, const char *model_opt,
                  int threads, cli_result_opts *ro, cs_comm *comm, const char *shard);

/* cs_db_search_query over the shards: the query embedded here, its image
 * files left out on every shard. */
static cs_status dist_search_query(cs_comm *comm, cs_db *db, cs_model *model, const cs_query *q,
                                   const cs_search_opts *so, cs_result **res, int *n,
                                   cs_error *err) {
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    int nq = cs_query_count(q);
    float *v = malloc((size_t)mi.embed_dim * sizeof *v);
    const char **paths = malloc(((size_t)so->n_exclude_paths + (size_t)nq + 1) * sizeof *paths);
    cs_status st = CS_ENOMEM;
    if (!v || !paths)
        snprintf(err->message, sizeof err->message, "out of memory"), err->status = st;
    else
        st = cs_query_embed(q, model, v, err);
    if (!st) {
        cs_search_opts o = *so;
        int np = 0;
        for (int i = 0; i < so->n_exclude_paths; i++) paths[np++] = so->exclude_paths[i];
        for (int i = 0; i < nq; i++)
            if (cs_query_term_at(q, i)->kind == CS_QUERY_IMAGE_FILE)
                paths[np++] = cs_query_term_at(q, i)->text;
        o.exclude_paths = paths;
        o.n_exclude_paths = np;
        st = cs_dist_search(comm, db, v, &o, res, n, err);
    }
    free(v);
    free(paths);
    return st;
}

typedef struct search_args {
    const char *const *words;
    int n_words, flags;
    const char *model_opt;
    int threads;
    cli_result_opts *ro;
} search_args;

static int search_rank0(void *ctx, cs_comm *comm, const char *shard) {
    search_args *a = ctx;
    return search(a->words, a->n_words, a->flags, a->model_opt, a->threads, a->ro, comm, shard);
}

static int run(int argc, char **argv) {
    static const struct option longs[] = {CLI_RESULT_LONG_OPTIONS,
                                          {"image", no_argument, NULL, OPT_IMAGE},
                                          {"text", no_argument, NULL, OPT_TEXT},
                                          {"model", required_argument, NULL, OPT_MODEL},
                                          {"threads", required_argument, NULL, OPT_THREADS},
                                          {"precision", required_argument, NULL, OPT_PRECISION},
                                          {"shard", required_argument, NULL, OPT_SHARD},
                                          {"npy", required_argument, NULL, OPT_NPY},
                                          {0, 0, 0, 0}};
    const char *model_opt = NULL, *shard = NULL, *npy = NULL;
    int flags = 0, threads = 0, c;
    cli_result_opts ro = cli_result_opts_default();
    while ((c = getopt_long(argc, argv, CLI_RESULT_SHORT_OPTIONS, longs, NULL)) != -1) {
        switch (c) {
        case OPT_IMAGE:
            flags |= CS_QUERY_PARSE_IMAGE;
            break;
        case OPT_TEXT:
            flags |= CS_QUERY_PARSE_TEXT;
            break;
        case OPT_MODEL:
            model_opt = optarg;
            break;
        case OPT_PRECISION:
            if (cli_precision_opt(optarg) != CLI_OK) return CLI_USAGE;
            break;
        case OPT_THREADS:
            if (cli_int_arg("--threads", optarg, 0, 4096, &threads)) return CLI_USAGE;
            break;
        case OPT_SHARD:
            shard = optarg;
            break;
        case OPT_NPY:
            npy = optarg;
            break;
        default: {
            int r = cli_result_opt(c, optarg, &ro);
            if (r <= 0) return r < 0 ? CLI_USAGE : cli_usage(&cs_cmd_search);
        }
        }
    }
    if (cli_result_opts_check(&ro)) return CLI_USAGE;
    if (npy) {
        if (optind != argc || ro.montage || flags || shard) return cli_usage(&cs_cmd_search);
        return cli_search_npy(npy, &ro, threads);
    }
    if (optind == argc || ro.search.k <= 0 || threads < 0 ||
        flags == (CS_QUERY_PARSE_IMAGE | CS_QUERY_PARSE_TEXT))
        return cli_usage(&cs_cmd_search);
    search_args a = {
        (const char *const *)argv + optind, argc - optind, flags, model_opt, threads, &ro};
    return cli_run_ranks(shard, &ro.db, threads, search_rank0, &a);
}

/* The search of one process, or rank 0's over the shards (comm and shard). */
static int search(const char *const *words, int n_words, int flags, const char *model_opt,
                  int threads, cli_result_opts *ro, cs_comm *comm, const char *shard) {
    int sharded = comm && shard;
    cs_error err;
    cs_query *q = cs_query_new();
    if (!q) return CLI_FAIL;
    if (cs_query_parse(q, words, n_words, flags, &err) != CS_OK) {
        cs_query_free(q);
        cli_fail(&err);
        if (err.status == CS_ENOTFOUND || err.status == CS_EFORMAT)
            fprintf(stderr, "hint: to search for these words as text, add --text\n");
        return CLI_FAIL;
    }
    int verbosity = CS_LOG_WARN;
    cs_pool *pool = cs_pool_create(threads);
    cs_model *model = NULL;
    cs_db *db = NULL;
    /* shards are named per rank: they take --model or the default */
    const char *use = sharded ? model_opt : cli_db_model(model_opt, ro->db);
    int rc = pool ? cli_model_open(use, pool, &verbosity, &model) : CLI_FAIL;
    if (!rc)
        rc = sharded ? cli_shard_open(comm, shard, model, &db)
                     : cli_db_open_for_model(ro->db, model, &db);
    if (!rc) {
        cs_result *res = NULL;
        int n = 0;
        ro->search.pool = pool;
        cs_status st = sharded ? dist_search_query(comm, db, model, q, &ro->search, &res, &n, &err)
                               : cs_db_search_query(db, model, q, &ro->search, &res, &n, &err);
        if (st != CS_OK) {
            rc = cli_fail(&err);
        } else {
            rc = cli_print_results(ro, words, n_words, res, n);
            /* a lone image query is shown as its picture, anything else as words */
            const cs_query_term *t0 = cs_query_term_at(q, 0);
            const char *qimg =
                cs_query_count(q) == 1 && t0->kind == CS_QUERY_IMAGE_FILE ? t0->text : NULL;
            /* drawn with the catalogue closed: it opens the results by their
             * paths, and closing one since linked to the database would drop
             * this process's SQLite locks while it is open */
            cs_db_close(db);
            db = NULL;
            if (!rc && ro->montage)
                rc = cli_write_montage(ro->montage, words, n_words, qimg, res, n);
            cs_results_free(res, n);
        }
    }
    cs_db_close(db);
    cs_model_close(model);
    cs_pool_free(pool);
    cs_query_free(q);
    return rc;
}
