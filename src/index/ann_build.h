/* index/ann_build.h - the steps of building DB.ann (ann_build.c), used by
 * the update in ann_db.c. */
#ifndef CS_INDEX_ANN_BUILD_H
#define CS_INDEX_ANN_BUILD_H

#include "core/pool.h"
#include "index/ann.h"
#include "index/ann_internal.h"

/* The list count for a catalogue of n rows. */
int cs_ann_choose_nlist(int64_t n);

/* The bits of a row's codes (8 or 4) for a catalogue of n rows of dim:
 * `current` when not 0 (an update keeps its index's codes; the bits
 * follow the size only when the lists are trained anew, so a catalogue
 * about the threshold does not go back and forth), else by size.
 * CLIPSEARCH_ANN_BITS=4|8 overrides both, for tests and benchmarks. */
int cs_ann_choose_bits(int64_t n, int dim, int current);

/* Centroids (nlist x dim, unit length) by spherical k-means on an even
 * sample of vecs (n x dim), and the range of each dimension for codes of
 * `bits`. */
cs_status cs_ann_train(cs_pool *pool, const float *vecs, int64_t n, int dim, int nlist, int bits,
                       float *centroids, float *sq_min, float *sq_step, cs_error *err);

/* list[i] = nearest centroid of row rows[i] of base (rows NULL: row i). */
cs_status cs_ann_assign(cs_pool *pool, const float *base, const int64_t *rows, int64_t n, int dim,
                        const float *centroids, int nlist, uint32_t *list, cs_error *err);

/* Writes the index of the plain snapshot v (row r in list[r]) to path
 * atomically; proto gives dim, nlist, code_bits, generation, uuid,
 * trained_count. */
cs_status cs_ann_write(const char *path, const cs_ann_header *proto, const float *centroids,
                       const float *sq_min, const float *sq_step, const uint32_t *list,
                       const cs_vecs *v, cs_error *err);

#endif
