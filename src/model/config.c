/* model/config.c - config.json of a Hugging Face CLIPModel.
 *
 * Missing fields take transformers' defaults for CLIPTextConfig and
 * CLIPVisionConfig, as transformers itself would. Old configs (such as
 * openai/clip-vit-base-patch32's) may carry `text_config_dict` /
 * `vision_config_dict`, whose keys override those of `text_config` /
 * `vision_config`, as in transformers. */
#include "model/config.h"

#include <jansson.h>
#include <string.h>

#include "core/error.h"
#include "core/file.h"

/* Upper bounds that no real CLIP reaches; they keep products of shapes far
 * from overflow and refuse absurd configs before anything is allocated. */
#define MAX_WIDTH   16384
#define MAX_LAYERS  256
#define MAX_MLP     65536
#define MAX_IMAGE   4096
#define MAX_CONTEXT 4096
#define MAX_VOCAB   4000000

static cs_status get_int(json_t *obj, const char *key, int def, int lo, int hi, const char *name,
                         const char *section, int *out, cs_error *err) {
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v)) {
        *out = def;
        return CS_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return cs_fail(err, CS_EFORMAT, "%s: %s.%s must be an integer in [%d, %d]", name, section,
                       key, lo, hi);
    *out = (int)json_integer_value(v);
    return CS_OK;
}

static cs_status get_tower(json_t *obj, const char *section, const char *name, int def_width,
                           int def_heads, int def_mlp, cs_tower_config *t, cs_error *err) {
    cs_status st;
    if ((st = get_int(obj, "hidden_size", def_width, 1, MAX_WIDTH, name, section, &t->width, err)))
        return st;
    if ((st = get_int(obj, "num_hidden_layers", 12, 1, MAX_LAYERS, name, section, &t->layers, err)))
        return st;
    if ((st = get_int(obj, "num_attention_heads", def_heads, 1, MAX_WIDTH, name, section, &t->heads,
                      err)))
        return st;
    if ((st = get_int(obj, "intermediate_size", def_mlp, 1, MAX_MLP, name, section, &t->mlp, err)))
        return st;
    if (t->width % t->heads != 0)
        return cs_fail(err, CS_EFORMAT, "%s: %s.hidden_size %d is not a multiple of %d heads", name,
                       section, t->width, t->heads);
    json_t *act = obj ? json_object_get(obj, "hidden_act") : NULL;
    const char *a = act ? json_string_value(act) : "quick_gelu";
    if (!a) return cs_fail(err, CS_EFORMAT, "%s: %s.hidden_act is not a string", name, section);
    if (!strcmp(a, "quick_gelu"))
        t->act = CS_ACT_QUICK_GELU;
    else if (!strcmp(a, "gelu"))
        t->act = CS_ACT_GELU;
    else
        return cs_fail(err, CS_EUNSUPPORTED,
                       "%s: %s.hidden_act '%s' is not supported "
                       "(quick_gelu, gelu)",
                       name, section, a);
    json_t *eps = obj ? json_object_get(obj, "layer_norm_eps") : NULL;
    t->ln_eps = 1e-5f;
    if (eps) {
        if (!json_is_number(eps) || !(json_number_value(eps) > 0) || json_number_value(eps) > 1)
            return cs_fail(err, CS_EFORMAT, "%s: %s.layer_norm_eps must be in (0, 1]", name,
                           section);
        t->ln_eps = (float)json_number_value(eps);
    }
    return CS_OK;
}

/* A tower's section: text_config, with the legacy text_config_dict's keys
 * taking precedence (transformers' CLIPConfig lets the *_dict override).
 * Returns a new reference (or NULL when neither exists). */
static json_t *section(json_t *root, const char *key, const char *legacy) {
    json_t *s = json_object_get(root, key), *d = json_object_get(root, legacy);
    json_t *out = json_is_object(s) ? json_deep_copy(s) : NULL;
    if (json_is_object(d)) {
        if (!out) out = json_object();
        json_object_update(out, d);
    }
    return out;
}

static cs_status parse_sections(json_t *root, json_t *tc, json_t *vc, const char *name,
                                cs_clip_config *c, cs_error *err);

static cs_status parse_root(json_t *root, const char *name, cs_clip_config *c, cs_error *err) {
    if (!json_is_object(root)) return cs_fail(err, CS_EFORMAT, "%s: not a JSON object", name);
    json_t *mt = json_object_get(root, "model_type");
    if (mt && (!json_is_string(mt) || strcmp(json_string_value(mt), "clip") != 0))
        return cs_fail(err, CS_EUNSUPPORTED, "%s: model_type '%s' is not a CLIP model", name,
                       json_is_string(mt) ? json_string_value(mt) : "?");
    json_t *tc = section(root, "text_config", "text_config_dict");
    json_t *vc = section(root, "vision_config", "vision_config_dict");
    cs_status st = parse_sections(root, tc, vc, name, c, err);
    json_decref(tc);
    json_decref(vc);
    return st;
}

static cs_status parse_sections(json_t *root, json_t *tc, json_t *vc, const char *name,
                                cs_clip_config *c, cs_error *err) {
    cs_status st;
    if ((st = get_int(root, "projection_dim", 512, 1, MAX_WIDTH, name, "config", &c->embed_dim,
                      err)))
        return st;
    if ((st = get_tower(tc, "text_config", name, 512, 8, 2048, &c->text, err))) return st;
    if ((st = get_tower(vc, "vision_config", name, 768, 12, 3072, &c->vision, err))) return st;
    if ((st = get_int(tc, "max_position_embeddings", 77, 2, MAX_CONTEXT, name, "text_config",
                      &c->context_length, err)))
        return st;
    if ((st = get_int(tc, "vocab_size", 49408, 1, MAX_VOCAB, name, "text_config", &c->vocab_size,
                      err)))
        return st;
    if ((st = get_int(tc, "eos_token_id", 2, 0, MAX_VOCAB, name, "text_config", &c->eos_token_id,
                      err)))
        return st;
    if ((st = get_int(vc, "image_size", 224, 1, MAX_IMAGE, name, "vision_config", &c->image_size,
                      err)))
        return st;
    if ((st = get_int(vc, "patch_size", 32, 1, MAX_IMAGE, name, "vision_config", &c->patch_size,
                      err)))
        return st;
    if ((st = get_int(vc, "num_channels", 3, 1, 16, name, "vision_config", &c->channels, err)))
        return st;
    if (c->channels != 3)
        return cs_fail(err, CS_EUNSUPPORTED, "%s: vision_config.num_channels %d (only RGB, 3)",
                       name, c->channels);
    if (c->image_size % c->patch_size != 0)
        return cs_fail(err, CS_EFORMAT, "%s: image_size %d is not a multiple of patch_size %d",
                       name, c->image_size, c->patch_size);
    /* The sub-configs repeat projection_dim; they must agree with the top. */
    int p;
    if ((st = get_int(tc, "projection_dim", c->embed_dim, 1, MAX_WIDTH, name, "text_config", &p,
                      err)))
        return st;
    if (p != c->embed_dim)
        return cs_fail(err, CS_EFORMAT, "%s: text_config.projection_dim %d != projection_dim %d",
                       name, p, c->embed_dim);
    if ((st = get_int(vc, "projection_dim", c->embed_dim, 1, MAX_WIDTH, name, "vision_config", &p,
                      err)))
        return st;
    if (p != c->embed_dim)
        return cs_fail(err, CS_EFORMAT, "%s: vision_config.projection_dim %d != projection_dim %d",
                       name, p, c->embed_dim);
    return CS_OK;
}

cs_status cs_config_parse(const char *text, size_t len, const char *name, cs_clip_config *out,
                          cs_error *err) {
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (!root)
        return cs_fail(err, CS_EFORMAT, "%s: bad JSON: %s (line %d)", name, jerr.text, jerr.line);
    cs_status st = parse_root(root, name, out, err);
    json_decref(root);
    return st;
}

cs_status cs_config_load(const char *path, cs_clip_config *out, cs_error *err) {
    char *text;
    size_t len;
    cs_status st = cs_read_file(path, 1u << 20, &text, &len, err);
    if (st) return st;
    st = cs_config_parse(text, len, path, out, err);
    free(text);
    return st;
}
