/* server/cache.h - a bounded in-memory cache of byte strings under 64-bit
 * keys; the least recently used go first when the budget is passed. It
 * holds thumbnails (keyed by image id) and query embeddings (keyed by a
 * hash of the text or image), so that paging through results or repeating
 * a popular query does not run the model again. Thread-safe. */
#ifndef CS_SERVER_CACHE_H
#define CS_SERVER_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cs_srv_cache cs_srv_cache;

/* A cache holding at most `budget` bytes of values. NULL when out of memory. */
cs_srv_cache *cs_srv_cache_new(size_t budget);
void cs_srv_cache_free(cs_srv_cache *cache);

/* A malloc'd copy of the value cached under `id`: 1 if found, else 0. */
int cs_srv_cache_get(cs_srv_cache *cache, int64_t id, unsigned char **out, size_t *size);
/* Stores a copy (a value larger than the budget is not kept). */
void cs_srv_cache_put(cs_srv_cache *cache, int64_t id, const unsigned char *data, size_t size);

/* Counters for /api/stats. */
void cs_srv_cache_stats(cs_srv_cache *cache, size_t *entries, size_t *bytes, uint64_t *hits,
                        uint64_t *misses);

#endif
