/* model/model_internal.h - the cs_model handle, shared by model.c (open,
 * forward calls) and model_io.c (tokenizer, image decoding, files). */
#ifndef CS_MODEL_INTERNAL_H
#define CS_MODEL_INTERNAL_H

#include <pthread.h>

#include "clipsearch/model.h"
#include "core/error.h"
#include "model/forward.h"

struct cs_model {
    char *dir; /* the folder holding config.json */
    char ckpt[4096];
    cs_clip_config cfg;
    cs_tensor_table tab;
    cs_pool *pool;
    int own_pool;
    cs_logger log;
    cs_decode_opts decode;
    char id[64];
    const char *dtype;
    int int8;              /* int8 weights, either kind below */
    int lp;                /* cs_lp_type: BF16 / int8 kernels (model/lowp.c), else 0:
                              F32 arithmetic, int8 weights (model/quant.c) if int8 */
    const char *precision; /* cs_model_info.precision */
    int no_prepack;        /* cs_model_opts.no_prepack */
    char *pack_dir;        /* cs_model_opts.pack_cache, or NULL */
    uint64_t source;       /* the checkpoint file's identity, for kept packings */
    pthread_mutex_t lock;  /* guards the lazy parts below but the tokenizer */
    int have_vision, have_text;
    cs_tower vision, text;
    int have_pp;
    cs_preprocess pp;
    /* its own lock: a text query loads it while another thread builds and
     * prefetches the text tower (cs_model_prefetch) */
    pthread_mutex_t tok_lock;
    cs_tokenizer *tok;
};

/* A call embedding this many images counts as CS_EMBED_BULK. */
#define CS_BULK_IMAGES 64

/* Frees what model_io.c loaded lazily (the tokenizer). */
void cs_model_io_free(cs_model *m);

/* L2-normalises n rows of d floats in place (a zero row stays zero). */
void cs_l2_normalize(float *x, int n, int d);

#endif
