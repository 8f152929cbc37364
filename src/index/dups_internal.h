/* index/dups_internal.h - the pieces behind cs_db_duplicates, on plain rows
 * of vectors (no catalogue): a neighbour source that finds the pairs at
 * cosine >= T, then grouping. Tests and the benchmark call them directly.
 *
 *   cs_dups_links     the pairs, each row keeping its k best (the k-NN graph
 *                     cut at the threshold); exact or IVF by size
 *   cs_dups_make_groups  connected components of those links, or complete-
 *                     linkage groups inside them (strict) */
#ifndef CS_INDEX_DUPS_INTERNAL_H
#define CS_INDEX_DUPS_INTERNAL_H

#include <stdint.h>

#include "clipsearch/index.h"

/* A pair of rows, a < b, at cosine `score`. */
typedef struct cs_dup_link {
    int64_t a, b;
    float score;
} cs_dup_link;

/* Each row's best k neighbours at >= threshold, kept while a source scans:
 * row r's are nb[r k .. r k + count[r]). Safe to feed from several threads
 * (a row is locked while it is updated). */
typedef struct cs_dup_lists cs_dup_lists;

cs_dup_lists *cs_dup_lists_new(int64_t n, int k);
void cs_dup_lists_free(cs_dup_lists *l);
/* Offers b as a neighbour of a and a as one of b (a != b). */
void cs_dup_lists_offer(cs_dup_lists *l, int64_t a, int64_t b, float score);
/* The union of every row's list as links (each pair once, a < b), in
 * *out (malloc'd), *n links. */
cs_status cs_dup_lists_links(const cs_dup_lists *l, cs_dup_link **out, int64_t *n, cs_error *err);

/* Which way to find the pairs. */
typedef enum cs_dups_method {
    CS_DUPS_AUTO = 0, /* exact up to CS_DUPS_EXACT_MAX rows, else IVF */
    CS_DUPS_EXACT,    /* every pair, blocked X X^T on the GEMM kernels */
    CS_DUPS_IVF       /* k-means lists, each row probes its nearest few */
} cs_dups_method;

/* Above this many rows AUTO uses the IVF pass: the exact scan's n^2/2 dot
 * products take longer than the IVF's assignment plus probing (see
 * docs/duplicates.md for the measurement). */
#define CS_DUPS_EXACT_MAX 40000

/* The neighbour source: fills l from n rows of dim floats (L2-normalised).
 * Every pair at cosine >= threshold is offered (exact), or those the probed
 * lists hold (IVF). The one function the grouping depends on. */
cs_status cs_dups_find(cs_pool *pool, const float *vectors, int64_t n, int dim, float threshold,
                       cs_dups_method method, cs_dup_lists *l, cs_error *err);
cs_status cs_dups_find_exact(cs_pool *pool, const float *vectors, int64_t n, int dim,
                             float threshold, cs_dup_lists *l, cs_error *err);
cs_status cs_dups_find_ivf(cs_pool *pool, const float *vectors, int64_t n, int dim, float threshold,
                           cs_dup_lists *l, cs_error *err);
/* The IVF pass with its knobs: nlist k-means lists (0: sqrt(nprobe n)),
 * each row probing its nprobe nearest (0: CS_DUPS_NPROBE). */
#define CS_DUPS_NPROBE 3
cs_status cs_dups_find_ivf_with(cs_pool *pool, const float *vectors, int64_t n, int dim,
                                float threshold, int nlist, int nprobe, cs_dup_lists *l,
                                cs_error *err);

/* Offers the pairs >= threshold between rows A (na x dim, gathered; their
 * row numbers ida, NULL: a0 + i) and rows B (likewise idb / b0). With
 * same, A and B are the same rows and only pairs i < j are looked at.
 * y: ROW_BLOCK x COL_BLOCK floats of scratch (CS_DUPS_SCRATCH). Fails
 * only when the GEMM's scratch cannot be allocated. */
#define CS_DUPS_SCRATCH (256 * 512)
cs_status cs_dups_scan(const float *A, const int64_t *ida, int64_t a0, int64_t na, const float *B,
                       const int64_t *idb, int64_t b0, int64_t nb, int dim, int same,
                       float threshold, cs_dup_lists *l, float *y);

/* Groups: rows of group g in rows[start[g] .. start[g + 1]), ascending;
 * only groups of 2 or more; components in the order of their first row
 * (strict groups of one component follow each other). */
typedef struct cs_dup_groups {
    int64_t *rows, *start;
    int64_t n_groups;
} cs_dup_groups;

/* Connected components of the links over n rows; with strict, each
 * component is cut into complete-linkage groups (every pair >= threshold,
 * scores taken from the vectors). */
cs_status cs_dups_make_groups(const cs_dup_link *links, int64_t n_links, int64_t n,
                              const float *vectors, int dim, float threshold, int strict,
                              cs_dup_groups *out, cs_error *err);
void cs_dup_groups_clear(cs_dup_groups *g);

/* The cosine of two rows (a dot product of unit vectors). */
float cs_dups_dot(const float *vectors, int dim, int64_t a, int64_t b);

#endif
