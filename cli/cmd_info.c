/* cli/cmd_info.c - `clipsearch info`: what a database holds. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli_db.h"

static int run(int argc, char **argv);

const cs_cli_command cs_cmd_info = {
    "info", "show a database: path, model, image count, dimensions, size",
    "usage: clipsearch info [--db PATH] [--json]\n"
    "\n"
    "Shows the database's path, the model its embeddings come from, the number\n"
    "of images, the precision their embeddings were computed at (fp32, bf16,\n"
    "int8: `index --precision`), the embedding dimensions and the size on disk.\n"
    "\n"
    "  --db PATH   the database (default: $CLIPSEARCH_DB, else\n"
    "              $XDG_DATA_HOME/clipsearch/catalog.db)\n"
    "  --json      one JSON object instead of lines\n",
    run};

/* "fp32" when every image has one precision, else "int8 40, fp32 8"; rows
 * whose precision was not recorded count as "not recorded". */
static void print_precisions(const cs_db_precision *prec, int n) {
    if (n == 0) return;
    printf("precision:  ");
    for (int i = 0; i < n; i++) {
        const char *name = prec[i].name ? prec[i].name : "not recorded";
        if (n == 1)
            printf("%s", name);
        else
            printf("%s%s %lld", i ? ", " : "", name, (long long)prec[i].count);
    }
    printf("\n");
}

static int run(int argc, char **argv) {
    static const struct option longs[] = {
        {"db", required_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'}, {0, 0, 0, 0}};
    const char *db_opt = NULL;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'd')
            db_opt = optarg;
        else if (c == 'j')
            json = 1;
        else
            return cli_usage(&cs_cmd_info);
    }
    if (optind != argc) return cli_usage(&cs_cmd_info);
    cs_db_opts o = {.flags = CS_DB_READONLY};
    cs_db *db = NULL;
    int rc = cli_db_open(db_opt, &o, &db);
    if (rc) return rc;
    cs_db_info info;
    cs_error err;
    cs_db_precision prec[8];
    int n_prec = 0;
    if (cs_db_get_info(db, &info, &err) != CS_OK ||
        cs_db_precisions(db, prec, (int)(sizeof prec / sizeof *prec), &n_prec, &err) != CS_OK) {
        cs_db_close(db);
        return cli_fail(&err);
    }
    if (n_prec > (int)(sizeof prec / sizeof *prec)) n_prec = (int)(sizeof prec / sizeof *prec);
    if (json) {
        json_t *precisions = json_array();
        for (int i = 0; precisions && i < n_prec; i++)
            json_array_append_new(precisions, json_pack("{s:s?, s:I}", "precision", prec[i].name,
                                                        "count", (json_int_t)prec[i].count));
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o?, s:i, s:I, s:{s:s, s:s, s:I, s:i}}",
                              "path", info.path, "model_id", info.model_id, "model_name",
                              info.model_name, "model_source", info.model_source, "count",
                              (json_int_t)info.count, "precisions", precisions, "dim", info.dim,
                              "size_bytes", (json_int_t)info.size_bytes, "search_index", "kind",
                              info.search_index, "note", info.index_note, "size_bytes",
                              (json_int_t)info.index_bytes, "lists", info.index_lists);
        char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (s) puts(s);
        free(s);
        json_decref(o);
    } else {
        char size[64];
        cli_format_bytes(info.size_bytes, size, sizeof size);
        printf("database:   %s\n", info.path);
        if (*info.model_name)
            printf("model:      %s (%s)\n", info.model_name, info.model_id);
        else
            printf("model:      %s\n", info.model_id);
        if (*info.model_source) printf("model from: %s\n", info.model_source);
        printf("images:     %lld\n", (long long)info.count);
        print_precisions(prec, n_prec);
        printf("dimensions: %d\n", info.dim);
        printf("size:       %s\n", size);
        if (info.index_bytes) {
            cli_format_bytes(info.index_bytes, size, sizeof size);
            printf("search:     approximate index, IVF %d lists, %s-bit codes (%s)\n",
                   info.index_lists, strcmp(info.search_index, "ivf-sq4") ? "8" : "4", size);
        } else {
            printf("search:     exact scan%s%s%s\n", *info.index_note ? " (index file " : "",
                   info.index_note,
                   *info.index_note ? ": the next index or import rebuilds it)" : "");
        }
    }
    cs_db_close(db);
    return CLI_OK;
}
