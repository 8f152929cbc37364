/* server/cache.c - the bounded cache (see cache.h).
 *
 * A chained hash table from id to entry, plus a doubly linked list in order
 * of use: a hit moves the entry to the front, and when the bytes held pass
 * the budget, entries leave from the back. One mutex guards it all; the
 * work under it is a lookup and a memcpy of at most a few tens of kilobytes. */
#include "server/cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    int64_t id;
    unsigned char *data;
    size_t size;
    struct entry *next_in_bucket;
    struct entry *newer, *older;
} entry;

struct cs_srv_cache {
    pthread_mutex_t lock;
    size_t budget, bytes, count;
    uint64_t hits, misses;
    entry **buckets;
    size_t n_buckets; /* a power of two */
    entry *newest, *oldest;
};

cs_srv_cache *cs_srv_cache_new(size_t budget) {
    cs_srv_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->budget = budget;
    c->n_buckets = 4096;
    c->buckets = calloc(c->n_buckets, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void cs_srv_cache_free(cs_srv_cache *c) {
    if (!c) return;
    for (entry *e = c->newest, *next; e; e = next) {
        next = e->older;
        free(e->data);
        free(e);
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static size_t bucket_of(const cs_srv_cache *c, int64_t id) {
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull; /* Fibonacci hashing */
    return (size_t)(h >> 40) & (c->n_buckets - 1);
}

static void unlink_lru(cs_srv_cache *c, entry *e) {
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void push_front(cs_srv_cache *c, entry *e) {
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest) c->newest->newer = e;
    c->newest = e;
    if (!c->oldest) c->oldest = e;
}

static entry *find(cs_srv_cache *c, int64_t id) {
    for (entry *e = c->buckets[bucket_of(c, id)]; e; e = e->next_in_bucket)
        if (e->id == id) return e;
    return NULL;
}

static void remove_entry(cs_srv_cache *c, entry *e) {
    entry **p = &c->buckets[bucket_of(c, e->id)];
    while (*p != e) p = &(*p)->next_in_bucket;
    *p = e->next_in_bucket;
    unlink_lru(c, e);
    c->bytes -= e->size;
    c->count--;
    free(e->data);
    free(e);
}

int cs_srv_cache_get(cs_srv_cache *c, int64_t id, unsigned char **out, size_t *size) {
    int found = 0;
    *out = NULL;
    *size = 0;
    pthread_mutex_lock(&c->lock);
    entry *e = find(c, id);
    if (e) {
        *out = malloc(e->size);
        if (*out) {
            memcpy(*out, e->data, e->size);
            *size = e->size;
            found = 1;
            unlink_lru(c, e);
            push_front(c, e);
        }
    }
    if (found)
        c->hits++;
    else
        c->misses++;
    pthread_mutex_unlock(&c->lock);
    return found;
}

void cs_srv_cache_put(cs_srv_cache *c, int64_t id, const unsigned char *data, size_t size) {
    if (size > c->budget) return;
    entry *e = calloc(1, sizeof *e);
    unsigned char *copy = malloc(size);
    if (!e || !copy) {
        free(e);
        free(copy);
        return; /* a cache that cannot grow is still a correct cache */
    }
    memcpy(copy, data, size);
    e->id = id;
    e->data = copy;
    e->size = size;
    pthread_mutex_lock(&c->lock);
    entry *old = find(c, id); /* two threads made the same thumbnail */
    if (old) remove_entry(c, old);
    while (c->oldest && c->bytes + size > c->budget) remove_entry(c, c->oldest);
    size_t b = bucket_of(c, id);
    e->next_in_bucket = c->buckets[b];
    c->buckets[b] = e;
    push_front(c, e);
    c->bytes += size;
    c->count++;
    pthread_mutex_unlock(&c->lock);
}

void cs_srv_cache_stats(cs_srv_cache *c, size_t *entries, size_t *bytes, uint64_t *hits,
                        uint64_t *misses) {
    pthread_mutex_lock(&c->lock);
    *entries = c->count;
    *bytes = c->bytes;
    *hits = c->hits;
    *misses = c->misses;
    pthread_mutex_unlock(&c->lock);
}
