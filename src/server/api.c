/* server/api.c - the API's file and status endpoints: /api/thumb/ID,
 * /api/image/ID, /api/stats, /healthz. Files are found only through the
 * index (an id -> the path the index holds), never through the URL. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/http.h"

/* A validator for cached copies: FNV-1a over what identifies the content. */
static void make_etag(char *out, size_t cap, char kind, const srv_item *it, uint64_t extra) {
    uint64_t h = 1469598103934665603ull;
    for (const char *p = it->path; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    uint64_t parts[3] = {(uint64_t)it->width, (uint64_t)it->height, extra};
    for (int i = 0; i < 3; i++) h = (h ^ parts[i]) * 1099511628211ull;
    snprintf(out, cap, "\"%c%lld-%016llx\"", kind, (long long)it->id, (unsigned long long)h);
}

/* 1 with the record of `id`, or 0 after replying 404 (or the error). */
static int lookup(srv_request *r, int64_t id, srv_item *it) {
    cs_error err = {0};
    cs_status st = r->srv->be.item(r->srv->be.ctx, id, it, &err);
    if (st == CS_ENOTFOUND)
        srv_reply_error(r, 404, "no image with id %lld", (long long)id);
    else if (st != CS_OK)
        srv_reply_cs_error(r, &err);
    return st == CS_OK;
}

/* Decode, shrink and encode one thumbnail. */
static cs_status make_thumb(cs_server *srv, const srv_item *it, unsigned char **jpg, size_t *n,
                            cs_error *err) {
    int size = srv->opts.thumb_size;
    int w = it->width > 0 ? it->width : size, h = it->height > 0 ? it->height : size;
    /* The decoder may shrink (JPEG DCT scaling, by M/8) as long as the shorter
     * side stays >= min_side. Its sizes round up, so asking one pixel more
     * than size * short / long keeps the longer side >= size:
     * long * M/8 >= long / short * (min_side - 1) >= size. */
    long lo = w < h ? w : h, hi = w > h ? w : h;
    long min_side = (lo * size + hi - 1) / hi + 1;
    cs_image img = {0}, small = {0};
    cs_status st = srv->be.decode(srv->be.ctx, it, (int)(min_side > 0 ? min_side : 1), &img, err);
    if (st != CS_OK) return st;
    st = srv_image_fit(&img, size, &small, err);
    srv->be.image_free(srv->be.ctx, &img);
    if (st == CS_OK) st = cs_image_encode_jpeg(&small, 82, jpg, n, err);
    free(small.rgb);
    return st;
}

enum MHD_Result srv_api_thumb(srv_request *r, int64_t id) {
    srv_item it;
    if (!lookup(r, id, &it)) return MHD_YES;
    char etag[64];
    make_etag(etag, sizeof etag, 't', &it, (uint64_t)r->srv->opts.thumb_size);
    if (srv_not_modified(r, etag)) return srv_reply_304(r, etag);
    unsigned char *jpg = NULL;
    size_t n = 0;
    if (!srv_cache_get(r->srv->thumbs, id, &jpg, &n)) {
        cs_error err = {0};
        cs_status st = make_thumb(r->srv, &it, &jpg, &n, &err);
        if (st != CS_OK) {
            cs_log(&r->srv->log, CS_LOG_WARN, "thumbnail of image %lld: %s", (long long)id,
                   err.message);
            /* the file changed or vanished since it was indexed */
            return srv_reply_error(r, st == CS_EIO || st == CS_ENOTFOUND ? 404 : 422,
                                   "no thumbnail for image %lld: %s", (long long)id, err.message);
        }
        srv_cache_put(r->srv->thumbs, id, jpg, n);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, jpg, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(jpg);
        return srv_queue(r, 500, NULL);
    }
    srv_add_common_headers(resp, "image/jpeg");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "private, max-age=3600");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    return srv_queue(r, 200, resp);
}

/* The MIME type from the first bytes (never from the file name). */
static const char *sniff_mime(const unsigned char *b, size_t n) {
    if (n >= 3 && !memcmp(b, "\xFF\xD8\xFF", 3)) return "image/jpeg";
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1A\n", 8)) return "image/png";
    if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6))) return "image/gif";
    if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4)) return "image/webp";
    if (n >= 2 && !memcmp(b, "BM", 2)) return "image/bmp";
    if (n >= 4 && (!memcmp(b, "II*\0", 4) || !memcmp(b, "MM\0*", 4))) return "image/tiff";
    if (n >= 12 && !memcmp(b + 4, "ftyp", 4)) {
        if (!memcmp(b + 8, "avif", 4) || !memcmp(b + 8, "avis", 4)) return "image/avif";
        return "image/heic";
    }
    return "application/octet-stream";
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

enum MHD_Result srv_api_image(srv_request *r, int64_t id) {
    srv_item it;
    if (!lookup(r, id, &it)) return MHD_YES;
    int fd = open(it.path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        return srv_reply_error(r, 404, "image %lld is no longer readable", (long long)id);
    }
    unsigned char head[16];
    ssize_t got = pread(fd, head, sizeof head, 0);
    char etag[64], disp[1024];
    make_etag(etag, sizeof etag, 'i', &it, (uint64_t)st.st_size ^ (uint64_t)st.st_mtime);
    if (srv_not_modified(r, etag)) {
        close(fd);
        return srv_reply_304(r, etag);
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return srv_queue(r, 500, NULL);
    }
    srv_add_common_headers(resp, sniff_mime(head, got > 0 ? (size_t)got : 0));
    content_disposition(disp, sizeof disp, it.path);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "private, max-age=3600");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    return srv_queue(r, 200, resp);
}

enum MHD_Result srv_api_stats(srv_request *r) {
    cs_server *srv = r->srv;
    json_t *obj = json_object();
    cs_error err = {0};
    cs_status st = srv->be.stats(srv->be.ctx, obj, &err);
    if (st != CS_OK) {
        json_decref(obj);
        return srv_reply_cs_error(r, &err);
    }
    size_t entries, bytes;
    uint64_t hits, misses;
    srv_cache_stats(srv->thumbs, &entries, &bytes, &hits, &misses);
    json_object_set_new(obj, "dim", json_integer(srv->be.dim));
    json_object_set_new(obj, "version", json_string(cs_version()));
    json_object_set_new(obj, "thumbnails",
                        json_pack("{s:I, s:I, s:I, s:I, s:i}", "cached", (json_int_t)entries,
                                  "bytes", (json_int_t)bytes, "hits", (json_int_t)hits, "misses",
                                  (json_int_t)misses, "size", srv->opts.thumb_size));
    srv_cache_stats(srv->embeddings, &entries, &bytes, &hits, &misses);
    json_object_set_new(obj, "query_cache",
                        json_pack("{s:I, s:I, s:I}", "cached", (json_int_t)entries, "hits",
                                  (json_int_t)hits, "misses", (json_int_t)misses));
    json_object_set_new(obj, "limits",
                        json_pack("{s:I, s:i, s:i}", "max_body", (json_int_t)srv->opts.max_body,
                                  "max_k", srv->opts.max_k, "timeout_s", srv->opts.timeout_s));
    return srv_reply_json(r, 200, obj);
}

enum MHD_Result srv_api_health(srv_request *r) {
    return srv_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}
