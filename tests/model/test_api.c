/* tests/model/test_api.c - the model API's contract beyond fidelity: lazy
 * towers, argument checks, info, normalisation, concurrent calls, and that
 * the text tower stops at the end-of-text token. */
#include <math.h>
#include <pthread.h>

#include "model/model_internal.h"
#include "test.h"

static const int32_t cat[] = {49406, 320, 1125, 539, 320, 2368, 49407};

typedef struct worker {
    cs_model *m;
    const float *chw;
    float text[64], image[64];
    int ok;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    const int32_t *ids = cat;
    int n = 7;
    cs_error err;
    w->ok = 1;
    for (int i = 0; i < 5 && w->ok; i++) {
        float t[64], im[64];
        w->ok = cs_embed_tokens(w->m, &ids, &n, 1, 0, t, &err) == CS_OK &&
                cs_embed_pixels(w->m, w->chw, 1, 0, im, &err) == CS_OK &&
                !memcmp(t, w->text, 48 * sizeof(float)) &&
                !memcmp(im, w->image, 48 * sizeof(float));
    }
    return NULL;
}

int main(void) {
    cs_test_oracle();
    cs_error err = {0};
    cs_model *m = NULL;
    CHECK_OK(cs_model_open(cs_test_oracle_path("models/tiny"), NULL, &m, &err), &err);
    if (!m) return cs_test_done("model.api");

    cs_model_info info;
    cs_model_get_info(m, &info);
    CHECK_EQ_INT(info.embed_dim, 48);
    CHECK_EQ_INT(info.image_size, 224);
    CHECK_EQ_INT(info.patch_size, 32);
    CHECK_EQ_INT(info.vision_width, 128);
    CHECK_EQ_INT(info.text_width, 64);
    CHECK_EQ_INT(info.vision_layers, 2);
    CHECK_EQ_INT(info.text_heads, 2);
    CHECK_EQ_INT(info.context_length, 77);
    CHECK_EQ_INT(info.vocab_size, 49408);
    CHECK(!strcmp(info.dtype, "F32"));
    CHECK(info.id && strlen(info.id) > 10);

    /* towers are built only when used: a text leaves the vision tower alone */
    CHECK(!m->have_vision && !m->have_text);
    const int32_t *ids = cat;
    int n = 7;
    float a[48], b[48];
    CHECK_OK(cs_embed_tokens(m, &ids, &n, 1, 0, a, &err), &err);
    CHECK(m->have_text && !m->have_vision);
    double nn = 0;
    for (int i = 0; i < 48; i++) nn += (double)a[i] * a[i];
    CHECK(fabs(nn - 1) < 1e-5);

    /* padding after the end-of-text token changes nothing (causal tower) */
    int32_t padded[77];
    memcpy(padded, cat, sizeof cat);
    for (int i = 7; i < 77; i++) padded[i] = 49407;
    const int32_t *pp = padded;
    int n77 = 77;
    CHECK_OK(cs_embed_tokens(m, &pp, &n77, 1, 0, b, &err), &err);
    CHECK(!memcmp(a, b, sizeof a));

    /* bad arguments are refused with a reason */
    int32_t bad[] = {49406, 49408, 49407};
    const int32_t *bp = bad;
    int n3 = 3, n0 = 0, n78 = 78;
    CHECK_EQ_INT(cs_embed_tokens(m, &bp, &n3, 1, 0, a, &err), CS_EINVAL);
    CHECK(strstr(err.message, "49408") != NULL);
    CHECK_EQ_INT(cs_embed_tokens(m, &bp, &n0, 1, 0, a, &err), CS_EINVAL);
    CHECK_EQ_INT(cs_embed_tokens(m, &pp, &n78, 1, 0, a, &err), CS_EINVAL);
    CHECK_EQ_INT(cs_embed_pixels(m, NULL, 1, 0, a, &err), CS_EINVAL);
    CHECK_EQ_INT(cs_embed_pixels(NULL, NULL, 0, 0, a, &err), CS_EINVAL);
    CHECK_OK(cs_embed_pixels(m, NULL, 0, 0, NULL, &err), &err);
    CHECK(!m->have_vision);
    cs_model *none = NULL;
    CHECK_EQ_INT(cs_model_open(NULL, NULL, &none, &err), CS_EINVAL);
    CHECK_EQ_INT(cs_model_open("/nonexistent/model", NULL, &none, &err), CS_ENOTFOUND);
    CHECK(strstr(err.message, "/nonexistent/model") != NULL);
    CHECK(none == NULL);
    cs_model_close(NULL);

    /* concurrent callers on one model get the same floats as a lone caller */
    size_t per = 3 * 224 * 224;
    float *chw = malloc(per * sizeof *chw);
    for (size_t i = 0; i < per; i++) chw[i] = (float)sin((double)i * 0.01);
    worker w[3];
    for (int t = 0; t < 3; t++) {
        w[t].m = m;
        w[t].chw = chw;
        CHECK_OK(cs_embed_tokens(m, &ids, &n, 1, 0, w[t].text, &err), &err);
        CHECK_OK(cs_embed_pixels(m, chw, 1, 0, w[t].image, &err), &err);
    }
    pthread_t th[3];
    for (int t = 0; t < 3; t++) pthread_create(&th[t], NULL, work, &w[t]);
    for (int t = 0; t < 3; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 3; t++) CHECK_MSG(w[t].ok, "thread %d got different results", t);

    /* a caller's pool is used and not freed by the model */
    cs_pool *pool = cs_pool_create(2);
    cs_model_opts o = {.pool = pool};
    cs_model *m2 = NULL;
    CHECK_OK(cs_model_open(cs_test_oracle_path("models/tiny"), &o, &m2, &err), &err);
    CHECK_OK(cs_embed_pixels(m2, chw, 1, 0, b, &err), &err);
    CHECK(!memcmp(b, w[0].image, sizeof b));
    cs_model_close(m2);
    CHECK_EQ_INT(cs_pool_threads(pool), 2);
    cs_pool_free(pool);

    free(chw);
    cs_model_close(m);
    return cs_test_done("model.api");
}
