/* tests/server/test_limits.c - what a hostile or broken client can do:
 * path tricks, foreign Host names, oversized bodies, malformed requests,
 * slow clients and too many connections. After each, the server must still
 * answer normally (it neither hangs nor crashes), and no file outside the
 * index is ever served. */
#include "harness.h"

static int port;

/* The server is alive and well: /healthz answers 200. */
static int healthy(void) {
    reply r;
    get(port, "/healthz", &r);
    int ok = r.status == 200 && strstr(r.body, "ok") != NULL;
    free(r.body);
    return ok;
}

static void test_path_tricks(void) {
    static const char *const urls[] = {
        "/../../../../etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/etc/passwd",
        "/api/image/../../../etc/passwd",
        "/api/image/1/../../../../etc/passwd",
        "/api/image/..%2f..%2f..%2fetc%2fpasswd",
        "/api/thumb/%2e%2e%2f1",
        "/api/image/1%00.png",
        "/api/image/1%2f",
        "/api/image/0x1",
        "/api/image/+1",
        "/api/image/%201",
        "/api/image/1e3",
        "/api/image//1",
        "/api/image/1/",
        "/api/image/",
        "/api/image",
        "/api/image/-0",
        "/api/image/9223372036854775808",
        "/index.html/..",
        "/app.js/",
        "/./app.js",
        "/web/app.js",
        "/src/server/web/index.html",
        "/CMakeLists.txt",
        "/api/stats/../../etc/passwd",
        "/%00",
        "/api/search/../../etc/passwd",
    };
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        reply r;
        get(port, urls[i], &r);
        CHECK_MSG(r.status == 404 || r.status == 400, "%s: status %d", urls[i], r.status);
        CHECK_MSG(!strstr(r.body, "root:") && !strstr(r.body, "cmake_minimum"), "%s leaked: %s",
                  urls[i], r.body);
        free(r.body);
    }
    /* an absolute-form target is only a URL, never a file */
    const char *absreq = "GET http://127.0.0.1/etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Connection: close\r\n\r\n";
    reply r;
    raw(port, absreq, strlen(absreq), &r);
    CHECK_MSG(r.status == 404 || r.status == 400, "absolute form: status %d", r.status);
    CHECK(!strstr(r.body, "root:"));
    free(r.body);
}

static void test_host_names(void) {
    static const char *const hosts[] = {"localhost", "localhost:80", "127.0.0.1:1", "[::1]:8080",
                                        "LOCALHOST"};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        char req[256];
        int n = snprintf(req, sizeof req,
                         "GET /healthz HTTP/1.1\r\nHost: %s\r\n"
                         "Connection: close\r\n\r\n",
                         hosts[i]);
        reply r;
        raw(port, req, (size_t)n, &r);
        CHECK_MSG(r.status == 200, "Host %s: status %d", hosts[i], r.status);
        free(r.body);
    }
    /* DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 */
    static const char *const foreign[] = {"evil.example", "evil.example:8080",
                                          "127.0.0.1.evil.example", "localhost.evil.example"};
    for (size_t i = 0; i < sizeof foreign / sizeof *foreign; i++) {
        char req[256];
        int n = snprintf(req, sizeof req,
                         "GET /api/search?q=red HTTP/1.1\r\nHost: %s\r\n"
                         "Connection: close\r\n\r\n",
                         foreign[i]);
        reply r;
        raw(port, req, (size_t)n, &r);
        CHECK_MSG(r.status == 421, "Host %s: status %d", foreign[i], r.status);
        CHECK(!strstr(r.body, "results"));
        free(r.body);
    }
}

static void test_body_limits(int small_port) {
    /* declared too large: refused from the headers alone, before any body is sent */
    const char *big = "POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                      "Content-Length: 5000000\r\nConnection: close\r\n\r\n";
    reply r;
    raw(small_port, big, strlen(big), &r);
    CHECK_MSG(r.status == 413, "declared large body: status %d", r.status);
    free(r.body);
    /* chunked, with no length given: refused once it passes the limit */
    size_t n = 0, cap = 64 * 1024;
    char *req = malloc(cap);
    n += (size_t)snprintf(req, cap,
                          "POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Content-Type: image/png\r\nTransfer-Encoding: chunked\r\n"
                          "Connection: close\r\n\r\n");
    for (int c = 0; c < 10; c++) {
        n += (size_t)snprintf(req + n, cap - n, "400\r\n");
        memset(req + n, 'x', 0x400);
        n += 0x400;
        n += (size_t)snprintf(req + n, cap - n, "\r\n");
    }
    n += (size_t)snprintf(req + n, cap - n, "0\r\n\r\n");
    raw(small_port, req, n, &r);
    CHECK_MSG(r.status == 413, "chunked large body: status %d", r.status);
    free(r.body);
    /* a form whose text field is too long */
    n = (size_t)snprintf(req, cap, "--BB\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\n");
    memset(req + n, 'a', 3000);
    n += 3000;
    n += (size_t)snprintf(req + n, cap - n, "\r\n--BB--\r\n");
    request(port, "POST", "/api/search", "multipart/form-data; boundary=BB", req, n, &r);
    CHECK_MSG(r.status == 413, "long form field: status %d: %s", r.status, r.body);
    free(r.body);
    free(req);
    CHECK(healthy());
}

static void test_malformed(void) {
    static const char *const reqs[] = {
        "GARBAGE\r\n\r\n",
        "GET\r\n\r\n",
        "GET / HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost 127.0.0.1\r\nbroken header line\r\n\r\n",
        "POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\nxyz",
        "POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\nxyz",
        "POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n"
        "Content-Length: 7\r\n\r\nxyz",
        "POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "zz\r\nxyz\r\n0\r\n\r\n",
        "POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data\r\n"
        "Content-Length: 5\r\n\r\nhello",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello\r\n\r\n",
        "GET /api/search?q=%ff%fe%00%80 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof *reqs; i++) {
        reply r;
        raw(port, reqs[i], strlen(reqs[i]), &r);
        /* a 4xx (505 for HTTP/9.9), or the connection closed: never a 2xx, never a hang */
        CHECK_MSG(r.status == 0 || (r.status >= 400 && r.status < 500) || r.status == 505,
                  "request %zu: status %d", i, r.status);
        free(r.body);
        CHECK_MSG(healthy(), "server unhealthy after malformed request %zu", i);
    }
    /* 100 KiB of headers */
    size_t n = 100 * 1024;
    char *huge = malloc(n + 64);
    size_t o = (size_t)snprintf(huge, n, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ");
    memset(huge + o, 'h', n - o);
    memcpy(huge + n, "\r\n\r\n", 4);
    reply r;
    raw(port, huge, n + 4, &r);
    CHECK_MSG(r.status == 0 || r.status == 431 || r.status == 414 || r.status == 413 ||
                  r.status == 400,
              "huge headers: status %d", r.status);
    free(r.body);
    free(huge);
    CHECK(healthy());
}

/* Clients that send half a request and stall are dropped after the idle
 * timeout, and while they wait everyone else is served. */
static void test_slow_clients(void) {
    int fds[20];
    for (int i = 0; i < 20; i++) {
        fds[i] = connect_to(port);
        send_all(fds[i], "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow:", 44);
    }
    CHECK(healthy());
    for (int i = 0; i < 20; i++) {
        char buf[256];
        /* the server hangs up (0) or answers 408; SO_RCVTIMEO (20 s) bounds the wait */
        ssize_t got = recv(fds[i], buf, sizeof buf - 1, 0);
        CHECK_MSG(got == 0 || (got > 12 && !memcmp(buf + 9, "408", 3)), "slow client %d: recv %zd",
                  i, got);
        close(fds[i]);
    }
    CHECK(healthy());
}

/* More connections than allowed: the extra ones are refused, the server lives on. */
static void test_connection_flood(int small_port) {
    int fds[64], n = 0;
    for (; n < 64; n++) {
        fds[n] = connect_to(small_port);
        if (fds[n] < 0) break;
    }
    for (int i = 0; i < n; i++) close(fds[i]);
    usleep(200 * 1000);
    reply r;
    get(small_port, "/healthz", &r);
    CHECK_EQ_INT(r.status, 200);
    free(r.body);
}

int main(void) {
    cs_srv_backend be = fake_backend();
    cs_server_opts opts = {0};
    opts.timeout_s = 1;
    cs_server *srv = start_server(&be, &opts);
    /* a second server with tight limits, thread per connection */
    cs_server_opts tight = {0};
    tight.max_body = 4096;
    tight.max_connections = 8;
    tight.thread_per_connection = 1;
    tight.timeout_s = 2;
    cs_server *small = start_server(&be, &tight);
    if (!srv || !small) return cs_test_done("server.limits");
    port = cs_server_port(srv);
    test_path_tricks();
    test_host_names();
    test_body_limits(cs_server_port(small));
    test_malformed();
    test_slow_clients();
    test_connection_flood(cs_server_port(small));
    CHECK(healthy());
    cs_server_stop(srv);
    cs_server_stop(small);
    fake_remove(&be);
    return cs_test_done("server.limits");
}
