/* text/text.h - the tokenizer's internal pieces, one file each:
 *
 *   jscan.c          a strict, allocation-light JSON scanner for the big
 *                    tables (vocab object, merges array); jansson reads the
 *                    small configuration parts
 *   vocab.c          token string -> id table, merge table, vocab.json and
 *                    merges.txt readers
 *   tokenizer_json.c tokenizer.json: tables + pipeline checks
 *   normalize.c      UTF-8 checks, NFC, whitespace collapse, lowercase
 *   pretokenize.c    the CLIP split regex and the GPT-2 ByteLevel split
 *   bpe.c            byte-level BPE by merge rank, and its cache
 *   tokenizer.c      the public API: load, encode, free
 *
 * Text moves through the pipeline as arrays of code points (int32_t), the
 * way the Rust library walks `char`s; BPE works on the UTF-8 bytes of a word.
 */
#ifndef CS_TEXT_TEXT_H
#define CS_TEXT_TEXT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "clipsearch/tokenizer.h"

/* ---- vocab.c: string -> id ------------------------------------------------ */

/* Open addressing, linear probing, at most 4/5 full. A slot is 8 bytes: 32
 * bits of the key's hash and the offset of its record in the arena, where
 * records {int32 id, uint32 len, bytes} follow one another. The table and
 * the arena of CLIP's 49408 tokens are ~1 MB together: they stay in the L2
 * cache while the merges are resolved, which is what keeps loading fast. */
typedef struct cs_vocab_slot {
    uint32_t tag, off; /* tag: the hash's low 32 bits; off == UINT32_MAX: empty */
} cs_vocab_slot;

typedef struct cs_vocab {
    cs_vocab_slot *slots;
    size_t n, n_slots; /* n_slots: a power of two */
    char *arena;
    size_t arena_len, arena_cap;
} cs_vocab;

/* The record of a full slot. */
static inline int32_t cs_vocab_slot_id(const cs_vocab *v, const cs_vocab_slot *s) {
    int32_t id;
    memcpy(&id, v->arena + s->off, 4);
    return id;
}
static inline uint32_t cs_vocab_slot_len(const cs_vocab *v, const cs_vocab_slot *s) {
    uint32_t len;
    memcpy(&len, v->arena + s->off + 4, 4);
    return len;
}
static inline const char *cs_vocab_slot_key(const cs_vocab *v, const cs_vocab_slot *s) {
    return v->arena + s->off + 8;
}

void cs_vocab_free(cs_vocab *v);
/* Room for n entries without growing. Returns false when out of memory. */
bool cs_vocab_reserve(cs_vocab *v, size_t n);
/* Adds or replaces (a later duplicate key wins, as in a JSON object read
 * into a hash map). Returns false when out of memory. */
bool cs_vocab_put(cs_vocab *v, const char *s, size_t len, int32_t id);
/* -1 when absent. */
int32_t cs_vocab_get(const cs_vocab *v, const char *s, size_t len);

/* ---- vocab.c: (left id, right id) -> (rank, merged id) --------------------- */

typedef struct cs_merge_slot {
    uint64_t key; /* left << 32 | right; UINT64_MAX = empty */
    int32_t rank, id;
} cs_merge_slot;

typedef struct cs_merges {
    cs_merge_slot *slots;
    size_t n, n_slots;
} cs_merges;

void cs_merges_free(cs_merges *m);
bool cs_merges_reserve(cs_merges *m, size_t n);
/* A later duplicate pair replaces the earlier one (Rust collects into a map). */
void cs_merges_put(cs_merges *m, int32_t left, int32_t right, int32_t rank, int32_t id);
static inline const cs_merge_slot *cs_merges_get(const cs_merges *m, int32_t left, int32_t right) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t mask = m->n_slots - 1;
    for (size_t i = (size_t)(h >> 32) & mask;; i = (i + 1) & mask) {
        if (m->slots[i].key == key) return &m->slots[i];
        if (m->slots[i].key == UINT64_MAX) return NULL;
    }
}

/* Merge pairs as slices of one buffer: a is base[a_off, a_off + a_len). */
typedef struct cs_merge_src {
    uint32_t a_off, a_len, b_off, b_len;
} cs_merge_src;

/* Adds pairs[0..n) with ranks first_rank..: looks up a, b and a+b in v
 * (each must be a token). Errors name the pair: "FILE: line L: ..." when
 * text_lines (base is merges.txt), else "FILE: merge I: ...". */
cs_status cs_merges_resolve(cs_merges *m, const cs_vocab *v, const char *base,
                            const cs_merge_src *pairs, size_t n, int32_t first_rank,
                            bool text_lines, const char *file, cs_error *err);

/* Reads a JSON object of token -> id at j (tokenizer.json's model.vocab). */
struct cs_jscan;
cs_status cs_vocab_read(struct cs_jscan *j, cs_vocab *v, cs_error *err);
/* vocab.json: one JSON object of token -> non-negative integer id. */
cs_status cs_vocab_load_json(const char *path, cs_vocab *v, cs_error *err);
/* merges.txt, read the way transformers' CLIPTokenizer reads it (that is
 * what CLIPTokenizerFast converts when a folder has no tokenizer.json): the
 * first line (the "#version" header) is skipped, each line is split on white
 * space into two tokens, and only the first CS_CLIP_MAX_MERGES lines count
 * (49152 - 256 - 2: transformers hard-codes it, so a longer file gives the
 * same tokenizer). */
#define CS_CLIP_MAX_MERGES (49152 - 256 - 2)
cs_status cs_merges_load_txt(const char *path, const cs_vocab *v, cs_merges *m, cs_error *err);

/* ---- jscan.c: a strict JSON scanner over a buffer ----------------------------- */

typedef struct cs_jscan {
    const char *start, *p, *end;
    const char *file; /* for messages */
    char *buf;        /* the last decoded string (NUL-terminated), reused */
    size_t len, cap;
} cs_jscan;

/* Skips white space; returns the next byte or -1 at the end. */
int cs_js_peek(cs_jscan *j);
/* Consumes byte c (after white space) or fails "expected 'c'". */
cs_status cs_js_expect(cs_jscan *j, char c, cs_error *err);
/* Decodes a string into j->buf/j->len (escapes resolved, UTF-8 checked). */
cs_status cs_js_string(cs_jscan *j, cs_error *err);
/* An integer without fraction or exponent. */
cs_status cs_js_int(cs_jscan *j, int64_t *out, cs_error *err);
/* Skips any value; its bytes go to *from and *to (for jansson). */
cs_status cs_js_skip(cs_jscan *j, const char **from, const char **to, cs_error *err);
/* Fails with "FILE: malformed JSON at line L, column C: what". */
cs_status cs_js_fail(cs_jscan *j, cs_error *err, const char *what);
/* Parses `{ "key": VALUE, ... }` calling fn for each key with j positioned at
 * the value; fn must consume the value. The key is in j->buf. */
typedef cs_status (*cs_js_member_fn)(cs_jscan *j, void *ctx, cs_error *err);
cs_status cs_js_object(cs_jscan *j, cs_js_member_fn fn, void *ctx, cs_error *err);
void cs_js_release(cs_jscan *j);

/* ---- normalize.c ---------------------------------------------------------- */

/* The offset of the first byte that is not valid UTF-8 (overlong forms,
 * surrogates and code points above U+10FFFF are invalid), or len if none. */
size_t cs_utf8_check(const char *s, size_t len);
/* Writes the UTF-8 of cp to out (room for 4); returns its length. */
int cs_utf8_put(int32_t cp, char *out);

typedef struct cs_cpbuf {
    int32_t *cp;
    size_t n, cap;
} cs_cpbuf;

bool cs_cpbuf_reserve(cs_cpbuf *b, size_t n);

/* The CLIP normalizer on valid UTF-8: NFC, every run of white space (`\s+`)
 * to one U+0020, then per-character full lowercase (Rust's char::to_lowercase,
 * which is what tokenizers' Lowercase does: no final-sigma rule). Replaces
 * out's contents. */
cs_status cs_normalize(const char *s, size_t len, cs_cpbuf *out, cs_cpbuf *tmp, cs_error *err);

/* Oniguruma's \s (White_Space), and the \p{L} / \p{N} classes. */
bool cs_is_space(int32_t cp);
bool cs_is_letter(int32_t cp);
bool cs_is_number(int32_t cp);

/* ---- pretokenize.c -------------------------------------------------------- */

/* A word: [start, end) in the code point array. */
typedef struct cs_span {
    size_t start, end;
} cs_span;

/* Calls fn for each piece, left to right; stops early when fn returns false.
 * Returns false if stopped. */
typedef bool (*cs_span_fn)(void *ctx, const int32_t *cp, cs_span s);

/* The CLIP Split pre-tokenizer (behaviour Removed, inverted: the matches are
 * the pieces, the white space between them is dropped). with_specials: the
 * pattern starts with <\|startoftext\|>|<\|endoftext\|> (tokenizer.json). */
bool cs_clip_split(const int32_t *cp, size_t n, bool with_specials, cs_span_fn fn, void *ctx);
/* The GPT-2 ByteLevel regex split (behaviour Isolated) of one piece. */
bool cs_gpt2_split(const int32_t *cp, cs_span piece, cs_span_fn fn, void *ctx);
/* GPT-2's byte -> printable code point map. */
int32_t cs_byte_to_cp(uint8_t b);

/* ---- bpe.c ---------------------------------------------------------------- */

#define CS_BPE_CACHE_SLOTS 4096
#define CS_BPE_CACHE_KEY   24 /* words up to this many bytes are cached */
#define CS_BPE_CACHE_IDS   12 /* with up to this many ids */

typedef struct cs_bpe_cache_slot {
    uint8_t key_len, n_ids; /* key_len 0 = empty */
    char key[CS_BPE_CACHE_KEY];
    int32_t ids[CS_BPE_CACHE_IDS];
} cs_bpe_cache_slot;

typedef struct cs_bpe {
    cs_vocab vocab;
    cs_merges merges;
    int32_t byte_id[256];     /* vocab id of each byte's character, -1 if none */
    int32_t byte_eow_id[256]; /* same with the end-of-word suffix */
    int32_t unk_id;           /* -1: unknown characters are dropped */
    char *suffix;             /* end_of_word_suffix, "" for none */
    pthread_mutex_t cache_lock;
    cs_bpe_cache_slot *cache;
} cs_bpe;

/* Scratch for one word, grown by the caller's encode, reused across words. */
typedef struct cs_bpe_work {
    struct cs_bpe_sym *sym;
    struct cs_bpe_cand *heap;
    int32_t *ids;
    size_t cap; /* bytes of the longest word that fits */
} cs_bpe_work;

/* Fills byte_id/byte_eow_id from the vocab and makes the cache. */
cs_status cs_bpe_finish(cs_bpe *bpe, const char *file, cs_error *err);
void cs_bpe_free(cs_bpe *bpe);
void cs_bpe_work_free(cs_bpe_work *w);
/* Appends the ids of one word (its UTF-8 bytes) to out[*n..cap); returns
 * false when out of memory. Ids beyond cap are counted in *n but not stored,
 * so the caller sees how many there would be. */
bool cs_bpe_word(cs_bpe *bpe, cs_bpe_work *w, const char *word, size_t len, int32_t *out, size_t *n,
                 size_t cap);

/* ---- tokenizer.c / tokenizer_json.c ---------------------------------------- */

typedef struct cs_added_token {
    char *content; /* as written */
    size_t content_len;
    int32_t *cp; /* normalized content (when normalized), code points */
    size_t n_cp;
    int32_t id;
    bool normalized; /* matched after normalization, else on the raw text */
} cs_added_token;

struct cs_tokenizer {
    bool from_cache; /* the tables came from .tokenizer.json.cscache (tests) */
    cs_bpe bpe;
    cs_added_token *added;
    size_t n_added;
    bool split_specials; /* the Split pattern lists the two special strings */
    bool byte_level_regex;
    int32_t bos, eos;
    int context_length;
};

/* Reads tokenizer.json into tok (tables, added tokens, bos/eos, flags),
 * refusing pipelines other than CLIP's with CS_EUNSUPPORTED. */
cs_status cs_tokenizer_json_load(const char *path, cs_tokenizer *tok, cs_error *err);
/* The same on bytes in memory (path only names them in errors). */
cs_status cs_tokenizer_json_parse(const char *data, size_t size, const char *path,
                                  cs_tokenizer *tok, cs_error *err);
/* ---- tokcache.c: tokenizer.json's tables in a binary file beside it ---------- */

struct stat;
/* Fills tok's tables (what cs_tokenizer_json_load fills) from the cache at
 * path if it was made from the file src describes and is intact; false
 * otherwise (tok may then hold a part: the caller clears it). */
bool cs_tokcache_read(const char *path, const struct stat *src, cs_tokenizer *tok);
/* Writes tok's tables, made from the file src describes, atomically. */
cs_status cs_tokcache_write(const char *path, const struct stat *src, const cs_tokenizer *tok,
                            cs_error *err);
/* Whether a cache may be written in dir: writable, and not read-only by its
 * mode bits (root could write anyway). */
bool cs_tokcache_dir_writable(const char *dir);

/* Adds an added token (content copied; normalized later by the loader). */
cs_status cs_tokenizer_add_token(cs_tokenizer *tok, const char *content, int32_t id,
                                 bool normalized, cs_error *err);

#endif
