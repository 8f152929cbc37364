/* core/scratch.c - a cache of a few large buffers (core/scratch.h). */
#include "core/scratch.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/file.h"

enum { CACHED = 16 }; /* a batch's activations and products, and a file per thread */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *p;
    size_t size;
} cache[CACHED];

void *cs_scratch_get(size_t size, size_t *got) {
    void *p = NULL;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHED && !p; i++)
        if (cache[i].p && cache[i].size >= size) {
            p = cache[i].p, *got = cache[i].size;
            cache[i].p = NULL;
        }
    pthread_mutex_unlock(&cache_lock);
    if (p) return p;
    /* room to grow a little; from 1 MiB on, whole 2 MiB pages (see
     * cs_alloc_huge: the first write of fresh 4 KiB pages is what a first
     * batch would otherwise pay for) */
    *got = (size + 65535) & ~(size_t)65535;
    if (*got < ((size_t)1 << 20)) return aligned_alloc(64, *got);
    *got = (size + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
    return cs_alloc_huge(*got);
}

/* Into an empty slot, else in place of the smallest buffer if that is
 * smaller than this one, else freed. */
void cs_scratch_put(void *p, size_t got) {
    if (!p) return;
    pthread_mutex_lock(&cache_lock);
    int slot = -1;
    for (int i = 0; i < CACHED && slot < 0; i++)
        if (!cache[i].p) slot = i;
    if (slot < 0) {
        slot = 0;
        for (int i = 1; i < CACHED; i++)
            if (cache[i].size < cache[slot].size) slot = i;
        if (cache[slot].size >= got) {
            pthread_mutex_unlock(&cache_lock);
            free(p);
            return;
        }
    }
    void *old = cache[slot].p;
    cache[slot].p = p, cache[slot].size = got;
    pthread_mutex_unlock(&cache_lock);
    free(old);
}
