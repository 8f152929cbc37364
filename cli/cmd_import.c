/* cli/cmd_import.c - `clipsearch import`: embeddings made elsewhere (.npy
 * shards with a paths file, or a FAISS index with its .paths) into the
 * catalogue. Everything is read and checked before the first write, so bad
 * input leaves the catalogue as it was; then one transaction per batch, and
 * a re-run skips the rows already stored (resumable after a crash). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_db.h"
#include "core/file.h"
#include "index/npy.h"

static int run(int argc, char **argv);

const cs_cli_command cs_cmd_import = {
    "import", "add embeddings made elsewhere (.npy + paths, or a FAISS index)",
    "usage: clipsearch import [OPTIONS] --npy FILE... --paths FILE\n"
    "       clipsearch import [OPTIONS] --faiss FILE\n"
    "\n"
    "Adds rows of embeddings computed elsewhere, e.g. clip-retrieval's\n"
    "img_emb/*.npy shards, to the catalogue. Rows are L2-normalised on the way\n"
    "in. Their files need not exist on this disk. Everything is checked before\n"
    "anything is written: a bad file leaves the catalogue as it was. Rows are\n"
    "stored in batches, one transaction each; after an interruption, run the\n"
    "same command again: rows already stored are skipped.\n"
    "\n"
    "  --npy FILE...      N x D float32 or float16 rows (several files: shards,\n"
    "                     taken in the order given)\n"
    "  --paths FILE       one path per line, as many as the rows of all --npy\n"
    "  --faiss FILE       a FAISS index and FILE.paths (as `export --faiss` and\n"
    "                     the Python tutorial write them; compressed indexes\n"
    "                     give their decoded, approximate vectors)\n"
    "  --model DIR|NAME   the model the vectors came from; a new database is\n"
    "                     bound to it, an existing one must be of it (default for\n"
    "                     an existing database: its own model; for a new one:\n"
    "                     $CLIPSEARCH_MODEL, else the default model)\n"
    "  --db PATH          the database (default: $CLIPSEARCH_DB, else\n"
    "                     $XDG_DATA_HOME/clipsearch/catalog.db)\n"
    "  --batch N          rows per transaction (default 4096)\n"
    "  --threads N        threads for building the search index (default: one per core)\n"
    "  -q, --quiet        no summary\n",
    run};

/* The rows to import, from either source: row i's vector and path. */
typedef struct source {
    cs_npy *npy;
    int n_npy;
    float *vecs; /* --faiss: decoded, rows x dim */
    char **paths;
    int64_t n_paths, rows;
    int dim;
    char *text;   /* --paths: the file, which paths point into */
    char **lines; /* --faiss: FILE.paths's lines, which paths point to */
    int64_t n_lines;
} source;

static void get_row(const source *s, int64_t i, float *out) {
    if (s->vecs) {
        memcpy(out, s->vecs + i * s->dim, (size_t)s->dim * sizeof *out);
        return;
    }
    for (int f = 0; f < s->n_npy; f++) {
        if (i < s->npy[f].rows) {
            cs_npy_row(&s->npy[f], i, out);
            return;
        }
        i -= s->npy[f].rows;
    }
}

/* The lines of a text file into s->paths (pointing into s->text); an
 * empty line is refused. */
static int read_lines(const char *file, source *s) {
    char *text = NULL;
    size_t size = 0;
    cs_error err;
    if (cs_read_file(file, (size_t)16 << 30, &text, &size, &err) != CS_OK) return cli_fail(&err);
    int64_t lines = 0;
    for (size_t i = 0; i < size; i++) lines += text[i] == '\n';
    if (size && text[size - 1] != '\n') lines++;
    char **p = malloc((size_t)(lines + 1) * sizeof *p);
    if (!p) {
        free(text);
        return CLI_FAIL;
    }
    char *at = text;
    for (int64_t i = 0; i < lines; i++) {
        char *end = memchr(at, '\n', size - (size_t)(at - text));
        if (end) *end = '\0';
        size_t len = strlen(at);
        if (len && at[len - 1] == '\r') at[len - 1] = '\0';
        if (!*at) {
            cli_error("%s: line %lld is empty (one path per row)", file, (long long)i + 1);
            free(p);
            free(text);
            return CLI_FAIL;
        }
        p[i] = at;
        at = end ? end + 1 : at + len;
    }
    s->text = text;
    s->paths = p;
    s->n_paths = lines;
    return CLI_OK;
}

static int open_faiss(const char *file, source *s) {
    cs_faiss_index *fi = NULL;
    cs_error err;
    int64_t *ids = NULL;
    if (cs_faiss_open(file, &fi, &err) != CS_OK) return cli_fail(&err);
    s->rows = cs_faiss_ntotal(fi);
    s->dim = cs_faiss_dim(fi);
    s->vecs = malloc(((size_t)s->rows * s->dim + 1) * sizeof *s->vecs);
    ids = malloc((size_t)(s->rows + 1) * sizeof *ids);
    int rc = s->vecs && ids ? CLI_OK : CLI_FAIL;
    if (!rc && cs_faiss_read_vectors(fi, s->vecs, ids, &err) != CS_OK) rc = cli_fail(&err);
    cs_faiss_close(fi);
    if (!rc && cs_faiss_read_paths(file, &s->lines, &s->n_lines, &err) != CS_OK)
        rc = cli_fail(&err);
    if (!rc && (s->paths = malloc((size_t)(s->rows + 1) * sizeof *s->paths)) == NULL) rc = CLI_FAIL;
    for (int64_t i = 0; !rc && i < s->rows; i++) {
        if (ids[i] < 0 || ids[i] >= s->n_lines) {
            cli_error("%s: id %lld has no line in %s.paths (%lld lines)", file, (long long)ids[i],
                      file, (long long)s->n_lines);
            rc = CLI_FAIL;
        } else {
            s->paths[i] = s->lines[ids[i]];
        }
    }
    free(ids);
    if (!rc) s->n_paths = s->rows;
    return rc;
}

static int open_npys(const char *const *files, int n, source *s) {
    s->npy = calloc((size_t)n, sizeof *s->npy);
    if (!s->npy) return CLI_FAIL;
    cs_error err;
    for (int i = 0; i < n; i++) {
        if (cs_npy_open(files[i], &s->npy[i], &err) != CS_OK) return cli_fail(&err);
        s->n_npy = i + 1;
        if (i && s->npy[i].cols != s->dim) {
            cli_error("%s: %d columns, but %s has %d", files[i], s->npy[i].cols, files[0], s->dim);
            return CLI_FAIL;
        }
        s->dim = s->npy[i].cols;
        s->rows += s->npy[i].rows;
    }
    return CLI_OK;
}

/* Every row finite and not zero (a zero row has no direction to search by). */
static int check_rows(const source *s, const char *const *files) {
    float *v = malloc((size_t)s->dim * sizeof *v);
    if (!v) return CLI_FAIL;
    int64_t base = 0;
    int f = 0;
    for (int64_t i = 0; i < s->rows; i++) {
        while (s->npy && i - base >= s->npy[f].rows) base += s->npy[f++].rows;
        get_row(s, i, v);
        double ss = 0;
        for (int d = 0; d < s->dim; d++) ss += (double)v[d] * v[d];
        if (!isfinite(ss) || ss == 0) {
            cli_error("%s: row %lld is %s: nothing was imported", s->npy ? files[f] : files[0],
                      (long long)(i - base), isfinite(ss) ? "zero" : "not finite (NaN or inf)");
            free(v);
            return CLI_FAIL;
        }
    }
    free(v);
    return CLI_OK;
}

/* The path stored: absolute (relative ones are taken from here), as given. */
static char *abs_path(const char *p) {
    if (p[0] == '/') return strdup(p);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    size_t n = strlen(cwd) + strlen(p) + 2;
    char *o = malloc(n);
    if (o) snprintf(o, n, "%s/%s", cwd, p);
    return o;
}

/* 1 when the row of path is stored with this content already. */
static int already(cs_db *db, const char *path, const uint8_t hash[16]) {
    int64_t id;
    cs_db_image img;
    cs_error e;
    if (cs_db_find(db, path, &id, &e) != CS_OK || cs_db_get(db, id, &img, &e) != CS_OK) return 0;
    int same = memcmp(img.hash, hash, 16) == 0;
    cs_db_image_clear(&img);
    return same;
}

static int store(cs_db *db, const source *s, int batch, int resume, int64_t *added,
                 int64_t *skipped) {
    cs_db_entry *e = calloc((size_t)batch, sizeof *e);
    float *v = malloc((size_t)batch * s->dim * sizeof *v);
    char **owned = calloc((size_t)batch, sizeof *owned);
    int rc = e && v && owned ? CLI_OK : CLI_FAIL;
    cs_error err;
    for (int64_t b = 0; !rc && b < s->rows; b += batch) {
        int m = 0;
        for (int64_t i = b; i < s->rows && i < b + batch && !rc; i++) {
            float *x = v + (size_t)m * s->dim;
            get_row(s, i, x);
            double ss = 0;
            for (int d = 0; d < s->dim; d++) ss += (double)x[d] * x[d];
            for (int d = 0; d < s->dim; d++) x[d] = (float)(x[d] / sqrt(ss));
            if (!(owned[m] = abs_path(s->paths[i]))) {
                rc = CLI_FAIL;
                break;
            }
            e[m] = (cs_db_entry){.path = owned[m], .embedding = x};
            /* the content of an imported row is its vector */
            cs_hash128(x, (size_t)s->dim * sizeof *x, e[m].hash);
            if (resume && already(db, owned[m], e[m].hash)) {
                free(owned[m]);
                (*skipped)++;
                continue;
            }
            m++;
        }
        if (!rc && m && cs_db_put(db, e, m, &err) != CS_OK) rc = cli_fail(&err);
        if (!rc) *added += m;
        for (int i = 0; i < m; i++) free(owned[i]);
    }
    free(e);
    free(v);
    free(owned);
    return rc;
}

/* Opens (or creates) the database for rows of s->dim columns. */
static int open_db(const char *db_opt, const char *model_opt, cs_pool *pool, const source *s,
                   const char *what, cs_db **db) {
    char path[4096];
    int rc = cli_db_path(db_opt, path, sizeof path);
    struct stat st;
    if (rc) return rc;
    cs_error err;
    if (!model_opt && stat(path, &st) == 0) { /* its own model */
        cs_db_opts o = {0};
        if (cs_db_open(path, &o, db, &err) != CS_OK) return cli_fail(&err);
    } else {
        int verbosity = CS_LOG_WARN;
        cs_model *model = NULL;
        if ((rc = cli_model_open(model_opt, pool, &verbosity, &model))) return rc;
        cs_model_info mi;
        cs_model_get_info(model, &mi);
        if (mi.embed_dim != s->dim) {
            cli_error("%s: %d columns, but the model %s embeds in %d dimensions", what, s->dim,
                      mi.dir ? mi.dir : mi.id, mi.embed_dim);
            cs_model_close(model);
            return CLI_FAIL;
        }
        if (cs_db_open_model(path, model, CS_DB_CREATE, db, &err) != CS_OK) rc = cli_fail(&err);
        cs_model_close(model);
        if (rc) return rc;
    }
    cs_db_info info;
    if (cs_db_get_info(*db, &info, &err) != CS_OK) return cli_fail(&err);
    if (info.dim != s->dim) {
        cli_error("%s: %d columns, but the database %s holds %d-dimensional embeddings (model %s): "
                  "nothing was imported",
                  what, s->dim, path, info.dim, info.model_id);
        return CLI_FAIL;
    }
    return CLI_OK;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int run(int argc, char **argv) {
    enum { O_NPY = 256, O_PATHS, O_FAISS, O_MODEL, O_DB, O_BATCH, O_THREADS };
    static const struct option longs[] = {{"npy", required_argument, NULL, O_NPY},
                                          {"paths", required_argument, NULL, O_PATHS},
                                          {"faiss", required_argument, NULL, O_FAISS},
                                          {"model", required_argument, NULL, O_MODEL},
                                          {"db", required_argument, NULL, O_DB},
                                          {"batch", required_argument, NULL, O_BATCH},
                                          {"threads", required_argument, NULL, O_THREADS},
                                          {"quiet", no_argument, NULL, 'q'},
                                          {0, 0, 0, 0}};
    const char **npys = calloc((size_t)argc + 1, sizeof *npys);
    const char *paths_file = NULL, *faiss = NULL, *model_opt = NULL, *db_opt = NULL;
    int n_npy = 0, batch = 4096, threads = 0, quiet = 0, c;
    if (!npys) return CLI_FAIL;
    while ((c = getopt_long(argc, argv, "q", longs, NULL)) != -1) {
        if (c == O_NPY)
            npys[n_npy++] = optarg;
        else if (c == O_PATHS)
            paths_file = optarg;
        else if (c == O_FAISS)
            faiss = optarg;
        else if (c == O_MODEL)
            model_opt = optarg;
        else if (c == O_DB)
            db_opt = optarg;
        else if (c == O_BATCH) {
            if (cli_int_arg("--batch", optarg, 1, 1 << 20, &batch)) {
                free(npys);
                return CLI_USAGE;
            }
        } else if (c == O_THREADS) {
            if (cli_int_arg("--threads", optarg, 0, 4096, &threads)) {
                free(npys);
                return CLI_USAGE;
            }
        } else if (c == 'q')
            quiet = 1;
        else {
            free(npys);
            return cli_usage(&cs_cmd_import);
        }
    }
    /* `--npy DIR/x*.npy`: the files the shell expands after the first --npy */
    while (n_npy && optind < argc) npys[n_npy++] = argv[optind++];
    if (optind != argc || batch <= 0 || threads < 0 || (!n_npy == !faiss) ||
        (n_npy && !paths_file) || (faiss && paths_file)) {
        free(npys);
        return cli_usage(&cs_cmd_import);
    }
    double t0 = now();
    source s = {0};
    int rc = faiss ? open_faiss(faiss, &s) : open_npys(npys, n_npy, &s);
    if (!rc && !faiss) rc = read_lines(paths_file, &s);
    if (!rc && s.n_paths != s.rows) {
        cli_error("%s: %lld paths for %lld rows", faiss ? faiss : paths_file, (long long)s.n_paths,
                  (long long)s.rows);
        rc = CLI_FAIL;
    }
    if (!rc) rc = check_rows(&s, faiss ? &faiss : npys);
    cs_pool *pool = rc ? NULL : cs_pool_create(threads);
    cs_db *db = NULL;
    if (!rc && !pool) rc = CLI_FAIL;
    if (!rc) rc = open_db(db_opt, model_opt, pool, &s, faiss ? faiss : npys[0], &db);
    int64_t added = 0, skipped = 0;
    cs_db_info info;
    cs_error err;
    if (!rc) {
        int verbosity = CS_LOG_WARN;
        cs_db_set_log(db, cli_log_stderr, &verbosity);
        rc = cs_db_get_info(db, &info, &err) != CS_OK ? cli_fail(&err) : CLI_OK;
        if (!rc) rc = store(db, &s, batch, info.count > 0, &added, &skipped);
        double t1 = now();
        /* the search files; a failure here leaves searches on the scan */
        if (!rc && cs_db_finish(db, pool, &err) != CS_OK) rc = cli_fail(&err);
        if (!rc && cs_db_get_info(db, &info, &err) != CS_OK) rc = cli_fail(&err);
        if (!rc && !quiet)
            printf("imported %lld rows (%lld already there) in %.1f s, search files %.1f s; "
                   "%lld images, search: %s\n",
                   (long long)added, (long long)skipped, t1 - t0, now() - t1, (long long)info.count,
                   info.search_index);
    }
    cs_db_close(db);
    cs_pool_free(pool);
    for (int i = 0; i < s.n_npy; i++) cs_npy_close(&s.npy[i]);
    free(s.npy);
    free(s.vecs);
    free(s.paths);
    free(s.text);
    cs_faiss_paths_free(s.lines, s.n_lines);
    free(npys);
    return rc;
}
