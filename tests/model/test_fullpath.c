/* tests/model/test_fullpath.c - file -> embedding and text -> embedding
 * through the whole library (decoder, CLIP preprocessing, tokenizer,
 * engine) against the float64 reference of every oracle model. */
#include <jansson.h>
#include <math.h>

#include "test.h"

#define MIN_COS 0.99999

static double cosine(const float *a, json_t *ref, int d) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < d; i++) {
        double b = json_number_value(json_array_get(ref, (size_t)i));
        ab += a[i] * b, aa += (double)a[i] * a[i], bb += b * b;
    }
    return ab / sqrt(aa * bb);
}

/* Texts for every folder; image files (decoding dominates the time under the
 * sanitizers) where the pixels differ: 224 px and 64 px crops. */
static void check_model(const char *folder, const char *expected, int with_images) {
    size_t len;
    char *text = cs_test_read(cs_test_oracle_path(expected), &len);
    json_t *exp = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
    free(text);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", cs_test_oracle_path(folder));
    cs_model *m = NULL;
    cs_error err = {0};
    CHECK_OK(cs_model_open(dir, NULL, &m, &err), &err);
    if (!m || !exp) return;
    cs_model_info info;
    cs_model_get_info(m, &info);
    int d = info.embed_dim;
    float *e = calloc((size_t)d * 64, sizeof *e);

    /* texts, in one batch (C strings: the one with a NUL inside is skipped) */
    json_t *texts = json_object_get(exp, "texts");
    int n = 0;
    const char *strs[256];
    json_t *refs[256];
    for (size_t i = 0; i < json_array_size(texts) && n < 256; i++) {
        json_t *t = json_array_get(texts, i), *s = json_object_get(t, "text");
        if (strlen(json_string_value(s)) != json_string_length(s)) continue;
        strs[n] = json_string_value(s);
        refs[n++] = json_object_get(t, "embedding");
    }
    float *te = calloc((size_t)n * d, sizeof *te);
    CHECK_OK(cs_embed_texts(m, strs, n, CS_EMBED_RAW, te, &err), &err);
    double worst = 1;
    for (int i = 0; i < n; i++) {
        double c = cosine(te + (size_t)i * d, refs[i], d);
        if (c < worst) worst = c;
        CHECK_MSG(c >= MIN_COS, "%s: text '%s': cosine %.8f", folder, strs[i], c);
    }
    printf("%s: %d texts from strings, worst cosine 1 - %.2e\n", folder, n, 1 - worst);
    free(te);

    if (!with_images) {
        free(e);
        cs_model_close(m);
        json_decref(exp);
        return;
    }
    /* image files, one by one and as a batch with a broken file in the middle */
    json_t *images = json_object_get(exp, "images");
    const char *key;
    json_t *v;
    const char *paths[64];
    json_t *irefs[64];
    char *owned[64];
    n = 0;
    worst = 1;
    json_object_foreach(images, key, v) {
        char rel[512];
        snprintf(rel, sizeof rel, "images/%s", key);
        owned[n] = strdup(cs_test_oracle_path(rel));
        paths[n] = owned[n];
        irefs[n] = json_object_get(v, "embedding");
        CHECK_OK(cs_embed_image_file(m, paths[n], CS_EMBED_RAW, e, &err), &err);
        double c = cosine(e, irefs[n], d);
        if (c < worst) worst = c;
        CHECK_MSG(c >= MIN_COS, "%s: image %s: cosine %.8f", folder, key, c);
        n++;
    }
    printf("%s: %d image files, worst cosine 1 - %.2e\n", folder, n, 1 - worst);
    char *bad = strdup(cs_test_oracle_path("bad/corrupt.jpg"));
    const char *batch[4] = {paths[0], bad, paths[1], paths[2]};
    cs_status sts[4];
    cs_error errs[4];
    CHECK_OK(cs_embed_image_files(m, batch, 4, 0, e, sts, errs, &err), &err);
    CHECK_EQ_INT(sts[0], CS_OK);
    CHECK(sts[1] != CS_OK && strstr(errs[1].message, "corrupt.jpg") != NULL);
    CHECK_EQ_INT(sts[2], CS_OK);
    CHECK_EQ_INT(sts[3], CS_OK);
    for (int j = 0; j < d; j++) CHECK(e[d + j] == 0.0f);
    double c0 = cosine(e, irefs[0], d), c3 = cosine(e + 3 * d, irefs[2], d), nn = 0;
    for (int j = 0; j < d; j++) nn += (double)e[j] * e[j];
    CHECK(c0 >= MIN_COS && c3 >= MIN_COS && fabs(nn - 1) < 1e-5);
    /* a single broken file fails the single-file call with its reason */
    CHECK(cs_embed_image_file(m, bad, 0, e, &err) != CS_OK);
    CHECK(strstr(err.message, "corrupt.jpg") != NULL);

    /* from memory and from decoded pixels */
    size_t sz;
    char *bytes = cs_test_read(paths[0], &sz);
    CHECK_OK(cs_embed_image_mem(m, bytes, sz, CS_EMBED_RAW, e, &err), &err);
    CHECK(cosine(e, irefs[0], d) >= MIN_COS);
    cs_image img[2] = {{0}};
    CHECK_OK(cs_image_decode_mem(bytes, sz, "a", NULL, &img[0], &err), &err);
    CHECK_OK(cs_image_decode_file(paths[1], NULL, &img[1], &err), &err);
    CHECK_OK(cs_embed_images(m, img, 2, CS_EMBED_RAW, e, &err), &err);
    CHECK(cosine(e, irefs[0], d) >= MIN_COS && cosine(e + d, irefs[1], d) >= MIN_COS);
    cs_image_free(&img[0]);
    cs_image_free(&img[1]);
    free(bytes);
    CHECK(cs_model_preprocess(m) && cs_model_preprocess(m)->crop_width == info.image_size);
    CHECK(cs_model_tokenizer(m, &err) != NULL);

    for (int i = 0; i < n; i++) free(owned[i]);
    free(bad);
    free(e);
    cs_model_close(m);
    json_decref(exp);
}

int main(void) {
    cs_test_oracle();
    check_model("models/tiny", "expected-tiny.json", 1);
    check_model("models/tiny-f16", "expected-tiny-f16.json", 0);
    check_model("models/tiny-bf16", "expected-tiny-bf16.json", 0);
    check_model("models/tiny-p16", "expected-tiny-p16.json", 1);
    check_model("models/tiny-bin", "expected-tiny.json", 0);
    return cs_test_done("model.fullpath");
}
