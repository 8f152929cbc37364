/* cli/mpi_cli.h - the commands as ranks of an MPI job (mpirun, srun): see
 * src/dist/dist.h for what each rank does. */
#ifndef CS_CLI_MPI_CLI_H
#define CS_CLI_MPI_CLI_H

#include "cli.h"
#include "dist/dist.h"

/* *out: the job when launched by mpirun or srun as several ranks (every
 * rank joins it), else NULL: also for a job of one rank, which runs as the
 * plain program (a --shard or --shards pattern names rank 0's catalogue).
 * Prints why and returns CLI_FAIL when launched but MPI is missing. */
int cli_comm_start(cs_comm **out);
/* Leaves the job (NULL: nothing). */
void cli_comm_end(cs_comm *comm);

/* Rank 0 while it writes the catalogue: when the launcher ends the job (a
 * rank died, or the job was cancelled), say what is kept before exiting. */
void cli_comm_on_kill(void);

/* The catalogue of this rank: PATTERN with each "%r" replaced by the rank
 * (the same path on every host when it has none). CLI_FAIL if too long. */
int cli_shard_path(const cs_comm *comm, const char *pattern, char *buf, size_t cap);

/* One process (comm NULL) given --shard: *shard names its catalogue,
 * which becomes *db, and *shard is cleared (buf holds the path). With a
 * job, or without --shard, nothing changes. CLI_FAIL if too long. */
int cli_shard_alone(const cs_comm *comm, const char **shard, const char **db, char *buf,
                    size_t cap);

/* A rank > 0 of `search`, `similar` or `serve` under MPI: opens this rank's
 * shard (read-only; pattern NULL: there is none, so it only waits) and
 * answers rank 0 until rank 0 is done. Returns the exit status. */
int cli_shard_rank(cs_comm *comm, const char *pattern, int threads);

/* What rank 0 (or the lone process) of a command does: comm is the job or
 * NULL, shard the --shard pattern under a job (else NULL). */
typedef int (*cli_rank0_fn)(void *ctx, cs_comm *comm, const char *shard);

/* Runs a command that reads catalogues (search, similar) alone or as each
 * rank of an MPI job: ranks > 0 serve their shard (cli_shard_rank, with
 * `threads`) while rank 0 runs work(ctx, ...) and then stops them. Alone,
 * --shard names the catalogue: *db then points into storage that lasts
 * until this returns. Returns work's exit status (or the shard rank's). */
int cli_run_ranks(const char *shard, const char **db, int threads, cli_rank0_fn work, void *ctx);

/* Rank 0: opens its own shard for the model and checks every other rank's;
 * prints why and returns CLI_FAIL when one cannot serve. */
int cli_shard_open(cs_comm *comm, const char *pattern, const cs_model *model, cs_db **db);

#endif
