/* text/vocab.c - the token table, the merge table, and the readers of
 * vocab.json and merges.txt (the fallback when a model folder has no
 * tokenizer.json). Both tables are open-addressing hash tables sized once
 * and filled without per-entry allocation, so loading stays in milliseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file.h"
#include "text/text.h"

/* ---- token string -> id ---------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: tokens are short */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 32);
}

void cs_vocab_free(cs_vocab *v) {
    free(v->slots);
    free(v->arena);
    memset(v, 0, sizeof *v);
}

/* The slot holding s, or the empty slot where it would go. */
static bool same_bytes(const char *a, const char *b, size_t len) {
    /* Tokens are a few bytes: a loop beats a call to memcmp. */
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i]) return false;
    return true;
}

/* The slot holding s, or the empty slot where it would go. The tag is the
 * hash's low 32 bits, so growing the table needs no key bytes. */
static cs_vocab_slot *vocab_find(const cs_vocab *v, const char *s, size_t len, uint32_t tag) {
    size_t mask = v->n_slots - 1;
    for (size_t i = tag & mask;; i = (i + 1) & mask) {
        cs_vocab_slot *slot = &v->slots[i];
        if (slot->off == UINT32_MAX) return slot;
        if (slot->tag == tag && cs_vocab_slot_len(v, slot) == len &&
            same_bytes(cs_vocab_slot_key(v, slot), s, len))
            return slot;
    }
}

bool cs_vocab_reserve(cs_vocab *v, size_t n) {
    size_t n_slots = 1024;
    while (n_slots * 4 < n * 5) n_slots *= 2;
    if (n_slots <= v->n_slots) return true;
    cs_vocab_slot *slots = malloc(n_slots * sizeof *slots);
    if (!slots) return false;
    for (size_t i = 0; i < n_slots; i++) slots[i].off = UINT32_MAX;
    cs_vocab_slot *old = v->slots;
    size_t old_n = v->n_slots, mask = n_slots - 1;
    for (size_t k = 0; k < old_n; k++) {
        if (old[k].off == UINT32_MAX) continue;
        size_t i = old[k].tag & mask;
        while (slots[i].off != UINT32_MAX) i = (i + 1) & mask;
        slots[i] = old[k];
    }
    free(old);
    v->slots = slots;
    v->n_slots = n_slots;
    return true;
}

bool cs_vocab_put(cs_vocab *v, const char *s, size_t len, int32_t id) {
    if ((v->n + 1) * 5 > v->n_slots * 4 && !cs_vocab_reserve(v, v->n * 2 + 1)) return false;
    uint32_t tag = (uint32_t)hash_bytes(s, len);
    cs_vocab_slot *slot = vocab_find(v, s, len, tag);
    if (slot->off != UINT32_MAX) {
        memcpy(v->arena + slot->off, &id, 4); /* a later duplicate key wins */
        return true;
    }
    size_t rec = 8 + ((len + 3) & ~(size_t)3);
    if (len > UINT32_MAX || v->arena_len + rec >= UINT32_MAX) return false;
    if (v->arena_len + rec > v->arena_cap) {
        size_t cap = v->arena_cap ? v->arena_cap : 1 << 16;
        while (cap < v->arena_len + rec) cap *= 2;
        char *a = realloc(v->arena, cap);
        if (!a) return false;
        v->arena = a;
        v->arena_cap = cap;
    }
    uint32_t len32 = (uint32_t)len;
    memcpy(v->arena + v->arena_len, &id, 4);
    memcpy(v->arena + v->arena_len + 4, &len32, 4);
    memcpy(v->arena + v->arena_len + 8, s, len);
    *slot = (cs_vocab_slot){tag, (uint32_t)v->arena_len};
    v->arena_len += rec;
    v->n++;
    return true;
}

int32_t cs_vocab_get(const cs_vocab *v, const char *s, size_t len) {
    if (!v->n_slots) return -1;
    const cs_vocab_slot *slot = vocab_find(v, s, len, (uint32_t)hash_bytes(s, len));
    return slot->off == UINT32_MAX ? -1 : cs_vocab_slot_id(v, slot);
}

/* ---- (left, right) -> (rank, merged id) -------------------------------------- */

void cs_merges_free(cs_merges *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

bool cs_merges_reserve(cs_merges *m, size_t n) {
    size_t n_slots = 1024;
    while (n_slots * 4 < n * 5) n_slots *= 2;
    if (n_slots <= m->n_slots) return true;
    cs_merge_slot *slots = malloc(n_slots * sizeof *slots);
    if (!slots) return false;
    for (size_t i = 0; i < n_slots; i++) slots[i].key = UINT64_MAX;
    cs_merges old = *m;
    m->slots = slots;
    m->n_slots = n_slots;
    m->n = 0;
    for (size_t i = 0; i < old.n_slots; i++)
        if (old.slots[i].key != UINT64_MAX)
            cs_merges_put(m, (int32_t)(old.slots[i].key >> 32), (int32_t)old.slots[i].key,
                          old.slots[i].rank, old.slots[i].id);
    free(old.slots);
    return true;
}

/* The caller reserved room: the table is at most 4/5 full. */
void cs_merges_put(cs_merges *m, int32_t left, int32_t right, int32_t rank, int32_t id) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t mask = m->n_slots - 1, i = (size_t)(h >> 32) & mask;
    while (m->slots[i].key != UINT64_MAX && m->slots[i].key != key) i = (i + 1) & mask;
    if (m->slots[i].key == UINT64_MAX) m->n++;
    m->slots[i] = (cs_merge_slot){key, rank, id};
}

cs_status cs_merges_add_strings(cs_merges *m, const cs_vocab *v, const char *a, size_t alen,
                                const char *b, size_t blen, int32_t rank, const char *file,
                                const char *unit, size_t index, cs_error *err) {
    char where[256];
#define WHERE (snprintf(where, sizeof where, "%s %zu", unit, index), where)
    if ((m->n + 1) * 5 > m->n_slots * 4 && !cs_merges_reserve(m, m->n * 2 + 1024))
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", file);
    char stack[256], *ab = alen + blen <= sizeof stack ? stack : malloc(alen + blen);
    if (!ab) return cs_fail(err, CS_ENOMEM, "%s: out of memory", file);
    memcpy(ab, a, alen);
    memcpy(ab + alen, b, blen);
    int32_t ia = cs_vocab_get(v, a, alen), ib = cs_vocab_get(v, b, blen);
    int32_t iab = cs_vocab_get(v, ab, alen + blen);
    if (ab != stack) free(ab);
    if (ia < 0 || ib < 0 || iab < 0) {
        const char *s = ia < 0 ? a : ib < 0 ? b : NULL;
        int n = (int)(ia < 0 ? alen : ib < 0 ? blen : 0);
        if (s)
            return cs_fail(err, CS_EFORMAT, "%s: %s: merge token '%.*s' is not in the vocabulary",
                           file, WHERE, n > 64 ? 64 : n, s);
        return cs_fail(err, CS_EFORMAT, "%s: %s: merged token '%.*s%.*s' is not in the vocabulary",
                       file, WHERE, (int)(alen > 32 ? 32 : alen), a, (int)(blen > 32 ? 32 : blen),
                       b);
    }
    cs_merges_put(m, ia, ib, rank, iab);
    return CS_OK;
#undef WHERE
}

/* ---- vocab.json ------------------------------------------------------------ */

static cs_status vocab_member(cs_jscan *j, void *ctx, cs_error *err) {
    cs_vocab *v = ctx;
    /* The key sits in j->buf; cs_js_int does not touch it. */
    int64_t id;
    cs_status st = cs_js_int(j, &id, err);
    if (st) return st;
    if (id < 0 || id > INT32_MAX) return cs_js_fail(j, err, "token id out of range");
    if (!cs_vocab_put(v, j->buf, j->len, (int32_t)id))
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", j->file);
    return CS_OK;
}

cs_status cs_vocab_read(cs_jscan *j, cs_vocab *v, cs_error *err) {
    return cs_js_object(j, vocab_member, v, err);
}

cs_status cs_vocab_load_json(const char *path, cs_vocab *v, cs_error *err) {
    cs_map map;
    cs_status st = cs_map_file(path, &map, err);
    if (st) return st;
    cs_jscan j = {(const char *)map.data,
                  (const char *)map.data,
                  (const char *)map.data + map.size,
                  path,
                  NULL,
                  0,
                  0};
    if (!map.data) j.start = j.p = j.end = "";
    /* About 17 bytes an entry ("token": 12345,): size the table once. */
    if (!cs_vocab_reserve(v, map.size / 17 + 16))
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
    if (!st) st = cs_vocab_read(&j, v, err);
    if (!st && cs_js_peek(&j) != -1) st = cs_js_fail(&j, err, "text after the vocabulary object");
    if (!st && v->n == 0) st = cs_fail(err, CS_EFORMAT, "%s: empty vocabulary", path);
    cs_js_release(&j);
    cs_unmap(&map);
    return st;
}

/* ---- merges.txt ------------------------------------------------------------ */

cs_status cs_merges_load_txt(const char *path, const cs_vocab *v, cs_merges *m, cs_error *err) {
    cs_map map;
    cs_status st = cs_map_file(path, &map, err);
    if (st) return st;
    const char *s = (const char *)map.data, *end = s + map.size;
    size_t bad = cs_utf8_check(s, map.size);
    if (bad != map.size) {
        st = cs_fail(err, CS_EFORMAT, "%s: invalid UTF-8 at byte %zu", path, bad);
        goto out;
    }
    /* ~12 bytes a line: reserve once instead of growing. */
    if (!cs_merges_reserve(m, map.size / 12 + 16)) {
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    int32_t rank = 0;
    for (size_t line_no = 1; s < end; line_no++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *eol = nl ? nl : end, *next = nl ? nl + 1 : end;
        if (eol > s && eol[-1] == '\r') eol--;
        size_t len = (size_t)(eol - s);
        if (len >= 8 && !memcmp(s, "#version", 8)) {
            s = next;
            continue;
        }
        if (len == 0) {
            /* Blank lines are tolerated at the very end only. */
            const char *q = next;
            while (q < end && (*q == '\n' || *q == '\r')) q++;
            if (q == end) break;
        }
        const char *sp = memchr(s, ' ', len);
        if (!sp || memchr(sp + 1, ' ', (size_t)(eol - sp - 1))) {
            st = cs_fail(err, CS_EFORMAT,
                         "%s: line %zu: expected two tokens separated by one space", path, line_no);
            goto out;
        }
        st = cs_merges_add_strings(m, v, s, (size_t)(sp - s), sp + 1, (size_t)(eol - sp - 1),
                                   rank++, path, "line", line_no, err);
        if (st) goto out;
        s = next;
    }
    if (rank == 0) st = cs_fail(err, CS_EFORMAT, "%s: no merges", path);
out:
    cs_unmap(&map);
    return st;
}
