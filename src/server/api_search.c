/* server/api_search.c - /api/search (GET and POST) and /api/similar/ID:
 * build the query vector (query_vector.c), search, and describe the hits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server_internal.h"
#include "server/query_vector.h"

#define MAX_OFFSET 10000
#define DEFAULT_K  20

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* One result as JSON: the links name the id, never the path. */
static json_t *hit_json(const cs_result *h) {
    char link[64];
    const char *path = h->path ? h->path : "";
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(h->id));
    json_object_set_new(o, "score", json_real(round(h->score * 1e6) / 1e6));
    json_object_set_new(o, "path", cs_srv_json_string_lossy(path));
    json_object_set_new(o, "name", cs_srv_json_string_lossy(base_name(path)));
    json_object_set_new(o, "width", json_integer(h->width));
    json_object_set_new(o, "height", json_integer(h->height));
    snprintf(link, sizeof link, "/api/thumb/%lld", (long long)h->id);
    json_object_set_new(o, "thumb", json_string(link));
    snprintf(link, sizeof link, "/api/image/%lld", (long long)h->id);
    json_object_set_new(o, "image", json_string(link));
    return o;
}

/* Searches with the finished query and replies {"results": [...], ...}.
 * `exclude` (>= 0) leaves one id out: an image is not "similar" to itself.
 * about (may be NULL; taken) describes the query as "query". */
static enum MHD_Result reply_hits(cs_srv_request *r, const float *query, long k, long offset,
                                  int64_t exclude, json_t *about) {
    const cs_srv_backend *be = &r->srv->be;
    cs_result *hits = NULL;
    int n = 0;
    cs_error err = {0};
    /* one more than the page: tells whether there is a next one */
    cs_status st = be->search(be->ctx, query, (int)(offset + k + 1), exclude, &hits, &n, &err);
    if (st != CS_OK) {
        json_decref(about);
        return cs_srv_reply_cs_error(r, &err);
    }
    double took = cs_srv_now() - r->t_start; /* the whole request: embedding included */
    json_t *results = json_array();
    for (long i = offset; i < n && i < offset + k; i++)
        json_array_append_new(results, hit_json(&hits[i]));
    cs_results_free(hits, n);
    json_t *obj = json_object();
    json_object_set_new(obj, "results", results);
    json_object_set_new(obj, "k", json_integer(k));
    json_object_set_new(obj, "offset", json_integer(offset));
    json_object_set_new(obj, "more", json_boolean(n > offset + k));
    json_object_set_new(obj, "took_ms", json_real(round(took * 1e5) / 1e2));
    if (about) json_object_set_new(obj, "query", about);
    return cs_srv_reply_json(r, 200, obj);
}

/* k and offset from strings (URL or form); replies 400 itself when bad. */
static int paging(cs_srv_request *r, const char *ks, const char *offs, long *k, long *offset) {
    if (!cs_srv_parse_int(ks, 1, r->srv->opts.max_k, DEFAULT_K, k)) {
        cs_srv_reply_error(r, 400, "k must be a whole number from 1 to %d", r->srv->opts.max_k);
        return 0;
    }
    if (!cs_srv_parse_int(offs, 0, MAX_OFFSET, 0, offset)) {
        cs_srv_reply_error(r, 400, "offset must be a whole number from 0 to %d", MAX_OFFSET);
        return 0;
    }
    return 1;
}

/* Finishes a query and searches, or replies with the error. */
static enum MHD_Result finish_and_reply(cs_srv_request *r, cs_srv_query *q, cs_status st,
                                        cs_error *err, long k, long offset) {
    if (st == CS_OK) st = cs_srv_query_finish(q, err);
    enum MHD_Result ret =
        st == CS_OK ? reply_hits(r, q->sum, k, offset, -1, NULL) : cs_srv_reply_cs_error(r, err);
    cs_srv_query_free(q);
    return ret;
}

static int text_ok(cs_srv_request *r, const char *text) {
    if (strlen(text) > CS_SRV_MAX_TEXT) {
        cs_srv_reply_error(r, 400, "the query text is longer than %d bytes", CS_SRV_MAX_TEXT);
        return 0;
    }
    return 1;
}

enum MHD_Result cs_srv_api_search_get(cs_srv_request *r) {
    long k, offset;
    if (!paging(r, cs_srv_arg(r, "k"), cs_srv_arg(r, "offset"), &k, &offset)) return MHD_YES;
    const char *text = cs_srv_arg(r, "q");
    if (!text || !*text) return cs_srv_reply_error(r, 400, "missing query: /api/search?q=TEXT");
    if (!text_ok(r, text)) return MHD_YES;
    cs_srv_query q;
    cs_error err = {0};
    cs_status st = cs_srv_query_init(&q, &r->srv->be, r->srv->embeddings, &err);
    if (st != CS_OK) return cs_srv_reply_cs_error(r, &err);
    st = cs_srv_query_add_expr(&q, text, 1.0, &err);
    return finish_and_reply(r, &q, st, &err, k, offset);
}

enum MHD_Result cs_srv_api_similar(cs_srv_request *r, int64_t id) {
    long k, offset;
    if (!paging(r, cs_srv_arg(r, "k"), cs_srv_arg(r, "offset"), &k, &offset)) return MHD_YES;
    cs_srv_query q;
    cs_error err = {0};
    cs_status st = cs_srv_query_init(&q, &r->srv->be, r->srv->embeddings, &err);
    if (st != CS_OK) return cs_srv_reply_cs_error(r, &err);
    st = cs_srv_query_add_id(&q, id, 1.0, &err);
    if (st == CS_OK) st = cs_srv_query_finish(&q, &err);
    /* the image it is similar to, by name: the page says so after a reload */
    json_t *about = NULL;
    cs_srv_item it;
    cs_error ierr;
    if (st == CS_OK && r->srv->be.item(r->srv->be.ctx, id, &it, &ierr) == CS_OK)
        about = json_pack("{s:I, s:o, s:o}", "id", (json_int_t)id, "path",
                          cs_srv_json_string_lossy(it.path), "name",
                          cs_srv_json_string_lossy(base_name(it.path)));
    enum MHD_Result ret =
        st == CS_OK ? reply_hits(r, q.sum, k, offset, id, about) : cs_srv_reply_cs_error(r, &err);
    cs_srv_query_free(&q);
    return ret;
}

/* ---- POST ---------------------------------------------------------------------- */

static enum MHD_Result post_json(cs_srv_request *r) {
    json_error_t jerr;
    json_t *doc =
        json_loadb(r->body.data ? r->body.data : "", r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return cs_srv_reply_error(r, 400, "malformed JSON at line %d: %s", jerr.line, jerr.text);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return cs_srv_reply_error(r, 400, "the JSON body must be an object");
    }
    long k = DEFAULT_K, offset = 0;
    json_t *jk = json_object_get(doc, "k"), *jo = json_object_get(doc, "offset");
    if ((jk && (!json_is_integer(jk) || json_integer_value(jk) < 1 ||
                json_integer_value(jk) > r->srv->opts.max_k)) ||
        (jo && (!json_is_integer(jo) || json_integer_value(jo) < 0 ||
                json_integer_value(jo) > MAX_OFFSET))) {
        json_decref(doc);
        return cs_srv_reply_error(r, 400, "k must be from 1 to %d and offset from 0 to %d",
                                  r->srv->opts.max_k, MAX_OFFSET);
    }
    if (jk) k = (long)json_integer_value(jk);
    if (jo) offset = (long)json_integer_value(jo);
    cs_srv_query q;
    cs_error err = {0};
    cs_status st = cs_srv_query_init(&q, &r->srv->be, r->srv->embeddings, &err);
    if (st == CS_OK) st = cs_srv_query_add_json(&q, doc, "body", &err);
    json_decref(doc);
    if (st != CS_OK && !q.sum) return cs_srv_reply_cs_error(r, &err);
    return finish_and_reply(r, &q, st, &err, k, offset);
}

/* A multipart upload (field "image" or any file, optional "q", "k", "offset",
 * each else from the URL), or raw image bytes with ?q=&k=&offset= in the URL. */
static enum MHD_Result post_image(cs_srv_request *r, const cs_srv_buf *image, const char *text,
                                  const char *ks, const char *offs) {
    long k, offset;
    if (!paging(r, ks, offs, &k, &offset)) return MHD_YES;
    if (text && !text_ok(r, text)) return MHD_YES;
    if (!image->len && !(text && *text))
        return cs_srv_reply_error(r, 400,
                                  "no image in the request (send its bytes, or a form "
                                  "with an \"image\" file)");
    cs_srv_query q;
    cs_error err = {0};
    cs_status st = cs_srv_query_init(&q, &r->srv->be, r->srv->embeddings, &err);
    if (st != CS_OK) return cs_srv_reply_cs_error(r, &err);
    if (image->len) st = cs_srv_query_add_image(&q, image->data, image->len, 1.0, &err);
    if (st == CS_OK && text && *text) st = cs_srv_query_add_expr(&q, text, 1.0, &err);
    return finish_and_reply(r, &q, st, &err, k, offset);
}

enum MHD_Result cs_srv_api_search_post(cs_srv_request *r) {
    const char *ct =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (r->form)
        return post_image(r, &r->upload, r->form_text[0] ? r->form_text : cs_srv_arg(r, "q"),
                          r->form_k[0] ? r->form_k : cs_srv_arg(r, "k"),
                          r->form_offset[0] ? r->form_offset : cs_srv_arg(r, "offset"));
    if (ct && !strncasecmp(ct, "application/json", 16)) return post_json(r);
    if (!ct || !strncasecmp(ct, "image/", 6) || !strncasecmp(ct, "application/octet-stream", 24))
        return post_image(r, &r->body, cs_srv_arg(r, "q"), cs_srv_arg(r, "k"),
                          cs_srv_arg(r, "offset"));
    return cs_srv_reply_error(r, 415,
                              "unsupported Content-Type '%s': send JSON, image bytes or a "
                              "multipart form",
                              ct);
}
