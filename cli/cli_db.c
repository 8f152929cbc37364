/* cli/cli_db.c - see cli_db.h. */
#include "cli_db.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --db if given, else $CLIPSEARCH_DB or the per-user default; says why not
 * in err. */
static cs_status choose_path(const char *opt, char *buf, size_t cap, cs_error *err) {
    if (!opt || !*opt) return cs_db_default_path(buf, cap, err);
    if (strlen(opt) >= cap) {
        err->status = CS_EINVAL;
        snprintf(err->message, sizeof err->message, "--db: path too long");
        return CS_EINVAL;
    }
    strcpy(buf, opt);
    return CS_OK;
}

int cli_db_path(const char *opt, char *buf, size_t cap) {
    cs_error err;
    if (choose_path(opt, buf, cap, &err) != CS_OK) return cli_fail(&err);
    return CLI_OK;
}

static int open_failed(const cs_error *err) {
    cli_fail(err);
    if (err->status == CS_ENOTFOUND)
        fprintf(stderr, "hint: index some images first: clipsearch index DIR...\n");
    else if (err->status == CS_EMISMATCH)
        fprintf(stderr, "hint: re-index for this model with `clipsearch index --reset DIR...`, "
                        "or give another --db\n");
    return CLI_FAIL;
}

int cli_db_open(const char *opt_db, const cs_db_opts *opts, cs_db **out) {
    char path[4096];
    int rc = cli_db_path(opt_db, path, sizeof path);
    if (rc) return rc;
    cs_error err;
    if (cs_db_open(path, opts, out, &err) != CS_OK) return open_failed(&err);
    if (!opts || !opts->log) cs_db_set_log(*out, cli_log_stderr, NULL);
    return CLI_OK;
}

int cli_db_open_for_model(const char *opt_db, const cs_model *model, cs_db **out) {
    char path[4096];
    int rc = cli_db_path(opt_db, path, sizeof path);
    if (rc) return rc;
    cs_error err;
    if (cs_db_open_model(path, model, CS_DB_READONLY, out, &err) != CS_OK) return open_failed(&err);
    cs_db_set_log(*out, cli_log_stderr, NULL); /* e.g. why the approximate index is not used */
    return CLI_OK;
}

const char *cli_db_model(const char *opt_model, const char *opt_db) {
    static char source[4096];
    if (cli_model_arg(opt_model)) return opt_model;
    char path[4096];
    struct stat st;
    cs_error err;
    if (choose_path(opt_db, path, sizeof path, &err) != CS_OK) return NULL;
    if (stat(path, &st) != 0) return NULL; /* a new catalogue: the default model */
    cs_db_opts o = {.flags = CS_DB_READONLY};
    cs_db *db = NULL;
    cs_db_info info;
    const char *out = NULL;
    if (cs_db_open(path, &o, &db, &err) == CS_OK && cs_db_get_info(db, &info, &err) == CS_OK &&
        *info.model_source && strlen(info.model_source) < sizeof source &&
        stat(info.model_source, &st) == 0 && S_ISDIR(st.st_mode)) {
        strcpy(source, info.model_source);
        out = source;
    }
    cs_db_close(db);
    return out;
}

int cli_model_open(const char *opt_model, cs_pool *pool, int *verbosity, cs_model **out) {
    *out = NULL;
    const char *dir = cli_resolve_model(opt_model); /* prints why when it fails */
    if (!dir) return CLI_FAIL;
    cs_model_opts mo = {.pool = pool, .log = cli_log_stderr, .log_user = verbosity};
    cli_model_env(&mo);
    cs_error err;
    if (cs_model_open(dir, &mo, out, &err) != CS_OK) return cli_fail(&err);
    return CLI_OK;
}

void cli_format_bytes(int64_t n, char *buf, size_t cap) {
    static const char *const units[] = {"bytes", "kB", "MB", "GB", "TB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1000 && u < 4) v /= 1000, u++;
    if (u == 0)
        snprintf(buf, cap, "%lld bytes", (long long)n);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
}
