/* server/backend.h - what the HTTP layer needs from a collection of images.
 *
 * The server never touches the model or the catalogue directly: it talks to
 * a backend, a table of functions over one opaque context. The real one
 * (backend_db.c) sits on a cs_model and an index; tests plug in small fake
 * ones to exercise the HTTP layer alone. Every function may be called from
 * several connection threads at once and must be thread-safe. */
#ifndef CS_SERVER_BACKEND_H
#define CS_SERVER_BACKEND_H

#include <jansson.h>

#include "clipsearch/index.h"
#include "clipsearch/search.h"
#include "clipsearch/server.h"

/* One indexed image: where the original lay when it was indexed, and what
 * it was then (item_file.h checks the file against this before using it). */
typedef struct cs_srv_item {
    int64_t id;
    int width, height;
    int64_t size, mtime_ns; /* bytes; modification time, ns since the epoch */
    uint8_t hash[16];       /* cs_hash128 of its bytes; all zero if not recorded */
    char path[4096];
} cs_srv_item;

/* Fills *out (id) from a catalogue row and clears img, also on failure
 * (CS_ELIMIT: a path longer than out->path holds). */
cs_status cs_srv_item_from_image(int64_t id, cs_db_image *img, cs_srv_item *out, cs_error *err);

typedef struct cs_srv_backend {
    void *ctx;
    int dim; /* the length of every embedding */

    /* One text -> dim floats, L2-normalised. */
    cs_status (*embed_text)(void *ctx, const char *text, float *out, cs_error *err);
    /* The bytes of an image file (uploaded: untrusted) -> dim floats, L2-normalised. */
    cs_status (*embed_image)(void *ctx, const void *data, size_t size, float *out, cs_error *err);
    /* The stored embedding of an indexed image; CS_ENOTFOUND for an unknown id. */
    cs_status (*item_vector)(void *ctx, int64_t id, float *out, cs_error *err);
    /* The k best images for a unit query vector, best first (equal scores:
     * lower id first), leaving out `exclude` (-1: none). *hits is a malloc'd
     * array of *n_hits <= k with malloc'd paths, the library's own result
     * type, freed with cs_results_free. */
    cs_status (*search)(void *ctx, const float *query, int k, int64_t exclude, cs_result **hits,
                        int *n_hits, cs_error *err);
    /* The record of an indexed image; CS_ENOTFOUND for an unknown id. */
    cs_status (*item)(void *ctx, int64_t id, cs_srv_item *out, cs_error *err);
    /* Adds the collection's figures ("images", "model", ...) to a JSON object. */
    cs_status (*stats)(void *ctx, json_t *obj, cs_error *err);
    /* Decodes the bytes of an indexed image (read from the file that was
     * checked against the item, never from its path again), upright, for its
     * thumbnail; it may come out smaller (JPEG DCT scaling) as long as its
     * shorter side >= min_side. */
    cs_status (*decode)(void *ctx, const cs_srv_item *item, const void *data, size_t size,
                        int min_side, cs_image *out, cs_error *err);
    /* Releases an image that decode filled. */
    void (*image_free)(void *ctx, cs_image *img);
    /* Groups of near-identical images (cs_db_duplicates; opts->pool is the
     * backend's). NULL: the collection cannot tell (the API answers 501). */
    cs_status (*duplicates)(void *ctx, const cs_dups_opts *opts, cs_dups **out, cs_error *err);
    /* The catalogue's own files (core/guard.h), never opened as images: an
     * indexed path may be hard-linked to one after indexing, and closing a
     * descriptor of the database drops the process's SQLite locks. Must
     * outlive the server; NULL: none. */
    struct cs_file_guard *guard;
} cs_srv_backend;

/* Starts a server over a backend (copied; its ctx must outlive the server). */
cs_status cs_server_start_backend(const cs_srv_backend *backend, const cs_server_opts *opts,
                                  cs_server **out, cs_error *err);

#endif
