/* dist/dist_serve.c - `clipsearch serve` over shards: rank 0's server with a
 * backend that asks every rank (dist_search.c). Queries are embedded on
 * rank 0; results carry global ids (local id x ranks + rank), so a thumbnail
 * or "similar" request finds its shard. Thumbnails and originals are read
 * by path on rank 0: the images must be visible there (a shared folder). */
#include <stdlib.h>

#include "clipsearch/index.h"
#include "clipsearch/model.h"
#include "core/error.h"
#include "dist/dist.h"
#include "index/db_internal.h" /* its file guard */
#include "server/server_internal.h"

typedef struct shard_backend {
    cs_comm *comm;
    cs_model *model;
    cs_db *db;
    cs_decode_opts decode;
} shard_backend;

static cs_status embed_text(void *ctx, const char *text, float *out, cs_error *err) {
    shard_backend *b = ctx;
    return cs_embed_texts(b->model, &text, 1, 0, out, err);
}

static cs_status embed_image(void *ctx, const void *data, size_t size, float *out, cs_error *err) {
    shard_backend *b = ctx;
    cs_image img = {0};
    cs_status st = cs_image_decode_mem(data, size, "upload", &b->decode, &img, err);
    if (st == CS_OK) st = cs_embed_images(b->model, &img, 1, 0, out, err);
    cs_image_free(&img);
    return st;
}

static cs_status item_vector(void *ctx, int64_t id, float *out, cs_error *err) {
    shard_backend *b = ctx;
    return cs_dist_get_vector(b->comm, b->db, id, out, err);
}

static cs_status search(void *ctx, const float *query, int k, int64_t exclude, cs_result **hits,
                        int *n_hits, cs_error *err) {
    shard_backend *b = ctx;
    *hits = NULL;
    *n_hits = 0;
    return cs_dist_search_excluding(b->comm, b->db, query, k, exclude, hits, n_hits, err);
}

static cs_status item(void *ctx, int64_t id, cs_srv_item *out, cs_error *err) {
    shard_backend *b = ctx;
    cs_db_image img = {0};
    cs_status st = cs_dist_get(b->comm, b->db, id, &img, err);
    if (st) return st;
    return cs_srv_item_from_image(id, &img, out, err);
}

static cs_status stats(void *ctx, json_t *obj, cs_error *err) {
    shard_backend *b = ctx;
    int64_t count = 0;
    cs_status st = cs_dist_count(b->comm, b->db, &count, err);
    if (st) return st;
    cs_model_info mi;
    cs_model_get_info(b->model, &mi);
    json_object_set_new(obj, "images", json_integer(count));
    json_object_set_new(obj, "shards", json_integer(cs_comm_size(b->comm)));
    json_object_set_new(obj, "model",
                        json_pack("{s:s, s:s, s:i, s:i}", "name", mi.dir ? mi.dir : "", "dtype",
                                  mi.dtype ? mi.dtype : "", "image_size", mi.image_size,
                                  "embed_dim", mi.embed_dim));
    return CS_OK;
}

static cs_status decode(void *ctx, const cs_srv_item *it, const void *data, size_t size,
                        int min_side, cs_image *out, cs_error *err) {
    shard_backend *b = ctx;
    cs_decode_opts d = b->decode;
    d.jpeg_min_side = min_side;
    return cs_image_decode_mem(data, size, it->path, &d, out, err);
}

static void image_free(void *ctx, cs_image *img) {
    (void)ctx;
    cs_image_free(img);
}

cs_status cs_dist_server_start(cs_comm *comm, cs_model *model, cs_db *db,
                               const cs_server_opts *opts, cs_server **out, cs_error *err) {
    *out = NULL;
    shard_backend *b = calloc(1, sizeof *b);
    if (!b) return cs_fail(err, CS_ENOMEM, "serve: out of memory");
    *b = (shard_backend){comm, model, db, opts ? opts->decode : (cs_decode_opts){0}};
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    /* duplicates: not across shards (the API answers 501) */
    cs_srv_backend be = {b,    mi.embed_dim, embed_text, embed_image, item_vector, search,
                         item, stats,        decode,     image_free,  NULL,        NULL};
    /* rank 0's own shard: the only catalogue whose locks this process holds */
    be.guard = cs_db_file_guard(db);
    cs_status st = cs_server_start_backend(&be, opts, out, err);
    if (st) {
        free(b);
        return st;
    }
    (*out)->owned_ctx = b;
    return CS_OK;
}
