/* tests/fuzz/fuzz_http.c - libFuzzer harness for the server as a client
 * reaches it: each input is sent as the raw bytes of a request to a running
 * server (loopback, a small fake collection), so it covers every parser on
 * the way - the request line and the URL arguments (with our unescaping and
 * the cap on their number), the headers, chunked bodies, multipart and
 * urlencoded forms (with our field handling and mid-body refusals), JSON
 * and image bodies, the routes and ids. fuzz_query.c covers the JSON query
 * and rclip's syntax faster, in process.
 *
 *   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCS_FUZZ=ON -DCS_SANITIZE=ON
 *   cmake --build build-fuzz --target fuzz_http
 *   tests/fuzz/make_http_seeds.sh /tmp/http-seeds
 *   build-fuzz/tests/fuzz_http -detect_leaks=0 -runs=1000000 /tmp/http-corpus /tmp/http-seeds
 *
 * -detect_leaks=0: libFuzzer's leak check after an input runs whenever more
 * was allocated than freed during it, which the server's threads do all the
 * time (caches, connections that outlive the input); each check stops the
 * world and scans the heap, and made most of the run time. LeakSanitizer
 * still checks the whole run when the process exits.
 *
 * It aborts when the server crashes (the sanitizers), holds a connection
 * past its deadlines (for 10 s of a machine that runs it), answers anything
 * but HTTP or a 5xx other than 505, or sends a byte of the secret file that
 * one indexed image's path has been replaced by a symbolic link to. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clipsearch/index.h" /* cs_hash128 */
#include "core/error.h"
#include "server/backend.h"

#define DIM 4
#define N   3 /* 0: an image, 1: a link to the secret, 2: an image that does not decode */

static const char img_bytes[] = "\x89PNG\r\n\x1A\n-fuzz-image";
static cs_srv_item items[N];
static int port;
static cs_server *server; /* runs until the fuzzer exits */

static cs_status embed_text(void *ctx, const char *text, float *out, cs_error *err) {
    (void)ctx;
    if (!*text) return cs_fail(err, CS_EINVAL, "empty text");
    memset(out, 0, sizeof(float) * DIM);
    out[(unsigned char)text[0] % DIM] = 1;
    return CS_OK;
}
static cs_status embed_image(void *ctx, const void *data, size_t n, float *out, cs_error *err) {
    (void)ctx;
    if (n < 4 || memcmp(data, "\x89PNG", 4)) return cs_fail(err, CS_EFORMAT, "upload: not a PNG");
    memset(out, 0, sizeof(float) * DIM);
    out[n % DIM] = 1;
    return CS_OK;
}
static cs_status item_vector(void *ctx, int64_t id, float *out, cs_error *err) {
    (void)ctx;
    if (id < 0 || id >= N) return cs_fail(err, CS_ENOTFOUND, "no image %lld", (long long)id);
    memset(out, 0, sizeof(float) * DIM);
    out[id % DIM] = 1;
    return CS_OK;
}
static cs_status search(void *ctx, const float *q, int k, int64_t exclude, cs_result **hits, int *n,
                        cs_error *err) {
    (void)ctx, (void)q, (void)err;
    *hits = calloc(N, sizeof **hits);
    *n = 0;
    for (int i = 0; i < N && *n < k; i++)
        if (i != exclude) (*hits)[(*n)++] = (cs_result){i, 0.5f, strdup(items[i].path), 8, 8};
    return CS_OK;
}
static cs_status item(void *ctx, int64_t id, cs_srv_item *out, cs_error *err) {
    (void)ctx;
    if (id < 0 || id >= N) return cs_fail(err, CS_ENOTFOUND, "no image %lld", (long long)id);
    *out = items[id];
    return CS_OK;
}
static cs_status stats(void *ctx, json_t *obj, cs_error *err) {
    (void)ctx, (void)err;
    json_object_set_new(obj, "images", json_integer(N));
    return CS_OK;
}
static cs_status decode(void *ctx, const cs_srv_item *it, const void *data, size_t size,
                        int min_side, cs_image *out, cs_error *err) {
    (void)ctx, (void)data, (void)size, (void)min_side;
    if (it->id == 2) return cs_fail(err, CS_EFORMAT, "does not decode");
    out->width = out->height = 8;
    out->rgb = calloc(8 * 8 * 3, 1);
    return out->rgb ? CS_OK : cs_fail(err, CS_ENOMEM, "out of memory");
}
static void image_free(void *ctx, cs_image *img) {
    (void)ctx;
    free(img->rgb);
    img->rgb = NULL;
}
/* /api/duplicates over a real catalogue of the same images (0 and 2 alike),
 * so that its arguments and its answer are fuzzed, not a 501. */
static cs_db *dups_db;
static cs_status duplicates(void *ctx, const cs_dups_opts *opts, cs_dups **out, cs_error *err) {
    (void)ctx;
    return cs_db_duplicates(dups_db, opts, out, err);
}
static void fail(const cs_error *err) {
    fprintf(stderr, "%s\n", err->message);
    abort();
}
static void make_dups_db(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/fuzz.db", dir);
    cs_db_opts o = {.model_id = "fuzz", .dim = DIM, .flags = CS_DB_CREATE};
    cs_error err;
    if (cs_db_open(path, &o, &dups_db, &err) != CS_OK) fail(&err);
    for (int i = 0; i < N; i++) {
        float v[DIM] = {0};
        v[i % 2] = 1;
        cs_db_entry e = {
            .path = items[i].path, .size = items[i].size, .width = 8, .height = 8, .embedding = v};
        if (cs_db_put(dups_db, &e, 1, &err) != CS_OK) fail(&err);
    }
    if (cs_db_finish(dups_db, NULL, &err) != CS_OK) fail(&err);
}

static void make_item(int i, const char *path) {
    struct stat st;
    items[i].id = i;
    items[i].width = items[i].height = 8;
    snprintf(items[i].path, sizeof items[i].path, "%s", path);
    if (stat(path, &st) == 0) {
        items[i].size = (int64_t)st.st_size;
        items[i].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    }
    cs_hash128(img_bytes, sizeof img_bytes - 1, items[i].hash);
}

static void write_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) abort();
    fclose(f);
}

static void start(void) {
    static char dir[] = "/tmp/cs-fuzz-http-XXXXXX";
    if (!mkdtemp(dir)) abort();
    char path[4096], secret[4096];
    snprintf(secret, sizeof secret, "%s/secret", dir);
    write_file(secret, "SECRET-BYTES-SECRET-BYTES", 25);
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "%s/img%d.png", dir, i);
        write_file(path, img_bytes, sizeof img_bytes - 1);
        make_item(i, path);
    }
    /* image 1, as indexed, then swapped for a link to the secret */
    snprintf(path, sizeof path, "%s/img1.png", dir);
    if (remove(path) != 0 || symlink(secret, path) != 0) abort();
    make_dups_db(dir);
    static cs_srv_backend be = {NULL, DIM,   embed_text, embed_image, item_vector, search,
                                item, stats, decode,     image_free,  duplicates,  NULL};
    cs_server_opts o = {0};
    /* A thread per connection: libmicrohttpd polls each connection there,
     * so it sees the client's half-close after a request cut short and ends
     * it at once. Its pool waits on epoll, edge-triggered, and misses a
     * FIN that comes with the data, so each such input waited for the
     * header deadline: most of the run time. The server's own code (the
     * callbacks, the deadlines, the routes) is the same in both modes. */
    o.thread_per_connection = 1;
    o.max_body = 1 << 16;
    o.timeout_s = 2;
    o.header_timeout_ms = 50; /* what an input costs whose half-close is missed */
    o.body_timeout_ms = 50;
    cs_error err;
    if (cs_server_start_backend(&be, &o, &server, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        abort();
    }
    port = cs_server_port(server);
}

/* The length of the first complete reply in buf[0..len), skipping interim
 * "100 Continue" ones; 0 while it is incomplete or has no Content-Length. */
static size_t reply_end(const char *buf, size_t len) {
    size_t at = 0;
    for (;;) {
        const char *end = memmem(buf + at, len - at, "\r\n\r\n", 4);
        if (!end) return 0;
        size_t head = (size_t)(end + 4 - buf);
        if (len - at > 12 && !memcmp(buf + at + 9, "100", 3)) {
            at = head;
            continue;
        }
        const char *cl = memmem(buf + at, head - at, "Content-Length: ", 16);
        if (!cl) return 0;
        size_t want = head + strtoul(cl + 16, NULL, 10);
        return len >= want ? want : 0;
    }
}

/* Nanoseconds this process's threads (the server's among them) have spent
 * runnable but waiting for a CPU: schedstat's second field, summed. */
static uint64_t runqueue_wait_ns(void) {
    DIR *d = opendir("/proc/self/task");
    uint64_t sum = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[300];
        unsigned long long run, wait;
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f && fscanf(f, "%llu %llu", &run, &wait) == 2) sum += wait;
        if (f) fclose(f);
    }
    if (d) closedir(d);
    return sum;
}

/* Sends one input, half-closes, and reads the reply until it is complete
 * (by its Content-Length: the server may keep the connection open) or the
 * server closes; aborts if the server holds the connection past its
 * deadlines. The half-close ends a request cut short at once. One input in
 * 16 (by its length, so that a crash reproduces) keeps its write side open
 * and waits for the server's header or body deadline (50 ms here). */
static size_t exchange(const uint8_t *data, size_t size, char *reply, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) abort();
    for (size_t off = 0; off < size;) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (w <= 0) break; /* the server may hang up first: that is an answer too */
        off += (size_t)w;
    }
    if (size % 16) shutdown(fd, SHUT_WR); /* the others fuzz the deadlines */
    size_t len = 0;
    int waits = 0;
    uint64_t starved_at = 0;
    while (len < cap - 1 && !reply_end(reply, len)) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) != 1) { /* every deadline of the server is far shorter */
            /* A machine too busy to run the server (a niced fuzzer among
             * busy builds gets a few ms of CPU a second) is not a server
             * holding a connection: after the first 5 s, wait on while its
             * threads waited for a CPU for a second or more of each next 5.
             * A held connection waits for nothing. (Measured only here:
             * reading every thread's schedstat for each input cost a third
             * of the run time.) */
            uint64_t now = runqueue_wait_ns();
            if (waits++ == 0 || (now - starved_at > 1000000000u && waits < 12)) {
                starved_at = now;
                continue;
            }
            fprintf(stderr, "the server held the connection for %d s\n", 5 * waits);
            abort();
        }
        ssize_t got = recv(fd, reply + len, cap - 1 - len, 0);
        if (got <= 0) break;
        len += (size_t)got;
    }
    close(fd);
    reply[len] = 0;
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!port) start();
    static char reply[1 << 17];
    size_t n = exchange(data, size, reply, sizeof reply);
    /* (a 404 may quote the URL: only a secret the request did not hold counts) */
    if (memmem(reply, n, "SECRET", 6) && !memmem(data, size, "SECRET", 6)) {
        fprintf(stderr, "the server sent the secret file\n");
        abort();
    }
    if (n && (n < 12 || memcmp(reply, "HTTP/1.", 7))) {
        fprintf(stderr, "not an HTTP reply: %.40s\n", reply);
        abort();
    }
    int status = n ? atoi(reply + 9) : 0;
    if (status >= 500 && status != 505) {
        fprintf(stderr, "status %d: %.300s\n", status, reply);
        abort();
    }
    return 0;
}
