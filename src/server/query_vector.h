/* server/query_vector.h - one query vector from a request's parts (texts
 * in rclip's syntax, uploaded images, embeddings, indexed images), through
 * the library's query (clipsearch/index.h: cs_query_parse_text,
 * cs_query_embed_with): the same syntax, weighting and checks as the
 * command line. What the server adds: its limits on parts and text, a
 * memo of embeddings, and its backend for embedding and stored vectors. */
#ifndef CS_SERVER_QUERY_VECTOR_H
#define CS_SERVER_QUERY_VECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "server/backend.h"
#include "server/cache.h"

/* The most parts one query may have (each may cost a model run). */
#define CS_SRV_MAX_TERMS 16
/* Bytes of query text in one part; CLIP reads 77 tokens anyway. */
#define CS_SRV_MAX_TEXT 2000

typedef struct cs_srv_query {
    const cs_srv_backend *be;
    cs_srv_cache *memo; /* embeddings of texts and images seen before; may be NULL */
    cs_query *q;        /* the parts so far */
    float *sum;         /* dim floats: the query vector, once finished */
    float *scratch;     /* dim floats */
} cs_srv_query;

cs_status cs_srv_query_init(cs_srv_query *q, const cs_srv_backend *be, cs_srv_cache *memo,
                            cs_error *err);
void cs_srv_query_free(cs_srv_query *q);

/* One plain text (no syntax), with a weight. */
cs_status cs_srv_query_add_text(cs_srv_query *q, const char *text, double weight, cs_error *err);
/* A text in rclip's syntax, every part scaled by `weight`. */
cs_status cs_srv_query_add_expr(cs_srv_query *q, const char *expr, double weight, cs_error *err);
/* The bytes of an image file (untrusted). */
cs_status cs_srv_query_add_image(cs_srv_query *q, const void *data, size_t size, double weight,
                                 cs_error *err);
/* A raw embedding of dim floats. */
cs_status cs_srv_query_add_vector(cs_srv_query *q, const float *v, int n, double weight,
                                  cs_error *err);
/* The stored embedding of an indexed image. */
cs_status cs_srv_query_add_id(cs_srv_query *q, int64_t id, double weight, cs_error *err);

/* The JSON form of a query (see query_vector_json.c); `where` prefixes messages. */
cs_status cs_srv_query_add_json(cs_srv_query *q, json_t *obj, const char *where, cs_error *err);

/* Embeds the parts and sums them into q->sum (cs_query_embed_with);
 * CS_EINVAL when there is nothing to search for (no parts, a zero part, or
 * parts that cancel out). */
cs_status cs_srv_query_finish(cs_srv_query *q, cs_error *err);

/* Decodes standard or URL-safe base64 (whitespace and a "data:...;base64,"
 * prefix allowed, padding optional) into a malloc'd buffer. */
cs_status cs_srv_base64_decode(const char *in, size_t n, unsigned char **out, size_t *out_len,
                               cs_error *err);

#endif
