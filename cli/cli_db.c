/* cli/cli_db.c - see cli_db.h. */
#include "cli_db.h"

#include <stdlib.h>
#include <string.h>

int cli_db_path(const char *opt, char *buf, size_t cap) {
    if (opt && *opt) {
        if (strlen(opt) >= cap) {
            cli_error("--db: path too long");
            return CLI_FAIL;
        }
        strcpy(buf, opt);
        return CLI_OK;
    }
    cs_error err;
    if (cs_db_default_path(buf, cap, &err) != CS_OK) return cli_fail(&err);
    return CLI_OK;
}

int cli_db_open(const char *opt_db, const cs_db_opts *opts, cs_db **out) {
    char path[4096];
    int rc = cli_db_path(opt_db, path, sizeof path);
    if (rc) return rc;
    cs_error err;
    if (cs_db_open(path, opts, out, &err) == CS_OK) return CLI_OK;
    cli_fail(&err);
    if (err.status == CS_ENOTFOUND)
        fprintf(stderr, "hint: index some images first: clipsearch index DIR...\n");
    else if (err.status == CS_EMISMATCH)
        fprintf(stderr, "hint: re-index for this model with `clipsearch index --reset DIR...`, "
                        "or give another --db\n");
    return CLI_FAIL;
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
