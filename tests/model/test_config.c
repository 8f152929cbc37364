/* tests/model/test_config.c - config.json variants transformers accepts:
 * defaults for missing fields (CLIPTextConfig / CLIPVisionConfig), the
 * legacy *_config_dict sections, OpenCLIP's exact gelu, and the
 * sentence-transformers folder layout (0_CLIPModel/). */
#include <unistd.h>

#include "model/config.h"
#include "model/forward.h"
#include "test.h"

static cs_status parse(const char *json, cs_clip_config *c, cs_error *err) {
    return cs_config_parse(json, strlen(json), "config.json", c, err);
}

int main(void) {
    cs_clip_config c;
    cs_error err = {0};

    /* everything missing: transformers' defaults, i.e. ViT-B/32 */
    CHECK_OK(parse("{}", &c, &err), &err);
    CHECK_EQ_INT(c.embed_dim, 512);
    CHECK_EQ_INT(c.vision.width, 768);
    CHECK_EQ_INT(c.vision.layers, 12);
    CHECK_EQ_INT(c.vision.heads, 12);
    CHECK_EQ_INT(c.vision.mlp, 3072);
    CHECK_EQ_INT(c.text.width, 512);
    CHECK_EQ_INT(c.text.heads, 8);
    CHECK_EQ_INT(c.text.mlp, 2048);
    CHECK_EQ_INT(c.image_size, 224);
    CHECK_EQ_INT(c.patch_size, 32);
    CHECK_EQ_INT(c.context_length, 77);
    CHECK_EQ_INT(c.vocab_size, 49408);
    CHECK_EQ_INT(c.vision.act, CS_ACT_QUICK_GELU);
    CHECK(c.text.ln_eps == 1e-5f);

    /* the legacy sections of openai/clip-vit-base-patch32's config */
    CHECK_OK(parse("{\"projection_dim\": 768, \"text_config_dict\": {\"hidden_size\": 768, "
                   "\"num_attention_heads\": 12, \"intermediate_size\": 3072, "
                   "\"projection_dim\": 768}, \"vision_config_dict\": {\"hidden_size\": 1024, "
                   "\"num_attention_heads\": 16, \"num_hidden_layers\": 24, \"patch_size\": 14, "
                   "\"intermediate_size\": 4096, \"projection_dim\": 768}}",
                   &c, &err),
             &err);
    CHECK_EQ_INT(c.embed_dim, 768);
    CHECK_EQ_INT(c.text.width, 768);
    CHECK_EQ_INT(c.vision.width, 1024);
    CHECK_EQ_INT(c.vision.layers, 24);
    CHECK_EQ_INT(c.patch_size, 14);

    /* text_config_dict's keys override text_config's, as in transformers */
    CHECK_OK(parse("{\"text_config\": {\"hidden_size\": 640, \"num_attention_heads\": 10}, "
                   "\"text_config_dict\": {\"hidden_size\": 320}}",
                   &c, &err),
             &err);
    CHECK_EQ_INT(c.text.width, 320);
    CHECK_EQ_INT(c.text.heads, 10);

    /* OpenCLIP conversions: exact gelu, other eps, other eos */
    CHECK_OK(parse("{\"text_config\": {\"hidden_act\": \"gelu\", \"layer_norm_eps\": 1e-6, "
                   "\"eos_token_id\": 49407}, \"vision_config\": {\"hidden_act\": \"gelu\", "
                   "\"image_size\": 336, \"patch_size\": 14}}",
                   &c, &err),
             &err);
    CHECK_EQ_INT(c.text.act, CS_ACT_GELU);
    CHECK_EQ_INT(c.vision.act, CS_ACT_GELU);
    CHECK(c.text.ln_eps == 1e-6f);
    CHECK_EQ_INT(c.eos_token_id, 49407);
    CHECK_EQ_INT(c.image_size, 336);

    /* the pooled position: argmax(ids) for legacy eos_token_id 2, else the
     * first eos_token_id (transformers), 0 when there is none */
    int32_t ids[] = {49406, 320, 49407, 49407, 12};
    CHECK_OK(parse("{}", &c, &err), &err);
    CHECK_EQ_INT(cs_text_pool_index(&c, ids, 5), 2);
    CHECK_EQ_INT(cs_text_pool_index(&c, ids, 2), 0);
    CHECK_OK(parse("{\"text_config\": {\"eos_token_id\": 12}}", &c, &err), &err);
    CHECK_EQ_INT(cs_text_pool_index(&c, ids, 5), 4);
    CHECK_EQ_INT(cs_text_pool_index(&c, ids, 4), 0);

    /* refused */
    CHECK_EQ_INT(parse("[]", &c, &err), CS_EFORMAT);
    CHECK_EQ_INT(parse("{\"text_config\": {\"layer_norm_eps\": -1}}", &c, &err), CS_EFORMAT);
    CHECK(strstr(err.message, "layer_norm_eps") != NULL);
    CHECK_EQ_INT(parse("{\"vision_config\": {\"num_channels\": 4}}", &c, &err), CS_EUNSUPPORTED);
    CHECK_EQ_INT(parse("{\"text_config\": {\"hidden_act\": 3}}", &c, &err), CS_EFORMAT);
    CHECK_EQ_INT(parse("{\"vision_config\": {\"image_size\": 1.5}}", &c, &err), CS_EFORMAT);

    /* a sentence-transformers folder: the CLIP model sits in 0_CLIPModel/ */
    cs_test_oracle();
    const char *dir = cs_test_tmpdir();
    char link[4096];
    snprintf(link, sizeof link, "%s/0_CLIPModel", dir);
    CHECK(symlink(cs_test_oracle_path("models/tiny"), link) == 0);
    cs_model *m = NULL;
    CHECK_OK(cs_model_open(dir, NULL, &m, &err), &err);
    if (m) {
        cs_model_info info;
        cs_model_get_info(m, &info);
        CHECK_EQ_INT(info.embed_dim, 48);
        CHECK(strstr(info.dir, "0_CLIPModel") != NULL);
    }
    cs_model_close(m);
    unlink(link);
    rmdir(dir);
    return cs_test_done("model.config");
}
