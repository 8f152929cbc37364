/* cli/mpi_cli.c - see mpi_cli.h. */
#include "mpi_cli.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

int cli_comm_start(cs_comm **out) {
    *out = NULL;
    if (!cs_comm_launched()) return CLI_OK;
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
