/* model/weights.c - tensor names and shapes of a Hugging Face CLIPModel.
 *
 * The names are those of transformers' CLIPModel state dict, e.g.
 *   vision_model.embeddings.patch_embedding.weight      [w, 3, p, p]
 *   vision_model.encoder.layers.N.self_attn.q_proj.weight [w, w]
 *   text_model.embeddings.token_embedding.weight        [vocab, w]
 *   visual_projection.weight / text_projection.weight   [proj, w]
 * `position_ids` buffers and `logit_scale` are present but not needed. */
#include "model/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"

typedef struct spec {
    char name[160];
    int ndim;
    int64_t shape[4];
} spec;

/* Enumerates the tensors of one tower into out (if not NULL); returns the count. */
static int tower_specs(const cs_clip_config *c, int vision, spec *out) {
    const cs_tower_config *t = vision ? &c->vision : &c->text;
    const char *pre = vision ? "vision_model" : "text_model";
    int n = 0, w = t->width;
#define ADD(nd, s0, s1, s2, s3, ...)                                                               \
    do {                                                                                           \
        if (out) {                                                                                 \
            snprintf(out[n].name, sizeof out[n].name, __VA_ARGS__);                                \
            out[n].ndim = nd;                                                                      \
            out[n].shape[0] = s0, out[n].shape[1] = s1, out[n].shape[2] = s2;                      \
            out[n].shape[3] = s3;                                                                  \
        }                                                                                          \
        n++;                                                                                       \
    } while (0)
    if (vision) {
        int g = c->image_size / c->patch_size, p = c->patch_size;
        ADD(1, w, 0, 0, 0, "%s.embeddings.class_embedding", pre);
        ADD(4, w, 3, p, p, "%s.embeddings.patch_embedding.weight", pre);
        ADD(2, g * g + 1, w, 0, 0, "%s.embeddings.position_embedding.weight", pre);
        ADD(1, w, 0, 0, 0, "%s.pre_layrnorm.weight", pre);
        ADD(1, w, 0, 0, 0, "%s.pre_layrnorm.bias", pre);
        ADD(1, w, 0, 0, 0, "%s.post_layernorm.weight", pre);
        ADD(1, w, 0, 0, 0, "%s.post_layernorm.bias", pre);
        ADD(2, c->embed_dim, w, 0, 0, "visual_projection.weight");
    } else {
        ADD(2, c->vocab_size, w, 0, 0, "%s.embeddings.token_embedding.weight", pre);
        ADD(2, c->context_length, w, 0, 0, "%s.embeddings.position_embedding.weight", pre);
        ADD(1, w, 0, 0, 0, "%s.final_layer_norm.weight", pre);
        ADD(1, w, 0, 0, 0, "%s.final_layer_norm.bias", pre);
        ADD(2, c->embed_dim, w, 0, 0, "text_projection.weight");
    }
    for (int l = 0; l < t->layers; l++) {
        static const char *const proj[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
        for (int i = 0; i < 4; i++) {
            ADD(2, w, w, 0, 0, "%s.encoder.layers.%d.self_attn.%s.weight", pre, l, proj[i]);
            ADD(1, w, 0, 0, 0, "%s.encoder.layers.%d.self_attn.%s.bias", pre, l, proj[i]);
        }
        for (int i = 1; i <= 2; i++) {
            ADD(1, w, 0, 0, 0, "%s.encoder.layers.%d.layer_norm%d.weight", pre, l, i);
            ADD(1, w, 0, 0, 0, "%s.encoder.layers.%d.layer_norm%d.bias", pre, l, i);
        }
        ADD(2, t->mlp, w, 0, 0, "%s.encoder.layers.%d.mlp.fc1.weight", pre, l);
        ADD(1, t->mlp, 0, 0, 0, "%s.encoder.layers.%d.mlp.fc1.bias", pre, l);
        ADD(2, w, t->mlp, 0, 0, "%s.encoder.layers.%d.mlp.fc2.weight", pre, l);
        ADD(1, w, 0, 0, 0, "%s.encoder.layers.%d.mlp.fc2.bias", pre, l);
    }
#undef ADD
    return n;
}

static void shape_str(const int64_t *s, int nd, char *buf, size_t cap) {
    size_t o = 0;
    o += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < nd && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? ", " : "", (long long)s[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

static cs_status check_tower(const cs_clip_config *c, const cs_tensor_table *tab, int vision,
                             const char *path, cs_error *err) {
    int n = tower_specs(c, vision, NULL);
    spec *sp = malloc((size_t)n * sizeof *sp);
    if (!sp) return cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
    tower_specs(c, vision, sp);
    cs_status st = CS_OK;
    for (int i = 0; i < n && !st; i++) {
        const cs_tensor *t = cs_tensors_find(tab, sp[i].name);
        char want[96], got[96];
        if (!t) {
            st = cs_fail(err, CS_EFORMAT, "%s: tensor '%s' is missing", path, sp[i].name);
            break;
        }
        if (t->dtype != CS_DT_F32 && t->dtype != CS_DT_F16 && t->dtype != CS_DT_BF16) {
            st = cs_fail(err, CS_EUNSUPPORTED, "%s: tensor '%s' has dtype %s (F32, F16, BF16)",
                         path, sp[i].name, cs_dtype_name(t->dtype));
            break;
        }
        int same = t->ndim == sp[i].ndim;
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == sp[i].shape[d];
        if (!same) {
            shape_str(sp[i].shape, sp[i].ndim, want, sizeof want);
            shape_str(t->shape, t->ndim, got, sizeof got);
            st = cs_fail(err, CS_EFORMAT, "%s: tensor '%s' has shape %s but config.json implies %s",
                         path, sp[i].name, got, want);
        }
    }
    free(sp);
    return st;
}

cs_status cs_weights_check(const cs_clip_config *cfg, const cs_tensor_table *tab, const char *path,
                           cs_error *err) {
    cs_status st = check_tower(cfg, tab, 1, path, err);
    if (!st) st = check_tower(cfg, tab, 0, path, err);
    if (st) return st;
    /* A layer beyond the config's count means config and weights disagree. */
    for (int i = 0; i < tab->n; i++) {
        const char *nm = tab->t[i].name;
        int vision = !strncmp(nm, "vision_model.encoder.layers.", 28);
        int text = !strncmp(nm, "text_model.encoder.layers.", 26);
        if (!vision && !text) continue;
        long l = strtol(nm + (vision ? 28 : 26), NULL, 10);
        int have = vision ? cfg->vision.layers : cfg->text.layers;
        if (l >= have)
            return cs_fail(err, CS_EFORMAT,
                           "%s: tensor '%s' belongs to a layer beyond the %d that config.json "
                           "declares",
                           path, nm, have);
    }
    return CS_OK;
}

cs_status cs_checkpoint_open(const char *dir, cs_tensor_table *tab, char *path, size_t cap,
                             const cs_logger *log, cs_error *err) {
    cs_status st;
    if ((st = cs_path_join(path, cap, dir, "model.safetensors", err))) return st;
    if (access(path, F_OK) == 0) {
        snprintf(tab->format, sizeof tab->format, "safetensors");
        return cs_safetensors_load(path, tab, err);
    }
    if ((st = cs_path_join(path, cap, dir, "model.safetensors.index.json", err))) return st;
    if (access(path, F_OK) == 0) {
        snprintf(tab->format, sizeof tab->format, "safetensors (sharded)");
        return cs_safetensors_load_sharded(dir, path, tab, err);
    }
    if ((st = cs_path_join(path, cap, dir, "pytorch_model.bin", err))) return st;
    if (access(path, F_OK) == 0) {
        snprintf(tab->format, sizeof tab->format, "pytorch zip");
        st = cs_torchzip_load(path, tab, err);
        if (!st)
            cs_log(log, CS_LOG_INFO,
                   "%s: PyTorch checkpoint; `clipsearch convert --model %s` writes "
                   "model.safetensors once for faster loads",
                   path, dir);
        return st;
    }
    return cs_fail(err, CS_ENOTFOUND,
                   "%s: no weights (model.safetensors, model.safetensors.index.json or "
                   "pytorch_model.bin)",
                   dir);
}

/* ---- tower views ------------------------------------------------------------- */

typedef struct loader {
    const cs_tensor_table *tab;
    float *arena;
    size_t used;
} loader;

static const cs_tensor *get(const loader *ld, const char *fmt, const char *pre, int l,
                            const char *suffix) {
    char name[160];
    if (l >= 0)
        snprintf(name, sizeof name, fmt, pre, l, suffix);
    else
        snprintf(name, sizeof name, fmt, pre, suffix);
    return cs_tensors_find(ld->tab, name);
}

/* A vector or small table as F32 in the arena (the arena was sized first). */
static const float *vec(loader *ld, const cs_tensor *t) {
    size_t n = t->nbytes / cs_dtype_size(t->dtype);
    float *dst = ld->arena + ld->used;
    cs_to_f32(t->data, t->dtype, n, dst);
    ld->used += n;
    return dst;
}

static cs_weight mat(const cs_tensor *t) {
    size_t k = t->nbytes / cs_dtype_size(t->dtype) / (t->shape[0] ? (size_t)t->shape[0] : 1);
    return (cs_weight){.data = t->data, .dtype = t->dtype, .n = (int)t->shape[0], .k = (int)k};
}

cs_status cs_tower_load(const cs_clip_config *c, const cs_tensor_table *tab, int vision,
                        cs_tower *T, cs_error *err) {
    memset(T, 0, sizeof *T);
    T->cfg = vision ? &c->vision : &c->text;
    const cs_tower_config *tc = T->cfg;
    size_t w = (size_t)tc->width;
    size_t seq = vision
                     ? (size_t)(c->image_size / c->patch_size) * (c->image_size / c->patch_size) + 1
                     : (size_t)c->context_length;
    /* per layer: 4 biases + 4 LN vectors of w, fc1 bias of mlp, fc2 bias of w */
    size_t floats = (size_t)tc->layers * (9 * w + (size_t)tc->mlp) + seq * w + 5 * w;
    T->arena = malloc(floats * sizeof(float));
    T->layers = calloc((size_t)tc->layers, sizeof *T->layers);
    if (!T->arena || !T->layers) {
        cs_tower_free(T);
        return cs_fail(err, CS_ENOMEM, "out of memory loading the %s tower",
                       vision ? "vision" : "text");
    }
    loader ld = {tab, T->arena, 0};
    const char *pre = vision ? "vision_model" : "text_model";
    T->pos = vec(&ld, get(&ld, "%s.embeddings.position_embedding.%s", pre, -1, "weight"));
    if (vision) {
        T->cls = vec(&ld, get(&ld, "%s.embeddings.%s", pre, -1, "class_embedding"));
        T->patch = mat(get(&ld, "%s.embeddings.patch_embedding.%s", pre, -1, "weight"));
        T->ln_pre_w = vec(&ld, get(&ld, "%s.pre_layrnorm.%s", pre, -1, "weight"));
        T->ln_pre_b = vec(&ld, get(&ld, "%s.pre_layrnorm.%s", pre, -1, "bias"));
        T->ln_post_w = vec(&ld, get(&ld, "%s.post_layernorm.%s", pre, -1, "weight"));
        T->ln_post_b = vec(&ld, get(&ld, "%s.post_layernorm.%s", pre, -1, "bias"));
        T->proj = mat(cs_tensors_find(tab, "visual_projection.weight"));
    } else {
        T->tokens = mat(get(&ld, "%s.embeddings.token_embedding.%s", pre, -1, "weight"));
        T->ln_post_w = vec(&ld, get(&ld, "%s.final_layer_norm.%s", pre, -1, "weight"));
        T->ln_post_b = vec(&ld, get(&ld, "%s.final_layer_norm.%s", pre, -1, "bias"));
        T->proj = mat(cs_tensors_find(tab, "text_projection.weight"));
    }
    const char *lf = "%s.encoder.layers.%d.%s";
    for (int l = 0; l < tc->layers; l++) {
        cs_layer_weights *L = &T->layers[l];
        L->q = mat(get(&ld, lf, pre, l, "self_attn.q_proj.weight"));
        L->k = mat(get(&ld, lf, pre, l, "self_attn.k_proj.weight"));
        L->v = mat(get(&ld, lf, pre, l, "self_attn.v_proj.weight"));
        L->o = mat(get(&ld, lf, pre, l, "self_attn.out_proj.weight"));
        L->fc1 = mat(get(&ld, lf, pre, l, "mlp.fc1.weight"));
        L->fc2 = mat(get(&ld, lf, pre, l, "mlp.fc2.weight"));
        L->q_b = vec(&ld, get(&ld, lf, pre, l, "self_attn.q_proj.bias"));
        L->k_b = vec(&ld, get(&ld, lf, pre, l, "self_attn.k_proj.bias"));
        L->v_b = vec(&ld, get(&ld, lf, pre, l, "self_attn.v_proj.bias"));
        L->o_b = vec(&ld, get(&ld, lf, pre, l, "self_attn.out_proj.bias"));
        L->fc1_b = vec(&ld, get(&ld, lf, pre, l, "mlp.fc1.bias"));
        L->fc2_b = vec(&ld, get(&ld, lf, pre, l, "mlp.fc2.bias"));
        L->ln1_w = vec(&ld, get(&ld, lf, pre, l, "layer_norm1.weight"));
        L->ln1_b = vec(&ld, get(&ld, lf, pre, l, "layer_norm1.bias"));
        L->ln2_w = vec(&ld, get(&ld, lf, pre, l, "layer_norm2.weight"));
        L->ln2_b = vec(&ld, get(&ld, lf, pre, l, "layer_norm2.bias"));
    }
    if (ld.used > floats) /* cannot happen after cs_weights_check */
        return cs_fail(err, CS_EINTERNAL, "tower arena overflow");
    return CS_OK;
}

void cs_tower_free(cs_tower *t) {
    if (!t) return;
    free(t->arena);
    free(t->layers);
    free(t->qarena);
    if (t->kept.map) /* parena or larena (a tower has one or neither) points into it */
        cs_pack_unmap(&t->kept);
    else
        free(t->parena), free(t->larena);
    memset(t, 0, sizeof *t);
}
