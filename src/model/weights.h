/* model/weights.h - a model folder's checkpoint, checked against its config,
 * and the per-tower views the forward pass reads. */
#ifndef CS_MODEL_WEIGHTS_H
#define CS_MODEL_WEIGHTS_H

#include "core/error.h"
#include "model/config.h"
#include "model/ops.h"
#include "model/packcache.h"
#include "model/tensors.h"

/* Opens the checkpoint of a folder: model.safetensors, else the sharded
 * model.safetensors.index.json, else pytorch_model.bin. `path` receives the
 * file opened (for messages). */
cs_status cs_checkpoint_open(const char *dir, cs_tensor_table *tab, char *path, size_t cap,
                             const cs_logger *log, cs_error *err);

/* Every tensor both towers need exists with a float dtype and the shape the
 * config implies; no encoder layer beyond the config's count. Reads only the
 * table, never the weights themselves. */
cs_status cs_weights_check(const cs_clip_config *cfg, const cs_tensor_table *tab, const char *path,
                           cs_error *err);

typedef struct cs_tower {
    const cs_tower_config *cfg;
    cs_layer_weights *layers;           /* [cfg->layers] */
    float *arena;                       /* F32 copies of every vector and small table */
    const float *ln_pre_w, *ln_pre_b;   /* vision: pre_layrnorm; text: unused */
    const float *ln_post_w, *ln_post_b; /* vision: post_layernorm; text: final_layer_norm */
    const float *pos;                   /* [seq, width] position embeddings */
    const float *cls;                   /* vision: [width] class embedding */
    cs_weight patch;                    /* vision: [width, 3 * p * p] (the conv as a matrix) */
    cs_weight tokens;                   /* text: [vocab, width] */
    cs_weight proj;                     /* [embed_dim, width], no bias */
    void *qarena;                       /* int8 copies of the layers' matrices, if any */
    void *parena;                       /* their packed panels, if any (model/prepack.c) */
    void *larena;                       /* BF16 / int8 panels, if any (model/lowp.c) */
    cs_pack_file kept;                  /* the cache file parena or larena is in, if any */
} cs_tower;

/* Builds a tower's view (the weights must have passed cs_weights_check).
 * Copies only the small vectors (to F32); matrices stay mapped. */
cs_status cs_tower_load(const cs_clip_config *cfg, const cs_tensor_table *tab, int vision,
                        cs_tower *out, cs_error *err);
void cs_tower_free(cs_tower *t);

#endif
