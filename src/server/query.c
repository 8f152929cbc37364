/* server/query.c - weighted query vectors and base64 (see query.h). */
#include "server/query.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clipsearch/index.h" /* cs_hash128 */
#include "core/error.h"

cs_status srv_query_init(srv_query *q, const srv_backend *be, srv_cache *memo, cs_error *err) {
    memset(q, 0, sizeof *q);
    q->be = be;
    q->memo = memo;
    q->sum = calloc((size_t)be->dim, sizeof(float));
    q->scratch = calloc((size_t)be->dim, sizeof(float));
    if (!q->sum || !q->scratch) {
        srv_query_free(q);
        return cs_fail(err, CS_ENOMEM, "query: out of memory");
    }
    return CS_OK;
}

void srv_query_free(srv_query *q) {
    free(q->sum);
    free(q->scratch);
    q->sum = q->scratch = NULL;
}

static cs_status count_term(srv_query *q, cs_error *err) {
    if (q->n_terms >= SRV_MAX_TERMS)
        return cs_fail(err, CS_ELIMIT, "query: more than %d parts", SRV_MAX_TERMS);
    q->n_terms++;
    return CS_OK;
}

/* sum += weight * v / |v| */
static cs_status accumulate(srv_query *q, const float *v, double weight, cs_error *err) {
    double norm = 0;
    for (int i = 0; i < q->be->dim; i++) norm += (double)v[i] * v[i];
    norm = sqrt(norm);
    if (!(norm > 0) || !isfinite(norm))
        return cs_fail(err, CS_EINVAL, "query: a part has a zero or non-finite embedding");
    for (int i = 0; i < q->be->dim; i++) q->sum[i] += (float)(weight * v[i] / norm);
    return CS_OK;
}

static cs_status check_weight(double weight, cs_error *err) {
    if (!isfinite(weight) || fabs(weight) > 1e6)
        return cs_fail(err, CS_EINVAL, "query: weight %g is out of range", weight);
    return CS_OK;
}

/* ---- the memo: an embedding is a pure function of the text or the bytes ----
 * Entries are [16-byte content hash][kind][dim floats] under the first 8
 * bytes of the hash; the full hash is compared on the way out. */

typedef cs_status (*embed_fn)(void *ctx, const void *data, size_t size, float *out, cs_error *err);

static cs_status embed_text_fn(void *ctx, const void *data, size_t size, float *out,
                               cs_error *err) {
    (void)size;
    srv_query *q = ctx;
    return q->be->embed_text(q->be->ctx, data, out, err);
}

static cs_status embed_image_fn(void *ctx, const void *data, size_t size, float *out,
                                cs_error *err) {
    srv_query *q = ctx;
    return q->be->embed_image(q->be->ctx, data, size, out, err);
}

/* Embeds into q->scratch, through the memo. */
static cs_status embed_memo(srv_query *q, char kind, const void *data, size_t size, embed_fn fn,
                            cs_error *err) {
    size_t vec = sizeof(float) * (size_t)q->be->dim, n = 17 + vec;
    uint8_t h[16];
    cs_hash128(data, size, h);
    int64_t key;
    memcpy(&key, h, sizeof key);
    key ^= kind; /* a text and an image with the same bytes differ */
    unsigned char *hit = NULL;
    size_t got = 0;
    if (q->memo && srv_cache_get(q->memo, key, &hit, &got)) {
        int same = got == n && !memcmp(hit, h, 16) && hit[16] == (unsigned char)kind;
        if (same) memcpy(q->scratch, hit + 17, vec);
        free(hit);
        if (same) return CS_OK;
    }
    cs_status st = fn(q, data, size, q->scratch, err);
    unsigned char *entry = q->memo && st == CS_OK ? malloc(n) : NULL;
    if (entry) {
        memcpy(entry, h, 16);
        entry[16] = (unsigned char)kind;
        memcpy(entry + 17, q->scratch, vec);
        srv_cache_put(q->memo, key, entry, n);
        free(entry);
    }
    return st;
}

cs_status srv_query_add_text(srv_query *q, const char *text, double weight, cs_error *err) {
    cs_status st = check_weight(weight, err);
    if (st == CS_OK) st = count_term(q, err);
    /* the NUL is hashed too, so the text is all there is to the key */
    if (st == CS_OK) st = embed_memo(q, 'T', text, strlen(text) + 1, embed_text_fn, err);
    if (st == CS_OK) st = accumulate(q, q->scratch, weight, err);
    return st;
}

cs_status srv_query_add_image(srv_query *q, const void *data, size_t size, double weight,
                              cs_error *err) {
    cs_status st = check_weight(weight, err);
    if (st == CS_OK) st = count_term(q, err);
    if (st == CS_OK && size == 0) st = cs_fail(err, CS_EINVAL, "query: the image is empty");
    if (st == CS_OK) st = embed_memo(q, 'I', data, size, embed_image_fn, err);
    if (st == CS_OK) st = accumulate(q, q->scratch, weight, err);
    return st;
}

cs_status srv_query_add_vector(srv_query *q, const float *v, int n, double weight, cs_error *err) {
    cs_status st = check_weight(weight, err);
    if (st == CS_OK) st = count_term(q, err);
    if (st == CS_OK && n != q->be->dim)
        st = cs_fail(err, CS_EINVAL, "query: embedding has %d numbers, the model makes %d", n,
                     q->be->dim);
    if (st == CS_OK) st = accumulate(q, v, weight, err);
    return st;
}

cs_status srv_query_add_id(srv_query *q, int64_t id, double weight, cs_error *err) {
    cs_status st = check_weight(weight, err);
    if (st == CS_OK) st = count_term(q, err);
    if (st == CS_OK) st = q->be->item_vector(q->be->ctx, id, q->scratch, err);
    if (st == CS_OK) st = accumulate(q, q->scratch, weight, err);
    return st;
}

/* rclip's multiplier: "2:cat", "0.5:cat", ".5:cat", "2.:cat". Returns the
 * text after the prefix and sets *m; no prefix: the text itself and 1. */
static const char *multiplier(const char *s, double *m) {
    const char *p = s;
    int digits = 0, dot = 0;
    while (isdigit((unsigned char)*p) || (*p == '.' && !dot)) {
        if (*p == '.')
            dot = 1;
        else
            digits++;
        p++;
    }
    *m = 1.0;
    if (!digits || *p != ':' || !p[1]) return s;
    *m = strtod(s, NULL);
    return p + 1;
}

cs_status srv_query_add_expr(srv_query *q, const char *expr, double weight, cs_error *err) {
    size_t n = strlen(expr);
    char *buf = malloc(n + 1);
    if (!buf) return cs_fail(err, CS_ENOMEM, "query: out of memory");
    int sign = 1, added = 0;
    cs_status st = CS_OK;
    const char *p = expr;
    while (st == CS_OK) {
        /* one term: up to the next lone "+" or "-" (spaces around it, or the start) */
        const char *start = p, *end = p;
        int next_sign = 0;
        for (; *end; end++) {
            int at_start = end == expr || isspace((unsigned char)end[-1]);
            if ((*end == '+' || *end == '-') && at_start &&
                (end[1] == 0 || isspace((unsigned char)end[1]))) {
                next_sign = *end == '+' ? 1 : -1;
                break;
            }
        }
        while (start < end && isspace((unsigned char)*start)) start++;
        size_t len = (size_t)(end - start);
        while (len && isspace((unsigned char)start[len - 1])) len--;
        if (len) {
            memcpy(buf, start, len);
            buf[len] = 0;
            double m;
            const char *text = multiplier(buf, &m);
            st = srv_query_add_text(q, text, sign * m * weight, err);
            added++;
        }
        if (!next_sign) break;
        sign = next_sign;
        p = end + 1;
    }
    free(buf);
    if (st == CS_OK && !added) st = cs_fail(err, CS_EINVAL, "query: the text is empty");
    return st;
}

cs_status srv_query_finish(srv_query *q, cs_error *err) {
    if (!q->n_terms) return cs_fail(err, CS_EINVAL, "query: nothing to search for");
    double norm = 0;
    for (int i = 0; i < q->be->dim; i++) norm += (double)q->sum[i] * q->sum[i];
    norm = sqrt(norm);
    if (!(norm > 1e-6))
        return cs_fail(err, CS_EINVAL, "query: the parts cancel out (nothing left to search for)");
    for (int i = 0; i < q->be->dim; i++) q->sum[i] = (float)(q->sum[i] / norm);
    return CS_OK;
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

cs_status srv_base64_decode(const char *in, size_t n, unsigned char **out, size_t *out_len,
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
