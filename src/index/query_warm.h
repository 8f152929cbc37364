/* index/query_warm.h - a cold query's start, shared by the pool's threads:
 * the tokenizer loads on one while the others map in the pages the query
 * will certainly read (the towers' weights, then the vector file). Used by
 * cs_db_search_query and timed on its own by bench/bench_cold_query.c. */
#ifndef CS_INDEX_QUERY_WARM_H
#define CS_INDEX_QUERY_WARM_H

#include "clipsearch/model.h"
#include "core/pool.h"

struct cs_vecs;

/* towers: the CS_PREFETCH_* the query's terms need (CS_PREFETCH_TEXT also
 * loads the tokenizer); vecs: the snapshot the search will scan, or NULL.
 * Failures are left for the calls that follow to report. */
void cs_query_warm(cs_pool *pool, cs_model *model, int towers, const struct cs_vecs *vecs);

#endif
