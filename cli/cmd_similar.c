/* cli/cmd_similar.c - `clipsearch similar PATH`: the neighbours of an indexed
 * image, from its stored embedding (no model needed). */
#include <getopt.h>
#include <stdlib.h>

#include "cli_db.h"
#include "cli_results.h"

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
    "  --json, --tsv, --paths   output formats, as for search\n"
    "  --montage OUT.jpg  also write the image and its neighbours as a contact sheet\n"
    "  --db PATH          the database (default: $CLIPSEARCH_DB, else\n"
    "                     $XDG_DATA_HOME/clipsearch/catalog.db)\n",
    run};

enum { OPT_DB = 256, OPT_THRESHOLD, OPT_JSON, OPT_TSV, OPT_PATHS, OPT_MONTAGE };

static int run(int argc, char **argv) {
    static const struct option longs[] = {{"top", required_argument, NULL, 'k'},
                                          {"threshold", required_argument, NULL, OPT_THRESHOLD},
                                          {"json", no_argument, NULL, OPT_JSON},
                                          {"tsv", no_argument, NULL, OPT_TSV},
                                          {"paths", no_argument, NULL, OPT_PATHS},
                                          {"db", required_argument, NULL, OPT_DB},
                                          {"montage", required_argument, NULL, OPT_MONTAGE},
                                          {0, 0, 0, 0}};
    const char *db_opt = NULL, *montage = NULL;
    cli_format fmt = CLI_FORMAT_TEXT;
    cs_search_opts so = {.k = 10};
    int c;
    while ((c = getopt_long(argc, argv, "k:", longs, NULL)) != -1) {
        switch (c) {
        case 'k':
            so.k = atoi(optarg);
            break;
        case OPT_THRESHOLD:
            so.use_threshold = 1;
            so.threshold = strtof(optarg, NULL);
            break;
        case OPT_JSON:
            fmt = CLI_FORMAT_JSON;
            break;
        case OPT_TSV:
            fmt = CLI_FORMAT_TSV;
            break;
        case OPT_PATHS:
            fmt = CLI_FORMAT_PATHS;
            break;
        case OPT_DB:
            db_opt = optarg;
            break;
        case OPT_MONTAGE:
            montage = optarg;
            break;
        default:
            return cli_usage(&cs_cmd_similar);
        }
    }
    if (optind != argc - 1 || so.k <= 0) return cli_usage(&cs_cmd_similar);
    const char *path = argv[optind];
    cs_db_opts o = {.flags = CS_DB_READONLY};
    cs_db *db = NULL;
    int rc = cli_db_open(db_opt, &o, &db);
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
        if (cs_db_similar(db, id, &so, &res, &n, &err) != CS_OK) {
            rc = cli_fail(&err);
        } else {
            rc = cli_print_results(fmt, (const char *const *)&path, 1, res, n);
            if (!rc && montage)
                rc = cli_write_montage(montage, (const char *const *)&path, 1, path, res, n);
            cs_results_free(res, n);
        }
    }
    cs_db_close(db);
    return rc;
}
