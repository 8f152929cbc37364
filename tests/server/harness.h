/* tests/server/harness.h - what the server's C tests share: a raw HTTP
 * client over loopback (so malformed requests can be sent byte for byte)
 * and a small fake collection, so the HTTP layer is tested without a model.
 *
 * The fake collection lives in an 8-dimensional space whose first axes have
 * names: the text or image "red" embeds to axis 0, "green" to axis 1, "blue"
 * to axis 2, "white" to axis 3. Its images are:
 *   id 0: red   id 1: green   id 2: blue   id 3: (red + green) / sqrt 2
 *   id 4: white id 5: (red + blue) / sqrt 2  ... id 9
 * so every search result and score below follows from the definitions. */
#ifndef CS_TEST_SERVER_HARNESS_H
#define CS_TEST_SERVER_HARNESS_H

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "clipsearch/index.h" /* cs_hash128 */
#include "server/backend.h"
#include "test.h"

#define FAKE_DIM 8
#define FAKE_N   10

typedef struct fake {
    float vec[FAKE_N][FAKE_DIM];
    char paths[FAKE_N][256];
    int width[FAKE_N], height[FAKE_N];
    int64_t size[FAKE_N], mtime_ns[FAKE_N]; /* what "indexing" saw */
    uint8_t hash[FAKE_N][16];
} fake;

static inline int fake_axis(const char *s, size_t n) {
    static const char *const names[] = {"red", "green", "blue", "white"};
    for (int i = 0; i < 4; i++)
        if (strlen(names[i]) == n && !memcmp(s, names[i], n)) return i;
    return -1;
}

static inline cs_status fake_embed(const char *s, size_t n, float *out, cs_error *err) {
    int axis = fake_axis(s, n);
    if (axis < 0) {
        snprintf(err->message, sizeof err->message, "fake: cannot embed '%.*s'", (int)n, s);
        err->status = CS_EFORMAT;
        return CS_EFORMAT;
    }
    memset(out, 0, sizeof(float) * FAKE_DIM);
    out[axis] = 1.0f;
    return CS_OK;
}

static int fake_text_calls; /* how often the "model" ran on a text */

static inline cs_status fake_embed_text(void *ctx, const char *text, float *out, cs_error *err) {
    (void)ctx;
    __atomic_add_fetch(&fake_text_calls, 1, __ATOMIC_RELAXED);
    return fake_embed(text, strlen(text), out, err);
}

static inline cs_status fake_embed_image(void *ctx, const void *data, size_t size, float *out,
                                         cs_error *err) {
    (void)ctx;
    return fake_embed(data, size, out, err);
}

static inline cs_status fake_item_vector(void *ctx, int64_t id, float *out, cs_error *err) {
    fake *f = ctx;
    if (id < 0 || id >= FAKE_N) {
        err->status = CS_ENOTFOUND;
        snprintf(err->message, sizeof err->message, "no image with id %lld", (long long)id);
        return CS_ENOTFOUND;
    }
    memcpy(out, f->vec[id], sizeof f->vec[id]);
    return CS_OK;
}

static inline cs_status fake_search(void *ctx, const float *q, int k, int64_t exclude,
                                    cs_result **hits, int *n, cs_error *err) {
    (void)err;
    fake *f = ctx;
    cs_result all[FAKE_N];
    int m = 0;
    for (int i = 0; i < FAKE_N; i++) {
        if (i == exclude) continue;
        float s = 0;
        for (int d = 0; d < FAKE_DIM; d++) s += q[d] * f->vec[i][d];
        all[m++] = (cs_result){.id = i, .score = s, .width = f->width[i], .height = f->height[i]};
    }
    for (int i = 1; i < m; i++) /* insertion sort: best first, ties by id */
        for (int j = i; j > 0 && all[j].score > all[j - 1].score; j--) {
            cs_result t = all[j];
            all[j] = all[j - 1];
            all[j - 1] = t;
        }
    *n = k < m ? k : m;
    *hits = malloc(sizeof(cs_result) * (size_t)(*n ? *n : 1));
    for (int i = 0; i < *n; i++) {
        (*hits)[i] = all[i];
        (*hits)[i].path = strdup(f->paths[all[i].id]);
    }
    return CS_OK;
}

static inline cs_status fake_item(void *ctx, int64_t id, cs_srv_item *out, cs_error *err) {
    fake *f = ctx;
    if (id < 0 || id >= FAKE_N) {
        err->status = CS_ENOTFOUND;
        return CS_ENOTFOUND;
    }
    out->id = id;
    out->width = f->width[id];
    out->height = f->height[id];
    out->size = f->size[id];
    out->mtime_ns = f->mtime_ns[id];
    memcpy(out->hash, f->hash[id], 16);
    snprintf(out->path, sizeof out->path, "%s", f->paths[id]);
    return CS_OK;
}

/* Records what the file of image i is now, as indexing would. */
static inline void fake_index_file(fake *f, int i) {
    FILE *fp = fopen(f->paths[i], "rb");
    char buf[4096];
    size_t n = fp ? fread(buf, 1, sizeof buf, fp) : 0;
    if (fp) fclose(fp);
    struct stat st;
    if (stat(f->paths[i], &st) == 0) {
        f->size[i] = (int64_t)st.st_size;
        f->mtime_ns[i] = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    }
    cs_hash128(buf, n, f->hash[i]);
}

static inline cs_status fake_stats(void *ctx, json_t *obj, cs_error *err) {
    (void)ctx, (void)err;
    json_object_set_new(obj, "images", json_integer(FAKE_N));
    return CS_OK;
}

/* A horizontal ramp: red = x * 255 / (w - 1), green = y * 255 / (h - 1),
 * blue 40, or 220 when the file's bytes end with '!' (a changed image). */
static inline cs_status fake_decode(void *ctx, const cs_srv_item *it, const void *data, size_t size,
                                    int min_side, cs_image *out, cs_error *err) {
    (void)ctx, (void)min_side;
    uint8_t blue = size && ((const char *)data)[size - 1] == '!' ? 220 : 40;
    if (it->width <= 0) {
        err->status = CS_EFORMAT;
        snprintf(err->message, sizeof err->message, "%.200s: not an image", it->path);
        return CS_EFORMAT;
    }
    int w = it->width, h = it->height;
    out->width = w;
    out->height = h;
    out->rgb = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = out->rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(y * 255 / (h - 1));
            p[2] = blue;
        }
    return CS_OK;
}

static inline void fake_image_free(void *ctx, cs_image *img) {
    (void)ctx;
    free(img->rgb);
    img->rgb = NULL;
}

/* Fills f (its files are created in dir) and the backend over it. */
static inline void fake_init(fake *f, cs_srv_backend *be, const char *dir) {
    memset(f, 0, sizeof *f);
    const float r2 = 1.0f / sqrtf(2.0f);
    int axis[FAKE_N][2] = {{0, -1}, {1, -1}, {2, -1}, {0, 1},  {3, -1},
                           {0, 2},  {4, -1}, {5, -1}, {6, -1}, {7, -1}};
    for (int i = 0; i < FAKE_N; i++) {
        if (axis[i][1] < 0)
            f->vec[i][axis[i][0]] = 1.0f;
        else
            f->vec[i][axis[i][0]] = f->vec[i][axis[i][1]] = r2;
        snprintf(f->paths[i], sizeof f->paths[i], "%s/img%d.png", dir, i);
        f->width[i] = 1000;
        f->height[i] = 500;
        FILE *fp = fopen(f->paths[i], "wb");
        fprintf(fp, "\x89PNG\r\n\x1A\n-fake-image-%d", i);
        fclose(fp);
        fake_index_file(f, i);
    }
    f->width[9] = 0; /* id 9: a file that no longer decodes */
    *be = (cs_srv_backend){f,
                           FAKE_DIM,
                           fake_embed_text,
                           fake_embed_image,
                           fake_item_vector,
                           fake_search,
                           fake_item,
                           fake_stats,
                           fake_decode,
                           fake_image_free,
                           NULL /* no duplicates: /api/duplicates answers 501 */,
                           NULL};
}

/* The fake backend, over its files in the test's temporary folder. */
static inline cs_srv_backend fake_backend(void) {
    static fake f;
    cs_srv_backend be;
    fake_init(&f, &be, cs_test_tmpdir());
    return be;
}

/* Removes the fake's files and their folder. */
static inline void fake_remove(const cs_srv_backend *be) {
    const fake *f = be->ctx;
    for (int i = 0; i < FAKE_N; i++) remove(f->paths[i]);
    char dir[sizeof f->paths[0]];
    snprintf(dir, sizeof dir, "%s", f->paths[0]);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    if (slash) rmdir(dir);
}

/* A server over be with opts; NULL (and the test failed) when it cannot start. */
static inline cs_server *start_server(const cs_srv_backend *be, const cs_server_opts *opts) {
    cs_error err = {0};
    cs_server *srv = NULL;
    CHECK_OK(cs_server_start_backend(be, opts, &srv, &err), &err);
    return srv;
}

/* ---- a raw HTTP client ---------------------------------------------------------- */

typedef struct reply {
    int status;
    char head[8192];
    char *body;
    size_t body_len;
} reply;

static inline int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline void send_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return; /* the server may hang up early: that is an answer too */
        p += w;
        n -= (size_t)w;
    }
}

/* Reads until the server closes; splits head and body. status 0: no reply. */
static inline void read_reply(int fd, reply *r) {
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap) buf = realloc(buf, cap *= 2);
        ssize_t got = recv(fd, buf + len, cap - len - 1, 0);
        if (got <= 0) break;
        len += (size_t)got;
    }
    buf[len] = 0;
    memset(r, 0, sizeof *r);
    char *sep = strstr(buf, "\r\n\r\n");
    if (len < 12 || !sep) {
        free(buf);
        r->body = calloc(1, 1);
        return;
    }
    size_t hl = (size_t)(sep - buf);
    if (hl >= sizeof r->head) hl = sizeof r->head - 1;
    memcpy(r->head, buf, hl);
    r->status = atoi(buf + 9);
    r->body_len = len - (size_t)(sep + 4 - buf);
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, sep + 4, r->body_len);
    r->body[r->body_len] = 0;
    free(buf);
}

/* Sends raw bytes on a fresh connection and reads the whole reply. */
static inline void raw(int port, const void *req, size_t n, reply *r) {
    int fd = connect_to(port);
    if (fd < 0) {
        memset(r, 0, sizeof *r);
        r->body = calloc(1, 1);
        return;
    }
    send_all(fd, req, n);
    read_reply(fd, r);
    close(fd);
}

/* METHOD path with an optional body and content type. */
static inline void request(int port, const char *method, const char *path, const char *ctype,
                           const void *body, size_t n, reply *r) {
    size_t cap = strlen(path) + 512;
    char *head = malloc(cap);
    int hl = snprintf(head, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n",
                      method, path, port);
    if (ctype) hl += snprintf(head + hl, cap - (size_t)hl, "Content-Type: %s\r\n", ctype);
    if (body || !strcmp(method, "POST"))
        hl += snprintf(head + hl, cap - (size_t)hl, "Content-Length: %zu\r\n", n);
    hl += snprintf(head + hl, cap - (size_t)hl, "\r\n");
    char *all = malloc((size_t)hl + n);
    memcpy(all, head, (size_t)hl);
    if (n) memcpy(all + hl, body, n);
    raw(port, all, (size_t)hl + n, r);
    free(all);
    free(head);
}

static inline void get(int port, const char *path, reply *r) {
    request(port, "GET", path, NULL, NULL, 0, r);
}

/* The JSON body of a reply (NULL if it is not JSON). */
static json_t *body_json(const reply *r) {
    return json_loadb(r->body, r->body_len, 0, NULL);
}

/* The ids of {"results": [...]} in order, as "0,3,5". */
static inline void result_ids(const reply *r, char *out, size_t cap) {
    json_t *doc = body_json(r), *res = json_object_get(doc, "results"), *x;
    size_t i, o = 0;
    out[0] = 0;
    json_array_foreach(res, i, x) {
        o += (size_t)snprintf(out + o, cap - o, "%s%lld", i ? "," : "",
                              (long long)json_integer_value(json_object_get(x, "id")));
    }
    json_decref(doc);
}

static inline int header_has(const reply *r, const char *needle) {
    return strcasestr(r->head, needle) != NULL;
}

#endif
