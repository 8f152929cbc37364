/* model/model.c - opening a model folder and the token/pixel embed calls.
 *
 * Open reads config.json and the checkpoint's header (names, dtypes, shapes,
 * offsets) and checks them against each other; the weights themselves are
 * only mapped. A tower is built (its small vectors copied to F32) the first
 * time it is used, under the model's lock; after that the forward passes
 * only read shared state and use per-call scratch, so calls are thread-safe. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cpu.h"
#include "core/file.h"
#include "core/fnv.h"
#include "core/pool.h"
#include "model/lowp.h"
#include "model/model_internal.h"
#include "model/prepack.h"
#include "model/quant.h"

/* Rows per forward pass: bounds the scratch memory of one call. */
#define IMAGE_CHUNK       16
#define IMAGES_PER_THREAD 4  /* the smallest share of a batch split between threads */
#define CS_MAX_SPLIT      64 /* threads that get a share (more: larger shares) */
#define TEXT_CHUNK        64

void cs_l2_normalize(float *x, int n, int d) {
    for (int i = 0; i < n; i++) {
        float *r = x + (size_t)i * d;
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)r[j] * r[j];
        if (s > 0) {
            float inv = (float)(1.0 / sqrt(s));
            for (int j = 0; j < d; j++) r[j] *= inv;
        }
    }
}

/* Identity of config + weights without reading the weights: the shapes and
 * dtypes of every tensor plus the bytes of a few small ones that any two
 * different trainings (or dtypes) differ in. */
static void make_id(cs_model *m) {
    uint64_t h = CS_FNV_SEED;
    h = cs_fnv(h, &m->cfg, sizeof m->cfg);
    static const char *const names[] = {"vision_model.post_layernorm.weight",
                                        "text_model.final_layer_norm.weight",
                                        "vision_model.embeddings.class_embedding"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const cs_tensor *t = cs_tensors_find(&m->tab, names[i]);
        if (!t) continue;
        h = cs_fnv(h, &t->dtype, sizeof t->dtype);
        h = cs_fnv(h, t->data, t->nbytes);
    }
    snprintf(m->id, sizeof m->id, "clip-%d-%s-%016llx", m->cfg.embed_dim, m->dtype,
             (unsigned long long)h);
}

int cs_precision_parse(const char *name) {
    static const char *const names[] = {"fp32", "bf16", "int8"};
    for (int i = 0; name && i < 3; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

/* The precision asked for, or the nearest this CPU runs (with a message). */
static void choose_precision(cs_model *m, cs_precision want) {
    m->precision = "fp32";
    if (want == CS_PRECISION_BF16 && cs_lp_native(CS_LP_BF16)) {
        m->lp = CS_LP_BF16;
        m->precision = "bf16";
    } else if (want == CS_PRECISION_BF16) {
        cs_log(&m->log, CS_LOG_WARN,
               "precision bf16: this CPU has no AVX512_BF16; computing in fp32 instead");
    } else if (want == CS_PRECISION_INT8 && cs_lp_native(CS_LP_I8)) {
        m->lp = CS_LP_I8;
        m->int8 = 1;
        m->precision = "int8";
    } else if (want == CS_PRECISION_INT8) {
        m->int8 = 1;
        m->precision = "int8-weights";
        cs_log(&m->log, CS_LOG_WARN,
               "precision int8: this CPU has neither AVX-512 VNNI nor AVX-VNNI; int8 weights with "
               "fp32 arithmetic instead (the memory saving, not the speed)");
    }
}

/* The folder holding config.json: the folder itself, or the CLIP module of a
 * sentence-transformers folder (0_CLIPModel/). */
static cs_status resolve_dir(const char *dir, char **out, cs_error *err) {
    char path[4096];
    cs_status st;
    if ((st = cs_path_join(path, sizeof path, dir, "config.json", err))) return st;
    if (access(path, F_OK) != 0) {
        char sub[4096];
        if ((st = cs_path_join(sub, sizeof sub, dir, "0_CLIPModel", err))) return st;
        if ((st = cs_path_join(path, sizeof path, sub, "config.json", err))) return st;
        if (access(path, F_OK) == 0) {
            *out = strdup(sub);
            return *out ? CS_OK : cs_fail(err, CS_ENOMEM, "out of memory");
        }
        return cs_fail(err, CS_ENOTFOUND, "%s: not a model folder (no config.json)", dir);
    }
    *out = strdup(dir);
    return *out ? CS_OK : cs_fail(err, CS_ENOMEM, "out of memory");
}

cs_status cs_model_open(const char *model_dir, const cs_model_opts *opts, cs_model **out,
                        cs_error *err) {
    if (!out) return cs_fail(err, CS_EINVAL, "cs_model_open: out is NULL");
    *out = NULL;
    if (!model_dir || !*model_dir) return cs_fail(err, CS_EINVAL, "cs_model_open: no folder");
    cs_model *m = calloc(1, sizeof *m);
    if (!m) return cs_fail(err, CS_ENOMEM, "out of memory");
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->tok_lock, NULL);
    if (opts) {
        m->log.fn = opts->log;
        m->log.user = opts->log_user;
        m->decode = opts->decode;
        m->pool = opts->pool;
        m->no_prepack = opts->no_prepack != 0;
        if (opts->pack_cache && *opts->pack_cache && !(m->pack_dir = strdup(opts->pack_cache))) {
            cs_model_close(m);
            return cs_fail(err, CS_ENOMEM, "out of memory");
        }
    }
    choose_precision(m, opts && opts->int8 ? CS_PRECISION_INT8
                        : opts             ? opts->precision
                                           : CS_PRECISION_FP32);
    char cfg_path[4096];
    cs_status st = resolve_dir(model_dir, &m->dir, err);
    if (!st) st = cs_path_join(cfg_path, sizeof cfg_path, m->dir, "config.json", err);
    if (!st) st = cs_config_load(cfg_path, &m->cfg, err);
    if (!st) st = cs_checkpoint_open(m->dir, &m->tab, m->ckpt, sizeof m->ckpt, &m->log, err);
    if (!st) st = cs_weights_check(&m->cfg, &m->tab, m->ckpt, err);
    if (!st && !m->pool) {
        m->pool = cs_pool_create(opts ? opts->n_threads : 0);
        m->own_pool = 1;
        if (!m->pool) st = cs_fail(err, CS_ENOMEM, "cannot create the thread pool");
    }
    if (st) {
        cs_model_close(m);
        return st;
    }
    /* whole mappings (a hint on part of one would split it where a 2 MiB
     * page could have spanned the cut): weights the page cache has to read
     * from disk come in as 2 MiB folios, cheap to map for every later run */
    for (int i = 0; i < m->tab.n_maps; i++)
        cs_map_hint_huge(m->tab.maps[i].data, m->tab.maps[i].size);
    const cs_tensor *pe =
        cs_tensors_find(&m->tab, "vision_model.embeddings.patch_embedding.weight");
    m->dtype = cs_dtype_name(pe->dtype);
    make_id(m);
    if (m->pack_dir) m->source = cs_pack_source(m->ckpt); /* only kept packings need it */
    cs_log(&m->log, CS_LOG_DEBUG, "%s: %s, %d tensors, %s", m->ckpt, m->tab.format, m->tab.n,
           m->id);
    *out = m;
    return CS_OK;
}

void cs_model_close(cs_model *m) {
    if (!m) return;
    cs_tower_free(&m->vision);
    cs_tower_free(&m->text);
    cs_tensors_free(&m->tab);
    if (m->own_pool) cs_pool_free(m->pool);
    cs_model_io_free(m);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->tok_lock);
    free(m->dir);
    free(m->pack_dir);
    free(m);
}

/* What a built tower computes in (cs_model_info.image_precision). */
static const char *tower_precision(const cs_model *m, const cs_tower *T) {
    if (T->larena) return m->lp == CS_LP_BF16 ? "bf16" : "int8";
    return T->qarena ? "int8-weights" : "fp32";
}

void cs_model_get_info(const cs_model *m, cs_model_info *o) {
    memset(o, 0, sizeof *o);
    if (!m) return;
    const cs_clip_config *c = &m->cfg;
    o->embed_dim = c->embed_dim;
    o->image_size = c->image_size;
    o->patch_size = c->patch_size;
    o->vision_width = c->vision.width;
    o->vision_layers = c->vision.layers;
    o->vision_heads = c->vision.heads;
    o->text_width = c->text.width;
    o->text_layers = c->text.layers;
    o->text_heads = c->text.heads;
    o->context_length = c->context_length;
    o->vocab_size = c->vocab_size;
    o->dtype = m->dtype;
    o->int8 = m->int8;
    o->precision = m->precision;
    pthread_mutex_lock((pthread_mutex_t *)&m->lock); /* (set by need_tower) */
    o->prepacked = m->vision.parena != NULL;
    o->image_precision = m->have_vision ? tower_precision(m, &m->vision) : NULL;
    pthread_mutex_unlock((pthread_mutex_t *)&m->lock);
    o->dir = m->dir;
    o->id = m->id;
}

/* Packing is for speed only: without the memory for it, the tower reads
 * its weights from the map as it would otherwise. */
static void prepack(cs_model *m, cs_tower *T, const cs_pack_cache *pc, int kept_only) {
    cs_error e;
    if (cs_tower_prepack(T, m->pool, pc, kept_only, &e) != CS_OK)
        cs_log(&m->log, CS_LOG_WARN, "image tower: weights not packed (%s)", e.message);
    else if (T->parena)
        cs_log(&m->log, CS_LOG_DEBUG,
               "image tower: F32 matrices packed once (bulk work) or mapped as kept");
}

/* How a tower's first call uses it: decides how the tower is built. */
enum { USE_LONE = 0, USE_BATCH = 1, USE_BULK = 2 };

static int first_use(int n, int flags, int bulk_at) {
    if ((flags & CS_EMBED_BULK) || n >= bulk_at) return USE_BULK;
    return n > 1 ? USE_BATCH : USE_LONE;
}

/* Builds a tower on first use (decided here, before any forward pass reads
 * the tower, as no lock guards the weights while they run). A tower first
 * used for one input (a query, or the query path's prefetch) maps the
 * precision's packing where one is kept, and otherwise reads its weights
 * from the map at fp32: converting them to BF16 or int8 reads every weight
 * once and costs more CPU than that one pass saves (docs/performance.md,
 * "A lone query at each precision").
 * Batches get the precision asked for; bulk work at fp32 packs the image
 * tower's F32 matrices (prepack.c) and keeps them where packings are kept
 * (packcache.c); any later batch then maps them. (A small batch does not
 * pack and keep them itself: packing, writing and syncing 340 MB for
 * ViT-B/32 made a first run of 48 photos ~1.1 s longer, docs/performance.md;
 * BF16 and int8 panels are packed anyway.) */
static cs_status need_tower(cs_model *m, int vision, int use, cs_error *err) {
    cs_status st = CS_OK;
    pthread_mutex_lock(&m->lock);
    int *have = vision ? &m->have_vision : &m->have_text;
    if (!*have) {
        cs_tower *T = vision ? &m->vision : &m->text;
        cs_pack_cache pc = {m->pack_dir, m->id, vision ? "vision" : "text", m->source, &m->log};
        st = cs_tower_load(&m->cfg, &m->tab, vision, T, err);
        if (!st && m->lp && (use != USE_LONE || m->pack_dir))
            st = cs_tower_pack_lp(T, (cs_lp_type)m->lp, m->pool, &pc, use == USE_LONE, err);
        else if (!st && m->int8 && use != USE_LONE)
            st = cs_tower_quantize(T, m->pool, err);
        else if (!st && vision && !m->no_prepack && use == USE_BULK)
            prepack(m, T, &pc, 0);
        else if (!st && vision && !m->no_prepack && use == USE_BATCH && m->pack_dir)
            prepack(m, T, &pc, 1);
        if (!st)
            *have = 1;
        else
            cs_tower_free(T);
    }
    pthread_mutex_unlock(&m->lock);
    return st;
}

static void prefault_weight(const cs_weight *w) {
    if (w->panels.p || w->lp.type) return; /* packed (resident); the original is not read */
    cs_prefault(w->data, (size_t)w->n * (size_t)w->k * cs_dtype_size(w->dtype), 0);
}

cs_status cs_model_prefetch(cs_model *m, int towers, int part, int n_parts, cs_error *err) {
    if (!m || n_parts < 1 || part < 0 || part >= n_parts)
        return cs_fail(err, CS_EINVAL, "cs_model_prefetch: bad arguments");
    for (int vision = 0; vision < 2; vision++) {
        if (!(towers & (vision ? CS_PREFETCH_VISION : CS_PREFETCH_TEXT))) continue;
        cs_status st = need_tower(m, vision, USE_LONE, err);
        if (st) return st;
        const cs_tower *T = vision ? &m->vision : &m->text;
        if (part == 0 && vision) prefault_weight(&T->patch);
        /* layers part, part + n_parts, ...: every slice starts with early
         * layers, which a forward pass started meanwhile reads first */
        for (int l = part; l < T->cfg->layers; l += n_parts) {
            const cs_layer_weights *L = &T->layers[l];
            const cs_weight *w[] = {&L->q, &L->k, &L->v, &L->o, &L->fc1, &L->fc2};
            for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) prefault_weight(w[i]);
        }
        if (part == n_parts - 1) prefault_weight(&T->proj);
    }
    return CS_OK;
}

cs_status cs_embed_tokens(cs_model *m, const int32_t *const *ids, const int *n_ids, int n,
                          int flags, float *out, cs_error *err) {
    if (!m || n < 0 || (n > 0 && (!ids || !n_ids || !out)))
        return cs_fail(err, CS_EINVAL, "cs_embed_tokens: bad arguments");
    for (int i = 0; i < n; i++) {
        if (!ids[i] || n_ids[i] < 1 || n_ids[i] > m->cfg.context_length)
            return cs_fail(err, CS_EINVAL, "text %d: %d token ids (1 to %d allowed)", i, n_ids[i],
                           m->cfg.context_length);
        for (int t = 0; t < n_ids[i]; t++)
            if (ids[i][t] < 0 || ids[i][t] >= m->cfg.vocab_size)
                return cs_fail(err, CS_EINVAL, "text %d: token id %d outside the vocabulary (%d)",
                               i, (int)ids[i][t], m->cfg.vocab_size);
    }
    if (n == 0) return CS_OK;
    cs_status st = need_tower(m, 0, first_use(n, flags, CS_BULK_IMAGES), err);
    for (int i = 0; i < n && !st; i += TEXT_CHUNK) {
        int k = n - i < TEXT_CHUNK ? n - i : TEXT_CHUNK;
        st = cs_text_forward(m->pool, &m->cfg, &m->text, ids + i, n_ids + i, k,
                             out + (size_t)i * m->cfg.embed_dim, err);
    }
    if (!st && !(flags & CS_EMBED_RAW)) cs_l2_normalize(out, n, m->cfg.embed_dim);
    return st;
}

/* Images [i0, i0 + n) through the vision tower, IMAGE_CHUNK at a time. */
static cs_status vision_range(cs_model *m, const float *chw, int i0, int n, float *out,
                              cs_error *err) {
    size_t per = 3 * (size_t)m->cfg.image_size * m->cfg.image_size;
    cs_status st = CS_OK;
    for (int i = i0; i < i0 + n && !st; i += IMAGE_CHUNK) {
        int k = i0 + n - i < IMAGE_CHUNK ? i0 + n - i : IMAGE_CHUNK;
        st = cs_vision_forward(m->pool, &m->cfg, &m->vision, chw + (size_t)i * per, k,
                               out + (size_t)i * m->cfg.embed_dim, err);
    }
    return st;
}

/* A batch split between the pool's threads, each running the tower on its
 * share (the tower's own cs_pool_for calls are nested jobs: run by that
 * thread, and by another once it has finished its own share). */
typedef struct pixels_job {
    cs_model *m;
    const float *chw;
    float *out;
    int n, share;
    cs_status *st; /* per task */
    cs_error *errs;
} pixels_job;

static void pixels_task(void *ctx, int task, int worker) {
    (void)worker;
    pixels_job *J = ctx;
    int i0 = task * J->share, k = J->n - i0 < J->share ? J->n - i0 : J->share;
    J->st[task] = vision_range(J->m, J->chw, i0, k, J->out, &J->errs[task]);
}

cs_status cs_model_ready_images(cs_model *m, int n, int flags, cs_error *err) {
    if (!m || n < 1) return cs_fail(err, CS_EINVAL, "cs_model_ready_images: bad arguments");
    /* From a task of another pool the tower's own jobs on the model's pool
     * would nest across pools, which core/pool.c does not do; the first
     * embed call, on the caller's thread, builds it then. */
    cs_pool *in = cs_pool_current();
    if (in && in != m->pool) return CS_OK;
    return need_tower(m, 1, first_use(n, flags, CS_BULK_IMAGES), err);
}

cs_status cs_embed_pixels(cs_model *m, const float *chw, int n, int flags, float *out,
                          cs_error *err) {
    if (!m || n < 0 || (n > 0 && (!chw || !out)))
        return cs_fail(err, CS_EINVAL, "cs_embed_pixels: bad arguments");
    if (n == 0) return CS_OK;
    cs_status st = need_tower(m, 1, first_use(n, flags, CS_BULK_IMAGES), err);
    if (st) return st;
    /* Batches of at least IMAGES_PER_THREAD images a thread are split
     * between the threads (data parallel) rather than each product between
     * them: no barrier between the ~110 steps of a forward pass, and each
     * core keeps its own activations in its own caches: more images/s,
     * the more so the larger the batch (bench/compare_ort.sh and
     * docs/performance.md). The results are the same bits either way:
     * every image is summed in the same order whatever its batch
     * (kernels/gemm.c; tests/model/test_fidelity.c checks both paths).
     * Smaller batches (a query image) split each product instead. */
    int threads = cs_pool_threads(m->pool);
    if (threads > 1 && n >= IMAGES_PER_THREAD * threads) {
        cs_status sts[CS_MAX_SPLIT];
        cs_error errs[CS_MAX_SPLIT];
        int tasks = threads < CS_MAX_SPLIT ? threads : CS_MAX_SPLIT;
        pixels_job J = {m, chw, out, n, (n + tasks - 1) / tasks, sts, errs};
        tasks = (n + J.share - 1) / J.share;
        cs_pool_for(m->pool, tasks, pixels_task, &J);
        for (int t = 0; t < tasks && !st; t++)
            if ((st = sts[t]) && err) *err = errs[t];
    } else {
        st = vision_range(m, chw, 0, n, out, err);
    }
    if (!st && !(flags & CS_EMBED_RAW)) cs_l2_normalize(out, n, m->cfg.embed_dim);
    return st;
}

cs_status cs_model_convert(const char *model_dir, int force, cs_error *err) {
    char *dir = NULL, cfg_path[4096], src[4096], dst[4096];
    cs_status st = resolve_dir(model_dir, &dir, err);
    if (st) return st;
    cs_clip_config cfg;
    cs_tensor_table tab = {0};
    if (!st) st = cs_path_join(dst, sizeof dst, dir, "model.safetensors", err);
    if (!st && !force && access(dst, F_OK) == 0) goto done; /* nothing to do */
    if (!st) st = cs_path_join(cfg_path, sizeof cfg_path, dir, "config.json", err);
    if (!st) st = cs_config_load(cfg_path, &cfg, err);
    if (!st) st = cs_path_join(src, sizeof src, dir, "pytorch_model.bin", err);
    if (!st) st = cs_torchzip_load(src, &tab, err);
    if (!st) st = cs_weights_check(&cfg, &tab, src, err);
    if (!st) st = cs_safetensors_write(dst, &tab, err);
done:
    cs_tensors_free(&tab);
    free(dir);
    return st;
}
