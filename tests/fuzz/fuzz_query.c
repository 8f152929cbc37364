/* tests/fuzz/fuzz_query.c - libFuzzer harness for what the server parses
 * itself from request bodies and URLs: the JSON query, rclip's text syntax,
 * base64 and ids (the HTTP parsing is libmicrohttpd's).
 *
 *   CC=clang CXX=clang++ cmake -B build-fuzz -DCS_FUZZ=ON -DCS_SANITIZE=ON
 *   cmake --build build-fuzz --target fuzz_query
 *   build-fuzz/tests/fuzz_query -max_total_time=60
 *
 * Each input is tried as a JSON body, as a query text and as base64. Any of
 * them may be refused, never crash; an accepted query has a unit vector. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h" /* cs_srv_parse_id */
#include "server/query_vector.h"

#define DIM 8

/* A text embeds to a vector made from its bytes (an empty text fails, like
 * a model refusing it); an "image" must start with "IMG". */
static cs_status embed_bytes(const void *data, size_t n, float *out, cs_error *err) {
    if (!n) return cs_fail(err, CS_EINVAL, "empty");
    memset(out, 0, sizeof(float) * DIM);
    for (size_t i = 0; i < n; i++) out[i % DIM] += (float)((const unsigned char *)data)[i] - 100;
    return CS_OK;
}
static cs_status embed_text(void *ctx, const char *text, float *out, cs_error *err) {
    (void)ctx;
    return embed_bytes(text, strlen(text), out, err);
}
static cs_status embed_image(void *ctx, const void *data, size_t n, float *out, cs_error *err) {
    (void)ctx;
    if (n < 3 || memcmp(data, "IMG", 3)) return cs_fail(err, CS_EFORMAT, "not an image");
    return embed_bytes(data, n, out, err);
}
static cs_status item_vector(void *ctx, int64_t id, float *out, cs_error *err) {
    (void)ctx;
    if (id < 0 || id > 9) return cs_fail(err, CS_ENOTFOUND, "no image %lld", (long long)id);
    memset(out, 0, sizeof(float) * DIM);
    out[id % DIM] = 1;
    return CS_OK;
}

static const cs_srv_backend be = {NULL, DIM,  embed_text, embed_image, item_vector, NULL,
                                  NULL, NULL, NULL,       NULL,        NULL,        NULL};

static void check_query(cs_srv_query *q, cs_status st, cs_error *err) {
    if (st == CS_OK) st = cs_srv_query_finish(q, err);
    if (st == CS_OK) {
        double n = 0;
        for (int i = 0; i < DIM; i++) n += (double)q->sum[i] * q->sum[i];
        if (fabs(n - 1.0) > 1e-3) {
            fprintf(stderr, "accepted query with |q|^2 = %g\n", n);
            abort();
        }
    } else if (!err->message[0]) {
        fprintf(stderr, "refused without a message (status %d)\n", (int)st);
        abort();
    }
    cs_srv_query_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cs_srv_cache *memo = cs_srv_cache_new(1 << 16);
    cs_error err = {0};
    cs_srv_query q;
    /* as a JSON body */
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (doc && json_is_object(doc) && cs_srv_query_init(&q, &be, memo, &err) == CS_OK)
        check_query(&q, cs_srv_query_add_json(&q, doc, "body", &err), &err);
    json_decref(doc);
    /* as a query text (what ?q= gives: a NUL-terminated string) */
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    err = (cs_error){0};
    if (cs_srv_query_init(&q, &be, memo, &err) == CS_OK)
        check_query(&q, cs_srv_query_add_expr(&q, text, 1.0, &err), &err);
    /* as base64, and as an id */
    unsigned char *bytes;
    size_t n;
    if (cs_srv_base64_decode(text, size, &bytes, &n, &err) == CS_OK) {
        if (n > size) abort(); /* base64 never grows */
        free(bytes);
    }
    int64_t id;
    long v;
    if (cs_srv_parse_id(text, &id) && id < 0) abort();
    if (cs_srv_parse_int(text, 1, 500, 20, &v) && (v < 1 || v > 500)) abort();
    free(text);
    cs_srv_cache_free(memo);
    return 0;
}
