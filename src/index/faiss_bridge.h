/* index/faiss_bridge.h - the C face of faiss_bridge.cpp, the one C++ file of
 * the project: Debian's libfaiss.a (faiss 1.7.3) is C++ only, and this is all
 * of it we use. Every function catches every exception and reports it as a
 * cs_status with a message naming the file. The public API over it is in
 * faiss_io.c (clipsearch/search.h). */
#ifndef CS_INDEX_FAISS_BRIDGE_H
#define CS_INDEX_FAISS_BRIDGE_H

#include <stdint.h>

#include "clipsearch/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A faiss::Index of any type, owned. */
typedef struct cs_fb_index cs_fb_index;

/* Builds an index over x (n x dim) in memory. factory NULL:
 * IndexIDMap(IndexFlatIP) with ids 0..n-1; else
 * index_factory(dim, factory, METRIC_INNER_PRODUCT), trained on x when it
 * needs training, ids 0..n-1 when it maps ids ("IDMap,..."). A factory
 * string FAISS refuses, or too few vectors to train, is CS_EINVAL in our
 * words (e.g. "IVF1024 needs at least 1024 vectors to train; the catalogue
 * has 25"). Nothing is written. */
cs_status cs_fb_build(const float *x, int64_t n, int dim, const char *factory, cs_fb_index **out,
                      cs_error *err);

/* Writes the index to a new temporary file beside path ("path.XXXXXX",
 * its name into tmp), fsync'd, with the SHA-256 of its bytes; the caller
 * renames it into place or unlinks it. On failure nothing is left. */
cs_status cs_fb_write_tmp(const cs_fb_index *index, const char *path, char *tmp, size_t tmp_cap,
                          uint8_t sha256[32], cs_error *err);

/* An in-memory IndexFlatIP holding a copy of x (n x dim): the baseline of
 * bench/bench_search.c. */
cs_status cs_fb_flat_ip(const float *x, int64_t n, int dim, cs_fb_index **out, cs_error *err);

/* The file's layout walked first (faiss_shape.h: every array it announces
 * must be in it, so what FAISS allocates is bounded by its length), then
 * faiss::read_index on its mapping, then checked: the counts and sizes that
 * its search relies on must agree (ntotal, code arrays, inverted lists,
 * graph links), else CS_EFORMAT; types other than flat, IDMap,
 * IVF-Flat/PQ/SQ, PQ, SQ and HNSW over flat or SQ are refused (they could
 * not be checked). */
cs_status cs_fb_read(const char *path, cs_fb_index **out, cs_error *err);
/* The same from memory (name is for messages): the fuzzer's entry. */
cs_status cs_fb_read_mem(const void *data, size_t size, const char *name, cs_fb_index **out,
                         cs_error *err);
void cs_fb_free(cs_fb_index *index);

int64_t cs_fb_ntotal(const cs_fb_index *index);
int cs_fb_dim(const cs_fb_index *index);
int cs_fb_is_inner_product(const cs_fb_index *index); /* else a distance: smaller is nearer */

/* index->search(nq, q, k, distances, labels): q is nq x dim; distances and
 * labels are nq x k, label -1 where fewer than k vectors exist. */
cs_status cs_fb_search(const cs_fb_index *index, int64_t nq, const float *q, int k,
                       float *distances, int64_t *labels, cs_error *err);

/* Every stored vector (ntotal x dim, decoded: approximate for compressed
 * types) and its id (the IndexIDMap's id, else the row). Either output may be
 * NULL. May build the direct map of an IVF index, hence not const. */
cs_status cs_fb_reconstruct_all(cs_fb_index *index, float *vectors, int64_t *ids, cs_error *err);

/* omp_set_num_threads: FAISS's own OpenMP threads for the calling thread. */
void cs_fb_set_threads(int n_threads);

#ifdef __cplusplus
}
#endif

#endif
