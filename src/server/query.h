/* server/query.h - building one query vector from weighted parts, the way
 * rclip does: every part (a text, an image, an embedding, an indexed image)
 * is embedded and L2-normalised, multiplied by its weight, and summed; a
 * negative weight subtracts. The sum is normalised again so that scores
 * stay cosines (the order of results is the same as rclip's unnormalised sum).
 *
 * Text uses rclip's syntax: "cat + 2:dog - grass" is cat plus twice dog
 * minus grass; an operator is a lone "+" or "-" between spaces, and a
 * "N:" prefix (N a non-negative decimal) is a multiplier. */
#ifndef CS_SERVER_QUERY_H
#define CS_SERVER_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "server/backend.h"
#include "server/cache.h"

/* The most parts one query may have (each may cost a model run). */
#define SRV_MAX_TERMS 16
/* Bytes of query text in one part; CLIP reads 77 tokens anyway. */
#define SRV_MAX_TEXT 2000

typedef struct srv_query {
    const srv_backend *be;
    srv_cache *memo; /* embeddings of texts and images seen before; may be NULL */
    float *sum;      /* dim floats, the weighted sum so far */
    float *scratch;  /* dim floats */
    int n_terms;
} srv_query;

cs_status srv_query_init(srv_query *q, const srv_backend *be, srv_cache *memo, cs_error *err);
void srv_query_free(srv_query *q);

/* One plain text (no syntax), with a weight. */
cs_status srv_query_add_text(srv_query *q, const char *text, double weight, cs_error *err);
/* A text in rclip's syntax, every part scaled by `weight`. */
cs_status srv_query_add_expr(srv_query *q, const char *expr, double weight, cs_error *err);
/* The bytes of an image file (untrusted). */
cs_status srv_query_add_image(srv_query *q, const void *data, size_t size, double weight,
                              cs_error *err);
/* A raw embedding of dim floats (normalised here; zero or non-finite: CS_EINVAL). */
cs_status srv_query_add_vector(srv_query *q, const float *v, int n, double weight, cs_error *err);
/* The stored embedding of an indexed image. */
cs_status srv_query_add_id(srv_query *q, int64_t id, double weight, cs_error *err);

/* The JSON form of a query (see query_json.c); `where` prefixes messages. */
cs_status srv_query_add_json(srv_query *q, json_t *obj, const char *where, cs_error *err);

/* Normalises the sum into q->sum; CS_EINVAL when there is nothing to search
 * for (no parts, or parts that cancel out). */
cs_status srv_query_finish(srv_query *q, cs_error *err);

/* Decodes standard or URL-safe base64 (whitespace and a "data:...;base64,"
 * prefix allowed, padding optional) into a malloc'd buffer. */
cs_status srv_base64_decode(const char *in, size_t n, unsigned char **out, size_t *out_len,
                            cs_error *err);

#endif
