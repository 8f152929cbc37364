/* text/tokenizer_json.c - reading a Hugging Face tokenizer.json.
 *
 * The scanner (jscan.c) walks the file once: model.vocab and model.merges go
 * straight into the hash tables; every other value is handed, as its bytes,
 * to jansson, and the pipeline it declares is checked against the one this
 * library implements (CLIP's). Anything else is refused with CS_EUNSUPPORTED
 * rather than silently tokenized differently. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file.h"
#include "text/text.h"

#define CLIP_SPLIT          "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"
#define CLIP_SPLIT_SPECIALS "<\\|startoftext\\|>|<\\|endoftext\\|>|" CLIP_SPLIT

/* Merge pairs are gathered as strings and resolved a block at a time (see
 * cs_merges_resolve) once the vocabulary is complete; JSON objects are
 * unordered, so when "merges" comes before "vocab" they all wait. */
#define MERGE_BLOCK 512
typedef struct pending {
    char *bytes;
    size_t len, cap;
    cs_merge_src *pair;
    size_t n, cap_pairs;
} pending;

typedef struct loader {
    const char *path;
    cs_tokenizer *tok;
    json_t *top;   /* the top-level members other than "model" */
    json_t *model; /* model's members other than vocab and merges */
    pending merges;
    int32_t n_resolved; /* merges already in the table */
    bool have_vocab, have_merges;
} loader;

static bool pending_add(pending *p, const char *a, size_t alen, const char *b, size_t blen) {
    if (p->len + alen + blen > p->cap) {
        size_t cap = p->cap ? p->cap : 1 << 16;
        while (cap < p->len + alen + blen) cap *= 2;
        char *nb = realloc(p->bytes, cap);
        if (!nb) return false;
        p->bytes = nb;
        p->cap = cap;
    }
    if (p->n == p->cap_pairs) {
        size_t cap = p->cap_pairs ? p->cap_pairs * 2 : 1 << 14;
        cs_merge_src *np = realloc(p->pair, cap * sizeof *np);
        if (!np) return false;
        p->pair = np;
        p->cap_pairs = cap;
    }
    if (p->len + alen + blen > UINT32_MAX) return false;
    memcpy(p->bytes + p->len, a, alen);
    memcpy(p->bytes + p->len + alen, b, blen);
    p->pair[p->n++] =
        (cs_merge_src){(uint32_t)p->len, (uint32_t)alen, (uint32_t)(p->len + alen), (uint32_t)blen};
    p->len += alen + blen;
    return true;
}

static cs_status resolve_pending(loader *L, cs_error *err) {
    pending *p = &L->merges;
    cs_status st = cs_merges_resolve(&L->tok->bpe.merges, &L->tok->bpe.vocab, p->bytes, p->pair,
                                     p->n, L->n_resolved, false, L->path, err);
    L->n_resolved += (int32_t)p->n;
    p->n = p->len = 0;
    return st;
}

static cs_status add_merge(loader *L, const char *a, size_t alen, const char *b, size_t blen,
                           cs_error *err) {
    if (!pending_add(&L->merges, a, alen, b, blen))
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", L->path);
    if (L->have_vocab && L->merges.n == MERGE_BLOCK) return resolve_pending(L, err);
    return CS_OK;
}

/* One merge: ["a", "b"] or the legacy "a b". */
static cs_status read_merge(cs_jscan *j, loader *L, cs_error *err) {
    cs_status st;
    char a[1024];
    size_t alen;
    if (cs_js_peek(j) == '[') {
        j->p++;
        if ((st = cs_js_string(j, err))) return st;
        if (j->len >= sizeof a) return cs_js_fail(j, err, "merge token too long");
        memcpy(a, j->buf, j->len);
        alen = j->len;
        if ((st = cs_js_expect(j, ',', err)) || (st = cs_js_string(j, err)) ||
            (st = cs_js_expect(j, ']', err)))
            return st;
        return add_merge(L, a, alen, j->buf, j->len, err);
    }
    if ((st = cs_js_string(j, err))) return st;
    if (j->len >= 8 && !memcmp(j->buf, "#version", 8)) return CS_OK;
    const char *sp = memchr(j->buf, ' ', j->len);
    if (!sp || memchr(sp + 1, ' ', j->len - (size_t)(sp + 1 - j->buf)))
        return cs_js_fail(j, err, "a merge must be two tokens separated by one space");
    return add_merge(L, j->buf, (size_t)(sp - j->buf), sp + 1, j->len - (size_t)(sp + 1 - j->buf),
                     err);
}

static cs_status read_merges(cs_jscan *j, loader *L, cs_error *err) {
    cs_status st = cs_js_expect(j, '[', err);
    if (st) return st;
    /* BPE vocabularies hold about as many merges as tokens: size once. */
    if (L->have_vocab && !cs_merges_reserve(&L->tok->bpe.merges, L->tok->bpe.vocab.n))
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", L->path);
    if (cs_js_peek(j) == ']') {
        j->p++;
        return CS_OK;
    }
    for (;;) {
        if ((st = read_merge(j, L, err))) return st;
        if (cs_js_peek(j) == ']') {
            j->p++;
            return CS_OK;
        }
        if ((st = cs_js_expect(j, ',', err))) return st;
    }
}

/* The value at j, as jansson sees it, stored under key in obj. */
static cs_status keep_value(cs_jscan *j, loader *L, json_t *obj, const char *key, cs_error *err) {
    const char *from, *to;
    cs_status st = cs_js_skip(j, &from, &to, err);
    if (st) return st;
    json_error_t je;
    json_t *v = json_loadb(from, (size_t)(to - from), JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v) return cs_fail(err, CS_EFORMAT, "%s: %s: %s", L->path, key, je.text);
    json_object_set_new(obj, key, v);
    return CS_OK;
}

static cs_status model_member(cs_jscan *j, void *ctx, cs_error *err) {
    loader *L = ctx;
    if (!strcmp(j->buf, "vocab")) {
        if (L->have_vocab) return cs_js_fail(j, err, "a second vocab");
        cs_status st = cs_vocab_read(j, &L->tok->bpe.vocab, err);
        L->have_vocab = true;
        return st;
    }
    if (!strcmp(j->buf, "merges")) {
        if (L->have_merges) return cs_js_fail(j, err, "a second merges list");
        L->have_merges = true;
        return read_merges(j, L, err);
    }
    char key[64];
    snprintf(key, sizeof key, "%s", j->buf);
    return keep_value(j, L, L->model, key, err);
}

static cs_status top_member(cs_jscan *j, void *ctx, cs_error *err) {
    loader *L = ctx;
    if (!strcmp(j->buf, "model")) return cs_js_object(j, model_member, L, err);
    char key[64];
    snprintf(key, sizeof key, "%s", j->buf);
    return keep_value(j, L, L->top, key, err);
}

/* ---- the pipeline checks ------------------------------------------------------ */

static const char *str_at(json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

static bool is_type(json_t *o, const char *type) {
    const char *t = str_at(o, "type");
    return t && !strcmp(t, type);
}

/* A boolean member that must be `want` when present (null counts as absent). */
static bool flag_is(json_t *o, const char *key, bool want) {
    json_t *v = json_object_get(o, key);
    return !v || json_is_null(v) || (json_is_boolean(v) && json_is_true(v) == want);
}

static cs_status check_normalizer(loader *L, cs_error *err) {
    json_t *n = json_object_get(L->top, "normalizer"), *seq = json_object_get(n, "normalizers");
    json_t *nfc = json_array_get(seq, 0), *rep = json_array_get(seq, 1),
           *low = json_array_get(seq, 2);
    const char *re = str_at(json_object_get(rep, "pattern"), "Regex");
    const char *content = str_at(rep, "content");
    if (!is_type(n, "Sequence") || json_array_size(seq) != 3 || !is_type(nfc, "NFC") ||
        !is_type(rep, "Replace") || !re || strcmp(re, "\\s+") || !content || strcmp(content, " ") ||
        !is_type(low, "Lowercase"))
        return cs_fail(err, CS_EUNSUPPORTED,
                       "%s: normalizer is not CLIP's (Sequence of NFC, Replace \\s+ with a "
                       "space, Lowercase)",
                       L->path);
    return CS_OK;
}

static cs_status check_pre_tokenizer(loader *L, cs_error *err) {
    json_t *p = json_object_get(L->top, "pre_tokenizer"),
           *seq = json_object_get(p, "pretokenizers");
    json_t *split = json_array_get(seq, 0), *bl = json_array_get(seq, 1);
    const char *re = str_at(json_object_get(split, "pattern"), "Regex");
    const char *behavior = str_at(split, "behavior");
    bool ok = is_type(p, "Sequence") && json_array_size(seq) == 2 && is_type(split, "Split") &&
              re && (!strcmp(re, CLIP_SPLIT) || !strcmp(re, CLIP_SPLIT_SPECIALS)) && behavior &&
              !strcmp(behavior, "Removed") && json_is_true(json_object_get(split, "invert")) &&
              is_type(bl, "ByteLevel") && flag_is(bl, "add_prefix_space", false);
    if (!ok)
        return cs_fail(err, CS_EUNSUPPORTED,
                       "%s: pre_tokenizer is not CLIP's (Split with the CLIP pattern, Removed, "
                       "inverted; then ByteLevel without prefix space)",
                       L->path);
    L->tok->split_specials = !strcmp(re, CLIP_SPLIT_SPECIALS);
    L->tok->byte_level_regex = flag_is(bl, "use_regex", true);
    return CS_OK;
}

static cs_status check_model(loader *L, cs_error *err) {
    json_t *m = L->model, *t = json_object_get(m, "type");
    const char *prefix = str_at(m, "continuing_subword_prefix");
    json_t *dropout = json_object_get(m, "dropout");
    if ((t && !is_type(m, "BPE")) || (prefix && *prefix) ||
        (dropout && !json_is_null(dropout) && json_number_value(dropout) != 0.0) ||
        !flag_is(m, "fuse_unk", false) || !flag_is(m, "byte_fallback", false) ||
        !flag_is(m, "ignore_merges", false))
        return cs_fail(err, CS_EUNSUPPORTED,
                       "%s: model is not a plain BPE (CLIP's: no dropout, no subword prefix, "
                       "no byte fallback, no fused unknowns, merges not ignored)",
                       L->path);
    if (!L->have_vocab || !L->have_merges)
        return cs_fail(err, CS_EFORMAT, "%s: model has no %s", L->path,
                       L->have_vocab ? "merges" : "vocab");
    const char *suffix = str_at(m, "end_of_word_suffix");
    L->tok->bpe.suffix = strdup(suffix ? suffix : "");
    if (!L->tok->bpe.suffix) return cs_fail(err, CS_ENOMEM, "%s: out of memory", L->path);
    const char *unk = str_at(m, "unk_token");
    L->tok->bpe.unk_id = -1;
    if (unk) {
        L->tok->bpe.unk_id = cs_vocab_get(&L->tok->bpe.vocab, unk, strlen(unk));
        if (L->tok->bpe.unk_id < 0)
            return cs_fail(err, CS_EFORMAT, "%s: unk_token '%s' is not in the vocabulary", L->path,
                           unk);
    }
    return CS_OK;
}

static cs_status check_added_tokens(loader *L, cs_error *err) {
    json_t *list = json_object_get(L->top, "added_tokens"), *t;
    size_t i;
    if (list && !json_is_array(list))
        return cs_fail(err, CS_EFORMAT, "%s: added_tokens is not an array", L->path);
    json_array_foreach(list, i, t) {
        json_t *id = json_object_get(t, "id");
        const char *content = str_at(t, "content");
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) > INT32_MAX || !content || !*content)
            return cs_fail(err, CS_EFORMAT, "%s: added_tokens[%zu] needs an id and a content",
                           L->path, i);
        if (!flag_is(t, "single_word", false) || !flag_is(t, "lstrip", false) ||
            !flag_is(t, "rstrip", false))
            return cs_fail(err, CS_EUNSUPPORTED,
                           "%s: added token '%s': single_word, lstrip and rstrip are not "
                           "supported",
                           L->path, content);
        cs_status st = cs_tokenizer_add_token(L->tok, content, (int32_t)json_integer_value(id),
                                              json_is_true(json_object_get(t, "normalized")), err);
        if (st) return st;
    }
    return CS_OK;
}

static cs_status check_post_processor(loader *L, cs_error *err) {
    json_t *p = json_object_get(L->top, "post_processor");
    json_t *cls = json_array_get(json_object_get(p, "cls"), 1);
    json_t *sep = json_array_get(json_object_get(p, "sep"), 1);
    if (!(is_type(p, "RobertaProcessing") || is_type(p, "BertProcessing")) ||
        !json_is_integer(cls) || !json_is_integer(sep))
        return cs_fail(err, CS_EUNSUPPORTED,
                       "%s: post_processor is not CLIP's (RobertaProcessing with cls and sep)",
                       L->path);
    L->tok->bos = (int32_t)json_integer_value(cls);
    L->tok->eos = (int32_t)json_integer_value(sep);
    return CS_OK;
}

static cs_status resolve_merges(loader *L, cs_error *err) {
    return resolve_pending(L, err);
}

cs_status cs_tokenizer_json_parse(const char *data, size_t size, const char *path,
                                  cs_tokenizer *tok, cs_error *err) {
    cs_status st = CS_OK;
    loader L = {path, tok, json_object(), json_object(), {0}, 0, false, false};
    const char *text = data ? data : ""; /* (NULL + 0 is undefined in C) */
    cs_jscan j = {text, text, text + (data ? size : 0), path, NULL, 0, 0};
    if (!L.top || !L.model) st = cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
    if (!st) st = cs_js_object(&j, top_member, &L, err);
    if (!st && cs_js_peek(&j) != -1) st = cs_js_fail(&j, err, "text after the top-level object");
    if (!st) st = check_normalizer(&L, err);
    if (!st) st = check_pre_tokenizer(&L, err);
    if (!st) st = check_model(&L, err);
    if (!st) st = resolve_merges(&L, err);
    if (!st) st = check_added_tokens(&L, err);
    if (!st) st = check_post_processor(&L, err);
    cs_js_release(&j);
    json_decref(L.top);
    json_decref(L.model);
    free(L.merges.bytes);
    free(L.merges.pair);
    return st;
}

cs_status cs_tokenizer_json_load(const char *path, cs_tokenizer *tok, cs_error *err) {
    cs_map map;
    cs_status st = cs_map_file(path, &map, err);
    if (st) return st;
    st = cs_tokenizer_json_parse((const char *)map.data, map.size, path, tok, err);
    cs_unmap(&map);
    return st;
}
