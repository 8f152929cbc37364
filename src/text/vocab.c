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

static uint64_t fnv_more(uint64_t h, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static uint32_t fnv_tag(uint64_t h) {
    return (uint32_t)(h ^ (h >> 32)); /* as hash_bytes */
}

static uint64_t merge_hash(int32_t left, int32_t right) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    return key * 0x9E3779B97F4A7C15ull;
}

/* "FILE: line L: ..." for merges.txt (the line found by counting), else
 * "FILE: merge I: ...". */
static cs_status missing_token(const char *file, bool text_lines, const char *base,
                               const cs_merge_src *p, size_t i, int which, cs_error *err) {
    char where[64];
    if (text_lines) {
        size_t line = 1;
        for (size_t k = 0; k < p->a_off; k++) line += base[k] == '\n';
        snprintf(where, sizeof where, "line %zu", line);
    } else {
        snprintf(where, sizeof where, "merge %zu", i);
    }
    const char *a = base + p->a_off, *b = base + p->b_off;
    int alen = (int)(p->a_len > 32 ? 32 : p->a_len), blen = (int)(p->b_len > 32 ? 32 : p->b_len);
    if (which == 2)
        return cs_fail(err, CS_EFORMAT, "%s: %s: merged token '%.*s%.*s' is not in the vocabulary",
                       file, where, alen, a, blen, b);
    return cs_fail(err, CS_EFORMAT, "%s: %s: merge token '%.*s' is not in the vocabulary", file,
                   where, which ? blen : alen, which ? b : a);
}

/* Looking a token up costs two cache misses (slot, record) in tables larger
 * than the L2 cache; resolving ~50k merges one after the other waits on
 * ~300k misses in a row. So pairs are handled in blocks, in passes over the
 * block, with the memory of pair i + AHEAD prefetched while pair i is
 * handled. Blocks keep the scratch on the stack and in the L1 cache. */
#define AHEAD 16
#define BLOCK 512

static cs_status resolve_block(cs_merges *m, const cs_vocab *v, const char *base,
                               const cs_merge_src *pairs, size_t n, int32_t first_rank,
                               bool text_lines, const char *file, cs_error *err) {
    uint32_t tag[BLOCK][3];
    int32_t id[BLOCK][3];
    /* 1: the hashes of a, b and a+b. */
    for (size_t i = 0; i < n; i++) {
        const cs_merge_src *p = &pairs[i];
        uint64_t ha = fnv_more(0xcbf29ce484222325ull, base + p->a_off, p->a_len);
        tag[i][0] = fnv_tag(ha);
        tag[i][1] = fnv_tag(fnv_more(0xcbf29ce484222325ull, base + p->b_off, p->b_len));
        tag[i][2] = fnv_tag(fnv_more(ha, base + p->b_off, p->b_len));
    }
    /* 2: the ids; slots prefetched AHEAD pairs early, records AHEAD/2. */
    size_t mask = v->n_slots - 1;
    for (size_t i = 0; i < n + AHEAD; i++) {
        if (i < n)
            for (int k = 0; k < 3; k++) __builtin_prefetch(&v->slots[tag[i][k] & mask]);
        if (i >= AHEAD / 2 && i - AHEAD / 2 < n)
            for (int k = 0; k < 3; k++) {
                const cs_vocab_slot *s = &v->slots[tag[i - AHEAD / 2][k] & mask];
                if (s->off != UINT32_MAX) __builtin_prefetch(v->arena + s->off);
            }
        if (i < AHEAD) continue;
        size_t r = i - AHEAD;
        const cs_merge_src *p = &pairs[r];
        char stack[256], *ab = stack;
        size_t ablen = (size_t)p->a_len + p->b_len;
        if (ablen > sizeof stack && !(ab = malloc(ablen)))
            return cs_fail(err, CS_ENOMEM, "%s: out of memory", file);
        memcpy(ab, base + p->a_off, p->a_len);
        memcpy(ab + p->a_len, base + p->b_off, p->b_len);
        const char *str[3] = {base + p->a_off, base + p->b_off, ab};
        const size_t len[3] = {p->a_len, p->b_len, ablen};
        int missing = -1;
        for (int k = 0; k < 3; k++) {
            const cs_vocab_slot *s = vocab_find(v, str[k], len[k], tag[r][k]);
            id[r][k] = s->off == UINT32_MAX ? -1 : cs_vocab_slot_id(v, s);
            if (id[r][k] < 0 && missing < 0) missing = k;
        }
        if (ab != stack) free(ab);
        if (missing >= 0)
            return missing_token(file, text_lines, base, p, (size_t)first_rank + r, missing, err);
    }
    /* 3: into the merge table, in rank order (a later duplicate wins). */
    size_t mmask = m->n_slots - 1;
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n)
            __builtin_prefetch(
                &m->slots[(merge_hash(id[i + AHEAD][0], id[i + AHEAD][1]) >> 32) & mmask]);
        cs_merges_put(m, id[i][0], id[i][1], first_rank + (int32_t)i, id[i][2]);
    }
    return CS_OK;
}

cs_status cs_merges_resolve(cs_merges *m, const cs_vocab *v, const char *base,
                            const cs_merge_src *pairs, size_t n, int32_t first_rank,
                            bool text_lines, const char *file, cs_error *err) {
    if (n == 0) return CS_OK;
    if (n > (size_t)INT32_MAX - (size_t)first_rank)
        return cs_fail(err, CS_ELIMIT, "%s: too many merges", file);
    if (!cs_merges_reserve(m, m->n + n)) return cs_fail(err, CS_ENOMEM, "%s: out of memory", file);
    if (!v->n_slots)
        return missing_token(file, text_lines, base, pairs, (size_t)first_rank, 0, err);
    for (size_t i = 0; i < n; i += BLOCK) {
        size_t k = n - i < BLOCK ? n - i : BLOCK;
        cs_status st =
            resolve_block(m, v, base, pairs + i, k, first_rank + (int32_t)i, text_lines, file, err);
        if (st) return st;
    }
    return CS_OK;
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

static bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

cs_status cs_merges_load_txt(const char *path, const cs_vocab *v, cs_merges *m, cs_error *err) {
    cs_map map;
    cs_status st = cs_map_file(path, &map, err);
    if (st) return st;
    const char *s = (const char *)map.data, *end = s + map.size;
    cs_merge_src pairs[BLOCK];
    size_t n = 0, n_block = 0; /* merges resolved, and gathered for the next block */
    size_t bad = cs_utf8_check(s, map.size);
    if (bad != map.size) {
        st = cs_fail(err, CS_EFORMAT, "%s: invalid UTF-8 at byte %zu", path, bad);
        goto out;
    }
    if (map.size >= UINT32_MAX) {
        st = cs_fail(err, CS_ELIMIT, "%s: larger than 4 GB", path);
        goto out;
    }
    /* ~12 bytes a line: size the table once. */
    if (!cs_merges_reserve(m, map.size / 12 + 16)) {
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    for (size_t line_no = 1; s < end && n + n_block < CS_CLIP_MAX_MERGES; line_no++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *eol = nl ? nl : end, *next = nl ? nl + 1 : end;
        if (line_no == 1) { /* the "#version" header: CLIPTokenizer drops line 1 unread */
            s = next;
            continue;
        }
        /* Python's str.split(): runs of white space separate, ends ignored. */
        const char *tok[3];
        size_t tlen[3], nt = 0;
        for (const char *q = s; q < eol && nt < 3;) {
            while (q < eol && is_blank(*q)) q++;
            if (q == eol) break;
            const char *t = q;
            while (q < eol && !is_blank(*q)) q++;
            tok[nt] = t;
            tlen[nt++] = (size_t)(q - t);
        }
        if (nt == 0) {
            /* Blank lines are tolerated at the very end only (the file is strip()ped). */
            const char *q = next;
            while (q < end && is_blank(*q)) q++;
            if (q == end) break;
        }
        if (nt != 2) {
            st = cs_fail(err, CS_EFORMAT, "%s: line %zu: expected two tokens", path, line_no);
            goto out;
        }
        const char *base = (const char *)map.data;
        pairs[n_block++] = (cs_merge_src){(uint32_t)(tok[0] - base), (uint32_t)tlen[0],
                                          (uint32_t)(tok[1] - base), (uint32_t)tlen[1]};
        if (n_block == BLOCK) {
            st = cs_merges_resolve(m, v, base, pairs, n_block, (int32_t)n, true, path, err);
            if (st) goto out;
            n += n_block;
            n_block = 0;
        }
        s = next;
    }
    if (n_block) {
        st = cs_merges_resolve(m, v, (const char *)map.data, pairs, n_block, (int32_t)n, true, path,
                               err);
        if (st) goto out;
        n += n_block;
    }
    if (n == 0) st = cs_fail(err, CS_EFORMAT, "%s: no merges", path);
out:
    cs_unmap(&map);
    return st;
}
