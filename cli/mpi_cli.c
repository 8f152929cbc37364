/* cli/mpi_cli.c - see mpi_cli.h. */
#include "mpi_cli.h"

#include "cli_db.h"
#include "core/error.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

int cli_comm_start(cs_comm **out) {
    *out = NULL;
    /* A job of one rank has no one to share with: it is the plain program,
     * without the MPI runtime (its start costs more CPU than the whole
     * coordination of a run) */
    if (!cs_comm_launched() || cs_comm_launched_size() == 1) return CLI_OK;
    cs_error err;
    if (cs_comm_open(out, &err) != CS_OK) return cli_fail(&err);
    return CLI_OK;
}

void cli_comm_end(cs_comm *comm) {
    cs_comm_close(comm);
}

static void on_term(int sig) {
    (void)sig;
    static const char msg[] =
        "clipsearch: the MPI job was stopped (a rank died, or the job was cancelled): every "
        "batch committed so far is kept; run the same command again to finish\n";
    /* async-signal-safe: write and _exit. An open transaction is rolled
     * back by SQLite when the catalogue is next opened. */
    ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)n;
    _exit(CLI_FAIL);
}

void cli_comm_on_kill(void) {
    signal(SIGTERM, on_term);
}

int cli_shard_path(const cs_comm *comm, const char *pattern, char *buf, size_t cap) {
    char rank[16];
    snprintf(rank, sizeof rank, "%d", comm ? cs_comm_rank(comm) : 0);
    size_t n = 0;
    for (const char *p = pattern; *p; p++) {
        const char *piece = p;
        size_t len = 1;
        if (p[0] == '%' && p[1] == 'r') {
            piece = rank;
            len = strlen(rank);
            p++;
        }
        if (n + len >= cap) {
            cli_error("%s: path too long", pattern);
            return CLI_FAIL;
        }
        memcpy(buf + n, piece, len);
        n += len;
    }
    buf[n] = '\0';
    return CLI_OK;
}

int cli_shard_alone(const cs_comm *comm, const char **shard, const char **db, char *buf,
                    size_t cap) {
    if (comm || !*shard) return CLI_OK;
    if (cli_shard_path(NULL, *shard, buf, cap) != CLI_OK) return CLI_FAIL;
    *db = buf;
    *shard = NULL;
    return CLI_OK;
}

int cli_shard_rank(cs_comm *comm, const char *pattern, int threads) {
    char path[4096];
    cs_db *db = NULL;
    cs_error err, setup = {0};
    int rc = CLI_OK;
    if (!pattern) {
        snprintf(setup.message, sizeof setup.message, "no --shard given");
        setup.status = CS_EINVAL;
    } else if (cli_shard_path(comm, pattern, path, sizeof path) != CLI_OK) {
        cs_fail(&setup, CS_ELIMIT, "%s: path too long", pattern);
    } else {
        cs_db_opts o = {.flags = CS_DB_READONLY};
        if (cs_db_open(path, &o, &db, &setup) != CS_OK) rc = cli_fail(&setup);
    }
    cs_pool *pool = cs_pool_create(threads);
    if (cs_dist_shard_serve(comm, db, pool, &setup, &err) != CS_OK) rc = cli_fail(&err);
    cs_pool_free(pool);
    cs_db_close(db);
    return rc;
}

int cli_run_ranks(const char *shard, const char **db, int threads, cli_rank0_fn work, void *ctx) {
    cs_comm *comm = NULL;
    char one[4096];
    if (cli_comm_start(&comm) != CLI_OK ||
        cli_shard_alone(comm, &shard, db, one, sizeof one) != CLI_OK)
        return CLI_FAIL;
    int rc;
    if (comm && cs_comm_rank(comm) != 0) {
        rc = cli_shard_rank(comm, shard, threads);
    } else {
        rc = work(ctx, comm, shard);
        if (comm) cs_dist_shard_stop(comm);
    }
    cli_comm_end(comm);
    return rc;
}

int cli_shard_open(cs_comm *comm, const char *pattern, const cs_model *model, cs_db **db) {
    char path[4096];
    int rc = cli_shard_path(comm, pattern, path, sizeof path);
    if (!rc) rc = cli_db_open_for_model(path, model, db);
    if (rc) return rc;
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    cs_error err;
    if (cs_dist_shard_check(comm, mi.id, mi.embed_dim, &err) != CS_OK) return cli_fail(&err);
    return CLI_OK;
}
