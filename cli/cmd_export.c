/* cli/cmd_export.c - `clipsearch export --faiss OUT`: the catalogue as a FAISS
 * index plus OUT.paths, the layout the usual Python pipeline (sentence-transformers + faiss) loads.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli_db.h"
#include "index/db_internal.h" /* cs_db_own_file */

static int run_export(int argc, char **argv);

const cs_cli_command cs_cmd_export = {
    "export", "write the catalogue as a FAISS index (+ .paths) for Python",
    "usage: clipsearch export --faiss OUT [--factory STRING] [--db PATH]\n"
    "\n"
    "Writes every indexed image's embedding to the FAISS index file OUT and\n"
    "their paths, one per line in the same order, to OUT.paths. Python opens\n"
    "them with\n"
    "    index = faiss.read_index(OUT)\n"
    "    paths = [l.strip() for l in open(OUT + '.paths')]\n"
    "    D, I = index.search(queries, k)   # paths[I[0][0]] is the best match\n"
    "\n"
    "options:\n"
    "  --faiss OUT       the index file to write (required); OUT, OUT.paths and\n"
    "                    OUT.manifest (count and SHA-256 of both, which\n"
    "                    clipsearch checks when it reads them back) are all\n"
    "                    written before any replaces the old one; OUT must be\n"
    "                    a regular file or not exist\n"
    "  --factory STRING  build this faiss.index_factory type instead (inner\n"
    "                    product metric, trained on the vectors), e.g.\n"
    "                    \"IVF1024,Flat\", \"HNSW32\", \"IVF256,PQ32\"; "
    "default:\n"
    "                    IndexIDMap(IndexFlatIP), exact, ids 0..n-1\n"
    "  --db PATH         the database (default: $CLIPSEARCH_DB, else\n"
    "                    $XDG_DATA_HOME/clipsearch/catalog.db)\n",
    run_export};

/* The rows gathered by cs_db_foreach, in id order. */
typedef struct rows {
    float *vectors; /* n x dim */
    char **paths;
    int64_t n, cap;
    int dim;
    int failed; /* out of memory */
} rows;

static int add_row(void *user, int64_t id, const char *path, const float *vector) {
    (void)id;
    rows *r = user;
    if (r->n == r->cap) {
        int64_t cap = r->cap ? r->cap * 2 : 1024;
        float *v = realloc(r->vectors, (size_t)cap * (size_t)r->dim * sizeof *v);
        if (v) r->vectors = v;
        char **p = realloc(r->paths, (size_t)cap * sizeof *p);
        if (p) r->paths = p;
        if (!v || !p) {
            r->failed = 1;
            return 1;
        }
        r->cap = cap;
    }
    r->paths[r->n] = strdup(path);
    if (!r->paths[r->n]) {
        r->failed = 1;
        return 1;
    }
    memcpy(r->vectors + r->n * r->dim, vector, (size_t)r->dim * sizeof *vector);
    r->n++;
    return 0;
}

static void rows_free(rows *r) {
    for (int64_t i = 0; i < r->n; i++) free(r->paths[i]);
    free(r->paths);
    free(r->vectors);
}

/* 1 (said) when OUT, OUT.paths or OUT.manifest is one of the catalogue's own
 * files: each is replaced by rename, and the catalogue would go with it. */
static int own_destination(cs_db *db, const char *out) {
    static const char *const ext[] = {"", ".paths", ".manifest"};
    cs_db_file_guard(db);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        char name[4200];
        snprintf(name, sizeof name, "%s%s", out, ext[i]);
        if (cs_db_own_file(db, name)) {
            cli_error("export: %s is the catalogue's own file; refusing to replace it", name);
            return 1;
        }
    }
    return 0;
}

static int run_export(int argc, char **argv) {
    static const struct option longs[] = {{"faiss", required_argument, NULL, 'o'},
                                          {"factory", required_argument, NULL, 'f'},
                                          {"db", required_argument, NULL, 'd'},
                                          {0, 0, 0, 0}};
    const char *out = NULL, *factory = NULL, *db_opt = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'f')
            factory = optarg;
        else if (c == 'd')
            db_opt = optarg;
        else
            return cli_usage(&cs_cmd_export);
    }
    if (optind != argc) {
        cli_error("export: unexpected argument '%s'", argv[optind]);
        return cli_usage(&cs_cmd_export);
    }
    if (!out || !*out) {
        cli_error("export: --faiss OUT is required");
        return cli_usage(&cs_cmd_export);
    }

    cs_db_opts opts = {.flags = CS_DB_READONLY}; /* any model: we only read rows */
    cs_db *db = NULL;
    int rc = cli_db_open(db_opt, &opts, &db);
    if (rc) return rc;
    cs_error err = {0};
    if (own_destination(db, out)) {
        cs_db_close(db);
        return CLI_FAIL;
    }
    cs_db_info info;
    rows r = {0};
    cs_status st = cs_db_get_info(db, &info, &err);
    if (st == CS_OK) {
        r.dim = info.dim;
        /* room for the known count up front: no copies while gathering 1M rows */
        r.cap = info.count > 0 ? info.count : 0;
        r.vectors = r.cap ? malloc((size_t)r.cap * (size_t)r.dim * sizeof *r.vectors) : NULL;
        r.paths = r.cap ? malloc((size_t)r.cap * sizeof *r.paths) : NULL;
        if (r.cap && (!r.vectors || !r.paths)) r.cap = 0; /* grow as needed instead */
        st = cs_db_foreach(db, add_row, &r, &err);
    }
    if (st == CS_OK && r.failed) {
        cli_error("export: out of memory after %lld rows", (long long)r.n);
        st = CS_ENOMEM;
        err.message[0] = '\0';
    }
    if (st == CS_OK)
        st = cs_faiss_export_paths(out, r.vectors, (const char *const *)r.paths, r.n, r.dim,
                                   factory, &err);
    if (st == CS_OK)
        printf("exported %lld images (%d dimensions) to %s and %s.paths (%s.manifest)\n",
               (long long)r.n, r.dim, out, out, out);
    rows_free(&r);
    cs_db_close(db);
    if (st != CS_OK) return err.message[0] ? cli_fail(&err) : CLI_FAIL;
    return CLI_OK;
}
