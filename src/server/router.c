/* server/router.c - from method + URL to a handler.
 *
 * The URL space is closed: exact names for the page's files and the API,
 * and decimal ids after /api/{similar,thumb,image}/. Nothing in a URL is
 * ever used as a file path, so "/../etc/passwd", "/api/image/..%2F1" and
 * the like match no route and get 404. */
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"
#include "server/assets.h"
#include "server/server_internal.h"

int cs_srv_parse_id(const char *s, int64_t *out) {
    if (!s || !*s) return 0;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || p - s >= 18) return 0; /* 18 digits < INT64_MAX */
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 1;
}

int cs_srv_parse_int(const char *s, long lo, long hi, long dflt, long *out) {
    if (!s) {
        *out = dflt;
        return 1;
    }
    long long v;
    cs_error err;
    if (cs_parse_int(s, lo, hi, "argument", &v, &err) != CS_OK) return 0;
    *out = (long)v;
    return 1;
}

const char *cs_srv_arg(cs_srv_request *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static const cs_srv_asset *find_asset(const char *name) {
    for (const cs_srv_asset *a = cs_srv_assets; a->name; a++)
        if (!strcmp(a->name, name)) return a;
    return NULL;
}

static enum MHD_Result serve_asset(cs_srv_request *r, const cs_srv_asset *a) {
    if (cs_srv_not_modified(r, a->etag)) return cs_srv_reply_304(r, a->etag);
    /* no-cache: the browser revalidates (a cheap 304) and so never runs a
     * stale app.js after an upgrade */
    return cs_srv_reply_bytes(r, 200, a->mime, a->data, a->size, 0, "no-cache", a->etag);
}

static enum MHD_Result not_found(cs_srv_request *r) {
    return cs_srv_reply_error(r, 404, "no such page: %s", r->url);
}

/* "/api/thumb/123" with prefix "/api/thumb/" -> 1 and the id. */
static int id_route(const char *url, const char *prefix, int64_t *id) {
    size_t n = strlen(prefix);
    return !strncmp(url, prefix, n) && cs_srv_parse_id(url + n, id);
}

enum MHD_Result cs_srv_route(cs_srv_request *r) {
    const char *url = r->url;
    int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    int post = !strcmp(r->method, "POST");
    int64_t id;

    if (!strcmp(url, "/api/search")) {
        if (get) return cs_srv_api_search_get(r);
        if (post) return cs_srv_api_search_post(r);
        return cs_srv_reply_405(r, "GET, HEAD, POST");
    }
    if (!strncmp(url, "/api/", 5) || !strcmp(url, "/healthz")) {
        if (!get) return cs_srv_reply_405(r, "GET, HEAD");
        if (!strcmp(url, "/healthz")) return cs_srv_api_health(r);
        if (!strcmp(url, "/api/stats")) return cs_srv_api_stats(r);
        if (!strcmp(url, "/api/duplicates")) return cs_srv_api_duplicates(r);
        if (id_route(url, "/api/similar/", &id)) return cs_srv_api_similar(r, id);
        if (id_route(url, "/api/thumb/", &id)) return cs_srv_api_thumb(r, id);
        if (id_route(url, "/api/image/", &id)) return cs_srv_api_image(r, id);
        return not_found(r);
    }
    /* the page: "/" and the bare names of its files */
    const char *name = !strcmp(url, "/") ? "index.html" : url[0] == '/' ? url + 1 : "";
    const cs_srv_asset *a = strchr(name, '/') ? NULL : find_asset(name);
    if (!a) return not_found(r);
    if (!get) return cs_srv_reply_405(r, "GET, HEAD");
    return serve_asset(r, a);
}
