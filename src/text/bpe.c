/* text/bpe.c - byte-level BPE, merge by merge rank, as tokenizers' Word does.
 *
 * A word (one pre-token) starts as one symbol per byte: the vocabulary id of
 * the byte's printable character (GPT-2's byte map), the last one with the
 * end-of-word suffix ("</w>"). Then, repeatedly, the adjacent pair with the
 * lowest merge rank is merged, the leftmost first on ties; a min-heap of
 * candidate pairs with lazy invalidation makes it O(n log n) even for long
 * words (the Rust code does the same, so the order of merges is the same).
 *
 * The cache: short words repeat (a, of, the, photo), so their ids are kept
 * in a direct-mapped table guarded by a mutex; the lock is held only to
 * compare and copy a few bytes, never while merging. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/text.h"

typedef struct cs_bpe_sym {
    int32_t id, prev, next;
    bool alive;
} cs_bpe_sym;

typedef struct cs_bpe_cand {
    int32_t rank, pos, id;
} cs_bpe_cand;

static bool cand_less(const cs_bpe_cand *a, const cs_bpe_cand *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(cs_bpe_cand *h, size_t *n, cs_bpe_cand c) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&c, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static cs_bpe_cand heap_pop(cs_bpe_cand *h, size_t *n) {
    cs_bpe_cand top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && cand_less(&h[c + 1], &h[c])) c++;
        if (!cand_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static void push_pair(const cs_bpe *bpe, cs_bpe_work *w, size_t *nh, int32_t pos) {
    const cs_bpe_sym *s = w->sym;
    const cs_merge_slot *m = cs_merges_get(&bpe->merges, s[pos].id, s[s[pos].next].id);
    if (m) heap_push(w->heap, nh, (cs_bpe_cand){m->rank, pos, m->id});
}

/* Merges in place; returns the number of ids written to out (<= len). */
static size_t merge_word(const cs_bpe *bpe, cs_bpe_work *w, const uint8_t *b, size_t len,
                         int32_t *out) {
    cs_bpe_sym *s = w->sym;
    int32_t m = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t id = i + 1 == len ? bpe->byte_eow_id[b[i]] : bpe->byte_id[b[i]];
        if (id < 0) id = bpe->unk_id; /* fuse_unk is false: one unk per character */
        if (id < 0) continue;         /* no unk token: the character is dropped */
        s[m] = (cs_bpe_sym){id, m - 1, m + 1, true};
        m++;
    }
    if (m == 0) return 0;
    s[m - 1].next = -1;
    size_t nh = 0;
    for (int32_t i = 0; i + 1 < m; i++) push_pair(bpe, w, &nh, i);
    while (nh) {
        cs_bpe_cand top = heap_pop(w->heap, &nh);
        cs_bpe_sym *l = &s[top.pos];
        if (!l->alive || l->next < 0) continue;
        cs_bpe_sym *r = &s[l->next];
        /* A stale candidate: one side was merged since it was pushed. */
        const cs_merge_slot *cur = cs_merges_get(&bpe->merges, l->id, r->id);
        if (!cur || cur->id != top.id) continue;
        l->id = top.id;
        l->next = r->next;
        r->alive = false;
        if (r->next >= 0) s[r->next].prev = top.pos;
        if (l->prev >= 0) push_pair(bpe, w, &nh, l->prev);
        if (l->next >= 0) push_pair(bpe, w, &nh, top.pos);
    }
    size_t n = 0;
    for (int32_t i = 0; i >= 0; i = s[i].next) out[n++] = s[i].id;
    return n;
}

static size_t cache_slot(const char *word, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)word[i]) * 16777619u;
    return (h ^ h >> 15) & (CS_BPE_CACHE_SLOTS - 1);
}

static void emit(const int32_t *ids, size_t k, int32_t *out, size_t *n, size_t cap) {
    for (size_t i = 0; i < k; i++, ++*n)
        if (*n < cap) out[*n] = ids[i];
}

bool cs_bpe_word(cs_bpe *bpe, cs_bpe_work *w, const char *word, size_t len, int32_t *out, size_t *n,
                 size_t cap) {
    if (len == 0) return true;
    bool cacheable = len <= CS_BPE_CACHE_KEY;
    size_t slot = cacheable ? cache_slot(word, len) : 0;
    if (cacheable) {
        cs_bpe_cache_slot hit;
        pthread_mutex_lock(&bpe->cache_lock);
        hit = bpe->cache[slot];
        pthread_mutex_unlock(&bpe->cache_lock);
        if (hit.key_len == len && !memcmp(hit.key, word, len)) {
            emit(hit.ids, hit.n_ids, out, n, cap);
            return true;
        }
    }
    if (len > w->cap) {
        size_t cap2 = len < 64 ? 64 : len;
        cs_bpe_sym *sym = malloc(cap2 * sizeof *sym);
        /* At most len - 1 initial pairs and 2 more per merge. */
        cs_bpe_cand *heap = malloc(cap2 * 3 * sizeof *heap);
        int32_t *idv = malloc(cap2 * sizeof *idv);
        if (!sym || !heap || !idv) {
            free(sym);
            free(heap);
            free(idv);
            return false;
        }
        cs_bpe_work_free(w);
        *w = (cs_bpe_work){sym, heap, idv, cap2};
    }
    int32_t *ids = w->ids;
    size_t k = merge_word(bpe, w, (const uint8_t *)word, len, ids);
    emit(ids, k, out, n, cap);
    if (cacheable && k <= CS_BPE_CACHE_IDS) {
        cs_bpe_cache_slot fresh = {(uint8_t)len, (uint8_t)k, {0}, {0}};
        memcpy(fresh.key, word, len);
        memcpy(fresh.ids, ids, k * sizeof *ids);
        pthread_mutex_lock(&bpe->cache_lock);
        bpe->cache[slot] = fresh;
        pthread_mutex_unlock(&bpe->cache_lock);
    }
    return true;
}

void cs_bpe_work_free(cs_bpe_work *w) {
    free(w->sym);
    free(w->heap);
    free(w->ids);
    memset(w, 0, sizeof *w);
}

cs_status cs_bpe_finish(cs_bpe *bpe, const char *file, cs_error *err) {
    size_t slen = strlen(bpe->suffix);
    for (int b = 0; b < 256; b++) {
        char s[4 + 64];
        int k = cs_utf8_put(cs_byte_to_cp((uint8_t)b), s);
        bpe->byte_id[b] = cs_vocab_get(&bpe->vocab, s, (size_t)k);
        if (slen > 64)
            return cs_fail(err, CS_EUNSUPPORTED, "%s: end-of-word suffix too long", file);
        memcpy(s + k, bpe->suffix, slen);
        bpe->byte_eow_id[b] = cs_vocab_get(&bpe->vocab, s, (size_t)k + slen);
    }
    bpe->cache = calloc(CS_BPE_CACHE_SLOTS, sizeof *bpe->cache);
    if (!bpe->cache) return cs_fail(err, CS_ENOMEM, "%s: out of memory", file);
    if (pthread_mutex_init(&bpe->cache_lock, NULL) != 0) {
        free(bpe->cache);
        bpe->cache = NULL;
        return cs_fail(err, CS_EINTERNAL, "%s: cannot create the cache lock", file);
    }
    return CS_OK;
}

void cs_bpe_free(cs_bpe *bpe) {
    if (bpe->cache) pthread_mutex_destroy(&bpe->cache_lock);
    free(bpe->cache);
    free(bpe->suffix);
    cs_vocab_free(&bpe->vocab);
    cs_merges_free(&bpe->merges);
}
