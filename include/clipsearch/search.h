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
 * first). Writes min(k, n) hits and returns that count. pool may be NULL. */
CS_API int64_t cs_search_flat(cs_pool *pool, const float *vectors, int64_t n, int dim,
                              const float *query, int k, cs_hit *hits);

/* Writes a FAISS index file readable by faiss.read_index(): with factory NULL,
 * IndexIDMap(IndexFlatIP) holding the rows with ids 0..n-1; otherwise the
 * index built by faiss.index_factory(dim, factory, METRIC_INNER_PRODUCT),
 * trained on the vectors if it needs training. Written atomically. */
CS_API cs_status cs_faiss_export(const char *path, const float *vectors, int64_t n, int dim,
                                 const char *factory, cs_error *err);

#ifdef __cplusplus
}
#endif

#endif
