/* cli/cmd_similar.c - `clipsearch similar PATH`: the neighbours of an indexed
 * image, from its stored embedding (no model needed). */
#include <getopt.h>
#include <stdlib.h>

#include "cli_db.h"
#include "cli_results.h"
#include "mpi_cli.h"

static int run(int argc, char **argv);

const cs_cli_command cs_cmd_similar = {
    "similar", "find the indexed images nearest to an indexed image",
    "usage: clipsearch similar [OPTIONS] PATH\n"
    "\n"
    "Finds the images most like PATH, an image already in the database (it\n"
    "uses the stored embedding, so no model is loaded). The image itself is\n"
    "not listed. For an image that is not indexed: clipsearch search --image.\n"
    "\n"
    "  -k, --top N        how many results (default 10)\n"
    "  --threshold S      only results with cosine similarity >= S\n"
    "  --json, --tsv, --paths, -0   output formats, as for search (names with\n"
    "                     control characters are quoted: see search --help)\n"
    "  --montage OUT.jpg  also write the image and its neighbours as a contact sheet\n"
    "  --exact            scan every vector even where the catalogue has an\n"
    "                     approximate index (large catalogues; see `info`)\n"
    "  --nprobe N         approximate index: lists scanned (default: its own)\n"
    "  --db PATH          the database (default: $CLIPSEARCH_DB, else\n"
    "                     $XDG_DATA_HOME/clipsearch/catalog.db)\n"
    "  --shard PATTERN    under mpirun or srun: each rank holds a database\n"
    "                     (PATTERN, %r replaced by the rank), searched as one\n",
    run};

/* Over the shards: the vector from the shard that holds the image, then
 * every shard searched without it. */
static int similar_sharded(cs_comm *comm, const char *shard, const char *path,
                           cli_result_opts *ro) {
    cs_db *db = NULL;
    char db_path[4096];
    int rc = cli_shard_path(comm, shard, db_path, sizeof db_path);
    cs_db_opts o = {.flags = CS_DB_READONLY};
    if (!rc) rc = cli_db_open(db_path, &o, &db);
    cs_db_info info;
    cs_error err;
    if (!rc && cs_db_get_info(db, &info, &err) != CS_OK) rc = cli_fail(&err);
    if (!rc && cs_dist_shard_check(comm, info.model_id, info.dim, &err) != CS_OK)
        rc = cli_fail(&err);
    float *v = rc ? NULL : malloc((size_t)info.dim * sizeof *v);
    if (!rc && !v) rc = CLI_FAIL;
    if (!rc && cs_dist_find_vector(comm, db, path, v, &err) != CS_OK) {
        rc = cli_fail(&err);
        if (err.status == CS_ENOTFOUND)
            fprintf(stderr, "hint: for an image that is not indexed: clipsearch search --image "
                            "PATH\n");
    }
    if (!rc) {
        cs_result *res = NULL;
        int n = 0;
        ro->search.exclude_paths = &path;
        ro->search.n_exclude_paths = 1;
        if (cs_dist_search(comm, db, v, &ro->search, &res, &n, &err) != CS_OK) {
            rc = cli_fail(&err);
        } else {
            rc = cli_print_results(ro, &path, 1, res, n);
            cs_db_close(db); /* before the montage opens the results: see similar() */
            db = NULL;
            if (!rc && ro->montage) rc = cli_write_montage(ro->montage, &path, 1, path, res, n);
            cs_results_free(res, n);
        }
    }
    free(v);
    cs_db_close(db);
    return rc;
}

static int similar(const char *path, cli_result_opts *ro) {
    cs_db_opts o = {.flags = CS_DB_READONLY};
    cs_db *db = NULL;
    int rc = cli_db_open(ro->db, &o, &db);
    if (rc) return rc;
    cs_error err;
    int64_t id;
    if (cs_db_find(db, path, &id, &err) != CS_OK) {
        rc = cli_fail(&err);
        if (err.status == CS_ENOTFOUND)
            fprintf(stderr, "hint: for an image that is not indexed: clipsearch search --image "
                            "PATH\n");
    } else {
        cs_result *res = NULL;
        int n = 0;
        if (cs_db_similar(db, id, &ro->search, &res, &n, &err) != CS_OK) {
            rc = cli_fail(&err);
        } else {
            rc = cli_print_results(ro, &path, 1, res, n);
            /* drawn with the catalogue closed: it opens the results by their
             * paths, and closing one since linked to the database would drop
             * this process's SQLite locks while it is open */
            cs_db_close(db);
            db = NULL;
            if (!rc && ro->montage) rc = cli_write_montage(ro->montage, &path, 1, path, res, n);
            cs_results_free(res, n);
        }
    }
    cs_db_close(db);
    return rc;
}

enum { OPT_SHARD = CLI_OPT_COMMAND };

typedef struct similar_args {
    const char *path;
    cli_result_opts *ro;
} similar_args;

static int similar_rank0(void *ctx, cs_comm *comm, const char *shard) {
    similar_args *a = ctx;
    return comm && shard ? similar_sharded(comm, shard, a->path, a->ro) : similar(a->path, a->ro);
}

static int run(int argc, char **argv) {
    static const struct option longs[] = {
        CLI_RESULT_LONG_OPTIONS, {"shard", required_argument, NULL, OPT_SHARD}, {0, 0, 0, 0}};
    cli_result_opts ro = cli_result_opts_default();
    const char *shard = NULL;
    int c;
    while ((c = getopt_long(argc, argv, CLI_RESULT_SHORT_OPTIONS, longs, NULL)) != -1) {
        if (c == OPT_SHARD) {
            shard = optarg;
            continue;
        }
        int r = cli_result_opt(c, optarg, &ro);
        if (r <= 0) return r < 0 ? CLI_USAGE : cli_usage(&cs_cmd_similar);
    }
    if (cli_result_opts_check(&ro)) return CLI_USAGE;
    if (optind != argc - 1 || ro.search.k <= 0) return cli_usage(&cs_cmd_similar);
    similar_args a = {argv[optind], &ro};
    return cli_run_ranks(shard, &ro.db, 1, similar_rank0, &a);
}
