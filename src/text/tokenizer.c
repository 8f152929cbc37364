/* text/tokenizer.c - the public tokenizer: loading a model folder and the
 * encode pipeline, in the order tokenizers runs it:
 *
 *   1. added tokens with normalized=false (<|endoftext|>) are found in the
 *      raw text; the text between them is handled piece by piece;
 *   2. each piece is normalized (normalize.c), then added tokens with
 *      normalized=true (<|startoftext|>) are found in the normalized text;
 *   3. the rest goes through the CLIP split, the ByteLevel split and BPE;
 *   4. [bos] + the first context_length - 2 ids + [eos] (truncation=True).
 *
 * Encoding stops as soon as the truncated output is full, so a megabyte of
 * text costs no more than its first few words past normalization. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/file.h"
#include "text/text.h"

#define DEFAULT_CONTEXT 77

cs_status cs_tokenizer_add_token(cs_tokenizer *tok, const char *content, int32_t id,
                                 bool normalized, cs_error *err) {
    cs_added_token *a = realloc(tok->added, (tok->n_added + 1) * sizeof *a);
    if (!a) return cs_fail(err, CS_ENOMEM, "out of memory");
    tok->added = a;
    a += tok->n_added;
    *a = (cs_added_token){strdup(content), strlen(content), NULL, 0, id, normalized};
    if (!a->content) return cs_fail(err, CS_ENOMEM, "out of memory");
    tok->n_added++;
    return CS_OK;
}

/* The normalized form of each normalized added token, as tokenizers builds
 * its second trie. */
static cs_status normalize_added(cs_tokenizer *tok, cs_error *err) {
    cs_cpbuf out = {0}, tmp = {0};
    cs_status st = CS_OK;
    for (size_t i = 0; i < tok->n_added && !st; i++) {
        cs_added_token *a = &tok->added[i];
        if (!a->normalized) continue;
        size_t len = a->content_len;
        if (cs_utf8_check(a->content, len) != len)
            st = cs_fail(err, CS_EFORMAT, "added token is not valid UTF-8");
        if (!st) st = cs_normalize(a->content, len, &out, &tmp, err);
        if (!st && out.n == 0) a->normalized = false; /* can never match */
        if (!st && out.n) {
            a->cp = malloc(out.n * sizeof *a->cp);
            if (!a->cp)
                st = cs_fail(err, CS_ENOMEM, "out of memory");
            else
                memcpy(a->cp, out.cp, out.n * sizeof *a->cp);
            a->n_cp = out.n;
        }
    }
    free(out.cp);
    free(tmp.cp);
    return st;
}

static cs_status load_vocab_merges(const char *dir, cs_tokenizer *tok, cs_error *err) {
    char vocab[4096], merges[4096];
    cs_status st;
    if ((st = cs_path_join(vocab, sizeof vocab, dir, "vocab.json", err)) ||
        (st = cs_path_join(merges, sizeof merges, dir, "merges.txt", err)))
        return st;
    if ((st = cs_vocab_load_json(vocab, &tok->bpe.vocab, err)) ||
        (st = cs_merges_load_txt(merges, &tok->bpe.vocab, &tok->bpe.merges, err)))
        return st;
    /* CLIPTokenizer's fixed settings (what transformers' converter gives). */
    tok->split_specials = false;
    tok->byte_level_regex = true;
    if (!(tok->bpe.suffix = strdup("</w>"))) return cs_fail(err, CS_ENOMEM, "out of memory");
    tok->bos = cs_vocab_get(&tok->bpe.vocab, "<|startoftext|>", 15);
    tok->eos = cs_vocab_get(&tok->bpe.vocab, "<|endoftext|>", 13);
    tok->bpe.unk_id = tok->eos;
    if (tok->bos < 0 || tok->eos < 0)
        return cs_fail(err, CS_EFORMAT, "%s: no <|startoftext|> or <|endoftext|> token", vocab);
    if ((st = cs_tokenizer_add_token(tok, "<|startoftext|>", tok->bos, true, err)) ||
        (st = cs_tokenizer_add_token(tok, "<|endoftext|>", tok->eos, false, err)))
        return st;
    return CS_OK;
}

/* Empties what a failed cache read may have filled. */
static void clear_tables(cs_tokenizer *tok) {
    for (size_t i = 0; i < tok->n_added; i++) {
        free(tok->added[i].content);
        free(tok->added[i].cp);
    }
    free(tok->added);
    free(tok->bpe.suffix);
    cs_vocab_free(&tok->bpe.vocab);
    cs_merges_free(&tok->bpe.merges);
    memset(tok, 0, sizeof *tok);
}

/* tokenizer.json through its cache, .tokenizer.json.cscache beside it
 * (tokcache.c; a dot file: model listings and sizes leave it out):
 * read when current and intact, else rebuilt from the JSON. sb: the JSON's
 * stat, taken before it is read, so that a change while reading shows as a
 * stale cache next time. */
static cs_status load_json_cached(const char *dir, const char *path, const struct stat *sb,
                                  cs_tokenizer *tok, cs_error *err) {
    char cache[4096];
    int n = snprintf(cache, sizeof cache, "%s/.tokenizer.json.cscache", dir);
    bool have_path = n > 0 && (size_t)n < sizeof cache;
    if (have_path && cs_tokcache_read(cache, sb, tok)) {
        tok->from_cache = true;
        return CS_OK;
    }
    clear_tables(tok);
    cs_status st = cs_tokenizer_json_load(path, tok, err);
    if (!st && have_path && cs_tokcache_dir_writable(dir)) {
        cs_error ignored; /* a cache: not writing it changes no result */
        cs_tokcache_write(cache, sb, tok, &ignored);
    }
    return st;
}

/* text_config.max_position_embeddings of config.json; 77 without the file. */
static cs_status read_context_length(const char *dir, int *out, cs_error *err) {
    char path[4096];
    struct stat sb;
    cs_status st = cs_path_join(path, sizeof path, dir, "config.json", err);
    if (st) return st;
    *out = DEFAULT_CONTEXT;
    if (stat(path, &sb) != 0) return CS_OK;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return cs_fail(err, CS_EFORMAT, "%s: line %d: %s", path, je.line, je.text);
    json_t *v = json_object_get(json_object_get(root, "text_config"), "max_position_embeddings");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 2 || json_integer_value(v) > 1 << 20))
        st = cs_fail(err, CS_EFORMAT,
                     "%s: text_config.max_position_embeddings is not a usable "
                     "context length",
                     path);
    else if (v)
        *out = (int)json_integer_value(v);
    json_decref(root);
    return st;
}

cs_status cs_tokenizer_load(const char *model_dir, int context_length, cs_tokenizer **out,
                            cs_error *err) {
    if (!out) return cs_fail(err, CS_EINVAL, "cs_tokenizer_load: out is NULL");
    *out = NULL;
    if (!model_dir || !*model_dir) return cs_fail(err, CS_EINVAL, "no model folder given");
    if (context_length == 1) return cs_fail(err, CS_EINVAL, "context length 1 leaves no room");
    cs_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return cs_fail(err, CS_ENOMEM, "out of memory");
    char path[4096];
    struct stat sb;
    cs_status st = cs_path_join(path, sizeof path, model_dir, "tokenizer.json", err);
    if (!st) {
        if (stat(path, &sb) == 0)
            st = load_json_cached(model_dir, path, &sb, tok, err);
        else
            st = load_vocab_merges(model_dir, tok, err);
    }
    if (!st) st = normalize_added(tok, err);
    if (!st) st = cs_bpe_finish(&tok->bpe, path, err);
    if (!st && context_length > 0)
        tok->context_length = context_length;
    else if (!st)
        st = read_context_length(model_dir, &tok->context_length, err);
    if (st) {
        cs_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return CS_OK;
}

void cs_tokenizer_free(cs_tokenizer *tok) {
    if (!tok) return;
    for (size_t i = 0; i < tok->n_added; i++) {
        free(tok->added[i].content);
        free(tok->added[i].cp);
    }
    free(tok->added);
    cs_bpe_free(&tok->bpe);
    free(tok);
}

int cs_tokenizer_context_length(const cs_tokenizer *tok) {
    return tok ? tok->context_length : 0;
}

int32_t cs_tokenizer_bos(const cs_tokenizer *tok) {
    return tok ? tok->bos : -1;
}

int32_t cs_tokenizer_eos(const cs_tokenizer *tok) {
    return tok ? tok->eos : -1;
}

/* ---- encode ------------------------------------------------------------------ */

typedef struct encoder {
    cs_tokenizer *tok;
    int32_t *ids; /* the body: ids between bos and eos */
    size_t n, cap;
    cs_cpbuf norm, tmp;
    cs_bpe_work work;
    char *word;
    size_t word_cap;
    bool oom;
} encoder;

static bool full(const encoder *e) {
    return e->n >= e->cap || e->oom;
}

static void push_id(encoder *e, int32_t id) {
    if (e->n < e->cap) e->ids[e->n] = id;
    e->n++;
}

/* A ByteLevel word: its UTF-8 bytes through BPE. */
static bool on_word(void *ctx, const int32_t *cp, cs_span s) {
    encoder *e = ctx;
    size_t need = (s.end - s.start) * 4;
    if (need > e->word_cap) {
        char *w = realloc(e->word, need);
        if (!w) {
            e->oom = true;
            return false;
        }
        e->word = w;
        e->word_cap = need;
    }
    size_t len = 0;
    for (size_t i = s.start; i < s.end; i++) len += (size_t)cs_utf8_put(cp[i], e->word + len);
    if (!cs_bpe_word(&e->tok->bpe, &e->work, e->word, len, e->ids, &e->n, e->cap)) e->oom = true;
    return !full(e);
}

/* A piece of the CLIP split. */
static bool on_piece(void *ctx, const int32_t *cp, cs_span s) {
    encoder *e = ctx;
    if (e->tok->byte_level_regex) return cs_gpt2_split(cp, s, on_word, e);
    return on_word(e, cp, s);
}

/* Leftmost-longest match of the added tokens of one kind at or after i:
 * returns the token index or -1, its start in *at. */
static int find_added(const cs_tokenizer *tok, bool normalized, const void *text, size_t n,
                      size_t i, size_t *at) {
    for (; i < n; i++) {
        int best = -1;
        size_t best_len = 0;
        for (size_t k = 0; k < tok->n_added; k++) {
            const cs_added_token *a = &tok->added[k];
            if (a->normalized != normalized) continue;
            size_t len = normalized ? a->n_cp : a->content_len;
            if (len <= best_len || len > n - i) continue;
            /* the first unit, then the rest: most positions fail at once */
            bool eq;
            if (normalized) {
                const int32_t *t = (const int32_t *)text + i;
                eq = t[0] == a->cp[0] && !memcmp(t, a->cp, len * sizeof *t);
            } else {
                const char *t = (const char *)text + i;
                eq = t[0] == a->content[0] && !memcmp(t, a->content, len);
            }
            if (eq) best = (int)k, best_len = len;
        }
        if (best >= 0) {
            *at = i;
            return best;
        }
    }
    return -1;
}

/* Steps 2-3 on one raw piece. */
static cs_status encode_piece(encoder *e, const char *s, size_t len, cs_error *err) {
    if (len == 0) return CS_OK;
    cs_status st = cs_normalize(s, len, &e->norm, &e->tmp, err);
    if (st) return st;
    const int32_t *cp = e->norm.cp;
    size_t n = e->norm.n, i = 0;
    while (i < n && !full(e)) {
        size_t at = n;
        int k = find_added(e->tok, true, cp, n, i, &at);
        if (at > i) cs_clip_split(cp + i, at - i, e->tok->split_specials, on_piece, e);
        if (k < 0) break;
        if (!full(e)) push_id(e, e->tok->added[k].id);
        i = at + e->tok->added[k].n_cp;
    }
    return e->oom ? cs_fail(err, CS_ENOMEM, "out of memory") : CS_OK;
}

cs_status cs_tokenizer_encode(cs_tokenizer *tok, const char *text, size_t len, int32_t *ids,
                              int *n_ids, cs_error *err) {
    if (!tok || !ids || !n_ids || (!text && len))
        return cs_fail(err, CS_EINVAL, "cs_tokenizer_encode: NULL argument");
    *n_ids = 0;
    size_t bad = cs_utf8_check(text, len);
    if (bad != len) return cs_fail(err, CS_EFORMAT, "text: invalid UTF-8 at byte %zu", bad);
    encoder e = {.tok = tok, .ids = ids + 1, .cap = (size_t)tok->context_length - 2};
    cs_status st = CS_OK;
    size_t i = 0;
    while (i < len && !full(&e) && !st) {
        size_t at = len;
        int k = find_added(tok, false, text, len, i, &at);
        st = encode_piece(&e, text + i, at - i, err);
        if (k < 0 || st) break;
        if (!full(&e)) push_id(&e, tok->added[k].id);
        i = at + tok->added[k].content_len;
    }
    free(e.norm.cp);
    free(e.tmp.cp);
    free(e.word);
    cs_bpe_work_free(&e.work);
    if (st) return st;
    size_t body = e.n < e.cap ? e.n : e.cap;
    ids[0] = tok->bos;
    ids[body + 1] = tok->eos;
    *n_ids = (int)body + 2;
    return CS_OK;
}
