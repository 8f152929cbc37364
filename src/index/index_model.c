/* index/index_model.c - the catalogue with the CLIP engine: opening a
 * database for a model, indexing through the model, embedding queries. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pool.h"
#include "image/stored_size.h"
#include "index/ann.h"
#include "index/db_internal.h"
#include "index/indexer.h"
#include "index/query_warm.h"

cs_status cs_db_open_model(const char *path, const cs_model *model, int flags, cs_db **out,
                           cs_error *err) {
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    /* the folder's name reads better in messages than the id */
    const char *name = mi.dir ? strrchr(mi.dir, '/') : NULL;
    name = name && name[1] ? name + 1 : mi.dir;
    /* kept with a new database, so that its later users find the model */
    char *source = mi.dir ? realpath(mi.dir, NULL) : NULL;
    cs_db_opts o = {.model_id = mi.id,
                    .dim = mi.embed_dim,
                    .model_name = name,
                    .flags = flags,
                    .model_source = source};
    cs_status st = cs_db_open(path, &o, out, err);
    free(source);
    return st;
}

/* ---- the model as the indexer's backend ------------------------------------ */

typedef struct model_backend {
    cs_model *model;
    cs_preprocess pp;
    cs_decode_opts decode;
} model_backend;

static int sniff_is_image(const uint8_t *head, size_t n) {
    return cs_image_sniff(head, n) != CS_FMT_UNKNOWN;
}

static cs_status model_prepare(void *user, const void *data, size_t size, const char *name,
                               float *input, int *width, int *height, cs_error *err) {
    model_backend *mb = user;
    cs_image img = {0}, crop = {0};
    cs_status st = cs_image_decode_mem(data, size, name, &mb->decode, &img, err);
    if (!st) {
        cs_image_stored_size(&img, data, size, width, height);
        st = cs_image_preprocess(&img, &mb->pp, &crop, err);
        if (st) st = cs_fail_prefix(err, st, name);
    }
    cs_image_free(&img);
    if (!st) cs_image_normalize(&crop, &mb->pp, input);
    cs_image_free(&crop);
    return st;
}

/* Runs of at least this many images are bulk work for the model: it packs
 * its image weights once (src/model/prepack.c), a one-time cost (mostly
 * the kernel zeroing fresh pages) that a few percent saved on each image
 * repays from a few hundred images on (docs/engine.md, "Packed once"). */
#define BULK_RUN 256

/* The model's flags for n images with `more` of the run after them. */
static int run_flags(int n, int more) {
    return n + more >= BULK_RUN ? CS_EMBED_BULK : 0;
}

static cs_status model_embed(void *user, const float *inputs, int n, int more, float *out,
                             cs_error *err) {
    return cs_embed_pixels(((model_backend *)user)->model, inputs, n, run_flags(n, more), out, err);
}

static cs_status model_ready(void *user, int n, int more, cs_error *err) {
    return cs_model_ready_images(((model_backend *)user)->model, n, run_flags(n, more), err);
}

static const char *model_precision(void *user) {
    cs_model_info mi;
    cs_model_get_info(((model_backend *)user)->model, &mi);
    return mi.image_precision;
}

cs_status cs_index_model_backend(cs_model *model, const cs_index_opts *opts, cs_index_backend *be,
                                 cs_error *err) {
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    const cs_preprocess *pp = cs_model_preprocess(model);
    if (!pp)
        return cs_fail(err, CS_EFORMAT, "%s: the model's preprocessor settings are unusable",
                       mi.dir);
    model_backend *mb = calloc(1, sizeof *mb);
    if (!mb) return cs_fail(err, CS_ENOMEM, "out of memory");
    mb->model = model;
    mb->pp = *pp;
    mb->decode.jpeg_min_side = opts && opts->exact_decode ? 0 : cs_fast_jpeg_min_side(&mb->pp);
    *be = (cs_index_backend){.user = mb,
                             .input_floats = (size_t)3 * mb->pp.crop_width * mb->pp.crop_height,
                             .is_image = sniff_is_image,
                             .prepare = model_prepare,
                             .embed = model_embed,
                             .ready = model_ready,
                             .precision = model_precision,
                             .pool = opts ? opts->pool : NULL};
    return CS_OK;
}

cs_status cs_db_index(cs_db *db, cs_model *model, const char *const *roots, int n_roots,
                      const cs_index_opts *opts, cs_index_stats *stats, cs_error *err) {
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    if (strcmp(mi.id, db->model_id) != 0 || mi.embed_dim != db->dim)
        return cs_fail(err, CS_EMISMATCH, "%s: the database belongs to model %s, not %s", db->path,
                       db->model_id, mi.id);
    cs_index_backend be;
    cs_status st = cs_index_model_backend(model, opts, &be, err);
    if (st) return st;
    st = cs_index_run(db, &be, roots, n_roots, opts, stats, err);
    free(be.user);
    return st;
}

/* ---- queries ------------------------------------------------------------ */

static int is_image_file(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); /* a FIFO swapped in */
    if (fd < 0) return 0;
    uint8_t head[16];
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    return n > 0 && cs_image_sniff(head, (size_t)n) != CS_FMT_UNKNOWN;
}

cs_status cs_query_parse(cs_query *q, const char *const *words, int n, int flags, cs_error *err) {
    return cs_query_parse_with(q, words, n, flags, is_image_file, err);
}

typedef struct model_terms {
    cs_model *model;
    int dim;
} model_terms;

static cs_status embed_term(void *user, const cs_query_term *t, float *e, cs_error *err) {
    const model_terms *m = user;
    switch (t->kind) {
    case CS_QUERY_TEXT:
        return cs_embed_texts(m->model, &t->text, 1, 0, e, err);
    case CS_QUERY_IMAGE_FILE:
        return cs_embed_image_file(m->model, t->text, 0, e, err);
    case CS_QUERY_IMAGE_MEM:
        return cs_embed_image_mem(m->model, t->data, t->size, 0, e, err);
    case CS_QUERY_EMBEDDING:
        if (t->size != (size_t)m->dim)
            return cs_fail(err, CS_EMISMATCH, "query embedding of %zu floats, the model makes %d",
                           t->size, m->dim);
        memcpy(e, t->data, (size_t)m->dim * sizeof *e);
        return CS_OK;
    }
    return cs_fail(err, CS_EINVAL, "query term of unknown kind %d", (int)t->kind);
}

cs_status cs_query_embed(const cs_query *q, cs_model *model, float *out, cs_error *err) {
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    model_terms m = {model, mi.embed_dim};
    return cs_query_embed_with(q, mi.embed_dim, embed_term, &m, out, err);
}

/* Tasks of cs_query_warm: the tokenizer on one thread (task 0) and the
 * approximate index on another (task 1), and meanwhile the pages mapped in
 * slices on the others, then on all - the towers' weights (tasks
 * 2..P+1), then the vector file (the rest). Prefaulting costs less than
 * the page faults it replaces (one system call per slice), so even a
 * one-thread pool gains. */
enum { WARM_MODEL_PARTS = 12, WARM_VECTOR_PARTS = 8, WARM_FIRST_PART = 2 };

typedef struct warm_job {
    cs_model *model;
    int towers;          /* CS_PREFETCH_* the terms need */
    cs_db *db;           /* with `vecs`: the index to open, or NULL */
    const cs_vecs *vecs; /* the snapshot the search will read (or NULL) */
    int scan;            /* it will read all of it: map it in */
} warm_job;

static void warm_task(void *ctx, int task, int worker) {
    (void)worker;
    warm_job *J = ctx;
    cs_error e;
    int part = task - WARM_FIRST_PART;
    if (task == 0) {
        if (J->towers & CS_PREFETCH_TEXT) cs_model_tokenizer(J->model, &e);
    } else if (task == 1) {
        /* opened once per generation and kept by the catalogue */
        if (J->db && J->vecs && !J->scan) cs_db_ann_release(J->db, cs_db_ann_for(J->db, J->vecs));
    } else if (part < WARM_MODEL_PARTS) {
        if (J->towers) cs_model_prefetch(J->model, J->towers, part, WARM_MODEL_PARTS, &e);
    } else if (J->vecs && J->scan) {
        cs_vecs_prefault(J->vecs, part - WARM_MODEL_PARTS, WARM_VECTOR_PARTS);
    }
}

void cs_query_warm(cs_pool *pool, cs_model *model, int towers, cs_db *db, int exact) {
    warm_job J = {model, towers, db, NULL, 1};
    cs_vecs *v = NULL;
    cs_error e;
    /* the snapshot now (cs_db_search takes the same one unless the
     * database moves on meanwhile), and the choice cs_db_search makes */
    if (db && cs_db_vectors_opt(db, 0, &v, &e) == CS_OK) {
        J.vecs = v;
        J.scan = exact || !cs_db_ann_present(db);
    }
    cs_pool_for(pool, WARM_FIRST_PART + WARM_MODEL_PARTS + WARM_VECTOR_PARTS, warm_task, &J);
    cs_vecs_release(v);
}

cs_status cs_db_search_query(cs_db *db, cs_model *model, const cs_query *query,
                             const cs_search_opts *opts, cs_result **out, int *n, cs_error *err) {
    *out = NULL;
    *n = 0;
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    if (mi.embed_dim != db->dim || strcmp(mi.id, db->model_id) != 0)
        return cs_fail(err, CS_EMISMATCH, "%s: the database belongs to model %s, not %s", db->path,
                       db->model_id, mi.id);
    cs_search_opts o = {0};
    if (opts) o = *opts;
    int nq = cs_query_count(query);
    float *q = malloc((size_t)db->dim * sizeof *q);
    const char **paths = malloc(((size_t)o.n_exclude_paths + (size_t)nq + 1) * sizeof *paths);
    if (!q || !paths) {
        free(q);
        free(paths);
        return cs_fail(err, CS_ENOMEM, "out of memory");
    }
    /* an image query never returns its own file */
    int np = 0;
    for (int i = 0; i < o.n_exclude_paths; i++) paths[np++] = o.exclude_paths[i];
    for (int i = 0; i < nq; i++) {
        const cs_query_term *t = cs_query_term_at(query, i);
        if (t->kind != CS_QUERY_IMAGE_FILE) continue;
        /* opened and closed to be embedded: one of the catalogue's own files
         * would lose this process its SQLite locks */
        if (np == o.n_exclude_paths) cs_db_file_guard(db);
        if (cs_db_own_file(db, t->text)) {
            free(q);
            free(paths);
            return cs_fail(err, CS_EINVAL, "%s: the catalogue's own file, not an image", t->text);
        }
        paths[np++] = t->text;
    }
    o.exclude_paths = paths;
    o.n_exclude_paths = np;
    int towers = 0;
    for (int i = 0; i < nq; i++) {
        cs_query_kind k = cs_query_term_at(query, i)->kind;
        if (k == CS_QUERY_TEXT) towers |= CS_PREFETCH_TEXT;
        if (k == CS_QUERY_IMAGE_FILE || k == CS_QUERY_IMAGE_MEM) towers |= CS_PREFETCH_VISION;
    }
    cs_query_warm(o.pool, model, towers, db, o.exact);
    cs_status st = cs_query_embed(query, model, q, err);
    if (!st) st = cs_db_search(db, q, &o, out, n, err);
    free(q);
    free(paths);
    return st;
}
