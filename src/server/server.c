/* server/server.c - the libmicrohttpd daemon: start/stop, and the request
 * life cycle up to the router (request line -> headers -> body chunks ->
 * complete).
 *
 * Safety comes mostly from configuration: a bounded number of connections
 * (in all, and per client address), an idle timeout, deadlines for headers
 * and bodies and a reserve of connections (conn_guard.c), a cap on header memory
 * (long URLs get 414 from libmicrohttpd), a cap on URL arguments, and our
 * own cap on the body (413).
 *
 * libmicrohttpd accepts a reply only before the body is read or once it has
 * all arrived, never in between. So a request refused mid-body (too large,
 * a form field too long) is remembered, the rest of its body is read and
 * dropped (up to MAX_DROP: past that the connection is just closed), and
 * the refusal is sent at the end, with "Connection: close". */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "server/server_internal.h"

/* More URL arguments than any endpoint reads (it reads at most 4). */
#define MAX_ARGS 64
/* The body read and dropped after a refusal, to be able to answer it, is at
 * most max_body or this, the larger; past it the connection is closed. The
 * body deadline bounds the time it takes. */
#define MAX_DROP ((size_t)16 << 20)

static void fill_defaults(cs_server_opts *o) {
    if (!o->host || !*o->host) o->host = "127.0.0.1";
    if (o->threads <= 0) o->threads = 4;
    if (o->max_connections <= 0) o->max_connections = 256;
    if (o->timeout_s <= 0) o->timeout_s = 15;
    if (o->header_timeout_ms <= 0) o->header_timeout_ms = 10000;
    if (o->body_timeout_ms <= 0) o->body_timeout_ms = 60000;
    if (o->max_body == 0) o->max_body = (size_t)16 << 20;
    if (o->max_k <= 0) o->max_k = 500;
    if (o->thumb_size <= 0) o->thumb_size = 320;
    if (o->thumb_cache_bytes == 0) o->thumb_cache_bytes = (size_t)64 << 20;
}

/* ---- forms ------------------------------------------------------------------- */

static void copy_field(cs_srv_request *r, const char *key, char *dst, size_t cap, const char *data,
                       uint64_t off, size_t size) {
    size_t have = strlen(dst);
    if (off != have || have + size >= cap) {
        r->form_bad = 1;
        snprintf(r->form_why, sizeof r->form_why, "form field '%s' longer than %zu bytes", key,
                 cap - 1);
        return;
    }
    memcpy(dst + have, data, size);
    dst[have + size] = 0;
}

/* Called by libmicrohttpd's form parser for each piece of each field. */
static enum MHD_Result on_form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *filename, const char *content_type,
                                     const char *transfer_encoding, const char *data, uint64_t off,
                                     size_t size) {
    (void)kind, (void)content_type, (void)transfer_encoding;
    cs_srv_request *r = cls;
    if (!key) key = ""; /* a part with no name (libmicrohttpd passes NULL) */
    if (filename || !strcmp(key, "image") || !strcmp(key, "file")) {
        if (!cs_srv_buf_append(&r->upload, data, size, r->srv->opts.max_body)) {
            r->form_bad = 1;
            snprintf(r->form_why, sizeof r->form_why,
                     "uploaded file larger than the limit of %zu bytes", r->srv->opts.max_body);
        }
    } else if (!strcmp(key, "q") || !strcmp(key, "text")) {
        copy_field(r, key, r->form_text, sizeof r->form_text, data, off, size);
    } else if (!strcmp(key, "k")) {
        copy_field(r, key, r->form_k, sizeof r->form_k, data, off, size);
    } else if (!strcmp(key, "offset")) {
        copy_field(r, key, r->form_offset, sizeof r->form_offset, data, off, size);
    } /* other fields are ignored */
    return r->form_bad ? MHD_NO : MHD_YES;
}

static int is_form(struct MHD_Connection *c) {
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    return ct && (!strncasecmp(ct, "multipart/form-data", 19) ||
                  !strncasecmp(ct, "application/x-www-form-urlencoded", 33));
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* ---- the request life cycle ----------------------------------------------------- */

/* When bound to loopback, a request must name us by a local name: this stops
 * a web page from reading the API through DNS rebinding. */
static int host_allowed(cs_srv_request *r) {
    if (!r->srv->loopback) return 1;
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!h) return 1; /* HTTP/1.0 without Host: cannot come from a browser */
    size_t n = strlen(h);
    const char *colon = strrchr(h, ':');
    if (colon && !strchr(colon, ']')) n = (size_t)(colon - h); /* drop ":port" */
    static const char *const local[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof local / sizeof *local; i++)
        if (strlen(local[i]) == n && !strncasecmp(h, local[i], n)) return 1;
    return strlen(r->srv->host) == n && !strncasecmp(h, r->srv->host, n);
}

/* Called with the request line, before libmicrohttpd splits the URL
 * arguments: the request's state starts here. libmicrohttpd keeps every
 * argument in the connection's 64 KiB memory pool, and when the pool runs
 * out it can answer nothing and holds the connection until the idle
 * timeout. So a URL with more arguments than MAX_ARGS has them cut off here,
 * in the request line itself (the buffer libmicrohttpd parses next; it
 * documents that this call comes before it modifies the URL), and the
 * request is refused when its headers are complete. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *conn) {
    (void)conn;
    cs_srv_request *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->srv = cls;
    r->t_start = cs_srv_now();
    char *q = strchr(uri, '?');
    if (q) {
        size_t n = 1;
        for (const char *p = q + 1; *p; p++) n += *p == '&';
        if (n > MAX_ARGS) {
            r->n_args = n;
            q[1] = 0;
        }
    }
    return r;
}

static enum MHD_Result on_first_call(cs_srv_request *r) {
    r->close = 1; /* until the headers pass: an early reply leaves a body unread */
    if (r->n_args)
        return cs_srv_reply_error(r, 414, "%zu URL arguments; at most %d are accepted", r->n_args,
                                  MAX_ARGS);
    if (!host_allowed(r))
        return cs_srv_reply_error(r, 421, "this server answers only to localhost names");
    const char *m = r->method;
    if (strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "POST"))
        return cs_srv_reply_405(r, "GET, HEAD, POST");
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > r->srv->opts.max_body)
        return cs_srv_reply_error(r, 413, "request body larger than the limit of %zu bytes",
                                  r->srv->opts.max_body);
    if (!strcmp(m, "POST") && is_form(r->conn)) {
        r->form = MHD_create_post_processor(r->conn, 65536, on_form_field, r);
        if (!r->form) return cs_srv_reply_error(r, 400, "malformed form data (bad Content-Type)");
    }
    r->close = 0;
    return MHD_YES;
}

/* Remembers why the request is refused mid-body; the reply goes at its end. */
static void refuse_later(cs_srv_request *r) {
    size_t limit = r->srv->opts.max_body;
    if (r->body_seen > limit) {
        r->refused = 413;
        snprintf(r->form_why, sizeof r->form_why, "request body larger than the limit of %zu bytes",
                 limit);
    } else {
        r->refused = r->form_bad ? 413 : 400;
        if (!r->form_bad) snprintf(r->form_why, sizeof r->form_why, "malformed form data");
    }
}

/* One chunk of body. Returns 0 when the request must be refused now. */
static int on_body(cs_srv_request *r, const char *data, size_t size) {
    size_t limit = r->srv->opts.max_body;
    r->body_seen += size;
    if (r->body_seen > limit) return 0;
    if (r->form) return MHD_post_process(r->form, data, size) == MHD_YES && !r->form_bad;
    return cs_srv_buf_append(&r->body, data, size, limit);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **state) {
    (void)version;
    cs_srv_request *r = *state;
    if (!r) { /* no request line notice (out of memory there) */
        if (!(r = *state = on_request_line(cls, "", conn))) return MHD_NO;
    }
    if (!r->conn) {
        r->conn = conn;
        r->url = url;
        r->method = method;
        cs_srv_guard_headers_done(conn);
        enum MHD_Result ret = on_first_call(r);
        if (r->status) r->rejected = 1; /* replied from the headers alone */
        return ret;
    }
    if (r->rejected) {
        *upload_size = 0; /* a reply is already queued; drop the rest */
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size, limit = r->srv->opts.max_body;
        *upload_size = 0;
        if (r->refused) { /* dropping the rest, to answer at its end */
            r->dropped += n;
            return r->dropped > (limit > MAX_DROP ? limit : MAX_DROP) ? MHD_NO : MHD_YES;
        }
        if (!on_body(r, upload_data, n)) refuse_later(r);
        return MHD_YES;
    }
    cs_srv_guard_body_done(conn);
    if (r->refused) {
        r->close = 1;
        r->rejected = 1;
        return cs_srv_reply_error(r, r->refused, "%s", r->form_why);
    }
    return cs_srv_route(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode code) {
    cs_server *srv = cls;
    cs_srv_request *r = *state;
    if (code == MHD_REQUEST_TERMINATED_COMPLETED_OK) cs_srv_guard_request_done(conn);
    if (!r) return;
    cs_log(&srv->log, CS_LOG_DEBUG, "%s %s %d %.1fms%s", r->method ? r->method : "-",
           r->url ? r->url : "-", r->status, (cs_srv_now() - r->t_start) * 1e3,
           code == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
    if (r->form) MHD_destroy_post_processor(r->form);
    cs_srv_buf_free(&r->body);
    cs_srv_buf_free(&r->upload);
    free(r);
    *state = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    cs_server *srv = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    cs_log(&srv->log, CS_LOG_DEBUG, "http: %s", msg);
}

/* %HH decoding of the URL and its arguments, except that "%00" stays as it
 * is: a decoded NUL would cut "/api/image/1%00.png" short to a valid route. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s) {
    (void)cls, (void)c;
    char *o = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 && (hi | lo)) {
            *o++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    return (size_t)(o - s);
}

/* ---- start / stop ------------------------------------------------------------------ */

static cs_status resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len,
                         cs_error *err) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0 || !res)
        return cs_fail(err, CS_EINVAL, "serve: cannot resolve host '%s': %s", host,
                       gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return CS_OK;
}

static int is_loopback(const struct sockaddr_storage *ss) {
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return 0;
}

static struct MHD_Daemon *start_daemon(cs_server *srv, const struct sockaddr_storage *ss) {
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    flags |= srv->opts.thread_per_connection ? MHD_USE_THREAD_PER_CONNECTION : MHD_USE_AUTO;
    if (ss->ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_OptionItem pool[] = {
        {MHD_OPTION_THREAD_POOL_SIZE, srv->opts.threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem per_ip[] = {
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->per_client, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    return MHD_start_daemon(
        flags, (uint16_t)srv->opts.port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, srv, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)ss,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)srv->opts.timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)srv->opts.max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_URI_LOG_CALLBACK,
        on_request_line, srv, MHD_OPTION_NOTIFY_CONNECTION, cs_srv_guard_on_connection, srv->guard,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_UNESCAPE_CALLBACK, unescape,
        NULL, MHD_OPTION_ARRAY, srv->per_client > 0 ? per_ip : per_ip + 1, MHD_OPTION_ARRAY,
        srv->opts.thread_per_connection ? pool + 1 : pool, MHD_OPTION_END);
}

cs_status cs_server_start_backend(const cs_srv_backend *backend, const cs_server_opts *opts,
                                  cs_server **out, cs_error *err) {
    *out = NULL;
    if (!backend || backend->dim <= 0)
        return cs_fail(err, CS_EINVAL, "serve: no collection to serve");
    cs_server_opts o = {0};
    if (opts) o = *opts;
    fill_defaults(&o);
    if (o.port < 0 || o.port > 65535)
        return cs_fail(err, CS_EINVAL, "serve: port %d out of range", o.port);
    struct sockaddr_storage ss;
    socklen_t sslen;
    cs_status st = resolve(o.host, o.port, &ss, &sslen, err);
    if (st != CS_OK) return st;

    cs_server *srv = calloc(1, sizeof *srv);
    if (!srv) return cs_fail(err, CS_ENOMEM, "serve: out of memory");
    srv->be = *backend;
    srv->opts = o;
    snprintf(srv->host, sizeof srv->host, "%s", o.host);
    srv->opts.host = srv->host;
    srv->log = (cs_logger){o.log, o.log_user};
    srv->loopback = is_loopback(&ss);
    /* every local client comes from the same address: a per-address limit
     * on loopback would let one local program lock out the browser */
    srv->per_client = o.max_per_client > 0                    ? o.max_per_client
                      : o.max_per_client < 0 || srv->loopback ? 0
                                                              : 32;
    srv->reserve = o.max_connections / 8 > 2 ? o.max_connections / 8 : 2;
    srv->thumbs = cs_srv_cache_new(o.thumb_cache_bytes);
    srv->embeddings = cs_srv_cache_new((size_t)8 << 20); /* ~4000 ViT-B/32 queries */
    srv->guard =
        cs_srv_guard_new(o.header_timeout_ms / 1e3, o.body_timeout_ms / 1e3,
                         o.max_connections > srv->reserve ? o.max_connections - srv->reserve : 1);
    int ready = srv->thumbs && srv->embeddings && srv->guard;
    if (ready) srv->daemon = start_daemon(srv, &ss);
    if (!srv->daemon) {
        st = ready ? cs_fail(err, CS_EIO,
                             "serve: cannot listen on %s port %d (in use, or not allowed)", o.host,
                             o.port)
                   : cs_fail(err, CS_ENOMEM, "serve: out of memory");
        cs_srv_cache_free(srv->thumbs);
        cs_srv_cache_free(srv->embeddings);
        cs_srv_guard_free(srv->guard);
        free(srv);
        return st;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : o.port;
    *out = srv;
    return CS_OK;
}

int cs_server_port(const cs_server *srv) {
    return srv ? srv->port : 0;
}

void cs_server_stop(cs_server *srv) {
    if (!srv) return;
    MHD_stop_daemon(srv->daemon);
    cs_srv_guard_free(srv->guard);
    cs_srv_cache_free(srv->thumbs);
    cs_srv_cache_free(srv->embeddings);
    free(srv->owned_ctx);
    free(srv);
}
