/* model/model_io.c - the model's front doors for text and image files: the
 * tokenizer, decoding and CLIP preprocessing (other modules), feeding the
 * token and pixel embed calls of model.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "model/model_internal.h"

#define IMAGE_CHUNK 16

/* preprocessor_config.json, read on first use; a folder without one gets
 * transformers' CLIPImageProcessor defaults at the model's image size. */
static cs_status need_preprocess(cs_model *m, cs_error *err) {
    cs_status st = CS_OK;
    pthread_mutex_lock(&m->lock);
    if (!m->have_pp) {
        st = cs_preprocess_load(m->dir, &m->pp, err);
        if (st == CS_ENOTFOUND) {
            static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
            static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
            cs_preprocess *pp = &m->pp;
            memset(pp, 0, sizeof *pp);
            pp->shortest_edge = pp->crop_width = pp->crop_height = m->cfg.image_size;
            pp->do_resize = pp->do_center_crop = pp->do_normalize = pp->do_rescale = 1;
            pp->rescale_factor = 1.0f / 255.0f;
            memcpy(pp->mean, mean, sizeof mean);
            memcpy(pp->std, std, sizeof std);
            cs_log(&m->log, CS_LOG_WARN, "%s: no preprocessor_config.json; using CLIP's defaults",
                   m->dir);
            st = CS_OK;
        }
        if (!st && (m->pp.crop_width != m->cfg.image_size ||
                    m->pp.crop_height != m->cfg.image_size || !m->pp.do_center_crop))
            st = cs_fail(err, CS_EFORMAT,
                         "%s/preprocessor_config.json: crop %dx%d does not give the %dx%d "
                         "pixels config.json expects",
                         m->dir, m->pp.crop_width, m->pp.crop_height, m->cfg.image_size,
                         m->cfg.image_size);
        if (!st) m->have_pp = 1;
    }
    pthread_mutex_unlock(&m->lock);
    return st;
}

const cs_preprocess *cs_model_preprocess(const cs_model *cm) {
    cs_model *m = (cs_model *)cm; /* the lazy load is internal state */
    if (!m) return NULL;
    cs_error err;
    return need_preprocess(m, &err) == CS_OK ? &m->pp : NULL;
}

cs_tokenizer *cs_model_tokenizer(cs_model *m, cs_error *err) {
    if (!m) {
        cs_fail(err, CS_EINVAL, "cs_model_tokenizer: no model");
        return NULL;
    }
    pthread_mutex_lock(&m->tok_lock);
    if (!m->tok && cs_tokenizer_load(m->dir, m->cfg.context_length, &m->tok, err) != CS_OK)
        m->tok = NULL;
    cs_tokenizer *t = m->tok;
    pthread_mutex_unlock(&m->tok_lock);
    return t;
}

void cs_model_io_free(cs_model *m) {
    cs_tokenizer_free(m->tok);
    m->tok = NULL;
}

cs_status cs_embed_texts(cs_model *m, const char *const *texts, int n, int flags, float *out,
                         cs_error *err) {
    if (!m || n < 0 || (n > 0 && (!texts || !out)))
        return cs_fail(err, CS_EINVAL, "cs_embed_texts: bad arguments");
    if (n == 0) return CS_OK;
    cs_tokenizer *tok = cs_model_tokenizer(m, err);
    if (!tok) return err ? err->status : CS_EFORMAT;
    int ctx = cs_tokenizer_context_length(tok);
    int32_t *buf = malloc((size_t)n * ctx * sizeof *buf);
    int *n_ids = malloc((size_t)n * sizeof *n_ids);
    const int32_t **ids = malloc((size_t)n * sizeof *ids);
    cs_status st = CS_OK;
    if (!buf || !n_ids || !ids) st = cs_fail(err, CS_ENOMEM, "out of memory for %d texts", n);
    for (int i = 0; i < n && !st; i++) {
        if (!texts[i]) {
            st = cs_fail(err, CS_EINVAL, "text %d is NULL", i);
            break;
        }
        ids[i] = buf + (size_t)i * ctx;
        st = cs_tokenizer_encode(tok, texts[i], strlen(texts[i]), buf + (size_t)i * ctx, &n_ids[i],
                                 err);
    }
    if (!st) st = cs_embed_tokens(m, ids, n_ids, n, flags, out, err);
    free(buf);
    free(n_ids);
    free(ids);
    return st;
}

/* ---- images ------------------------------------------------------------------- */

typedef struct prep_job {
    cs_model *m;
    const cs_image *images;   /* decoded images (cs_embed_images), or */
    const char *const *paths; /* files to decode first */
    int first;                /* index of the chunk's first input */
    float *chw;               /* [chunk, 3, S, S] */
    cs_status *statuses;      /* [chunk] */
    cs_error *errs;           /* [chunk] */
} prep_job;

/* One input: (decode), resize + crop, normalise into its slot. */
static void prep_task(void *ctx, int task, int worker) {
    (void)worker;
    prep_job *J = ctx;
    cs_model *m = J->m;
    int i = J->first + task;
    size_t per = 3 * (size_t)m->cfg.image_size * m->cfg.image_size;
    cs_image decoded = {0}, crop = {0};
    const cs_image *img = J->images ? &J->images[i] : &decoded;
    cs_status st = CS_OK;
    if (!J->images) st = cs_image_decode_file(J->paths[i], &m->decode, &decoded, &J->errs[task]);
    if (!st) st = cs_image_preprocess(img, &m->pp, &crop, &J->errs[task]);
    if (!st && (crop.width != m->cfg.image_size || crop.height != m->cfg.image_size))
        st = cs_fail(&J->errs[task], CS_EINTERNAL, "preprocessing gave %dx%d pixels", crop.width,
                     crop.height);
    if (!st) cs_image_normalize(&crop, &m->pp, J->chw + (size_t)task * per);
    J->statuses[task] = st;
    cs_image_free(&crop);
    cs_image_free(&decoded);
}

/* Embeds inputs [first, first + k) of images or paths; per-input results
 * go to statuses/errs (failed rows are zero). */
static cs_status embed_chunk(cs_model *m, const cs_image *images, const char *const *paths,
                             int first, int k, int flags, float *out, cs_status *statuses,
                             cs_error *errs, float *chw, cs_error *err) {
    int d = m->cfg.embed_dim;
    size_t per = 3 * (size_t)m->cfg.image_size * m->cfg.image_size;
    for (int t = 0; t < k; t++) cs_error_clear(&errs[t]);
    prep_job J = {m, images, paths, first, chw, statuses, errs};
    cs_pool_for(m->pool, k, prep_task, &J);
    /* compact the good ones, embed them in one batch, scatter back */
    int good = 0;
    for (int t = 0; t < k; t++)
        if (statuses[t] == CS_OK) {
            if (good != t)
                memcpy(chw + (size_t)good * per, chw + (size_t)t * per, per * sizeof(float));
            good++;
        }
    float *emb = malloc((size_t)(good ? good : 1) * d * sizeof(float));
    if (!emb) return cs_fail(err, CS_ENOMEM, "out of memory");
    cs_status st = cs_embed_pixels(m, chw, good, flags, emb, err);
    for (int t = 0, g = 0; t < k && !st; t++) {
        float *row = out + (size_t)(first + t) * d;
        if (statuses[t] == CS_OK)
            memcpy(row, emb + (size_t)g++ * d, (size_t)d * sizeof(float));
        else
            memset(row, 0, (size_t)d * sizeof(float));
    }
    free(emb);
    return st;
}

static cs_status embed_many(cs_model *m, const cs_image *images, const char *const *paths, int n,
                            int flags, float *out, cs_status *statuses, cs_error *errs,
                            int fail_fast, cs_error *err) {
    cs_status st = need_preprocess(m, err);
    if (st) return st;
    size_t per = 3 * (size_t)m->cfg.image_size * m->cfg.image_size;
    int chunk = n < IMAGE_CHUNK ? n : IMAGE_CHUNK;
    if (n >= CS_BULK_IMAGES) flags |= CS_EMBED_BULK; /* (decoded and embedded by chunks) */
    float *chw = malloc((size_t)chunk * per * sizeof(float));
    cs_status *sts = malloc((size_t)chunk * sizeof *sts);
    cs_error *ers = malloc((size_t)chunk * sizeof *ers);
    if (!chw || !sts || !ers) st = cs_fail(err, CS_ENOMEM, "out of memory for %d images", chunk);
    for (int i = 0; i < n && !st; i += chunk) {
        int k = n - i < chunk ? n - i : chunk;
        st = embed_chunk(m, images, paths, i, k, flags, out, sts, ers, chw, err);
        for (int t = 0; t < k && !st; t++) {
            if (statuses) statuses[i + t] = sts[t];
            if (errs) errs[i + t] = ers[t];
            if (fail_fast && sts[t] != CS_OK) {
                if (err) *err = ers[t];
                st = sts[t];
                char what[32];
                snprintf(what, sizeof what, "image %d", i + t);
                if (n > 1 && !paths) st = cs_fail_prefix(err, st, what);
            }
        }
    }
    free(chw);
    free(sts);
    free(ers);
    return st;
}

cs_status cs_embed_images(cs_model *m, const cs_image *images, int n, int flags, float *out,
                          cs_error *err) {
    if (!m || n < 0 || (n > 0 && (!images || !out)))
        return cs_fail(err, CS_EINVAL, "cs_embed_images: bad arguments");
    if (n == 0) return CS_OK;
    return embed_many(m, images, NULL, n, flags, out, NULL, NULL, 1, err);
}

cs_status cs_embed_image_file(cs_model *m, const char *path, int flags, float *out, cs_error *err) {
    if (!m || !path || !out) return cs_fail(err, CS_EINVAL, "cs_embed_image_file: bad arguments");
    const char *paths[1] = {path};
    return embed_many(m, NULL, paths, 1, flags, out, NULL, NULL, 1, err);
}

cs_status cs_embed_image_mem(cs_model *m, const void *data, size_t size, int flags, float *out,
                             cs_error *err) {
    if (!m || !data || !out) return cs_fail(err, CS_EINVAL, "cs_embed_image_mem: bad arguments");
    cs_image img = {0};
    cs_status st = cs_image_decode_mem(data, size, "image", &m->decode, &img, err);
    if (!st) st = embed_many(m, &img, NULL, 1, flags, out, NULL, NULL, 1, err);
    cs_image_free(&img);
    return st;
}

cs_status cs_embed_image_files(cs_model *m, const char *const *paths, int n, int flags, float *out,
                               cs_status *statuses, cs_error *errs, cs_error *err) {
    if (!m || n < 0 || (n > 0 && (!paths || !out)))
        return cs_fail(err, CS_EINVAL, "cs_embed_image_files: bad arguments");
    for (int i = 0; i < n; i++)
        if (!paths[i]) return cs_fail(err, CS_EINVAL, "cs_embed_image_files: path %d is NULL", i);
    if (n == 0) return CS_OK;
    return embed_many(m, NULL, paths, n, flags, out, statuses, errs, 0, err);
}
