/*
 * clipsearch/search.h - nearest neighbours among embeddings: exact top-k by
 * inner product (= cosine, since embeddings are L2-normalised), and FAISS
 * interchange (an index the Python `faiss` package reads).
 */
#ifndef CLIPSEARCH_SEARCH_H
#define CLIPSEARCH_SEARCH_H

#include "clipsearch/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cs_hit {
    int64_t id;  /* the row of the vector (or its FAISS id) */
    float score; /* inner product with the query */
} cs_hit;

/* Exact search: the k rows of `vectors` (n x dim, row-major float) with the
 * largest inner product with `query`, best first (equal scores: lower id
 * first). Writes min(k, n) hits and returns that count (0 when a pointer is
 * NULL or n, dim or k <= 0). pool may be NULL (this thread only). Thread-safe;
 * allocates only (pool threads - 1) x k hits per call. */
CS_API int64_t cs_search_flat(cs_pool *pool, const float *vectors, int64_t n, int dim,
                              const float *query, int k, cs_hit *hits);

/* Writes a FAISS index file readable by faiss.read_index(): with factory NULL,
 * IndexIDMap(IndexFlatIP) holding the rows with ids 0..n-1; otherwise the
 * index built by faiss.index_factory(dim, factory, METRIC_INNER_PRODUCT),
 * trained on the vectors if it needs training. Written atomically. A factory
 * string FAISS refuses, or too few vectors to train, is CS_EINVAL in plain
 * words, before anything is written; a path that exists and is not a
 * regular file (a device, a folder, a link) is refused (CS_EINVAL). */
CS_API cs_status cs_faiss_export(const char *path, const float *vectors, int64_t n, int dim,
                                 const char *factory, cs_error *err);

/* Like cs_faiss_export, and also writes `path`.paths: paths[i] on line i+1
 * (the id order), each followed by '\n', exactly as a Python
 * loader reading it line by line (faiss + a list of paths) expects (nothing else in it). A path
 * containing a newline cannot be written that way and is refused (CS_EINVAL). Then `path`.manifest,
 * one line of JSON that ties the two together:
 *   {"format": "clipsearch-faiss-export", "version": 1, "count": N,
 *    "dim": D, "index_sha256": HEX, "paths_sha256": HEX}
 * All three are written in full to temporary files (fsync'd) before any is
 * renamed into place: a failure (a full disk) leaves the old files, and a
 * crash between the renames leaves a manifest that does not match, which
 * cs_faiss_read_paths refuses. */
CS_API cs_status cs_faiss_export_paths(const char *path, const float *vectors,
                                       const char *const *paths, int64_t n, int dim,
                                       const char *factory, cs_error *err);

/* An opened FAISS index file, any type faiss.read_index() reads. Searching
 * is safe from several threads at once; FAISS may use its own OpenMP threads
 * for batches and training (one query runs on the calling thread). */
typedef struct cs_faiss_index cs_faiss_index;

CS_API cs_status cs_faiss_open(const char *path, cs_faiss_index **out, cs_error *err);
CS_API void cs_faiss_close(cs_faiss_index *index);
CS_API int64_t cs_faiss_ntotal(const cs_faiss_index *index); /* vectors held */
CS_API int cs_faiss_dim(const cs_faiss_index *index);
/* 1 for METRIC_INNER_PRODUCT (score: larger is nearer), 0 for a distance
 * such as L2 (score: smaller is nearer). */
CS_API int cs_faiss_is_inner_product(const cs_faiss_index *index);

/* The k nearest to query (dim floats), in FAISS's order (best first), with
 * the index's ids; *count = hits written (< k when the index holds fewer).
 * Exact for flat indexes, approximate for the others. */
CS_API cs_status cs_faiss_search(const cs_faiss_index *index, const float *query, int k,
                                 cs_hit *hits, int64_t *count, cs_error *err);

/* Every stored vector (ntotal x dim floats; decoded, so approximate for
 * compressed types) and its id (ntotal). Either may be NULL. */
CS_API cs_status cs_faiss_read_vectors(cs_faiss_index *index, float *vectors, int64_t *ids,
                                       cs_error *err);

/* Reads `index_path`.paths: *paths is a malloc'd array of *n malloc'd
 * strings (line i = id i, trailing '\r' removed); free with
 * cs_faiss_paths_free. When `index_path`.manifest exists, the .paths file
 * and the index must be the files it describes (count and SHA-256 of
 * both), else CS_EFORMAT; without one they are taken as they are. */
CS_API cs_status cs_faiss_read_paths(const char *index_path, char ***paths, int64_t *n,
                                     cs_error *err);
CS_API void cs_faiss_paths_free(char **paths, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
