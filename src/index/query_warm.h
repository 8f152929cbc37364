/* index/query_warm.h - a cold query's start, shared by the pool's threads:
 * the tokenizer loads on one while the others map in the pages the query
 * will certainly read (the towers' weights, then the vector file, or the
 * approximate index when the search will use one). Used by
 * cs_db_search_query and timed on its own by bench/bench_cold_query.c. */
#ifndef CS_INDEX_QUERY_WARM_H
#define CS_INDEX_QUERY_WARM_H

#include "clipsearch/index.h"
#include "clipsearch/model.h"
#include "core/pool.h"

/* towers: the CS_PREFETCH_* the query's terms need (CS_PREFETCH_TEXT also
 * loads the tokenizer); db: the catalogue the search will read (or NULL),
 * with `exact` as the search will be asked. A scan reads every vector, so
 * the vector file is mapped in; a search through the approximate index
 * reads a few hundred rows of it, so the index is opened (and checked)
 * instead, beside the tokenizer. Failures are left for the calls that
 * follow to report. */
void cs_query_warm(cs_pool *pool, cs_model *model, int towers, cs_db *db, int exact);

#endif
