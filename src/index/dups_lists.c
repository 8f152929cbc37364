/* index/dups_lists.c - each row's k best neighbours at >= T (see
 * dups_internal.h). Memory is fixed up front, n x k x 8 bytes (80 MB for 1M
 * rows at k = 10), whatever the threshold: a low threshold in a dense
 * collection makes every row a neighbour of thousands, and keeping them
 * all would grow without bound. Offers are rare at duplicate thresholds
 * (most scores are far below), so a row's lock is almost never contended;
 * the locks are striped so that their number does not grow with n. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/dups_internal.h"

enum { STRIPES = 1024 };

struct cs_dup_lists {
    int64_t n;
    int k;
    uint32_t *nb; /* neighbour rows: n x k */
    float *sc;    /* their scores */
    uint8_t *count;
    pthread_mutex_t locks[STRIPES];
};

cs_dup_lists *cs_dup_lists_new(int64_t n, int k) {
    if (n < 0 || n > UINT32_MAX || k < 1 || k > 255) return NULL;
    cs_dup_lists *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->n = n;
    l->k = k;
    size_t cells = (size_t)(n ? n : 1) * (size_t)k;
    l->nb = malloc(cells * sizeof *l->nb);
    l->sc = malloc(cells * sizeof *l->sc);
    l->count = calloc((size_t)(n ? n : 1), 1);
    if (!l->nb || !l->sc || !l->count) {
        free(l->nb);
        free(l->sc);
        free(l->count);
        free(l);
        return NULL;
    }
    for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&l->locks[i], NULL);
    return l;
}

void cs_dup_lists_free(cs_dup_lists *l) {
    if (!l) return;
    for (int i = 0; i < STRIPES; i++) pthread_mutex_destroy(&l->locks[i]);
    free(l->nb);
    free(l->sc);
    free(l->count);
    free(l);
}

/* Adds b to row a's list, unless there already (an IVF pass can meet a
 * pair twice) or worse than all k kept. Under a's lock. */
static void add_one(cs_dup_lists *l, int64_t a, int64_t b, float score) {
    uint32_t *nb = l->nb + a * l->k;
    float *sc = l->sc + a * l->k;
    int c = l->count[a], worst = 0;
    for (int i = 0; i < c; i++) {
        if (nb[i] == (uint32_t)b) return;
        if (sc[i] < sc[worst] || (sc[i] == sc[worst] && nb[i] > nb[worst])) worst = i;
    }
    if (c < l->k) {
        nb[c] = (uint32_t)b;
        sc[c] = score;
        l->count[a] = (uint8_t)(c + 1);
    } else if (score > sc[worst] || (score == sc[worst] && (uint32_t)b < nb[worst])) {
        nb[worst] = (uint32_t)b;
        sc[worst] = score;
    }
}

void cs_dup_lists_offer(cs_dup_lists *l, int64_t a, int64_t b, float score) {
    pthread_mutex_t *la = &l->locks[a % STRIPES];
    pthread_mutex_lock(la);
    add_one(l, a, b, score);
    pthread_mutex_unlock(la);
    pthread_mutex_t *lb = &l->locks[b % STRIPES];
    pthread_mutex_lock(lb);
    add_one(l, b, a, score);
    pthread_mutex_unlock(lb);
}

/* 1 when row a keeps b. */
static int keeps(const cs_dup_lists *l, int64_t a, int64_t b) {
    const uint32_t *nb = l->nb + a * l->k;
    for (int i = 0; i < l->count[a]; i++)
        if (nb[i] == (uint32_t)b) return 1;
    return 0;
}

cs_status cs_dup_lists_links(const cs_dup_lists *l, cs_dup_link **out, int64_t *n_out,
                             cs_error *err) {
    *out = NULL;
    *n_out = 0;
    int64_t total = 0;
    for (int64_t r = 0; r < l->n; r++) total += l->count[r];
    cs_dup_link *links = malloc((size_t)(total ? total : 1) * sizeof *links);
    if (!links)
        return cs_fail(err, CS_ENOMEM, "duplicates: out of memory for %lld links",
                       (long long)total);
    int64_t m = 0;
    for (int64_t a = 0; a < l->n; a++)
        for (int i = 0; i < l->count[a]; i++) {
            int64_t b = l->nb[a * l->k + i];
            /* a pair both rows keep is written once, from its lower row */
            if (a < b || !keeps(l, b, a))
                links[m++] = (cs_dup_link){a < b ? a : b, a < b ? b : a, l->sc[a * l->k + i]};
        }
    *out = links;
    *n_out = m;
    return CS_OK;
}
