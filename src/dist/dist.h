/* dist/dist.h - clipsearch as an MPI job: indexing spread over ranks, and
 * search over catalogues held by different ranks (shards).
 *
 * Indexing (cs_dist_index): rank 0 walks the folders and owns the
 * catalogue, the one SQLite writer. It hands out the new and changed files
 * in chunks, dynamically (each rank asks for more when done, so large files
 * and slow hosts even out), sized to shrink towards the end (a quarter of
 * what is left per rank, at most --batch, at least 4) so the ranks finish
 * together. Every rank, rank 0 included (on a thread of its own), reads and
 * hashes its chunk; rank 0 decides from the hashes what needs the model
 * (the same plan as one process: touched, renamed, copied, new); the rank
 * decodes and embeds those with its own thread pool and sends the vectors
 * back; rank 0 stores the chunk in one transaction. The files are read by
 * path on each rank (a filesystem every host sees), or with `ship`, read on
 * rank 0 and their bytes sent with the chunk. Since the engine gives the
 * same bits at any batch size and thread count, the catalogue holds what
 * one process would write (ids aside: chunks commit as they complete).
 *
 * Shards (cs_dist_index_shard): every rank indexes into its own catalogue
 * the files whose path hashes to it (a stable split: a re-run sends every
 * file to the same shard), and rank 0 gathers the counts and the failures.
 * cs_dist_search and cs_dist_shard_serve then answer a query over all of
 * them: each shard's top k, merged on rank 0. */
#ifndef CS_DIST_DIST_H
#define CS_DIST_DIST_H

#include "clipsearch/index.h"
#include "clipsearch/server.h"
#include "dist/comm.h"

/* Every rank calls it. db: rank 0's (NULL on the others; on rank 0, NULL
 * after a failure to open it: then the others are told to stop). model: the
 * rank's own (NULL after a failure to open it: rank 0 is told why). Rank 0
 * returns the run's status and stats; the others CS_OK unless they failed. */
cs_status cs_dist_index(cs_comm *comm, cs_db *db, cs_model *model, const char *const *roots,
                        int n_roots, const cs_index_opts *opts, int ship, cs_index_stats *stats,
                        const cs_error *setup_error, cs_error *err);

/* Every rank indexes its share of the files into its own db; rank 0's stats
 * and on_error then cover all ranks. */
cs_status cs_dist_index_shard(cs_comm *comm, cs_db *db, cs_model *model, const char *const *roots,
                              int n_roots, const cs_index_opts *opts, cs_index_stats *stats,
                              const cs_error *setup_error, cs_error *err);

/* The shard of a path among n (FNV-1a of its bytes). */
int cs_dist_shard_of(const char *path, int n);

/* ---- search over shards: rank 0 asks, every other rank answers ---------- */

/* Rank 0: the top k over every rank's catalogue (its own db included), as
 * cs_db_search (equal scores: by path). exclude_paths are excluded on every
 * shard. */
cs_status cs_dist_search(cs_comm *comm, cs_db *db, const float *query, const cs_search_opts *opts,
                         cs_result **out, int *n, cs_error *err);
/* Rank 0: the same, k results, leaving out one row by global id (the
 * server's "similar": the image itself). */
cs_status cs_dist_search_excluding(cs_comm *comm, cs_db *db, const float *query, int k,
                                   int64_t exclude_gid, cs_result **out, int *n, cs_error *err);
/* Rank 0: the stored vector of an indexed path from whichever shard has it
 * (CS_ENOTFOUND when none). */
cs_status cs_dist_find_vector(cs_comm *comm, cs_db *db, const char *path, float *out,
                              cs_error *err);
/* Rank 0: a row by global id (shards number their rows id * ranks + rank). */
cs_status cs_dist_get(cs_comm *comm, cs_db *db, int64_t gid, cs_db_image *out, cs_error *err);
cs_status cs_dist_get_vector(cs_comm *comm, cs_db *db, int64_t gid, float *out, cs_error *err);
/* Rank 0: the rows of all shards. */
cs_status cs_dist_count(cs_comm *comm, cs_db *db, int64_t *count, cs_error *err);
/* Rank 0: tells the other ranks to return from cs_dist_shard_serve. */
void cs_dist_shard_stop(cs_comm *comm);
/* Ranks > 0: answers rank 0's requests from db (NULL: it could not be
 * opened, setup_error says why, and each request is answered with it) until
 * cs_dist_shard_stop. */
cs_status cs_dist_shard_serve(cs_comm *comm, cs_db *db, cs_pool *pool, const cs_error *setup_error,
                              cs_error *err);
/* Rank 0: `clipsearch serve` over every shard (model: rank 0's, to embed
 * the queries; db: rank 0's shard). The images must be readable by path on
 * rank 0 for thumbnails. Stop it with cs_server_stop, then
 * cs_dist_shard_stop. */
cs_status cs_dist_server_start(cs_comm *comm, cs_model *model, cs_db *db,
                               const cs_server_opts *opts, cs_server **out, cs_error *err);
/* Rank 0, before its first request: whether every shard opened, and holds
 * vectors of the model (model_id, dim); the first failure, by rank. */
cs_status cs_dist_shard_check(cs_comm *comm, const char *model_id, int dim, cs_error *err);

#endif
