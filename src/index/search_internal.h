/* index/search_internal.h - the pieces of the exact search that tests and the
 * benchmark reach directly: the kernel choice and the dot kernels. */
#ifndef CS_INDEX_SEARCH_INTERNAL_H
#define CS_INDEX_SEARCH_INTERNAL_H

#include "clipsearch/search.h"

/* Which dot kernel a search uses. The CPU's level (core/cpu.h, with
 * CLIPSEARCH_CPU) always has the last word: a caller can only ask for less. */
typedef enum cs_isa {
    CS_ISA_AUTO = 0, /* AVX2+FMA where cs_cpu_level_get() allows, else generic */
    CS_ISA_GENERIC,  /* portable C */
    CS_ISA_AVX2      /* the same as AUTO; named where a test means AVX2 */
} cs_isa;

/* cs_search_flat with the kernel chosen by the caller (CS_ISA_AVX2 on a CPU
 * without it falls back to generic). */
int64_t cs_search_flat_isa(cs_pool *pool, const float *vectors, int64_t n, int dim,
                           const float *query, int k, cs_hit *hits, cs_isa isa);

/* The largest |score| of two unit vectors, with room for float rounding:
 * beyond it (or NaN) a stored row is damaged. */
#define CS_UNIT_LIMIT 1.01f

/* The same, counting in *n_bad (may be NULL) the rows whose score is NaN or
 * beyond +-limit: the catalogue's rows and queries are unit vectors, so a
 * score outside [-1, 1] (with rounding room) is a damaged row, found at the
 * cost of one compare per row. */
int64_t cs_search_flat_checked(cs_pool *pool, const float *vectors, int64_t n, int dim,
                               const float *query, int k, cs_hit *hits, cs_isa isa, float limit,
                               int64_t *n_bad);

/* out[r] = sum_j rows[r * dim + j] * q[j] for r < nrows.
 * rows: nrows x dim, row-major; q: dim; out: nrows. */
typedef void (*cs_dot_rows_fn)(const float *rows, int64_t nrows, int dim, const float *q,
                               float *out);
void cs_dot_rows_generic(const float *rows, int64_t nrows, int dim, const float *q, float *out);
#if defined(__x86_64__) || defined(_M_X64)
void cs_dot_rows_avx2(const float *rows, int64_t nrows, int dim, const float *q, float *out);
#endif

#endif
