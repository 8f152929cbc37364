/* text/tokcache.c - tokenizer.json's tables in a binary file beside it.
 *
 * Parsing tokenizer.json (3.9 MB of JSON, 49k tokens, 49k merges resolved
 * to ids) takes ~14 ms, the largest single step of a cold text query. The
 * tables it yields are copied as they are into .tokenizer.json.cscache the
 * first time (written atomically), and read back in ~1 ms after that.
 *
 * The file is a cache, never trusted: it is used only when its header names
 * the current tokenizer.json (size, modification and change times with
 * nanoseconds, inode, device: an edit, a replacement or a copy changes one
 * of them; the change time cannot be set back), its payload's checksum is
 * right, and every table passes the checks that make lookups safe (offsets
 * inside the arena, a power-of-two table with empty slots). Otherwise the
 * JSON is parsed again and the file rewritten. A folder without write
 * permission in its mode bits gets no cache, even for root, so shared or
 * packaged model folders are left as they are.
 *
 *   header (88 bytes): magic "CSTOKC1\0", u32 version, u32 0x01020304 (byte
 *     order), the source's u64 size, i64 mtime s/ns, i64 ctime s/ns, u64
 *     inode, u64 device, u64 payload bytes, u64 payload checksum
 *   payload, 8-byte aligned fields:
 *     u64 vocab n, n_slots, arena_len; slots; arena (padded to 8)
 *     u64 merges n, n_slots; slots
 *     i32 unk_id, bos, eos; u8 split_specials, byte_level_regex, 2 pad
 *     u64 suffix length; bytes (padded)
 *     u64 added tokens; each: i32 id, u32 length, u8 normalized, 7 pad,
 *       bytes (padded) */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file.h"
#include "text/text.h"

#define CACHE_MAGIC     "CSTOKC1"
#define CACHE_VERSION   1u
#define BYTE_ORDER_MARK 0x01020304u
#define CACHE_MAX       (256u << 20) /* far above CLIP's 2.4 MB */

typedef struct cache_header {
    char magic[8];
    uint32_t version, byte_order;
    uint64_t size;
    int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
    uint64_t ino, dev, payload_bytes, payload_hash;
} cache_header;

_Static_assert(sizeof(cache_header) == 88, "cache header layout");

static void source_key(const struct stat *st, cache_header *h) {
    h->size = (uint64_t)st->st_size;
    h->mtime_s = (int64_t)st->st_mtim.tv_sec;
    h->mtime_ns = (int64_t)st->st_mtim.tv_nsec;
    h->ctime_s = (int64_t)st->st_ctim.tv_sec;
    h->ctime_ns = (int64_t)st->st_ctim.tv_nsec;
    h->ino = (uint64_t)st->st_ino;
    h->dev = (uint64_t)st->st_dev;
}

/* A 64-bit checksum over whole words (the payload is padded to 8 bytes):
 * it catches torn writes and flipped bits, ~0.3 ms for CLIP's tables. */
static uint64_t checksum(const uint8_t *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h;
}

/* ---- writing ---------------------------------------------------------------- */

typedef struct out_buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} out_buf;

static void put(out_buf *b, const void *data, size_t n) {
    size_t padded = (n + 7) & ~(size_t)7;
    if (b->oom) return;
    if (b->n + padded > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 20;
        while (cap < b->n + padded) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, data, n);
    memset(b->p + b->n + n, 0, padded - n);
    b->n += padded;
}

static void put_u64(out_buf *b, uint64_t v) {
    put(b, &v, 8);
}

cs_status cs_tokcache_write(const char *path, const struct stat *src, const cs_tokenizer *tok,
                            cs_error *err) {
    out_buf b = {0};
    cache_header h = {
        .magic = CACHE_MAGIC, .version = CACHE_VERSION, .byte_order = BYTE_ORDER_MARK};
    source_key(src, &h);
    put(&b, &h, sizeof h); /* completed below */
    const cs_vocab *v = &tok->bpe.vocab;
    put_u64(&b, v->n);
    put_u64(&b, v->n_slots);
    put_u64(&b, v->arena_len);
    put(&b, v->slots, v->n_slots * sizeof *v->slots);
    put(&b, v->arena, v->arena_len);
    const cs_merges *m = &tok->bpe.merges;
    put_u64(&b, m->n);
    put_u64(&b, m->n_slots);
    put(&b, m->slots, m->n_slots * sizeof *m->slots);
    int32_t ids[3] = {tok->bpe.unk_id, tok->bos, tok->eos};
    uint8_t flags[4] = {tok->split_specials, tok->byte_level_regex, 0, 0};
    uint8_t misc[16];
    memcpy(misc, ids, 12);
    memcpy(misc + 12, flags, 4);
    put(&b, misc, sizeof misc);
    size_t slen = strlen(tok->bpe.suffix);
    put_u64(&b, slen);
    put(&b, tok->bpe.suffix, slen);
    put_u64(&b, tok->n_added);
    for (size_t i = 0; i < tok->n_added; i++) {
        const cs_added_token *a = &tok->added[i];
        uint8_t rec[16] = {0};
        uint32_t len = (uint32_t)a->content_len;
        memcpy(rec, &a->id, 4);
        memcpy(rec + 4, &len, 4);
        rec[8] = a->normalized;
        put(&b, rec, sizeof rec);
        put(&b, a->content, a->content_len);
    }
    if (b.oom) {
        free(b.p);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
    }
    h.payload_bytes = b.n - sizeof h;
    h.payload_hash = checksum(b.p + sizeof h, h.payload_bytes);
    memcpy(b.p, &h, sizeof h);
    cs_status st = cs_write_file_atomic(path, b.p, b.n, err);
    free(b.p);
    return st;
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct in_buf {
    const uint8_t *p, *end;
    bool bad;
} in_buf;

/* n bytes (and their padding) from the cursor; NULL once past the end. */
static const void *take(in_buf *b, uint64_t n) {
    uint64_t padded = (n + 7) & ~(uint64_t)7;
    if (b->bad || padded < n || padded > (uint64_t)(b->end - b->p)) {
        b->bad = true;
        return NULL;
    }
    const void *p = b->p;
    b->p += padded;
    return p;
}

static uint64_t take_u64(in_buf *b) {
    const void *p = take(b, 8);
    uint64_t v = 0;
    if (p) memcpy(&v, p, 8);
    return v;
}

/* A table of n entries in n_slots (a power of two, with room to spare:
 * probing ends at an empty slot). */
static bool table_ok(uint64_t n, uint64_t n_slots, uint64_t max_slots) {
    return n_slots >= 1 && n_slots <= max_slots && !(n_slots & (n_slots - 1)) && n < n_slots;
}

static bool read_vocab(in_buf *b, cs_vocab *v) {
    uint64_t n = take_u64(b), n_slots = take_u64(b), arena_len = take_u64(b);
    if (b->bad || !table_ok(n, n_slots, CACHE_MAX / sizeof(cs_vocab_slot)) ||
        arena_len >= UINT32_MAX)
        return false;
    const void *slots = take(b, n_slots * sizeof(cs_vocab_slot));
    const void *arena = take(b, arena_len);
    if (b->bad) return false;
    /* fresh memory of a cold start, written once (cs_alloc_huge) */
    v->slots = cs_alloc_huge(n_slots * sizeof *v->slots);
    v->arena = cs_alloc_huge(arena_len ? arena_len : 1);
    if (!v->slots || !v->arena) return false;
    memcpy(v->slots, slots, n_slots * sizeof *v->slots);
    if (arena_len) memcpy(v->arena, arena, arena_len);
    v->n_slots = n_slots;
    v->arena_len = v->arena_cap = arena_len;
    /* every full slot's record lies inside the arena; the count matches */
    uint64_t full = 0;
    for (uint64_t i = 0; i < n_slots; i++) {
        const cs_vocab_slot *s = &v->slots[i];
        if (s->off == UINT32_MAX) continue;
        if ((uint64_t)s->off + 8 > arena_len ||
            (uint64_t)s->off + 8 + cs_vocab_slot_len(v, s) > arena_len ||
            cs_vocab_slot_id(v, s) < 0)
            return false;
        full++;
    }
    v->n = n;
    return full == n;
}

static bool read_merges(in_buf *b, cs_merges *m) {
    uint64_t n = take_u64(b), n_slots = take_u64(b);
    if (b->bad || !table_ok(n, n_slots, CACHE_MAX / sizeof(cs_merge_slot))) return false;
    const void *slots = take(b, n_slots * sizeof(cs_merge_slot));
    if (b->bad) return false;
    m->slots = cs_alloc_huge(n_slots * sizeof *m->slots);
    if (!m->slots) return false;
    memcpy(m->slots, slots, n_slots * sizeof *m->slots);
    m->n_slots = n_slots;
    m->n = n;
    uint64_t full = 0;
    for (uint64_t i = 0; i < n_slots; i++) {
        const cs_merge_slot *s = &m->slots[i];
        if (s->key == UINT64_MAX) continue;
        if (s->id < 0 || s->rank < 0) return false;
        full++;
    }
    return full == n;
}

static bool read_rest(in_buf *b, cs_tokenizer *tok, cs_error *err) {
    const uint8_t *misc = take(b, 16);
    if (!misc) return false;
    int32_t ids[3];
    memcpy(ids, misc, 12);
    tok->bpe.unk_id = ids[0];
    tok->bos = ids[1];
    tok->eos = ids[2];
    tok->split_specials = misc[12] != 0;
    tok->byte_level_regex = misc[13] != 0;
    uint64_t slen = take_u64(b);
    const char *suffix = slen <= 64 ? take(b, slen) : NULL;
    if (!suffix || !(tok->bpe.suffix = malloc(slen + 1))) return false;
    memcpy(tok->bpe.suffix, suffix, slen);
    tok->bpe.suffix[slen] = '\0';
    if (strlen(tok->bpe.suffix) != slen) return false;
    uint64_t n_added = take_u64(b);
    if (b->bad || n_added > 1u << 20) return false;
    for (uint64_t i = 0; i < n_added; i++) {
        const uint8_t *rec = take(b, 16);
        if (!rec) return false;
        int32_t id;
        uint32_t len;
        memcpy(&id, rec, 4);
        memcpy(&len, rec + 4, 4);
        const char *content = take(b, len);
        if (!content || id < 0) return false;
        char *s = malloc((size_t)len + 1);
        if (!s) return false;
        memcpy(s, content, len);
        s[len] = '\0';
        bool ok = strlen(s) == len && cs_tokenizer_add_token(tok, s, id, rec[8] != 0, err) == CS_OK;
        free(s);
        if (!ok) return false;
    }
    return b->p == b->end;
}

bool cs_tokcache_read(const char *path, const struct stat *src, cs_tokenizer *tok) {
    cs_map map;
    cs_error err;
    if (cs_map_file(path, &map, &err) != CS_OK) return false;
    bool ok = false;
    cache_header h,
        want = {.magic = CACHE_MAGIC, .version = CACHE_VERSION, .byte_order = BYTE_ORDER_MARK};
    source_key(src, &want);
    if (map.size >= sizeof h && map.size <= CACHE_MAX) {
        memcpy(&h, map.data, sizeof h);
        want.payload_bytes = h.payload_bytes;
        want.payload_hash = h.payload_hash;
        ok = !memcmp(&h, &want, sizeof h) && h.payload_bytes == map.size - sizeof h &&
             checksum(map.data + sizeof h, h.payload_bytes) == h.payload_hash;
    }
    if (ok) {
        in_buf b = {map.data + sizeof h, map.data + map.size, false};
        ok = read_vocab(&b, &tok->bpe.vocab) && read_merges(&b, &tok->bpe.merges) &&
             read_rest(&b, tok, &err);
    }
    cs_unmap(&map);
    return ok;
}

bool cs_tokcache_dir_writable(const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return false;
    /* read-only by its mode bits: left alone, even by root (who may write
     * anywhere): a shared or packaged model folder is not ours to change */
    if (!(st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))) return false;
    return access(dir, W_OK) == 0;
}
