/* server/server_internal.h - the server's internals shared by its files: the server
 * object, one request's state, and the helpers that queue replies.
 *
 * Flow of a request (server.c): libmicrohttpd parses it and calls us once
 * for the headers, again for each chunk of body, and a last time when the
 * body is complete; we keep the body (up to max_body) in cs_srv_request, then
 * router.c picks the handler (api.c, assets) that queues exactly one reply. */
#ifndef CS_SERVER_INTERNAL_H
#define CS_SERVER_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include <jansson.h>
#include "core/lazy_mhd.h" /* <microhttpd.h> */

#include "core/error.h"
#include "server/backend.h"
#include "server/cache.h"
#include "server/conn_guard.h"
#include "server/thumb.h"

struct cs_server {
    struct MHD_Daemon *daemon;
    cs_srv_backend be;
    cs_server_opts opts; /* with every default filled in */
    char host[256];
    int port;
    int loopback; /* bound to a loopback address: only local Host names are served */
    cs_srv_cache *thumbs;
    cs_srv_cache *embeddings; /* query embeddings by hash of the text / image bytes */
    cs_srv_guard *guard;      /* deadlines and the reserve of connections */
    int per_client;           /* connections per client address; 0: no limit */
    int reserve;              /* connections kept for clients that send their request at once */
    cs_logger log;
    void *owned_ctx; /* the backend's context when the server made it (freed by stop) */
};

/* A growing byte buffer with a hard cap (the request-size limit). */
typedef struct cs_srv_buf {
    char *data;
    size_t len, cap;
} cs_srv_buf;

/* Appends n bytes; 0 if that would pass `limit` or memory ran out. */
int cs_srv_buf_append(cs_srv_buf *b, const void *data, size_t n, size_t limit);
void cs_srv_buf_free(cs_srv_buf *b);

/* The state of one request, from its headers to its reply. */
typedef struct cs_srv_request {
    cs_server *srv;
    struct MHD_Connection *conn;
    const char *method, *url; /* valid while the request lives (owned by MHD) */
    double t_start;           /* seconds, monotonic */
    int status;               /* the reply's status, for the log line */
    int rejected;             /* a reply was queued before the body was read */
    int refused;              /* the status to answer once the body has been dropped */
    int close;                /* the reply closes the connection */
    size_t n_args;            /* URL arguments, when more than accepted */
    size_t body_seen;         /* bytes of body received so far */
    size_t dropped;           /* bytes of body dropped after a refusal */
    cs_srv_buf body;          /* raw body (JSON, image bytes) */
    /* multipart/form-data and urlencoded forms */
    struct MHD_PostProcessor *form;
    cs_srv_buf upload;    /* the file part of a form */
    char form_text[2048]; /* the "q"/"text" field */
    char form_k[16], form_offset[16];
    int form_bad;       /* a form field was too long or the upload too large */
    char form_why[128]; /* why the request is refused */
} cs_srv_request;

/* ---- replies (reply.c) ----------------------------------------------------- */

/* Queues `obj` (reference stolen) as a JSON reply. */
enum MHD_Result cs_srv_reply_json(cs_srv_request *r, int status, json_t *obj);
/* {"error": message, "status": status}. */
enum MHD_Result cs_srv_reply_error(cs_srv_request *r, int status, const char *fmt, ...)
    CS_PRINTF(3, 4);
/* 405 with the methods the URL allows. */
enum MHD_Result cs_srv_reply_405(cs_srv_request *r, const char *allow);
/* A library error: the HTTP status that fits its cs_status, its message. */
enum MHD_Result cs_srv_reply_cs_error(cs_srv_request *r, const cs_error *err);
/* Bytes that live as long as the program (embedded assets) or are copied. */
enum MHD_Result cs_srv_reply_bytes(cs_srv_request *r, int status, const char *mime,
                                   const void *data, size_t size, int copy,
                                   const char *cache_control, const char *etag);
/* 304 Not Modified when the request's If-None-Match names etag. */
int cs_srv_not_modified(cs_srv_request *r, const char *etag);
enum MHD_Result cs_srv_reply_304(cs_srv_request *r, const char *etag);
/* Adds the headers every reply carries (nosniff, CSP, referrer policy). */
void cs_srv_add_common_headers(struct MHD_Response *resp, const char *mime);
enum MHD_Result cs_srv_queue(cs_srv_request *r, int status, struct MHD_Response *resp);

/* The HTTP status for a library status (404 for CS_ENOTFOUND, ...). */
int cs_srv_http_status(cs_status status);

/* A JSON string for bytes that may not be UTF-8 (file names): invalid
 * sequences become U+FFFD. */
json_t *cs_srv_json_string_lossy(const char *s);

/* ---- routing (router.c) ---------------------------------------------------- */

/* Picks and runs the handler for a complete request. */
enum MHD_Result cs_srv_route(cs_srv_request *r);

/* A decimal id: digits only, no sign, no spaces, fits int64. 0 if not. */
int cs_srv_parse_id(const char *s, int64_t *out);
/* An integer query argument in [lo, hi], or dflt when absent; 0 if bad. */
int cs_srv_parse_int(const char *s, long lo, long hi, long dflt, long *out);

/* ---- handlers (api.c, api_search.c) ---------------------------------------- */

enum MHD_Result cs_srv_api_search_get(cs_srv_request *r);
enum MHD_Result cs_srv_api_search_post(cs_srv_request *r);
enum MHD_Result cs_srv_api_similar(cs_srv_request *r, int64_t id);
enum MHD_Result cs_srv_api_thumb(cs_srv_request *r, int64_t id);
enum MHD_Result cs_srv_api_image(cs_srv_request *r, int64_t id);
enum MHD_Result cs_srv_api_stats(cs_srv_request *r);
enum MHD_Result cs_srv_api_health(cs_srv_request *r);
enum MHD_Result cs_srv_api_duplicates(cs_srv_request *r); /* api_dups.c */

/* A GET/POST argument of the request (URL query), or NULL. */
const char *cs_srv_arg(cs_srv_request *r, const char *name);

double cs_srv_now(void);

#endif
