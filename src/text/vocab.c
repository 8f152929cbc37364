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
    return h ^ (h >> 29);
}

void cs_vocab_free(cs_vocab *v) {
    free(v->arena);
    free(v->entries);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

static bool vocab_grow_slots(cs_vocab *v) {
    size_t n_slots = v->n_slots ? v->n_slots * 2 : 1024;
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots) return false;
    for (size_t e = 0; e < v->n; e++) {
        uint64_t h = hash_bytes(v->arena + v->entries[e].off, v->entries[e].len);
        size_t i = (size_t)h & (n_slots - 1);
        while (slots[i]) i = (i + 1) & (n_slots - 1);
        slots[i] = (uint32_t)e + 1;
    }
    free(v->slots);
    v->slots = slots;
    v->n_slots = n_slots;
    return true;
}

/* The slot holding s, or the empty slot where it would go. */
static size_t vocab_find(const cs_vocab *v, const char *s, size_t len) {
    size_t mask = v->n_slots - 1;
    for (size_t i = (size_t)hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        uint32_t e = v->slots[i];
        if (!e) return i;
        const cs_vocab_entry *en = &v->entries[e - 1];
        if (en->len == len && !memcmp(v->arena + en->off, s, len)) return i;
    }
}

bool cs_vocab_put(cs_vocab *v, const char *s, size_t len, int32_t id) {
    if ((v->n + 1) * 2 > v->n_slots && !vocab_grow_slots(v)) return false;
    size_t i = vocab_find(v, s, len);
    if (v->slots[i]) {
        v->entries[v->slots[i] - 1].id = id;
        return true;
    }
    if (len > UINT32_MAX || v->arena_len + len > UINT32_MAX) return false;
    if (v->arena_len + len > v->arena_cap) {
        size_t cap = v->arena_cap ? v->arena_cap : 1 << 16;
        while (cap < v->arena_len + len) cap *= 2;
        char *a = realloc(v->arena, cap);
        if (!a) return false;
        v->arena = a;
        v->arena_cap = cap;
    }
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        cs_vocab_entry *e = realloc(v->entries, cap * sizeof *e);
        if (!e) return false;
        v->entries = e;
        v->cap = cap;
    }
    memcpy(v->arena + v->arena_len, s, len);
    v->entries[v->n] = (cs_vocab_entry){(uint32_t)v->arena_len, (uint32_t)len, id};
    v->arena_len += len;
    v->slots[i] = (uint32_t)++v->n;
    return true;
}

int32_t cs_vocab_get(const cs_vocab *v, const char *s, size_t len) {
    if (!v->n_slots) return -1;
    uint32_t e = v->slots[vocab_find(v, s, len)];
    return e ? v->entries[e - 1].id : -1;
}

/* ---- (left, right) -> (rank, merged id) -------------------------------------- */

void cs_merges_free(cs_merges *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

bool cs_merges_reserve(cs_merges *m, size_t n) {
    size_t n_slots = 1024;
    while (n_slots < n * 2) n_slots *= 2;
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

/* The caller reserved room: the table is at most half full. */
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
    if ((m->n + 1) * 2 > m->n_slots && !cs_merges_reserve(m, m->n * 2 + 1024))
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
    st = cs_vocab_read(&j, v, err);
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
    /* ~6 bytes a line: reserve once instead of growing. */
    if (!cs_merges_reserve(m, map.size / 6 + 16)) {
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
