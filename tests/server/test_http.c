/* tests/server/test_http.c - the JSON API over loopback, on the fake
 * collection of harness.h: routes, queries and their weighted combinations,
 * paging, uploads (raw, multipart, base64), thumbnails, originals, errors. */
#include <pthread.h>

#include "harness.h"

#include <jpeglib.h> /* after stdio.h, which it needs */

static int port;

static void test_health_and_stats(void) {
    reply r;
    get(port, "/healthz", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, "\"status\":\"ok\"") != NULL);
    CHECK(header_has(&r, "Content-Type: application/json"));
    free(r.body);
    get(port, "/api/stats", &r);
    json_t *doc = body_json(&r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_integer_value(json_object_get(doc, "images")), FAKE_N);
    CHECK_EQ_INT(json_integer_value(json_object_get(doc, "dim")), FAKE_DIM);
    json_decref(doc);
    free(r.body);
}

static void expect_ids(const char *method, const char *path, const char *ctype, const char *body,
                       const char *want) {
    reply r;
    request(port, method, path, ctype, body, body ? strlen(body) : 0, &r);
    char ids[256];
    result_ids(&r, ids, sizeof ids);
    CHECK_MSG(r.status == 200 && !strcmp(ids, want), "%s %s %s: status %d, ids [%s], want [%s]: %s",
              method, path, body ? body : "", r.status, ids, want, r.body);
    free(r.body);
}

static void test_text_search(void) {
    reply r;
    get(port, "/api/search?q=green&k=3", &r);
    CHECK_EQ_INT(r.status, 200);
    json_t *doc = body_json(&r), *res = json_object_get(doc, "results");
    CHECK_EQ_INT(json_array_size(res), 3);
    json_t *first = json_array_get(res, 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(first, "id")), 1);
    CHECK(fabs(json_real_value(json_object_get(first, "score")) - 1.0) < 1e-6);
    CHECK(!strcmp(json_string_value(json_object_get(first, "thumb")), "/api/thumb/1"));
    CHECK(!strcmp(json_string_value(json_object_get(first, "image")), "/api/image/1"));
    CHECK(!strcmp(json_string_value(json_object_get(first, "name")), "img1.png"));
    CHECK(strstr(json_string_value(json_object_get(first, "path")), "/img1.png") != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(first, "width")), 1000);
    CHECK_EQ_INT(json_integer_value(json_object_get(first, "height")), 500);
    json_t *second = json_array_get(res, 1); /* (red + green)/sqrt 2: cos = 1/sqrt 2 */
    CHECK_EQ_INT(json_integer_value(json_object_get(second, "id")), 3);
    CHECK(fabs(json_real_value(json_object_get(second, "score")) - 0.707107) < 1e-5);
    CHECK(json_is_true(json_object_get(doc, "more")));
    json_decref(doc);
    free(r.body);

    /* rclip syntax: sums of unit vectors, "-" subtracts, "N:" weighs */
    expect_ids("GET", "/api/search?q=red%20%2B%20green&k=3", NULL, NULL, "3,0,1");
    expect_ids("GET", "/api/search?q=red%20-%20green&k=2", NULL, NULL, "0,5");
    expect_ids("GET", "/api/search?q=red%20%2B%203:blue&k=2", NULL, NULL, "2,5");
    /* paging: offset skips, "more" turns false at the end */
    expect_ids("GET", "/api/search?q=red&k=2&offset=1", NULL, NULL, "3,5");
    get(port, "/api/search?q=red&k=5&offset=5", &r);
    doc = body_json(&r);
    CHECK_EQ_INT(json_array_size(json_object_get(doc, "results")), 5);
    CHECK(json_is_false(json_object_get(doc, "more")));
    json_decref(doc);
    free(r.body);
}

/* Paging through a query, or asking it again, does not run the model again. */
static void test_query_memo(void) {
    reply r;
    int before = __atomic_load_n(&fake_text_calls, __ATOMIC_RELAXED);
    for (int page = 0; page < 3; page++) {
        char path[64];
        snprintf(path, sizeof path, "/api/search?q=white&k=2&offset=%d", 2 * page);
        get(port, path, &r);
        CHECK_EQ_INT(r.status, 200);
        free(r.body);
    }
    CHECK_EQ_INT(__atomic_load_n(&fake_text_calls, __ATOMIC_RELAXED) - before, 1);
    get(port, "/api/stats", &r);
    json_t *doc = body_json(&r), *qc = json_object_get(doc, "query_cache");
    CHECK(json_integer_value(json_object_get(qc, "hits")) >= 2);
    json_decref(doc);
    free(r.body);
}

static void test_similar(void) {
    /* id 3 = (red+green)/sqrt 2: red and green tie at 1/sqrt 2, then red+blue at 1/2 */
    expect_ids("GET", "/api/similar/3?k=3", NULL, NULL, "0,1,5");
    reply r;
    get(port, "/api/similar/42", &r);
    CHECK_EQ_INT(r.status, 404);
    free(r.body);
}

static void test_post(void) {
    /* raw image bytes (the fake "decodes" the bytes "blue") */
    expect_ids("POST", "/api/search?k=2", "image/png", "blue", "2,5");
    /* raw bytes plus a text: blue + red */
    expect_ids("POST", "/api/search?k=1&q=red", "application/octet-stream", "blue", "5");
    /* JSON: text, base64 image ("Ymx1ZQ==" = "blue"), embedding, id, terms */
    expect_ids("POST", "/api/search", "application/json", "{\"text\": \"red\", \"k\": 2}", "0,3");
    expect_ids("POST", "/api/search", "application/json",
               "{\"image_base64\": \"Ymx1ZQ\", \"text\": \"red\", \"k\": 1}", "5");
    expect_ids("POST", "/api/search", "application/json",
               "{\"image_base64\": \"data:image/png;base64,Ymx1ZQ==\", \"k\": 1}", "2");
    expect_ids("POST", "/api/search", "application/json",
               "{\"embedding\": [0,0,0,0,0,0,0,3], \"k\": 1}", "9");
    expect_ids("POST", "/api/search", "application/json",
               "{\"terms\": [{\"text\": \"red\"}, {\"id\": 1, \"weight\": 1}], \"k\": 1}", "3");
    expect_ids("POST", "/api/search", "application/json",
               "{\"text\": \"green\", \"terms\": [{\"text\": \"red\", \"weight\": -1}], \"k\": 1}",
               "1");
    /* a multipart upload from a browser form */
    const char *mp =
        "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
        "Content-Type: image/png\r\n\r\ngreen\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\n2\r\n--XyZ--\r\n";
    expect_ids("POST", "/api/search", "multipart/form-data; boundary=XyZ", mp, "1,3");
    /* a form without k: the URL's k and q count */
    const char *mp_url =
        "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
        "Content-Type: image/png\r\n\r\ngreen\r\n--XyZ--\r\n";
    expect_ids("POST", "/api/search?k=1", "multipart/form-data; boundary=XyZ", mp_url, "1");
}

static void expect_status(const char *method, const char *path, const char *ctype, const char *body,
                          int want) {
    reply r;
    request(port, method, path, ctype, body, body ? strlen(body) : 0, &r);
    json_t *doc = body_json(&r);
    CHECK_MSG(r.status == want, "%s %s: status %d, want %d (%s)", method, path, r.status, want,
              r.body);
    if (want >= 400) /* errors are JSON with a message */
        CHECK_MSG(json_is_string(json_object_get(doc, "error")) &&
                      json_integer_value(json_object_get(doc, "status")) == want,
                  "%s %s: not a JSON error: %s", method, path, r.body);
    json_decref(doc);
    free(r.body);
}

static void test_errors(void) {
    expect_status("GET", "/api/search", NULL, NULL, 400);    /* no q */
    expect_status("GET", "/api/search?q=", NULL, NULL, 400); /* empty q */
    expect_status("GET", "/api/search?q=red&k=0", NULL, NULL, 400);
    expect_status("GET", "/api/search?q=red&k=abc", NULL, NULL, 400);
    expect_status("GET", "/api/search?q=red&k=-1", NULL, NULL, 400);
    expect_status("GET", "/api/search?q=red&k=100000", NULL, NULL, 400);
    expect_status("GET", "/api/search?q=red&offset=x", NULL, NULL, 400);
    expect_status("GET", "/api/search?q=purple", NULL, NULL, 400); /* the fake cannot embed it */
    expect_status("GET", "/api/search?q=red%20-%20red", NULL, NULL, 400); /* cancels out */
    expect_status("POST", "/api/search", "application/json", "{\"text\": ", 400);
    expect_status("POST", "/api/search", "application/json", "[1, 2]", 400);
    expect_status("POST", "/api/search", "application/json", "{\"txet\": \"red\"}", 400);
    expect_status("POST", "/api/search", "application/json", "{\"text\": 5}", 400);
    expect_status("POST", "/api/search", "application/json", "{\"embedding\": [1, 2]}", 400);
    expect_status("POST", "/api/search", "application/json", "{\"embedding\": [0,0,0,0,0,0,0,0]}",
                  400);
    expect_status("POST", "/api/search", "application/json", "{\"image_base64\": \"%%%\"}", 400);
    expect_status("POST", "/api/search", "application/json", "{\"id\": 77}", 404);
    expect_status("POST", "/api/search", "application/json", "{\"text\": \"red\", \"k\": 0}", 400);
    expect_status("POST", "/api/search", "application/json",
                  "{\"terms\": [{\"text\": \"red\", \"id\": 1}]}", 400);
    expect_status("POST", "/api/search", "application/json",
                  "{\"text\": \"red\", \"text\": \"blue\"}", 400); /* duplicate key */
    expect_status("POST", "/api/search", "text/plain", "red", 415);
    expect_status("POST", "/api/search", "image/png", "", 400); /* empty upload */
    expect_status("POST", "/api/search", "image/png", "not an image", 400);
    expect_status("DELETE", "/api/search", NULL, NULL, 405);
    expect_status("OPTIONS", "/api/stats", NULL, NULL, 405);
    expect_status("PUT", "/", NULL, NULL, 405);
    expect_status("POST", "/api/stats", "application/json", "{}", 405);
    expect_status("GET", "/api/nothing", NULL, NULL, 404);
    expect_status("GET", "/api/thumb/10", NULL, NULL, 404);
    expect_status("GET", "/api/thumb/9", NULL, NULL, 422); /* indexed, but no longer decodes */
    expect_status("GET", "/api/image/-1", NULL, NULL, 404);
    expect_status("GET", "/api/image/1x", NULL, NULL, 404);
    expect_status("GET", "/api/image/99999999999999999999999", NULL, NULL, 404);
    /* an over-long query text */
    char path[4200] = "/api/search?q=";
    memset(path + 14, 'a', 4100);
    path[4114] = 0;
    expect_status("GET", path, NULL, NULL, 400);
    /* ... and in a JSON term: refused before the model runs on it */
    char body[4200] = "{\"terms\": [{\"text\": \"";
    size_t at = strlen(body);
    memset(body + at, 'a', 4000);
    snprintf(body + at + 4000, sizeof body - at - 4000, "\"}]}");
    int calls = __atomic_load_n(&fake_text_calls, __ATOMIC_RELAXED);
    expect_status("POST", "/api/search", "application/json", body, 400);
    CHECK_EQ_INT(__atomic_load_n(&fake_text_calls, __ATOMIC_RELAXED), calls);
}

/* Decodes a JPEG reply with libjpeg: its size and the pixel at (x, y). */
static int jpeg_info(const reply *r, int *w, int *h, int x, int y, uint8_t px[3]) {
    struct jpeg_decompress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, (const unsigned char *)r->body, r->body_len);
    if (jpeg_read_header(&c, TRUE) != JPEG_HEADER_OK) return 0;
    jpeg_start_decompress(&c);
    *w = (int)c.output_width;
    *h = (int)c.output_height;
    uint8_t *row = malloc((size_t)*w * 3);
    while (c.output_scanline < c.output_height) {
        int line = (int)c.output_scanline;
        jpeg_read_scanlines(&c, &row, 1);
        if (line == y) memcpy(px, row + 3 * x, 3);
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
    free(row);
    return 1;
}

static fake f;

/* The thumbnail of `id`: its centre pixel and ETag. */
static void thumb_of(int id, uint8_t px[3], char *etag, size_t cap) {
    char path[64];
    snprintf(path, sizeof path, "/api/thumb/%d", id);
    reply r;
    get(port, path, &r);
    CHECK_EQ_INT(r.status, 200);
    int w = 0, h = 0;
    CHECK(jpeg_info(&r, &w, &h, 160, 80, px));
    const char *et = strcasestr(r.head, "ETag: ");
    etag[0] = 0;
    if (et) snprintf(etag, cap, "%.*s", (int)strcspn(et + 6, "\r\n"), et + 6);
    free(r.body);
}

/* An image changed and indexed again under the same id: its new thumbnail
 * is served (not the cached one of the old bytes), under a new ETag. */
static void test_thumb_after_change(void) {
    uint8_t before[3], after[3];
    char etag_before[128], etag_after[128];
    thumb_of(5, before, etag_before, sizeof etag_before);
    CHECK_MSG(abs(before[2] - 40) <= 6, "blue %d before the change", before[2]);
    FILE *fp = fopen(f.paths[5], "wb");
    fprintf(fp, "\x89PNG\r\n\x1A\n-fake-image-5, changed!");
    fclose(fp);
    fake_index_file(&f, 5);
    thumb_of(5, after, etag_after, sizeof etag_after);
    CHECK_MSG(abs(after[2] - 220) <= 6, "blue %d after the change: the old thumbnail", after[2]);
    CHECK_MSG(strcmp(etag_before, etag_after) != 0, "the ETag stayed %s", etag_after);
    /* a browser revalidating with the old ETag gets the new picture */
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /api/thumb/5 HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: %s\r\n"
                     "Connection: close\r\n\r\n",
                     etag_before);
    reply r;
    raw(port, req, (size_t)n, &r);
    CHECK_EQ_INT(r.status, 200);
    free(r.body);
}

static void test_thumb_and_image(void) {
    reply r;
    get(port, "/api/thumb/2", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK(header_has(&r, "Content-Type: image/jpeg"));
    /* kept, but revalidated each time: never a stale picture under its URL */
    CHECK(header_has(&r, "Cache-Control: private, no-cache"));
    int w = 0, h = 0;
    uint8_t px[3] = {0};
    /* the 1000x500 ramp fits in 320x160; its centre pixel keeps the ramp's values */
    CHECK(r.body_len > 100 && jpeg_info(&r, &w, &h, 160, 80, px));
    CHECK_EQ_INT(w, 320);
    CHECK_EQ_INT(h, 160);
    CHECK_MSG(abs(px[0] - 128) <= 6 && abs(px[1] - 128) <= 6 && abs(px[2] - 40) <= 6,
              "centre pixel %d %d %d", px[0], px[1], px[2]);
    char etag[128] = "";
    const char *et = strcasestr(r.head, "ETag: ");
    if (et) sscanf(et + 6, "%127[^\r\n]", etag);
    CHECK(etag[0] == '"');
    free(r.body);
    /* a second fetch comes from the cache; a revalidation is a 304 */
    get(port, "/api/thumb/2", &r);
    CHECK_EQ_INT(r.status, 200);
    free(r.body);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /api/thumb/2 HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: %s\r\n"
                     "Connection: close\r\n\r\n",
                     etag);
    raw(port, req, (size_t)n, &r);
    CHECK_EQ_INT(r.status, 304);
    free(r.body);
    get(port, "/api/stats", &r);
    json_t *doc = body_json(&r), *th = json_object_get(doc, "thumbnails");
    CHECK(json_integer_value(json_object_get(th, "hits")) >= 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(th, "cached")), 1);
    json_decref(doc);
    free(r.body);

    /* the original, byte for byte, typed by its content */
    get(port, "/api/image/4", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK(header_has(&r, "Content-Type: image/png"));
    CHECK(header_has(&r, "filename*=UTF-8''img4.png"));
    CHECK(header_has(&r, "Cache-Control: private, no-cache"));
    CHECK(r.body_len == 21 && !memcmp(r.body, "\x89PNG\r\n\x1A\n-fake-image-4", 21));
    free(r.body);
    request(port, "HEAD", "/api/image/4", NULL, NULL, 0, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.body_len, 0);
    free(r.body);
}

static void test_page(void) {
    reply r;
    get(port, "/", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK(header_has(&r, "Content-Type: text/html"));
    CHECK(header_has(&r, "Content-Security-Policy: default-src 'none'"));
    CHECK(strstr(r.body, "app.js") != NULL);
    free(r.body);
    get(port, "/?q=red%20car", &r); /* the deep link is the same page */
    CHECK_EQ_INT(r.status, 200);
    free(r.body);
    get(port, "/app.js", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK(header_has(&r, "Content-Type: text/javascript"));
    free(r.body);
    get(port, "/style.css", &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK(header_has(&r, "Content-Type: text/css"));
    free(r.body);
}

/* Several threads searching at once all get the right answer. */
static void *hammer(void *arg) {
    long bad = 0;
    for (int i = 0; i < 40; i++) {
        reply r;
        const char *q = (i + (long)arg) % 2 ? "/api/search?q=blue&k=1" : "/api/similar/0?k=1";
        get(port, q, &r);
        char ids[64];
        result_ids(&r, ids, sizeof ids);
        if (r.status != 200 || strcmp(ids, (i + (long)arg) % 2 ? "2" : "3")) bad++;
        free(r.body);
    }
    return (void *)bad;
}

static void test_concurrency(void) {
    pthread_t t[8];
    for (long i = 0; i < 8; i++) pthread_create(&t[i], NULL, hammer, (void *)i);
    long bad = 0;
    for (int i = 0; i < 8; i++) {
        void *b;
        pthread_join(t[i], &b);
        bad += (long)b;
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void) {
    const char *dir = cs_test_tmpdir();
    cs_srv_backend be;
    fake_init(&f, &be, dir);
    cs_server_opts opts = {0};
    opts.port = 0; /* any free port */
    cs_server *srv = NULL;
    cs_error err = {0};
    CHECK_OK(cs_server_start_backend(&be, &opts, &srv, &err), &err);
    if (!srv) return cs_test_done("server.http");
    port = cs_server_port(srv);
    CHECK(port > 0);
    test_health_and_stats();
    test_text_search();
    test_similar();
    test_query_memo();
    test_post();
    test_errors();
    test_thumb_and_image();
    test_thumb_after_change();
    test_page();
    test_concurrency();
    cs_server_stop(srv);
    for (int i = 0; i < FAKE_N; i++) remove(f.paths[i]);
    rmdir(dir);
    return cs_test_done("server.http");
}
