/* server/query_vector.c - a request's query vector through the library's
 * query, and base64 (see query_vector.h). */
#include "server/query_vector.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clipsearch/index.h" /* cs_hash128 */
#include "core/error.h"

cs_status cs_srv_query_init(cs_srv_query *q, const cs_srv_backend *be, cs_srv_cache *memo,
                            cs_error *err) {
    memset(q, 0, sizeof *q);
    q->be = be;
    q->memo = memo;
    q->q = cs_query_new();
    q->sum = calloc((size_t)be->dim, sizeof(float));
    q->scratch = calloc((size_t)be->dim, sizeof(float));
    if (!q->q || !q->sum || !q->scratch) {
        cs_srv_query_free(q);
        return cs_fail(err, CS_ENOMEM, "query: out of memory");
    }
    return CS_OK;
}

void cs_srv_query_free(cs_srv_query *q) {
    cs_query_free(q->q);
    free(q->sum);
    free(q->scratch);
    q->q = NULL;
    q->sum = q->scratch = NULL;
}

/* Adds one part, within the server's limit on parts. */
static cs_status add(cs_srv_query *q, const cs_query_term *t, cs_error *err) {
    if (cs_query_count(q->q) >= CS_SRV_MAX_TERMS)
        return cs_fail(err, CS_ELIMIT, "query: more than %d parts", CS_SRV_MAX_TERMS);
    return cs_query_add(q->q, t, err);
}

/* ---- the memo: an embedding is a pure function of the text or the bytes ----
 * Entries are [16-byte content hash][kind][dim floats] under the first 8
 * bytes of the hash; the full hash is compared on the way out. */

/* Embeds a text ('T') or an image's bytes ('I') into out, through the memo. */
static cs_status embed_memo(cs_srv_query *q, char kind, const void *data, size_t size, float *out,
                            cs_error *err) {
    size_t vec = sizeof(float) * (size_t)q->be->dim, n = 17 + vec;
    uint8_t h[16];
    cs_hash128(data, size, h);
    int64_t key;
    memcpy(&key, h, sizeof key);
    key ^= kind; /* a text and an image with the same bytes differ */
    unsigned char *hit = NULL;
    size_t got = 0;
    if (q->memo && cs_srv_cache_get(q->memo, key, &hit, &got)) {
        int same = got == n && !memcmp(hit, h, 16) && hit[16] == (unsigned char)kind;
        if (same) memcpy(out, hit + 17, vec);
        free(hit);
        if (same) return CS_OK;
    }
    cs_status st = kind == 'T' ? q->be->embed_text(q->be->ctx, data, out, err)
                               : q->be->embed_image(q->be->ctx, data, size, out, err);
    unsigned char *entry = q->memo && st == CS_OK ? malloc(n) : NULL;
    if (entry) {
        memcpy(entry, h, 16);
        entry[16] = (unsigned char)kind;
        memcpy(entry + 17, out, vec);
        cs_srv_cache_put(q->memo, key, entry, n);
        free(entry);
    }
    return st;
}

/* cs_query_embed_with's callback: a part through the backend. */
static cs_status embed_part(void *user, const cs_query_term *t, float *out, cs_error *err) {
    cs_srv_query *q = user;
    switch (t->kind) {
    case CS_QUERY_TEXT: /* the NUL is hashed too, so the text is all there is to the key */
        return embed_memo(q, 'T', t->text, strlen(t->text) + 1, out, err);
    case CS_QUERY_IMAGE_MEM:
        return embed_memo(q, 'I', t->data, t->size, out, err);
    case CS_QUERY_EMBEDDING:
        memcpy(out, t->data, (size_t)q->be->dim * sizeof *out);
        return CS_OK;
    default: /* the server adds no image paths */
        return cs_fail(err, CS_EINVAL, "query: a part of kind %d", (int)t->kind);
    }
}

cs_status cs_srv_query_add_text(cs_srv_query *q, const char *text, double weight, cs_error *err) {
    cs_query_term t = {.kind = CS_QUERY_TEXT, .weight = (float)weight, .text = text};
    if (!*text) return cs_fail(err, CS_EINVAL, "query: the text is empty");
    return add(q, &t, err);
}

cs_status cs_srv_query_add_expr(cs_srv_query *q, const char *expr, double weight, cs_error *err) {
    cs_status st = cs_query_parse_text(q->q, expr, (float)weight, err);
    if (st == CS_OK && cs_query_count(q->q) > CS_SRV_MAX_TERMS)
        st = cs_fail(err, CS_ELIMIT, "query: more than %d parts", CS_SRV_MAX_TERMS);
    return st;
}

cs_status cs_srv_query_add_image(cs_srv_query *q, const void *data, size_t size, double weight,
                                 cs_error *err) {
    if (size == 0) return cs_fail(err, CS_EINVAL, "query: the image is empty");
    cs_query_term t = {
        .kind = CS_QUERY_IMAGE_MEM, .weight = (float)weight, .data = data, .size = size};
    return add(q, &t, err);
}

cs_status cs_srv_query_add_vector(cs_srv_query *q, const float *v, int n, double weight,
                                  cs_error *err) {
    if (n != q->be->dim)
        return cs_fail(err, CS_EINVAL, "query: embedding has %d numbers, the model makes %d", n,
                       q->be->dim);
    cs_query_term t = {
        .kind = CS_QUERY_EMBEDDING, .weight = (float)weight, .data = v, .size = (size_t)n};
    return add(q, &t, err);
}

cs_status cs_srv_query_add_id(cs_srv_query *q, int64_t id, double weight, cs_error *err) {
    cs_status st = q->be->item_vector(q->be->ctx, id, q->scratch, err);
    if (st == CS_OK) st = cs_srv_query_add_vector(q, q->scratch, q->be->dim, weight, err);
    return st;
}

cs_status cs_srv_query_finish(cs_srv_query *q, cs_error *err) {
    if (!cs_query_count(q->q)) return cs_fail(err, CS_EINVAL, "query: nothing to search for");
    return cs_query_embed_with(q->q, q->be->dim, embed_part, q, q->sum, err);
}

/* ---- base64 ---------------------------------------------------------------------- */

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

cs_status cs_srv_base64_decode(const char *in, size_t n, unsigned char **out, size_t *out_len,
                               cs_error *err) {
    *out = NULL;
    *out_len = 0;
    if (n > 5 && !strncmp(in, "data:", 5)) { /* a data URL: keep what follows "base64," */
        const char *comma = memchr(in, ',', n);
        if (!comma || comma - in < 7 || strncmp(comma - 7, ";base64", 7))
            return cs_fail(err, CS_EINVAL, "image_base64: a data URL that is not base64");
        n -= (size_t)(comma + 1 - in);
        in = comma + 1;
    }
    unsigned char *buf = malloc(n / 4 * 3 + 3);
    if (!buf) return cs_fail(err, CS_ENOMEM, "image_base64: out of memory");
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (isspace(c)) continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad) {
            free(buf);
            return cs_fail(err, CS_EINVAL, "image_base64: invalid character at offset %zu", i);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (bits >= 6 || pad > 2) { /* a lone sextet cannot end a base64 text */
        free(buf);
        return cs_fail(err, CS_EINVAL, "image_base64: truncated data");
    }
    *out = buf;
    *out_len = o;
    return CS_OK;
}
