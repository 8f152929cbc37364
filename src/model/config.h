/* model/config.h - the shapes of a CLIP model, from Hugging Face's config.json. */
#ifndef CS_MODEL_CONFIG_H
#define CS_MODEL_CONFIG_H

#include "clipsearch/common.h"

typedef enum cs_act { CS_ACT_QUICK_GELU = 0, CS_ACT_GELU } cs_act;

/* One transformer tower. */
typedef struct cs_tower_config {
    int width;    /* hidden_size */
    int layers;   /* num_hidden_layers */
    int heads;    /* num_attention_heads */
    int mlp;      /* intermediate_size */
    cs_act act;   /* hidden_act */
    float ln_eps; /* layer_norm_eps */
} cs_tower_config;

typedef struct cs_clip_config {
    int embed_dim; /* projection_dim */
    cs_tower_config vision, text;
    int image_size, patch_size, channels;
    int context_length; /* text max_position_embeddings */
    int vocab_size;
    int eos_token_id; /* 2 in legacy configs: pool at argmax(ids) */
} cs_clip_config;

/* Parses config.json text (`name` for messages) and checks it for sense. */
cs_status cs_config_parse(const char *json, size_t len, const char *name, cs_clip_config *out,
                          cs_error *err);
cs_status cs_config_load(const char *path, cs_clip_config *out, cs_error *err);

#endif
