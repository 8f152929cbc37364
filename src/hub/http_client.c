/* hub/http_client.c - GET over libcurl with resume; see http_client.h. */
#include "hub/http_client.h"

#include "core/lazy_curl.h" /* <curl/curl.h> */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cs_http {
    CURL *curl;
    struct curl_slist *headers;
    cs_http_config config;
};

/* The state of one request while libcurl runs it. */
typedef struct request {
    const cs_http_sink *sink;
    cs_http_meta *meta;
    uint64_t offset;      /* the Range we asked for */
    uint64_t range_start; /* Content-Range start of the current response */
    int has_range;
    uint64_t length; /* Content-Length of the current response */
    int begun;       /* the sink has been told where the body starts */
    int is_error;    /* the current response is not a 2xx: its body is kept as a message */
    int aborted;     /* the sink said stop */
    int bad_range;   /* a 206 for another range than ours */
    size_t error_len;
} request;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void init_curl(void) {
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

cs_status cs_http_new(const cs_http_config *config, cs_http **out, cs_error *err) {
    *out = NULL;
    pthread_once(&curl_once, init_curl);
    if (curl_init_result != CURLE_OK)
        return cs_fail(err, CS_ENETWORK, "libcurl: %s", curl_easy_strerror(curl_init_result));
    cs_http *h = calloc(1, sizeof *h);
    if (!h) return cs_fail(err, CS_ENOMEM, "out of memory");
    h->config = *config;
    h->config.token = NULL; /* the caller's buffer: only the header below keeps it */
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return cs_fail(err, CS_ENETWORK, "libcurl: cannot create a handle");
    }
    if (config->token && *config->token) {
        char line[4096];
        int n = snprintf(line, sizeof line, "Authorization: Bearer %s", config->token);
        if (n < 0 || (size_t)n >= sizeof line || strpbrk(config->token, "\r\n")) {
            cs_http_free(h);
            return cs_fail(err, CS_EINVAL, "the Hugging Face token is malformed");
        }
        h->headers = curl_slist_append(NULL, line);
        if (!h->headers) {
            cs_http_free(h);
            return cs_fail(err, CS_ENOMEM, "out of memory");
        }
    }
    *out = h;
    return CS_OK;
}

void cs_http_free(cs_http *http) {
    if (!http) return;
    curl_slist_free_all(http->headers);
    if (http->curl) curl_easy_cleanup(http->curl);
    free(http);
}

cs_status cs_http_escape(cs_http *http, const char *s, char *buf, size_t cap, cs_error *err) {
    char *e = curl_easy_escape(http->curl, s, 0);
    if (!e) return cs_fail(err, CS_ENOMEM, "out of memory");
    int n = snprintf(buf, cap, "%s", e);
    curl_free(e);
    if (n < 0 || (size_t)n >= cap) return cs_fail(err, CS_ELIMIT, "%s: too long for a URL", s);
    return CS_OK;
}

/* Copies a header value without surrounding blanks, quotes or a weak "W/". */
static void copy_value(char *dst, size_t cap, const char *v, size_t n, int unquote) {
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
    if (unquote) {
        if (n >= 2 && v[0] == 'W' && v[1] == '/') v += 2, n -= 2;
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"') v++, n -= 2;
    }
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

static size_t on_header(char *buf, size_t size, size_t count, void *user) {
    request *r = user;
    cs_http_meta *m = r->meta;
    size_t len = size * count;
    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
        /* A new response of the chain (a redirect, or the final one). */
        const char *sp = memchr(buf, ' ', len);
        m->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->has_range = 0;
        r->length = 0;
        r->begun = 0;
        r->is_error = 0;
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon) return len;
    size_t name_len = (size_t)(colon - buf), vlen = len - name_len - 1;
    const char *v = colon + 1;
    char tmp[256];
#define IS(h) (name_len == sizeof(h) - 1 && !strncasecmp(buf, h, name_len))
    if (IS("x-repo-commit") && !m->repo_commit[0]) {
        copy_value(m->repo_commit, sizeof m->repo_commit, v, vlen, 0);
    } else if (IS("x-linked-etag")) {
        copy_value(m->etag, sizeof m->etag, v, vlen, 1);
        m->etag_linked = 1;
    } else if (IS("etag") && !m->etag_linked && !m->etag[0]) {
        copy_value(m->etag, sizeof m->etag, v, vlen, 1);
    } else if (IS("x-linked-size")) {
        copy_value(tmp, sizeof tmp, v, vlen, 0);
        m->linked_size = strtoull(tmp, NULL, 10);
    } else if (IS("content-length")) {
        copy_value(tmp, sizeof tmp, v, vlen, 0);
        r->length = strtoull(tmp, NULL, 10);
    } else if (IS("content-range")) {
        /* "bytes START-END/TOTAL" */
        copy_value(tmp, sizeof tmp, v, vlen, 0);
        unsigned long long start, end, total;
        if (sscanf(tmp, "bytes %llu-%llu/%llu", &start, &end, &total) == 3) {
            r->range_start = start;
            r->has_range = 1;
            m->total = total;
        }
    } else if (IS("x-error-code")) {
        copy_value(m->error_code, sizeof m->error_code, v, vlen, 0);
    } else if (IS("x-error-message")) {
        copy_value(m->error_message, sizeof m->error_message, v, vlen, 0);
    }
#undef IS
    return len;
}

/* The first body byte of a response: decide where it goes. */
static int begin_body(request *r) {
    r->begun = 1;
    long st = r->meta->status;
    if (st < 200 || st >= 300) {
        r->is_error = 1;
        return 1;
    }
    uint64_t start = 0;
    if (st == 206) {
        if (!r->has_range || r->range_start != r->offset) {
            r->bad_range = 1;
            return 0;
        }
        start = r->offset;
    } else {
        r->meta->total = r->length;
    }
    if (r->sink->begin && r->sink->begin(r->sink->user, start)) {
        r->aborted = 1;
        return 0;
    }
    return 1;
}

static size_t on_body(char *bytes, size_t size, size_t count, void *user) {
    request *r = user;
    size_t len = size * count;
    if (!r->begun && !begin_body(r)) return 0;
    if (r->is_error) {
        /* Keep the start of an error page as its message, if the server
         * sent no X-Error-Message. */
        cs_http_meta *m = r->meta;
        if (!m->error_message[0] || r->error_len) {
            size_t room = sizeof m->error_message - 1 - r->error_len;
            size_t take = len < room ? len : room;
            memcpy(m->error_message + r->error_len, bytes, take);
            r->error_len += take;
            m->error_message[r->error_len] = 0;
        }
        return len;
    }
    if (r->sink->data(r->sink->user, bytes, len)) {
        r->aborted = 1;
        return 0;
    }
    return len;
}

static void setup(cs_http *h, const char *url, request *r, char *errbuf) {
    CURL *c = h->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    char agent[32];
    snprintf(agent, sizeof agent, "clipsearch/%s", cs_version());
    curl_easy_setopt(c, CURLOPT_USERAGENT, agent);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)h->config.connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)h->config.stall_timeout_s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    /* libcurl sends this header to the first host only, never to the
     * storage a redirect points at (the hub signs those URLs itself). */
    if (h->headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
}

static int retryable_curl(CURLcode rc) {
    switch (rc) {
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static cs_status http_failure(const char *url, const cs_http_meta *m, cs_error *err) {
    long st = m->status;
    const char *hint = "";
    if (st == 401 || st == 403)
        hint = "; the repo may be private or gated: set HF_TOKEN to a token that has access";
    char detail[400] = "";
    if (m->error_code[0] || m->error_message[0])
        snprintf(detail, sizeof detail, " (%s%s%s)", m->error_code,
                 m->error_code[0] && m->error_message[0] ? ": " : "", m->error_message);
    for (char *p = detail; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    /* The hub answers 401 for a repo that does not exist, unless logged in. */
    int missing = st == 404 || !strcmp(m->error_code, "RepoNotFound");
    return cs_fail(err, missing ? CS_ENOTFOUND : CS_ENETWORK, "GET %s: HTTP %ld%s%s", url, st,
                   detail, missing ? "" : hint);
}

/* What went wrong, in our words where a person can act on them, with
 * libcurl's own text after it for the details. */
static const char *curl_words(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "the host name cannot be resolved: no network, or no DNS";
    case CURLE_COULDNT_CONNECT:
        return "no connection: the host is down, unreachable, or a firewall refuses it";
    case CURLE_OPERATION_TIMEDOUT:
        return "timed out: the network is down or too slow";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
        return "the TLS connection failed (a proxy or a wrong clock?)";
    default:
        return NULL;
    }
}

cs_status cs_http_get(cs_http *h, const char *url, uint64_t offset, const cs_http_sink *sink,
                      cs_http_meta *meta, cs_error *err) {
    memset(meta, 0, sizeof *meta);
    request r = {.sink = sink, .meta = meta, .offset = offset};
    char errbuf[CURL_ERROR_SIZE] = "", range[32];
    setup(h, url, &r, errbuf);
    if (offset > 0) {
        snprintf(range, sizeof range, "%llu-", (unsigned long long)offset);
        curl_easy_setopt(h->curl, CURLOPT_RANGE, range);
    }
    cs_log(h->config.log, CS_LOG_DEBUG, "GET %s%s%s", url, offset ? " from byte " : "",
           offset ? range : "");
    CURLcode rc = curl_easy_perform(h->curl);
    if (r.aborted) return cs_fail(err, CS_ENETWORK, "GET %s: transfer stopped", url);
    if (r.bad_range)
        return cs_fail(err, CS_ENETWORK, "GET %s: the server sent another byte range than asked",
                       url);
    if (rc != CURLE_OK) {
        meta->retryable = retryable_curl(rc);
        const char *words = curl_words(rc), *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        if (words) return cs_fail(err, CS_ENETWORK, "GET %s: %s (%s)", url, words, detail);
        return cs_fail(err, CS_ENETWORK, "GET %s: %s", url, detail);
    }
    if (meta->status < 200 || meta->status >= 300) {
        meta->retryable = meta->status == 429 || meta->status >= 500;
        return http_failure(url, meta, err);
    }
    /* An empty body never reached on_body: the sink still starts over. */
    if (!r.begun && !begin_body(&r))
        return cs_fail(err, CS_ENETWORK, "GET %s: transfer stopped", url);
    return CS_OK;
}

/* ---- to memory --------------------------------------------------------------- */

typedef struct membuf {
    char *data;
    size_t size, cap, max;
    int over; /* the body passed max */
} membuf;

static int mem_begin(void *user, uint64_t start) {
    (void)start;
    ((membuf *)user)->size = 0;
    return 0;
}

static int mem_data(void *user, const void *bytes, size_t size) {
    membuf *b = user;
    if (size > b->max - b->size) {
        b->over = 1;
        return 1;
    }
    if (b->size + size + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->size + size + 1) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) return 1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->size, bytes, size);
    b->size += size;
    return 0;
}

cs_status cs_http_get_mem(cs_http *h, const char *url, size_t max_bytes, char **body, size_t *size,
                          cs_http_meta *meta, cs_error *err) {
    membuf b = {.max = max_bytes};
    cs_http_sink sink = {mem_begin, mem_data, &b};
    *body = NULL;
    cs_status st = cs_http_get(h, url, 0, &sink, meta, err);
    if (st == CS_OK && !mem_data(&b, "", 0)) {
        b.data = b.data ? b.data : calloc(1, 1);
        if (!b.data) return cs_fail(err, CS_ENOMEM, "out of memory");
        b.data[b.size] = 0;
        *body = b.data;
        if (size) *size = b.size;
        return CS_OK;
    }
    free(b.data);
    if (st == CS_OK)
        st = cs_fail(err, CS_ENOMEM, "out of memory");
    else if (b.over)
        st = cs_fail(err, CS_ELIMIT, "GET %s: response larger than %zu bytes", url, max_bytes);
    return st;
}
