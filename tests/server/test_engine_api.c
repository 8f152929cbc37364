/* tests/server/test_engine_api.c - the JSON API with the real engine (the tiny
 * model), over loopback, checked against the reference embeddings.
 *
 * The catalogue is filled with the oracle's own image embeddings (computed
 * by OpenAI's CLIP code in float64), so every score the server returns has
 * a known right answer: the cosine of the oracle's text (or image)
 * embedding with the oracle's image embeddings. Our engine embeds the query
 * text or the uploaded image; it agrees with the oracle to cos >= 0.99999,
 * so scores must agree to about 1e-5 (1e-4 for images). */
#include <pthread.h>
#include <sys/stat.h>

#include "harness.h"

#define TOL_STORED 1e-5 /* a query vector read back from the catalogue */
#define TOL_TEXT   2e-5 /* a text we embed, against the oracle's (scores have 6 decimals) */
#define TOL_IMAGE  1e-4 /* an image we decode and embed */

static int port;
static json_t *oracle;     /* expected-tiny.json */
static char names[32][64]; /* images, by catalogue id - 1 ... see id_of */
static int64_t ids[32];
static float emb[32][64]; /* their oracle embeddings, L2-normalised */
static int n_images, dim;

static void normalise(float *v) {
    double s = 0;
    for (int i = 0; i < dim; i++) s += (double)v[i] * v[i];
    s = sqrt(s);
    for (int i = 0; i < dim; i++) v[i] = (float)(v[i] / s);
}

static void oracle_vec(json_t *arr, float *out) {
    for (int i = 0; i < dim; i++) out[i] = (float)json_number_value(json_array_get(arr, (size_t)i));
    normalise(out);
}

static int text_vec(const char *text, float *out) {
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(oracle, "texts"), i, t) {
        if (!strcmp(json_string_value(json_object_get(t, "text")), text)) {
            oracle_vec(json_object_get(t, "embedding"), out);
            return 1;
        }
    }
    fprintf(stderr, "no oracle text '%s'\n", text);
    exit(1);
}

static int index_of_id(int64_t id) {
    for (int i = 0; i < n_images; i++)
        if (ids[i] == id) return i;
    return -1;
}

/* Every result's score is the cosine of `want` with that image's oracle
 * embedding (within tol); the results come best first; none is missing
 * that should rank above the last one shown. */
static void check_results(const reply *r, const float *want, double tol, int64_t exclude,
                          const char *what) {
    json_t *doc = body_json(r), *res = json_object_get(doc, "results"), *x;
    CHECK_MSG(r->status == 200 && json_array_size(res) > 0, "%s: status %d: %s", what, r->status,
              r->body);
    size_t i;
    double prev = 2, last = 2;
    json_array_foreach(res, i, x) {
        int64_t id = json_integer_value(json_object_get(x, "id"));
        int k = index_of_id(id);
        double score = json_real_value(json_object_get(x, "score"));
        CHECK_MSG(k >= 0 && id != exclude, "%s: unexpected id %lld", what, (long long)id);
        if (k < 0) continue;
        double expect = 0;
        for (int d = 0; d < dim; d++) expect += (double)want[d] * emb[k][d];
        CHECK_MSG(fabs(score - expect) <= tol, "%s: %s scores %.6f, expected %.6f", what, names[k],
                  score, expect);
        CHECK_MSG(score <= prev + 1e-9, "%s: results out of order at %zu", what, i);
        const char *path = json_string_value(json_object_get(x, "path"));
        CHECK_MSG(path && strstr(path, names[k]), "%s: path %s for %s", what, path, names[k]);
        prev = last = score;
    }
    /* nothing left out: every image scoring clearly above the last shown is shown */
    for (int k = 0; k < n_images; k++) {
        if (ids[k] == exclude) continue;
        double expect = 0;
        for (int d = 0; d < dim; d++) expect += (double)want[d] * emb[k][d];
        if (expect <= last + 2 * tol) continue;
        int found = 0;
        json_array_foreach(res, i, x) found |=
            json_integer_value(json_object_get(x, "id")) == ids[k];
        CHECK_MSG(found, "%s: %s (expected %.4f) missing", what, names[k], expect);
    }
    json_decref(doc);
}

static void test_text_queries(void) {
    static const char *const texts[] = {"a photo of a cat", "rocket launch",
                                        "galaxies in deep space", "old chinese temple with trees"};
    float want[64];
    for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
        char path[256], enc[200];
        size_t o = 0;
        for (const char *p = texts[t]; *p; p++)
            o += (size_t)snprintf(enc + o, sizeof enc - o, *p == ' ' ? "%%20" : "%c", *p);
        snprintf(path, sizeof path, "/api/search?q=%s&k=10", enc);
        reply r;
        get(port, path, &r);
        text_vec(texts[t], want);
        check_results(&r, want, TOL_TEXT, -1, texts[t]);
        free(r.body);
    }
    /* rclip's combination: rocket launch + 2 x ball - animal */
    float a[64], b[64], c[64];
    text_vec("rocket launch", a);
    text_vec("ball", b);
    text_vec("animal", c);
    for (int d = 0; d < dim; d++) want[d] = a[d] + 2 * b[d] - c[d];
    normalise(want);
    reply r;
    get(port, "/api/search?q=rocket%20launch%20%2B%202:ball%20-%20animal&k=25", &r);
    check_results(&r, want, 3 * TOL_TEXT, -1, "rocket launch + 2:ball - animal");
    free(r.body);
}

static char *slurp(const char *path, size_t *n) {
    return cs_test_read(path, n);
}

static void test_image_queries(void) {
    int k = index_of_id(ids[0]);
    for (k = 0; k < n_images && strcmp(names[k], "chelsea.png"); k++) {
    }
    size_t n;
    char *bytes = slurp(cs_test_oracle_path("images/chelsea.png"), &n);
    reply r;
    request(port, "POST", "/api/search?k=5", "image/png", bytes, n, &r);
    check_results(&r, emb[k], TOL_IMAGE, -1, "upload chelsea.png");
    json_t *doc = body_json(&r), *top = json_array_get(json_object_get(doc, "results"), 0);
    CHECK(strstr(json_string_value(json_object_get(top, "name")), "chelsea") != NULL);
    CHECK(json_real_value(json_object_get(top, "score")) > 0.999);
    json_decref(doc);
    free(r.body);

    /* multipart, as a browser form sends it */
    size_t cap = n + 512, o = 0;
    char *form = malloc(cap);
    o += (size_t)snprintf(form, cap,
                          "--b0undary\r\nContent-Disposition: form-data; name=\"image\"; "
                          "filename=\"chelsea.png\"\r\nContent-Type: image/png\r\n\r\n");
    memcpy(form + o, bytes, n);
    o += n;
    o += (size_t)snprintf(form + o, cap - o, "\r\n--b0undary--\r\n");
    request(port, "POST", "/api/search", "multipart/form-data; boundary=b0undary", form, o, &r);
    check_results(&r, emb[k], TOL_IMAGE, -1, "multipart chelsea.png");
    free(r.body);
    free(form);

    /* JSON: half the image plus the text "animal" */
    size_t b64n = 4 * ((n + 2) / 3) + 1;
    char *b64 = malloc(b64n);
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)bytes[i] << 16;
        if (i + 1 < n) v |= (uint32_t)(unsigned char)bytes[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)bytes[i + 2];
        b64[j++] = al[v >> 18];
        b64[j++] = al[(v >> 12) & 63];
        b64[j++] = i + 1 < n ? al[(v >> 6) & 63] : '=';
        b64[j++] = i + 2 < n ? al[v & 63] : '=';
    }
    b64[j] = 0;
    char *json = malloc(j + 128);
    int jl = snprintf(json, j + 128,
                      "{\"image_base64\": \"%s\", \"image_weight\": 0.5, "
                      "\"text\": \"animal\", \"k\": 8}",
                      b64);
    request(port, "POST", "/api/search", "application/json", json, (size_t)jl, &r);
    float want[64], t[64];
    text_vec("animal", t);
    for (int d = 0; d < dim; d++) want[d] = 0.5f * emb[k][d] + t[d];
    normalise(want);
    check_results(&r, want, TOL_IMAGE, -1, "json image*0.5 + animal");
    free(r.body);
    free(json);
    free(b64);
    free(bytes);

    /* similar: the stored vector itself, the image left out */
    char path[64];
    snprintf(path, sizeof path, "/api/similar/%lld?k=6", (long long)ids[k]);
    get(port, path, &r);
    check_results(&r, emb[k], TOL_STORED, ids[k], "similar to chelsea.png");
    free(r.body);
}

/* Many clients at once share the one model: every answer is still right. */
static const char *const busy_texts[] = {"ball", "animal", "rocket launch", "wooden texture"};

static void *client(void *arg) {
    long t = (long)arg;
    for (int i = 0; i < 6; i++) {
        const char *text = busy_texts[(t + i) % 4];
        char path[128], enc[64];
        size_t o = 0;
        for (const char *p = text; *p; p++)
            o += (size_t)snprintf(enc + o, sizeof enc - o, *p == ' ' ? "%%20" : "%c", *p);
        snprintf(path, sizeof path, "/api/search?q=%s&k=3", enc);
        reply r;
        get(port, path, &r);
        float want[64];
        text_vec(text, want);
        check_results(&r, want, TOL_TEXT, -1, text); /* a failure counts in the total */
        free(r.body);
    }
    return NULL;
}

static void test_concurrent_clients(void) {
    pthread_t th[8];
    for (long t = 0; t < 8; t++) pthread_create(&th[t], NULL, client, (void *)t);
    for (int t = 0; t < 8; t++) pthread_join(th[t], NULL);
}

/* Broken uploads are refused by the hardened decoders, with a reason. */
static void test_bad_uploads(void) {
    static const char *const bad[] = {"corrupt.jpg",   "empty.png",      "garbage.webp",
                                      "huge_dims.jpg", "text_named.jpg", "truncated.png"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "bad/%s", bad[i]);
        size_t n;
        char *bytes = slurp(cs_test_oracle_path(rel), &n);
        reply r;
        request(port, "POST", "/api/search", "image/jpeg", bytes, n, &r);
        json_t *doc = body_json(&r);
        CHECK_MSG(r.status >= 400 && r.status < 500 &&
                      json_is_string(json_object_get(doc, "error")),
                  "upload %s: status %d: %s", bad[i], r.status, r.body);
        if (!strcmp(bad[i], "huge_dims.jpg")) CHECK_EQ_INT(r.status, 413);
        json_decref(doc);
        free(r.body);
        free(bytes);
    }
    reply r;
    get(port, "/healthz", &r);
    CHECK_EQ_INT(r.status, 200);
    free(r.body);
}

static void test_files(void) {
    for (int k = 0; k < n_images; k++) {
        char path[64];
        reply r;
        snprintf(path, sizeof path, "/api/image/%lld", (long long)ids[k]);
        get(port, path, &r);
        char rel[96];
        snprintf(rel, sizeof rel, "images/%s", names[k]);
        size_t n;
        char *want = slurp(cs_test_oracle_path(rel), &n);
        CHECK_MSG(r.status == 200 && r.body_len == n && !memcmp(r.body, want, n),
                  "original of %s: status %d, %zu bytes", names[k], r.status, r.body_len);
        free(want);
        free(r.body);
        snprintf(path, sizeof path, "/api/thumb/%lld", (long long)ids[k]);
        get(port, path, &r);
        CHECK_MSG(r.status == 200 && r.body_len > 100 && !memcmp(r.body, "\xFF\xD8\xFF", 3),
                  "thumbnail of %s: status %d", names[k], r.status);
        free(r.body);
    }
    reply r;
    get(port, "/api/stats", &r);
    json_t *doc = body_json(&r);
    CHECK_EQ_INT(json_integer_value(json_object_get(doc, "images")), n_images);
    CHECK_EQ_INT(json_integer_value(json_object_get(doc, "dim")), dim);
    /* rows stored by cs_db_put: one group, its precision not recorded */
    json_t *prec = json_object_get(doc, "precisions");
    CHECK_EQ_INT(json_array_size(prec), 1);
    CHECK(json_is_null(json_object_get(json_array_get(prec, 0), "precision")));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(prec, 0), "count")), n_images);
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(doc, "model"), "precision")),
                 "fp32");
    json_decref(doc);
    free(r.body);
}

/* Fills a fresh catalogue with the oracle's embeddings of images/. */
static cs_db *make_db(cs_model *model, const char *dir) {
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    dim = mi.embed_dim;
    char path[512];
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    cs_db_opts o = {0};
    o.model_id = mi.id;
    o.dim = dim;
    o.flags = CS_DB_CREATE;
    cs_db *db = NULL;
    cs_error err = {0};
    CHECK_OK(cs_db_open(path, &o, &db, &err), &err);
    const char *name;
    json_t *img;
    json_object_foreach(json_object_get(oracle, "images"), name, img) {
        char rel[96], file[1024];
        snprintf(rel, sizeof rel, "images/%s", name);
        snprintf(file, sizeof file, "%s", cs_test_oracle_path(rel));
        char real[4096];
        if (!realpath(file, real)) continue;
        size_t n;
        char *bytes = slurp(real, &n);
        struct stat st;
        stat(real, &st);
        cs_image pix = {0};
        CHECK_OK(cs_image_decode_file(real, NULL, &pix, &err), &err);
        cs_db_entry e = {0};
        e.path = real;
        e.size = (int64_t)n;
        e.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        cs_hash128(bytes, n, e.hash);
        e.width = pix.width;
        e.height = pix.height;
        oracle_vec(json_object_get(img, "embedding"), emb[n_images]);
        e.embedding = emb[n_images];
        CHECK_OK(cs_db_put(db, &e, 1, &err), &err);
        CHECK_OK(cs_db_find(db, real, &ids[n_images], &err), &err);
        snprintf(names[n_images], sizeof names[n_images], "%s", name);
        n_images++;
        cs_image_free(&pix);
        free(bytes);
    }
    return db;
}

int main(void) {
    cs_test_oracle();
    json_error_t jerr;
    oracle = json_load_file(cs_test_oracle_path("expected-tiny.json"), JSON_ALLOW_NUL, &jerr);
    CHECK(oracle != NULL);
    cs_model *model = NULL;
    cs_error err = {0};
    CHECK_OK(cs_model_open(cs_test_oracle_path("models/tiny"), NULL, &model, &err), &err);
    if (!oracle || !model) return cs_test_done("server.engine_api");
    const char *dir = cs_test_tmpdir();
    cs_db *db = make_db(model, dir);
    cs_server *srv = NULL;
    CHECK_OK(cs_server_start(model, db, NULL, &srv, &err), &err);
    if (srv) {
        port = cs_server_port(srv);
        test_text_queries();
        test_image_queries();
        test_concurrent_clients();
        test_bad_uploads();
        test_files();
        cs_server_stop(srv);
    }
    cs_db_close(db);
    cs_model_close(model);
    json_decref(oracle);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return cs_test_done("server.engine_api");
}
