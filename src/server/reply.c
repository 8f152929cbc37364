/* server/reply.c - queuing replies: JSON, errors, bytes, and the headers
 * every reply carries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <utf8proc.h>

#include "server/server_internal.h"

double cs_srv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cs_srv_buf_append(cs_srv_buf *b, const void *data, size_t n, size_t limit) {
    if (n > limit || b->len > limit - n) return 0;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        if (cap > limit + 1) cap = limit + 1;
        char *p = realloc(b->data, cap);
        if (!p) return 0;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0; /* bodies are read as strings by the JSON parser */
    return 1;
}

cs_status cs_srv_item_from_image(int64_t id, cs_db_image *img, cs_srv_item *out, cs_error *err) {
    cs_status st = CS_OK;
    out->id = id;
    out->width = img->width;
    out->height = img->height;
    out->size = img->size;
    out->mtime_ns = img->mtime_ns;
    memcpy(out->hash, img->hash, sizeof out->hash);
    if (strlen(img->path) >= sizeof out->path)
        st = cs_fail(err, CS_ELIMIT, "image %lld: path too long", (long long)id);
    else
        memcpy(out->path, img->path, strlen(img->path) + 1);
    cs_db_image_clear(img);
    return st;
}

void cs_srv_buf_free(cs_srv_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

int cs_srv_http_status(cs_status status) {
    switch (status) {
    case CS_OK:
        return 200;
    case CS_EINVAL:
    case CS_EFORMAT:
        return 400;
    case CS_EUNSUPPORTED:
        return 415;
    case CS_ELIMIT:
        return 413;
    case CS_ENOTFOUND:
        return 404;
    case CS_ENOMEM:
        return 503;
    case CS_EMISMATCH:
        return 409;
    case CS_EIO:
    case CS_ENETWORK:
    case CS_EINTERNAL:
        break;
    }
    return 500;
}

void cs_srv_add_common_headers(struct MHD_Response *resp, const char *mime) {
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, mime);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    /* The page loads only its own script and style and talks only to us. */
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' blob: data:; connect-src 'self'; "
                            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
}

enum MHD_Result cs_srv_queue(cs_srv_request *r, int status, struct MHD_Response *resp) {
    if (!resp) {
        r->status = 500;
        return MHD_NO; /* out of memory: closing the connection is all we can do */
    }
    r->status = status;
    if (r->close) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned int)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result cs_srv_reply_bytes(cs_srv_request *r, int status, const char *mime,
                                   const void *data, size_t size, int copy,
                                   const char *cache_control, const char *etag) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        size, (void *)data, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    if (!resp) return cs_srv_queue(r, 500, NULL);
    cs_srv_add_common_headers(resp, mime);
    if (cache_control) MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    if (etag) MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    return cs_srv_queue(r, status, resp);
}

enum MHD_Result cs_srv_reply_json(cs_srv_request *r, int status, json_t *obj) {
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(obj);
    if (!text) return cs_srv_queue(r, 500, NULL);
    size_t n = strlen(text);
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return cs_srv_queue(r, 500, NULL);
    }
    cs_srv_add_common_headers(resp, "application/json; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return cs_srv_queue(r, status, resp);
}

enum MHD_Result cs_srv_reply_error(cs_srv_request *r, int status, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *obj = json_object();
    json_object_set_new(obj, "error", cs_srv_json_string_lossy(msg));
    json_object_set_new(obj, "status", json_integer(status));
    return cs_srv_reply_json(r, status, obj);
}

enum MHD_Result cs_srv_reply_405(cs_srv_request *r, const char *allow) {
    json_t *obj = json_pack("{s:s, s:i}", "error", "method not allowed", "status", 405);
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    struct MHD_Response *resp =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp) {
        free(text);
        return cs_srv_queue(r, 500, NULL);
    }
    cs_srv_add_common_headers(resp, "application/json; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return cs_srv_queue(r, 405, resp);
}

enum MHD_Result cs_srv_reply_cs_error(cs_srv_request *r, const cs_error *err) {
    int status = cs_srv_http_status(err->status);
    const char *msg = err->message[0] ? err->message : cs_status_name(err->status);
    if (status >= 500) cs_log(&r->srv->log, CS_LOG_WARN, "%s %s: %s", r->method, r->url, msg);
    return cs_srv_reply_error(r, status, "%s", msg);
}

int cs_srv_not_modified(cs_srv_request *r, const char *etag) {
    const char *inm =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    return inm && etag && strstr(inm, etag) != NULL;
}

enum MHD_Result cs_srv_reply_304(cs_srv_request *r, const char *etag) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!resp) return cs_srv_queue(r, 500, NULL);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    return cs_srv_queue(r, 304, resp);
}

json_t *cs_srv_json_string_lossy(const char *s) {
    json_t *j = json_string(s);
    if (j) return j;
    /* Not UTF-8 (a Latin-1 file name, say): keep the valid runs and mark the rest. */
    size_t n = strlen(s);
    char *fixed = malloc(3 * n + 1), *o = fixed;
    if (!fixed) return json_string("");
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t left = (utf8proc_ssize_t)n;
    while (left > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t used = utf8proc_iterate(p, left, &cp);
        if (used < 1 || cp == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD */
            o += 3;
            used = 1;
        } else {
            memcpy(o, p, (size_t)used);
            o += used;
        }
        p += used;
        left -= used;
    }
    *o = 0;
    j = json_string(fixed);
    free(fixed);
    return j ? j : json_string("");
}
