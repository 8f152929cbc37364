/* index/indexer.h - the indexing pipeline, independent of the model.
 *
 * cs_db_index (index_model.c) runs it with the CLIP engine as its backend;
 * tests run it with a synthetic one. Per batch of new or changed files:
 *   1. read + hash (pool)           -> unchanged content? same hash elsewhere?
 *   2. read + decode + preprocess (pool) the files whose content is new
 *   3. embed the batch (backend, on its own threads)
 *   4. store: one transaction (a crash loses at most this batch)
 * then rows of files no longer found are dropped, and the vector file is
 * rewritten. */
#ifndef CS_INDEX_INDEXER_H
#define CS_INDEX_INDEXER_H

#include "clipsearch/index.h"

typedef struct cs_index_backend {
    void *user;
    size_t input_floats; /* floats of one prepared image */
    /* 1 when the first bytes of a file are an image's (see walk.h); may be NULL */
    int (*is_image)(const uint8_t *head, size_t n);
    /* The bytes of one file -> the model input (input_floats floats) and the
     * upright image size. Called from pool threads, concurrently. */
    cs_status (*prepare)(void *user, const void *data, size_t size, const char *name, float *input,
                         int *width, int *height, cs_error *err);
    /* n prepared inputs -> n embeddings of the database's dim. more: how
     * many files of the run are still to come after these (a hint). */
    cs_status (*embed)(void *user, const float *inputs, int n, int more, float *out, cs_error *err);
    cs_pool *pool; /* for reading/hashing/decoding; NULL: the calling thread */
} cs_index_backend;

cs_status cs_index_run(cs_db *db, const cs_index_backend *be, const char *const *roots, int n_roots,
                       const cs_index_opts *opts, cs_index_stats *stats, cs_error *err);

#endif
