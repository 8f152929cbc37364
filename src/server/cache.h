/* server/cache.h - a bounded in-memory cache of byte strings under 64-bit
 * keys; the least recently used go first when the budget is passed. It
 * holds thumbnails (keyed by image id) and query embeddings (keyed by a
 * hash of the text or image), so that paging through results or repeating
 * a popular query does not run the model again. Thread-safe. */
#ifndef CS_SERVER_CACHE_H
#define CS_SERVER_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct srv_cache srv_cache;

/* A cache holding at most `budget` bytes of values. NULL when out of memory. */
srv_cache *srv_cache_new(size_t budget);
void srv_cache_free(srv_cache *cache);

/* A malloc'd copy of the value cached under `id`: 1 if found, else 0. */
int srv_cache_get(srv_cache *cache, int64_t id, unsigned char **out, size_t *size);
/* Stores a copy (a value larger than the budget is not kept). */
void srv_cache_put(srv_cache *cache, int64_t id, const unsigned char *data, size_t size);

/* Counters for /api/stats. */
void srv_cache_stats(srv_cache *cache, size_t *entries, size_t *bytes, uint64_t *hits,
                     uint64_t *misses);

#endif
