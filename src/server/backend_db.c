/* server/backend_db.c - the real collection behind the server: a CLIP model
 * and a catalogue (index.h). Both are safe to share between threads: every
 * embed call of the model is thread-safe, and the catalogue runs reads
 * concurrently. */
#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>

#include "clipsearch/index.h"
#include "clipsearch/model.h"
#include "core/pool.h"
#include "index/db_internal.h" /* its file guard */
#include "server/server_internal.h"

typedef struct db_backend {
    cs_model *model;
    cs_db *db;
    cs_pool *pool;         /* threads for one search's scan; may be NULL */
    cs_decode_opts decode; /* the server's limits for uploads and thumbnails */
    /* Bounds the decoded images alive at once. Each may hold up to
     * max_pixels x 3 bytes (537 MB at Pillow's limit), so without it many
     * connections uploading at once could exhaust memory. */
    sem_t decoding;
} db_backend;

static void decode_slot_take(db_backend *b) {
    while (sem_wait(&b->decoding) != 0 && errno == EINTR) {
    }
}

static void decode_slot_give(db_backend *b) {
    sem_post(&b->decoding);
}

static cs_status embed_text(void *ctx, const char *text, float *out, cs_error *err) {
    db_backend *b = ctx;
    return cs_embed_texts(b->model, &text, 1, 0, out, err);
}

/* Uploads go through the same hardened decoders, with the server's limits. */
static cs_status embed_image(void *ctx, const void *data, size_t size, float *out, cs_error *err) {
    db_backend *b = ctx;
    cs_image img = {0};
    decode_slot_take(b);
    cs_status st = cs_image_decode_mem(data, size, "upload", &b->decode, &img, err);
    if (st == CS_OK) st = cs_embed_images(b->model, &img, 1, 0, out, err);
    cs_image_free(&img);
    decode_slot_give(b);
    return st;
}

static cs_status item_vector(void *ctx, int64_t id, float *out, cs_error *err) {
    db_backend *b = ctx;
    return cs_db_get_vector(b->db, id, out, err);
}

static cs_status search(void *ctx, const float *query, int k, int64_t exclude, cs_result **hits,
                        int *n_hits, cs_error *err) {
    db_backend *b = ctx;
    cs_search_opts so = {0};
    so.k = k;
    so.pool = b->pool;
    if (exclude >= 0) {
        so.exclude_ids = &exclude;
        so.n_exclude_ids = 1;
    }
    *hits = NULL;
    *n_hits = 0;
    return cs_db_search(b->db, query, &so, hits, n_hits, err);
}

static cs_status item(void *ctx, int64_t id, cs_srv_item *out, cs_error *err) {
    db_backend *b = ctx;
    cs_db_image img = {0};
    cs_status st = cs_db_get(b->db, id, &img, err);
    if (st != CS_OK) return st;
    return cs_srv_item_from_image(id, &img, out, err);
}

static cs_status stats(void *ctx, json_t *obj, cs_error *err) {
    db_backend *b = ctx;
    cs_db_info info;
    cs_status st = cs_db_get_info(b->db, &info, err);
    if (st != CS_OK) return st;
    cs_model_info mi;
    cs_model_get_info(b->model, &mi);
    json_object_set_new(obj, "images", json_integer(info.count));
    json_object_set_new(
        obj, "db",
        json_pack("{s:s, s:I}", "path", info.path, "size_bytes", (json_int_t)info.size_bytes));
    const char *name = info.model_name && *info.model_name ? info.model_name : mi.dir;
    json_object_set_new(obj, "model",
                        json_pack("{s:s, s:s, s:s, s:s?, s:i, s:i}", "name", name ? name : "",
                                  "dtype", mi.dtype ? mi.dtype : "", "precision",
                                  mi.precision ? mi.precision : "", "image_precision",
                                  mi.image_precision, "image_size", mi.image_size, "embed_dim",
                                  mi.embed_dim));
    /* what the catalogue's embeddings were computed at, as `info` lists it */
    cs_db_precision prec[8];
    int n = 0, cap = (int)(sizeof prec / sizeof *prec);
    st = cs_db_precisions(b->db, prec, cap, &n, err);
    if (st != CS_OK) return st;
    json_t *list = json_array();
    for (int i = 0; list && i < n && i < cap; i++)
        json_array_append_new(list, json_pack("{s:s?, s:I}", "precision", prec[i].name, "count",
                                              (json_int_t)prec[i].count));
    json_object_set_new(obj, "precisions", list);
    return CS_OK;
}

static cs_status decode(void *ctx, const cs_srv_item *it, const void *data, size_t size,
                        int min_side, cs_image *out, cs_error *err) {
    db_backend *b = ctx;
    cs_decode_opts d = b->decode;
    d.jpeg_min_side = min_side; /* a thumbnail needs no more pixels than this */
    decode_slot_take(b);        /* given back by image_free, or now on failure */
    cs_status st = cs_image_decode_mem(data, size, it->path, &d, out, err);
    if (st != CS_OK) decode_slot_give(b);
    return st;
}

static void image_free(void *ctx, cs_image *img) {
    cs_image_free(img);
    decode_slot_give(ctx);
}

static cs_status duplicates(void *ctx, const cs_dups_opts *opts, cs_dups **out, cs_error *err) {
    db_backend *b = ctx;
    cs_dups_opts o = *opts;
    o.pool = b->pool;
    return cs_db_duplicates(b->db, &o, out, err);
}

cs_status cs_server_start(cs_model *model, cs_db *db, const cs_server_opts *opts, cs_server **out,
                          cs_error *err) {
    *out = NULL;
    if (!model || !db) return cs_fail(err, CS_EINVAL, "serve: needs a model and a database");
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    cs_db_info di;
    cs_status st = cs_db_get_info(db, &di, err);
    if (st != CS_OK) return st;
    if (di.dim != mi.embed_dim)
        return cs_fail(err, CS_EMISMATCH,
                       "serve: %s holds %d-number embeddings, the model makes %d", di.path, di.dim,
                       mi.embed_dim);
    db_backend *b = calloc(1, sizeof *b);
    if (!b) return cs_fail(err, CS_ENOMEM, "serve: out of memory");
    b->model = model;
    b->db = db;
    b->pool = opts ? opts->search_pool : NULL;
    if (opts) b->decode = opts->decode;
    int slots = cs_cpu_count();
    sem_init(&b->decoding, 0, (unsigned)(slots < 2 ? 2 : slots));
    cs_srv_backend be = {b,    mi.embed_dim, embed_text, embed_image, item_vector, search,
                         item, stats,        decode,     image_free,  duplicates,  NULL};
    /* the database's files as they are now (its -wal and -shm exist while
     * it is open), released after it is closed */
    be.guard = cs_db_file_guard(db);
    st = cs_server_start_backend(&be, opts, out, err);
    if (st != CS_OK) {
        sem_destroy(&b->decoding);
        free(b);
        return st;
    }
    (*out)->owned_ctx = b;
    return CS_OK;
}
