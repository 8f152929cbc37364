/*
 * clipsearch/server.h - `clipsearch serve` as a library: a small HTTP server
 * (libmicrohttpd) with a JSON API and a web page over an index.
 *
 *   GET  /                     the web page (embedded in the library)
 *   GET  /api/search?q=&k=&offset=   text query (rclip syntax: "2:cat + dog - grass")
 *   POST /api/search           image bytes, a multipart upload, or JSON
 *                              {"text", "image_base64", "embedding", "k", "offset", ...}
 *   GET  /api/similar/ID       images like the indexed image ID
 *   GET  /api/thumb/ID         a JPEG thumbnail (cached)
 *   GET  /api/image/ID         the original file
 *   GET  /api/stats, /healthz
 *
 * Only files in the index are ever served, and only by their id. Every limit
 * below has a safe default (a zero field means "the default").
 */
#ifndef CLIPSEARCH_SERVER_H
#define CLIPSEARCH_SERVER_H

#include "clipsearch/common.h"
#include "clipsearch/image.h"
#include "clipsearch/index.h"
#include "clipsearch/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cs_server cs_server;

typedef struct cs_server_opts {
    const char *host;          /* address to bind; NULL: "127.0.0.1" (loopback only) */
    int port;                  /* 0: any free port (see cs_server_port) */
    int threads;               /* connection threads; 0: 4 */
    int thread_per_connection; /* 1: a thread per connection instead of the pool */
    int max_connections;       /* 0: 256 */
    int timeout_s;             /* a connection idle this long is closed; 0: 15 */
    int header_timeout_ms;     /* a request's headers must all arrive within this, however
                                  slowly the bytes trickle; 0: 10000 */
    int body_timeout_ms;       /* and its body within this after them; 0: 60000 */
    int max_per_client;        /* connections from one client address; 0: 32, but no limit
                                  when bound to loopback (every local client has the same
                                  address); -1: no limit */
    size_t max_body;           /* request body limit in bytes; 0: 16 MiB */
    int max_k;                 /* most results one request may ask for; 0: 500 */
    int thumb_size;            /* longest side of a thumbnail in pixels; 0: 320 */
    size_t thumb_cache_bytes;  /* memory for cached thumbnails; 0: 64 MiB */
    cs_decode_opts decode;     /* limits for uploaded images and thumbnails */
    cs_pool *search_pool;      /* threads for one search's scan (not owned); NULL: the
                                  connection's own thread, best when many search at once */
    cs_log_fn log;             /* optional: one line per request at DEBUG */
    void *log_user;
    uint64_t reserved[CS_RESERVED_WORDS]; /* zero: room for later fields */
} cs_server_opts;

/* Starts serving the images of `db`, searched with `model` (the one the
 * database was made with). Both are borrowed: keep them open until
 * cs_server_stop. Requests are answered on the server's own threads; this
 * returns once it listens. opts may be NULL (every default). */
CS_API cs_status cs_server_start(cs_model *model, cs_db *db, const cs_server_opts *opts,
                                 cs_server **out, cs_error *err);

/* The port the server listens on (the chosen one when opts->port was 0). */
CS_API int cs_server_port(const cs_server *server);

/* Stops accepting, finishes the requests in flight, frees everything. */
CS_API void cs_server_stop(cs_server *server);

#ifdef __cplusplus
}
#endif

#endif /* CLIPSEARCH_SERVER_H */
