/* tests/server/test_slowloris.c - clients that trickle their requests must
 * not take the server. On loopback only, bounded in count (40 slow
 * connections against a limit of 16) and in time (about 3 s in all), with
 * the deadlines scaled down through the options:
 *  - slow headers, one line every 100 ms (never idle long enough for the
 *    2 s idle timeout): /healthz keeps answering all along, and every slow
 *    connection is closed by the header deadline or to make room;
 *  - a slow body, one byte every 100 ms: closed by the body deadline;
 *  - a per-client limit: past it, a connection is closed unanswered. */
#include <errno.h>
#include <fcntl.h>
#include <time.h>

#include "harness.h"

#define N_SLOW 40

static int port;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 1 if the server has closed fd (EOF or reset) within `wait_ms`. */
static int closed_by_server(int fd, int wait_ms) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0) return 0;
    char buf[512];
    for (;;) {
        ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) return 1;
        if (got < 0) return 0;
    }
}

/* /healthz on a fresh connection, answered within a second. */
static int healthz_fast(void) {
    int fd = connect_to(port);
    if (fd < 0) return 0;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    send_all(fd, req, strlen(req));
    reply r;
    read_reply(fd, &r);
    close(fd);
    int ok = r.status == 200;
    free(r.body);
    return ok;
}

static void test_slow_headers(void) {
    int fds[N_SLOW];
    for (int i = 0; i < N_SLOW; i++) {
        fds[i] = connect_to(port);
        if (fds[i] >= 0) send_all(fds[i], "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", 40);
    }
    int probes = 0, answered = 0;
    double t0 = now_s(), next_probe = t0;
    while (now_s() - t0 < 2.0) { /* header deadline 0.6 s, idle timeout 2 s */
        for (int i = 0; i < N_SLOW; i++)
            if (fds[i] >= 0) send_all(fds[i], "X-Slow: 1\r\n", 11);
        if (now_s() >= next_probe) {
            probes++;
            answered += healthz_fast();
            next_probe += 0.2;
        }
        usleep(100 * 1000);
    }
    CHECK_MSG(answered == probes, "/healthz answered %d of %d times under attack", answered,
              probes);
    int still_open = 0;
    for (int i = 0; i < N_SLOW; i++) {
        if (fds[i] < 0) continue;
        if (!closed_by_server(fds[i], 300)) still_open++;
        close(fds[i]);
    }
    CHECK_MSG(still_open == 0, "%d slow connections outlived the header deadline", still_open);
}

static void test_slow_body(void) {
    int fd = connect_to(port);
    const char *head = "POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                       "Content-Length: 1000\r\n\r\n";
    send_all(fd, head, strlen(head));
    double t0 = now_s();
    int closed = 0;
    while (!closed && now_s() - t0 < 2.0) { /* body deadline 0.8 s */
        send_all(fd, "x", 1);
        closed = closed_by_server(fd, 100);
    }
    CHECK_MSG(closed, "a body sent a byte every 100 ms was still open after %.1f s", now_s() - t0);
    close(fd);
}

static void test_per_client_limit(int limited_port) {
    int fds[6];
    for (int i = 0; i < 6; i++) {
        fds[i] = connect_to(limited_port);
        if (fds[i] >= 0) send_all(fds[i], "GET /healthz HTTP/1.1\r\n", 23);
    }
    /* 4 are allowed from one address: the 5th and 6th are closed at once
     * (looked at well before the 0.6 s header deadline closes the others) */
    usleep(200 * 1000);
    int closed = 0;
    for (int i = 0; i < 6; i++) closed += fds[i] < 0 || closed_by_server(fds[i], 0);
    CHECK_MSG(closed == 2, "%d of 6 connections from one address closed, want 2", closed);
    for (int i = 0; i < 6; i++)
        if (fds[i] >= 0) close(fds[i]);
}

int main(void) {
    cs_srv_backend be = fake_backend();
    cs_server_opts opts = {0};
    opts.threads = 2;
    opts.max_connections = 16;
    opts.timeout_s = 2;
    opts.header_timeout_ms = 600;
    opts.body_timeout_ms = 800;
    cs_server *srv = start_server(&be, &opts);
    cs_server_opts lim = opts;
    lim.max_per_client = 4;
    cs_server *limited = start_server(&be, &lim);
    if (!srv || !limited) return cs_test_done("server.slowloris");
    port = cs_server_port(srv);
    test_slow_headers();
    test_slow_body();
    test_per_client_limit(cs_server_port(limited));
    CHECK(healthz_fast());
    cs_server_stop(srv);
    cs_server_stop(limited);
    fake_remove(&be);
    return cs_test_done("server.slowloris");
}
