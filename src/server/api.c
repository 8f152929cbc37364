/* server/api.c - the API's file and status endpoints: /api/thumb/ID,
 * /api/image/ID, /api/stats, /healthz. Files are found only through the
 * index (an id -> the path the index holds), never through the URL. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"
#include "server/item_file.h"

/* What identifies an indexed image's content: its id and the catalogue's
 * record of its bytes (hash, size, mtime), FNV-1a mixed. A re-indexed image
 * whose bytes changed gets a new key, so no cache (ours or the browser's)
 * can serve the old picture under the same id. */
static uint64_t content_key(const cs_srv_item *it, uint64_t extra) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 16; i++) h = (h ^ it->hash[i]) * 1099511628211ull;
    uint64_t parts[4] = {(uint64_t)it->id, (uint64_t)it->size, (uint64_t)it->mtime_ns, extra};
    for (int i = 0; i < 4; i++)
        for (int byte = 0; byte < 8; byte++)
            h = (h ^ ((parts[i] >> (8 * byte)) & 0xFF)) * 1099511628211ull;
    return h;
}

/* The browser keeps a copy but asks again each time (a 304 when the ETag
 * still matches): with a max-age it would show an image changed and
 * indexed again under the same URL as it was, until the age ran out. */
#define CACHE_CONTROL "private, no-cache"

/* A validator for cached copies. */
static void make_etag(char *out, size_t cap, char kind, const cs_srv_item *it, uint64_t extra) {
    snprintf(out, cap, "\"%c%lld-%016llx\"", kind, (long long)it->id,
             (unsigned long long)content_key(it, extra));
}

/* 1 with the record of `id`, or 0 after replying 404 (or the error). */
static int lookup(cs_srv_request *r, int64_t id, cs_srv_item *it) {
    cs_error err = {0};
    cs_status st = r->srv->be.item(r->srv->be.ctx, id, it, &err);
    if (st == CS_ENOTFOUND)
        cs_srv_reply_error(r, 404, "no image with id %lld", (long long)id);
    else if (st != CS_OK)
        cs_srv_reply_cs_error(r, &err);
    return st == CS_OK;
}

/* 1 with the file of `it` opened and its cheap checks passed, or 0 after
 * replying 404. */
static int open_item(cs_srv_request *r, const cs_srv_item *it, cs_srv_item_file *f) {
    cs_error err = {0};
    if (cs_srv_item_open(it, r->srv->be.guard, f, &err) == CS_OK) return 1;
    cs_log(&r->srv->log, CS_LOG_WARN, "%s", err.message);
    cs_srv_reply_error(r, 404, "%s", err.message);
    return 0;
}

/* The most bytes a file to decode may have: as cs_image_decode_file allows
 * (no format stores more than 16 bytes a pixel, plus metadata). */
static size_t max_file_bytes(const cs_server *srv) {
    uint64_t px = srv->opts.decode.max_pixels ? srv->opts.decode.max_pixels : CS_DEFAULT_MAX_PIXELS;
    return px < (SIZE_MAX >> 5) ? (size_t)px * 16 + ((size_t)64 << 20) : SIZE_MAX >> 1;
}

/* Decode, shrink and encode one thumbnail, from the bytes of the file that
 * was checked against the catalogue. */
static cs_status make_thumb(cs_server *srv, const cs_srv_item *it, cs_srv_item_file *f,
                            unsigned char **jpg, size_t *n, cs_error *err) {
    cs_status st = cs_srv_item_verify(it, f, 1, max_file_bytes(srv), err);
    if (st != CS_OK) return st;
    int size = srv->opts.thumb_size;
    int w = it->width > 0 ? it->width : size, h = it->height > 0 ? it->height : size;
    /* The decoder may shrink (JPEG DCT scaling, by M/8) as long as the shorter
     * side stays >= min_side. Its sizes round up, so asking one pixel more
     * than size * short / long keeps the longer side >= size:
     * long * M/8 >= long / short * (min_side - 1) >= size. */
    long lo = w < h ? w : h, hi = w > h ? w : h;
    long min_side = (lo * size + hi - 1) / hi + 1;
    cs_image img = {0}, small = {0};
    st = srv->be.decode(srv->be.ctx, it, f->data, (size_t)it->size,
                        (int)(min_side > 0 ? min_side : 1), &img, err);
    if (st != CS_OK) return st;
    st = cs_srv_image_fit(&img, size, &small, err);
    srv->be.image_free(srv->be.ctx, &img);
    if (st == CS_OK) st = cs_image_encode_jpeg(&small, 82, jpg, n, err);
    free(small.rgb);
    return st;
}

enum MHD_Result cs_srv_api_thumb(cs_srv_request *r, int64_t id) {
    cs_srv_item it;
    cs_srv_item_file f;
    if (!lookup(r, id, &it) || !open_item(r, &it, &f)) return MHD_YES;
    char etag[64];
    uint64_t size = (uint64_t)r->srv->opts.thumb_size;
    make_etag(etag, sizeof etag, 't', &it, size);
    if (cs_srv_not_modified(r, etag)) {
        cs_srv_item_file_close(&f);
        return cs_srv_reply_304(r, etag);
    }
    unsigned char *jpg = NULL;
    size_t n = 0;
    int64_t key = (int64_t)content_key(&it, size);
    if (!cs_srv_cache_get(r->srv->thumbs, key, &jpg, &n)) {
        cs_error err = {0};
        cs_status st = make_thumb(r->srv, &it, &f, &jpg, &n, &err);
        cs_srv_item_file_close(&f);
        if (st != CS_OK) {
            cs_log(&r->srv->log, CS_LOG_WARN, "thumbnail of image %lld: %s", (long long)id,
                   err.message);
            /* The decoder's message may quote the file's first bytes: only
             * our own refusals (which never do) are passed on. */
            if (st == CS_ENOTFOUND) return cs_srv_reply_error(r, 404, "%s", err.message);
            return cs_srv_reply_error(
                r, st == CS_ELIMIT ? 413 : 422, "no thumbnail for image %lld: %s", (long long)id,
                st == CS_ELIMIT ? "too large to decode" : "it does not decode");
        }
        cs_srv_cache_put(r->srv->thumbs, key, jpg, n);
    }
    cs_srv_item_file_close(&f);
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, jpg, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(jpg);
        return cs_srv_queue(r, 500, NULL);
    }
    cs_srv_add_common_headers(resp, "image/jpeg");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, CACHE_CONTROL);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    return cs_srv_queue(r, 200, resp);
}

/* filename*=UTF-8''... : every byte outside [A-Za-z0-9._-] percent-encoded,
 * so no file name can break out of the header. */
static void content_disposition(char *out, size_t cap, const char *path) {
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    size_t o = (size_t)snprintf(out, cap, "inline; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 4 < cap; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '_' || *p == '-')
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", *p);
    }
    out[o] = 0;
}

enum MHD_Result cs_srv_api_image(cs_srv_request *r, int64_t id) {
    cs_srv_item it;
    cs_srv_item_file f;
    if (!lookup(r, id, &it) || !open_item(r, &it, &f)) return MHD_YES;
    char etag[64], disp[1024];
    make_etag(etag, sizeof etag, 'i', &it, 0);
    if (cs_srv_not_modified(r, etag)) {
        cs_srv_item_file_close(&f);
        return cs_srv_reply_304(r, etag);
    }
    cs_error err = {0};
    if (cs_srv_item_verify(&it, &f, 0, 0, &err) != CS_OK) {
        cs_srv_item_file_close(&f);
        cs_log(&r->srv->log, CS_LOG_WARN, "%s", err.message);
        return cs_srv_reply_error(r, 404, "%s", err.message);
    }
    /* Sent from the checked descriptor, never by opening the path again. */
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)it.size, f.fd);
    if (!resp) {
        cs_srv_item_file_close(&f);
        return cs_srv_queue(r, 500, NULL);
    }
    f.fd = -1; /* the response owns it now */
    cs_srv_add_common_headers(resp, cs_srv_image_mime(f.format));
    cs_srv_item_file_close(&f);
    content_disposition(disp, sizeof disp, it.path);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, CACHE_CONTROL);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    return cs_srv_queue(r, 200, resp);
}

enum MHD_Result cs_srv_api_stats(cs_srv_request *r) {
    cs_server *srv = r->srv;
    json_t *obj = json_object();
    cs_error err = {0};
    cs_status st = srv->be.stats(srv->be.ctx, obj, &err);
    if (st != CS_OK) {
        json_decref(obj);
        return cs_srv_reply_cs_error(r, &err);
    }
    size_t entries, bytes;
    uint64_t hits, misses;
    cs_srv_cache_stats(srv->thumbs, &entries, &bytes, &hits, &misses);
    json_object_set_new(obj, "dim", json_integer(srv->be.dim));
    json_object_set_new(obj, "version", json_string(cs_version()));
    json_object_set_new(obj, "thumbnails",
                        json_pack("{s:I, s:I, s:I, s:I, s:i}", "cached", (json_int_t)entries,
                                  "bytes", (json_int_t)bytes, "hits", (json_int_t)hits, "misses",
                                  (json_int_t)misses, "size", srv->opts.thumb_size));
    cs_srv_cache_stats(srv->embeddings, &entries, &bytes, &hits, &misses);
    json_object_set_new(obj, "query_cache",
                        json_pack("{s:I, s:I, s:I}", "cached", (json_int_t)entries, "hits",
                                  (json_int_t)hits, "misses", (json_int_t)misses));
    const cs_server_opts *o = &srv->opts;
    json_object_set_new(
        obj, "limits",
        json_pack("{s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "max_body", (json_int_t)o->max_body,
                  "max_k", o->max_k, "timeout_s", o->timeout_s, "header_timeout_ms",
                  o->header_timeout_ms, "body_timeout_ms", o->body_timeout_ms, "max_connections",
                  o->max_connections, "max_per_client", srv->per_client, "reserve", srv->reserve));
    unsigned long late, room;
    cs_srv_guard_stats(srv->guard, &late, &room);
    json_object_set_new(
        obj, "connections_closed",
        json_pack("{s:I, s:I}", "past_deadline", (json_int_t)late, "for_room", (json_int_t)room));
    return cs_srv_reply_json(r, 200, obj);
}

enum MHD_Result cs_srv_api_health(cs_srv_request *r) {
    return cs_srv_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}
