/* hub/http_client.h - the few HTTP GETs the hub needs, over libcurl: redirects
 * followed, a Bearer token, timeouts, and resumable transfers (Range). */
#ifndef CS_HUB_HTTP_CLIENT_H
#define CS_HUB_HTTP_CLIENT_H

#include <stdint.h>

#include "clipsearch/common.h"
#include "core/error.h"

typedef struct cs_http cs_http;

typedef struct cs_http_config {
    const char *token;     /* NULL or "": no Authorization header */
    int connect_timeout_s; /* > 0 */
    int stall_timeout_s;   /* > 0: abort when no byte arrives for this long */
    const cs_logger *log;
} cs_http_config;

/* What the responses said (redirects included). */
typedef struct cs_http_meta {
    long status;             /* of the last response */
    char repo_commit[128];   /* X-Repo-Commit, from any response of the chain */
    char etag[160];          /* X-Linked-Etag, else the first ETag, unquoted */
    int etag_linked;         /* etag came from X-Linked-Etag (an LFS file's sha256) */
    uint64_t linked_size;    /* X-Linked-Size, 0 if absent */
    uint64_t total;          /* the whole resource's size (Content-Range or Length), 0 unknown */
    char error_code[64];     /* X-Error-Code (RepoNotFound, GatedRepo, ...) */
    char error_message[256]; /* X-Error-Message, else the start of an error body */
    int retryable;           /* the failure may pass on a new try (reset, timeout, 5xx) */
} cs_http_meta;

/* Where a body goes. begin() is called once before the first byte with the
 * offset the body starts at: `offset` when the server honoured the Range,
 * 0 when it sent the whole resource instead (the sink must start over).
 * Either returns non-zero to abort the transfer. */
typedef struct cs_http_sink {
    int (*begin)(void *user, uint64_t start);
    int (*data)(void *user, const void *bytes, size_t size);
    void *user;
} cs_http_sink;

cs_status cs_http_new(const cs_http_config *config, cs_http **out, cs_error *err);
void cs_http_free(cs_http *http);

/* GET url, from byte `offset` (Range) when offset > 0. CS_OK only for a
 * 2xx response whose body fully reached the sink. On failure the message
 * names the URL; 404 -> CS_ENOTFOUND, other failures CS_ENETWORK. */
cs_status cs_http_get(cs_http *http, const char *url, uint64_t offset, const cs_http_sink *sink,
                      cs_http_meta *meta, cs_error *err);

/* GET url into a malloc'd, NUL-terminated buffer of at most max_bytes. */
cs_status cs_http_get_mem(cs_http *http, const char *url, size_t max_bytes, char **body,
                          size_t *size, cs_http_meta *meta, cs_error *err);

/* url-escapes s (every byte but unreserved ones, '/' included) into buf. */
cs_status cs_http_escape(cs_http *http, const char *s, char *buf, size_t cap, cs_error *err);

#endif
