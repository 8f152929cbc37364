/* tests/model/test_fidelity.c - the engine against the float64 reference.
 *
 * For each oracle model folder, every text (its reference token ids) and
 * every image (its reference 8-bit crop, normalised here with the folder's
 * mean/std) must reach cosine >= 0.99999 with the reference embedding, and
 * the raw norm must match. Batched and single calls, 1 and 2 threads must
 * give the same floats, and so must the image tower's matrices packed once
 * (bulk work, CS_EMBED_BULK) and read from the map. At the other
 * precisions (cs_model_opts.precision) the bar is lower: BF16 products
 * (MIN_COS_BF16) and int8 products or int8 weights (MIN_COS_INT8), every
 * image and text against the same float64 reference; the results must
 * differ from the float path's (the rounding is in use), and batches,
 * singles and thread counts still give the same bits. Where the CPU lacks
 * AVX512_BF16 / VNNI, the precision falls back (fp32 / int8 weights) and
 * that is what is checked, with a line saying so. */
#include <jansson.h>
#include <math.h>
#include <png.h>

#include "test.h"

#define MIN_COS      0.99999
#define MIN_COS_INT8 0.999
#define MIN_COS_BF16 0.9999

/* What a run of the checks demands. */
typedef struct bar {
    double min_cos;  /* against the float64 reference */
    double norm_tol; /* |raw norm / reference norm - 1| */
    double max_cos;  /* int8: the worst must stay below (the weights differ) */
} bar;

static const bar FLOAT_BAR = {MIN_COS, 1e-4, 2.0}, INT8_BAR = {MIN_COS_INT8, 1e-2, 1 - 1e-7},
                 BF16_BAR = {MIN_COS_BF16, 5e-3, 1 - 1e-7};

static double cosine(const float *a, const double *b, int d, double *na, double *nb) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < d; i++) {
        ab += a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += b[i] * b[i];
    }
    *na = sqrt(aa);
    *nb = sqrt(bb);
    return ab / (*na * *nb);
}

static double *ref_vec(json_t *arr, int d) {
    CHECK_EQ_INT(json_array_size(arr), d);
    double *r = calloc((size_t)d, sizeof *r);
    for (int i = 0; i < d && i < (int)json_array_size(arr); i++)
        r[i] = json_number_value(json_array_get(arr, (size_t)i));
    return r;
}

/* Reads an RGB PNG crop and normalises it to CHW. */
static int load_crop(const char *path, int size, const float *mean, const float *std, float *chw) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) return -1;
    img.format = PNG_FORMAT_RGB;
    if ((int)img.width != size || (int)img.height != size) {
        png_image_free(&img);
        return -1;
    }
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        free(buf);
        return -1;
    }
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < size * size; i++)
            chw[(size_t)c * size * size + i] =
                ((float)buf[3 * i + c] * (1.0f / 255.0f) - mean[c]) / std[c];
    free(buf);
    return 0;
}

static void read_mean_std(const char *dir, float *mean, float *std) {
    char path[4200];
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    json_t *j = json_load_file(path, 0, NULL);
    CHECK(j != NULL);
    for (int c = 0; c < 3; c++) {
        mean[c] =
            (float)json_number_value(json_array_get(json_object_get(j, "image_mean"), (size_t)c));
        std[c] =
            (float)json_number_value(json_array_get(json_object_get(j, "image_std"), (size_t)c));
    }
    json_decref(j);
}

static void check_texts(cs_model *m, cs_model *m1, json_t *texts, int d, const char *tag,
                        const bar *bar) {
    int n = (int)json_array_size(texts);
    int32_t **ids = calloc((size_t)n, sizeof *ids);
    int *n_ids = calloc((size_t)n, sizeof *n_ids);
    for (int i = 0; i < n; i++) {
        json_t *a = json_object_get(json_array_get(texts, (size_t)i), "ids");
        n_ids[i] = (int)json_array_size(a);
        ids[i] = calloc((size_t)n_ids[i] + 1, sizeof **ids);
        for (int t = 0; t < n_ids[i]; t++)
            ids[i][t] = (int32_t)json_integer_value(json_array_get(a, (size_t)t));
    }
    float *raw = calloc((size_t)n * d, sizeof *raw), *norm = calloc((size_t)n * d, sizeof *norm);
    float *one = calloc((size_t)d, sizeof *one);
    cs_error err = {0};
    CHECK_OK(cs_embed_tokens(m, (const int32_t *const *)ids, n_ids, n, CS_EMBED_RAW, raw, &err),
             &err);
    CHECK_OK(cs_embed_tokens(m, (const int32_t *const *)ids, n_ids, n, 0, norm, &err), &err);
    double worst = 1;
    for (int i = 0; i < n; i++) {
        json_t *t = json_array_get(texts, (size_t)i);
        double *ref = ref_vec(json_object_get(t, "embedding"), d), na, nb;
        double c = cosine(raw + (size_t)i * d, ref, d, &na, &nb);
        if (c < worst) worst = c;
        CHECK_MSG(c >= bar->min_cos, "%s text %d '%s': cosine %.8f", tag, i,
                  json_string_value(json_object_get(t, "text")), c);
        CHECK_MSG(fabs(na / nb - 1) < bar->norm_tol, "%s text %d: norm %g vs %g", tag, i, na, nb);
        double nn = 0;
        for (int j = 0; j < d; j++) {
            nn += (double)norm[(size_t)i * d + j] * norm[(size_t)i * d + j];
        }
        CHECK_MSG(fabs(nn - 1) < 1e-5, "%s text %d: normalised norm^2 %g", tag, i, nn);
        double c2 = cosine(norm + (size_t)i * d, ref, d, &na, &nb);
        CHECK_MSG(c2 >= bar->min_cos, "%s text %d: normalised cosine %.8f", tag, i, c2);
        free(ref);
    }
    /* single calls and a one-thread model give the same floats as the batch */
    for (int i = 0; i < n; i += 7) {
        const int32_t *p = ids[i];
        /* (a lone text without the bulk hint would build m1's tower at fp32) */
        CHECK_OK(cs_embed_tokens(m1, &p, &n_ids[i], 1, CS_EMBED_RAW | CS_EMBED_BULK, one, &err),
                 &err);
        CHECK_MSG(!memcmp(one, raw + (size_t)i * d, (size_t)d * sizeof(float)),
                  "%s text %d: single 1-thread call differs from the batch", tag, i);
    }
    CHECK_MSG(worst < bar->max_cos, "%s texts: worst cosine %.10f", tag, worst);
    printf("%s: %d texts, worst cosine 1 - %.2e\n", tag, n, 1 - worst);
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids);
    free(n_ids);
    free(raw);
    free(norm);
    free(one);
}

/* single_flags: what m1's one-image calls add to CS_EMBED_RAW. */
static void check_images(cs_model *m, cs_model *m1, json_t *images, const char *dir, int d,
                         const char *tag, const bar *bar, int single_flags) {
    cs_model_info info;
    cs_model_get_info(m, &info);
    int n = (int)json_object_size(images), S = info.image_size, i = 0;
    size_t per = 3 * (size_t)S * S;
    float mean[3], std[3];
    read_mean_std(dir, mean, std);
    float *chw = calloc((size_t)n * per, sizeof *chw), *raw = calloc((size_t)n * d, sizeof *raw);
    float *one = calloc((size_t)d, sizeof *one);
    double **refs = calloc((size_t)n, sizeof *refs);
    const char *key;
    json_t *v;
    json_object_foreach(images, key, v) {
        const char *crop = json_string_value(json_object_get(v, "crop"));
        CHECK_MSG(load_crop(cs_test_oracle_path(crop), S, mean, std, chw + (size_t)i * per) == 0,
                  "%s: cannot read %s", tag, crop);
        refs[i++] = ref_vec(json_object_get(v, "embedding"), d);
    }
    cs_error err = {0};
    CHECK_OK(cs_embed_pixels(m, chw, n, CS_EMBED_RAW | CS_EMBED_BULK, raw, &err), &err);
    double worst = 1;
    i = 0;
    json_object_foreach(images, key, v) {
        double na, nb, c = cosine(raw + (size_t)i * d, refs[i], d, &na, &nb);
        if (c < worst) worst = c;
        CHECK_MSG(c >= bar->min_cos, "%s image %s: cosine %.8f", tag, key, c);
        CHECK_MSG(fabs(na / nb - 1) < bar->norm_tol, "%s image %s: norm %g vs %g", tag, key, na,
                  nb);
        if (i % 5 == 0) {
            CHECK_OK(cs_embed_pixels(m1, chw + (size_t)i * per, 1, CS_EMBED_RAW | single_flags,
                                     one, &err),
                     &err);
            CHECK_MSG(!memcmp(one, raw + (size_t)i * d, (size_t)d * sizeof(float)),
                      "%s image %s: single 1-thread call differs from the batch", tag, key);
        }
        i++;
    }
    /* A batch large enough to be split between the two threads (above) and
     * a small one, whose products are split instead, give the same bits. */
    int small = n < 5 ? n : 5;
    float *few = calloc((size_t)small * d, sizeof *few);
    CHECK_OK(cs_embed_pixels(m, chw, small, CS_EMBED_RAW, few, &err), &err);
    CHECK_MSG(!memcmp(few, raw, (size_t)small * d * sizeof(float)),
              "%s: %d images on 2 threads differ from the same in a batch of %d", tag, small, n);
    free(few);
    CHECK_MSG(worst < bar->max_cos, "%s images: worst cosine %.10f", tag, worst);
    printf("%s: %d images, worst cosine 1 - %.2e\n", tag, n, 1 - worst);
    for (i = 0; i < n; i++) free(refs[i]);
    free(refs);
    free(chw);
    free(raw);
    free(one);
}

/* A model whose towers are first used by one text and one image (a cold
 * query) computes them at fp32 whatever its precision: the same bits as an
 * fp32 model. */
static void check_lone_query(const char *dir, cs_precision precision, const char *tag) {
    cs_model_opts oq = {.n_threads = 1, .precision = precision}, of = {.n_threads = 1};
    cs_model *mq = NULL, *mf = NULL;
    cs_error err = {0};
    CHECK_OK(cs_model_open(dir, &oq, &mq, &err), &err);
    CHECK_OK(cs_model_open(dir, &of, &mf, &err), &err);
    if (mq && mf) {
        cs_model_info info;
        cs_model_get_info(mq, &info);
        int d = info.embed_dim, S = info.image_size;
        float *a = calloc((size_t)2 * d, sizeof *a), *b = calloc((size_t)2 * d, sizeof *b);
        float *chw = calloc((size_t)3 * S * S, sizeof *chw);
        for (int i = 0; i < 3 * S * S; i++) chw[i] = (float)((i * 7919) % 401) / 100.0f - 2.0f;
        const char *text = "a photo of a cat";
        CHECK_OK(cs_embed_texts(mq, &text, 1, 0, a, &err), &err);
        CHECK_OK(cs_embed_texts(mf, &text, 1, 0, b, &err), &err);
        CHECK_OK(cs_embed_pixels(mq, chw, 1, 0, a + d, &err), &err);
        CHECK_OK(cs_embed_pixels(mf, chw, 1, 0, b + d, &err), &err);
        CHECK_MSG(!memcmp(a, b, (size_t)2 * d * sizeof *a),
                  "%s: a lone query is not computed at fp32", tag);
        free(a);
        free(b);
        free(chw);
    }
    cs_model_close(mq);
    cs_model_close(mf);
}

static void check_model(const char *folder, const char *expected, cs_precision precision) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", cs_test_oracle_path(folder));
    size_t len;
    char *text = cs_test_read(cs_test_oracle_path(expected), &len);
    json_t *exp = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
    free(text);
    CHECK(exp != NULL);
    cs_model *m = NULL, *m1 = NULL;
    cs_error err = {0};
    cs_model_opts o2 = {.n_threads = 2, .precision = precision},
                  o1 = {.n_threads = 1, .precision = precision};
    CHECK_OK(cs_model_open(dir, &o2, &m, &err), &err);
    CHECK_OK(cs_model_open(dir, &o1, &m1, &err), &err);
    if (m && m1 && exp) {
        cs_model_info info;
        cs_model_get_info(m, &info);
        const char *want[] = {"fp32", "bf16", "int8"};
        if (strcmp(info.precision, want[precision]) != 0)
            printf("%s: %s asked, %s runs (this CPU lacks the extension)\n", folder,
                   want[precision], info.precision);
        int int8 = precision == CS_PRECISION_INT8, fp32 = !strcmp(info.precision, "fp32");
        const bar *bar = int8 ? &INT8_BAR : fp32 ? &FLOAT_BAR : &BF16_BAR;
        char tag[256];
        snprintf(tag, sizeof tag, "%s (%s)", folder, info.precision);
        CHECK_EQ_INT(info.int8, int8);
        check_texts(m, m1, json_object_get(exp, "texts"), info.embed_dim, tag, bar);
        /* at fp32 the bulk hint would pack m1's image tower, which is
         * checked below to read its map; at BF16/int8 a lone image without
         * it would build the tower at fp32 */
        check_images(m, m1, json_object_get(exp, "images"), dir, info.embed_dim, tag, bar,
                     fp32 ? 0 : CS_EMBED_BULK);
        /* m's first images were bulk work: its F32 matrices are packed once
         * (the 1-thread singles compared above read them from the map) */
        cs_model_get_info(m, &info);
        CHECK_EQ_INT(info.prepacked, fp32 && !strcmp(info.dtype, "F32"));
        cs_model_get_info(m1, &info);
        CHECK_EQ_INT(info.prepacked, 0);
        if (!fp32) check_lone_query(dir, precision, tag);
    }
    cs_model_close(m);
    cs_model_close(m1);
    json_decref(exp);
}

int main(void) {
    cs_test_oracle();
    static const char *const folders[][2] = {{"models/tiny", "expected-tiny.json"},
                                             {"models/tiny-f16", "expected-tiny-f16.json"},
                                             {"models/tiny-bf16", "expected-tiny-bf16.json"},
                                             {"models/tiny-p16", "expected-tiny-p16.json"},
                                             {"models/tiny-bin", "expected-tiny.json"}};
    for (size_t i = 0; i < sizeof folders / sizeof *folders; i++)
        check_model(folders[i][0], folders[i][1], CS_PRECISION_FP32);
    /* BF16 and int8 compute from F32 and F16 weights, and a model whose
     * widths are not multiples of the kernels' tiles (tiny-p16) */
    for (int p = CS_PRECISION_BF16; p <= CS_PRECISION_INT8; p++)
        for (size_t i = 0; i < 4; i++)
            if (i != 2) check_model(folders[i][0], folders[i][1], (cs_precision)p);
    return cs_test_done("model.fidelity");
}
