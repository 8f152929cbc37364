/* index/ann.h - the approximate index of a large catalogue, DB.ann.
 *
 * An inverted file (IVF): the vectors are clustered around `nlist`
 * centroids (spherical k-means, our own, on cs_gemm); each row is stored in
 * the list of its nearest centroid as a code of 8 or 4 bits a dimension
 * (scalar quantization, one range per dimension; 4 bits for catalogues
 * whose 8-bit codes would not sit in memory, cs_ann_choose_bits). A query
 * ranks the centroids, scans the codes of the `nprobe` best lists with an
 * integer kernel (ann_scan_avx2.c, ann_scan_vnni.c), and re-ranks the best
 * `rerank` candidates exactly from the full-precision vectors of the
 * snapshot (DB.vectors, memory-mapped): the scores returned are exact, only
 * the candidates are approximate.
 *
 * File layout (little-endian; every offset is derived from dim, nlist,
 * count and the code bits by ann_layout(), and the stored ones must equal
 * them):
 *   header (128 bytes): magic "CSANN1\0\0", u32 version (2), u32 dim,
 *       u32 nlist, u32 code_stride, u64 count, u64 generation, u8 uuid[16],
 *       u64 trained_count, u64 centroids, sq, lists, ids, codes, file_size
 *       offsets, u64 check (cs_hash128 of the header with check = 0, the
 *       centroids, the ranges and the list offsets), u32 code_bits (8 or
 *       4), 4 bytes zero. Version 1 (8-bit codes) had code_bits zero.
 *   centroids   float[nlist][dim], unit length
 *   sq          float min[dim], float step[dim]
 *   lists       u64[nlist + 1]: list l holds entries lists[l] .. lists[l+1]
 *   ids         i64[count]: entry -> catalogue id, ascending within a list
 *   codes       u8[count][code_stride] (64-byte aligned), zero past dim;
 *               4-bit codes as ann_internal.h lays them out
 *
 * Like DB.vectors it is a cache tied to the database's uuid and generation,
 * written atomically (temporary file, fsync, rename). It is used only for
 * a snapshot whose base rows are of the same generation; otherwise the scan
 * is used. Damage in the checked parts is detected at open; damage in the
 * codes can only lower recall (every result is re-scored exactly, and an
 * id that is not in the snapshot is dropped). */
#ifndef CS_INDEX_ANN_H
#define CS_INDEX_ANN_H

#include <stdint.h>

#include "clipsearch/search.h"
#include "core/file.h"
#include "index/db_internal.h"

#define CS_ANN_HEADER 128

/* An opened, checked DB.ann. */
typedef struct cs_ann {
    atomic_int refs;
    cs_map map;
    int dim, nlist, code_stride, code_bits;
    int64_t count, trained_count;
    uint64_t generation;
    uint8_t uuid[16];
    const float *centroids, *sq_min, *sq_step;
    const uint64_t *lists;
    const int64_t *ids;
    const uint8_t *codes;
    /* the centroids as 8-bit codes (nlist x cs_ann_stride(dim, 8)) with their own
     * ranges (cmin, cstep: dim each), made by cs_ann_prepare (malloc'd;
     * NULL: the centroids are ranked in float) */
    uint8_t *ccodes;
    float *cmin, *cstep;
} cs_ann;

/* Search settings; 0 = the default for the index's size. */
typedef struct cs_ann_params {
    int nprobe;          /* lists scanned */
    int rerank;          /* candidates re-scored exactly (>= the hits wanted) */
    int float_centroids; /* 1: rank every centroid in float, not by codes (bench_ann) */
} cs_ann_params;

/* Why an index file could not be used. */
typedef enum cs_ann_state {
    CS_ANN_OK = 0,
    CS_ANN_MISSING, /* no file */
    CS_ANN_STALE,   /* another database or generation */
    CS_ANN_DAMAGED  /* not a valid file (message in err) */
} cs_ann_state;

/* Checks a mapped file's header and tables against dim (0: any) and, when
 * uuid is not NULL, the database's uuid and generation. Fills a (pointing
 * into m). CS_ANN_DAMAGED with err filled, or CS_ANN_STALE. The fuzz target
 * calls it on arbitrary bytes. */
cs_ann_state cs_ann_check(const cs_map *m, int dim, const uint8_t *uuid, uint64_t generation,
                          cs_ann *a, cs_error *err);

/* Codes the centroids of a checked index for the integer kernels (their
 * ranking is then a quarter of the bytes); CS_ENOMEM leaves the floats in
 * use. cs_ann_open calls it; cs_ann_unprepare frees what it made. */
cs_status cs_ann_prepare(cs_ann *a);
void cs_ann_unprepare(cs_ann *a);

/* Maps path, checks it (as above) and prepares it; the caller owns *out
 * (cs_ann_close). */
cs_ann_state cs_ann_open(const char *path, int dim, const uint8_t *uuid, uint64_t generation,
                         cs_ann **out, cs_error *err);
void cs_ann_close(cs_ann *a);

/* The rows of `v`'s base that the index holds nearest to q (dim floats,
 * unit length), re-scored exactly, best first: up to `want` hits with the
 * catalogue's ids. Rows hidden in v (removed or rewritten since) and ids
 * not in v are skipped. v's base must be of a's generation. Counts in
 * *n_bad (may be NULL) the candidates whose stored row is not a unit vector
 * (NaN, infinite or damaged; see cs_search_flat_checked). Returns the
 * count, or -1 when out of memory. */
int64_t cs_ann_search(const cs_ann *a, const cs_vecs *v, const float *q, int want,
                      const cs_ann_params *p, cs_hit *hits, int64_t *n_bad);

/* The database's file name for the index: DB.ann (malloc'd). */
char *cs_ann_path(const cs_db *db);

/* The rows from which a catalogue gets an index (CLIPSEARCH_ANN_MIN_ROWS
 * overrides it, for tests). */
int64_t cs_ann_min_rows(void);

/* Makes DB.ann current for the database's vector file (call after
 * cs_db_write_vectors): nothing when it already is; below cs_ann_min_rows
 * the file is removed. An index of an older generation lends its centroids
 * and the lists of unchanged rows (only new and changed rows are assigned);
 * it is trained anew when the catalogue has doubled or halved since, or when
 * there is none. `pool` may be NULL. */
cs_status cs_db_update_ann(cs_db *db, cs_pool *pool, cs_error *err);

/* What `info` shows: the index in use for the current generation. */
typedef struct cs_ann_info {
    cs_ann_state state;
    int64_t count, bytes;
    int nlist, code_bits;
} cs_ann_info;
void cs_db_ann_info(cs_db *db, cs_ann_info *out);

/* The database's index if it matches snapshot v's base generation, with a
 * reference the caller drops with cs_db_ann_release; NULL otherwise (a
 * stale or damaged file is logged once per generation). */
cs_ann *cs_db_ann_for(cs_db *db, const cs_vecs *v);
void cs_db_ann_release(cs_db *db, cs_ann *a);

/* The best `want` rows of snapshot v for q (unit length), best first,
 * equal scores lower id first: its base rows through `a` when not NULL
 * (approximate; p may be NULL), else by the exact scan on `pool`, less the
 * hidden rows, merged with its delta (always scanned exactly). Counts in
 * *n_bad (may be NULL) the damaged rows met (cs_search_flat_checked).
 * Returns the count, or -1 when out of memory. */
int64_t cs_snapshot_topk(cs_pool *pool, const cs_vecs *v, const cs_ann *a, const cs_ann_params *p,
                         const float *q, int want, cs_hit *hits, int64_t *n_bad);

/* 1 when DB.ann exists (a search then leaves the vectors unmapped until
 * read: only the candidates' rows are). */
int cs_db_ann_present(const cs_db *db);

/* Batch k-NN over the catalogue's own rows: for each of the n rows `ids`
 * (NULL: every row, in id order; then *n_out is their number and *ids_out
 * (malloc'd) lists them), its k nearest other rows, best first, into
 * *nbrs_out (malloc'd, n x k; id -1 and score -inf where fewer exist).
 * Uses the index when it is current (approximate), else the exact scan.
 * Rows run in parallel on `pool`. */
cs_status cs_db_knn(cs_db *db, cs_pool *pool, const int64_t *ids, int64_t n, int k,
                    int64_t **ids_out, int64_t *n_out, cs_hit **nbrs_out, cs_error *err);

#endif
