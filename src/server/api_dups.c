/* server/api_dups.c - GET /api/duplicates?threshold=T&strict=0|1&limit=&offset=:
 * the groups of `clipsearch duplicates`, keeper first, a page at a time.
 * Read only: nothing here moves or changes a file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"
#include "server/server_internal.h"

enum {
    DEFAULT_LIMIT = 100,
    MAX_LIMIT = 1000,
    MAX_OFFSET = 10000000,
    WEAKEST_MAX = 64 /* groups up to this size report their weakest pair */
};

static double round6(float x) {
    return round((double)x * 1e6) / 1e6;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static json_t *member_json(const cs_dup_member *m, int keeper) {
    char link[64];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "path", cs_srv_json_string_lossy(m->path));
    json_object_set_new(o, "name", cs_srv_json_string_lossy(base_name(m->path)));
    json_object_set_new(o, "score", json_real(round6(m->score)));
    json_object_set_new(o, "bytes", json_integer(m->size));
    json_object_set_new(o, "width", json_integer(m->width));
    json_object_set_new(o, "height", json_integer(m->height));
    json_object_set_new(o, "mtime",
                        m->mtime_ns > 0 ? json_integer(m->mtime_ns / 1000000000) : json_null());
    json_object_set_new(o, "keeper", json_boolean(keeper));
    snprintf(link, sizeof link, "/api/thumb/%lld", (long long)m->id);
    json_object_set_new(o, "thumb", json_string(link));
    snprintf(link, sizeof link, "/api/image/%lld", (long long)m->id);
    json_object_set_new(o, "image", json_string(link));
    return o;
}

/* One group: its members, its best score, and (when small enough to
 * compute) its weakest pair, which is below the threshold for a chain. */
static json_t *group_json(const cs_dups *d, int64_t g) {
    int m = cs_dups_size(d, g);
    json_t *members = json_array();
    float best = -1, weakest = 2;
    for (int i = 0; i < m; i++) {
        const cs_dup_member *x = cs_dups_member(d, g, i);
        json_array_append_new(members, member_json(x, i == 0));
        if (x->score > best) best = x->score;
        for (int j = i + 1; j < m && m <= WEAKEST_MAX; j++) {
            float s = cs_dups_score(d, g, i, j);
            if (s < weakest) weakest = s;
        }
    }
    json_t *o = json_object();
    json_object_set_new(o, "keeper", json_integer(cs_dups_member(d, g, 0)->id));
    json_object_set_new(o, "best", json_real(round6(best)));
    json_object_set_new(o, "weakest", m <= WEAKEST_MAX ? json_real(round6(weakest)) : json_null());
    json_object_set_new(o, "members", members);
    return o;
}

/* A threshold in (0, 1], parsed strictly (core/parse.h); absent: the default. */
static int parse_threshold(const char *s, float *out) {
    if (!s) return 1;
    double v;
    cs_error err;
    if (cs_parse_double(s, 1e-30, 1, "threshold", &v, &err) != CS_OK) return 0;
    *out = (float)v;
    return 1;
}

enum MHD_Result cs_srv_api_duplicates(cs_srv_request *r) {
    const cs_srv_backend *be = &r->srv->be;
    if (!be->duplicates) return cs_srv_reply_error(r, 501, "this server cannot find duplicates");
    cs_dups_opts o = {.threshold = CS_DUPS_DEFAULT_THRESHOLD};
    long strict, limit, offset;
    if (!parse_threshold(cs_srv_arg(r, "threshold"), &o.threshold))
        return cs_srv_reply_error(r, 400, "threshold must be a number in (0, 1], e.g. 0.95");
    if (!cs_srv_parse_int(cs_srv_arg(r, "strict"), 0, 1, 0, &strict))
        return cs_srv_reply_error(r, 400, "strict must be 0 or 1");
    if (!cs_srv_parse_int(cs_srv_arg(r, "limit"), 1, MAX_LIMIT, DEFAULT_LIMIT, &limit) ||
        !cs_srv_parse_int(cs_srv_arg(r, "offset"), 0, MAX_OFFSET, 0, &offset))
        return cs_srv_reply_error(r, 400, "limit must be from 1 to %d and offset from 0 to %d",
                                  MAX_LIMIT, MAX_OFFSET);
    o.strict = (int)strict;
    cs_dups *d = NULL;
    cs_error err = {0};
    if (be->duplicates(be->ctx, &o, &d, &err) != CS_OK) return cs_srv_reply_cs_error(r, &err);
    int64_t total = cs_dups_count(d);
    json_t *groups = json_array();
    for (int64_t g = offset; g < total && g < offset + limit; g++)
        json_array_append_new(groups, group_json(d, g));
    cs_dups_free(d);
    json_t *obj = json_object();
    json_object_set_new(obj, "threshold", json_real(round6(o.threshold)));
    json_object_set_new(obj, "strict", json_boolean(o.strict));
    json_object_set_new(obj, "groups", groups);
    json_object_set_new(obj, "total", json_integer(total));
    json_object_set_new(obj, "offset", json_integer(offset));
    json_object_set_new(obj, "more", json_boolean(total > offset + limit));
    json_object_set_new(obj, "took_ms", json_real(round((cs_srv_now() - r->t_start) * 1e5) / 1e2));
    return cs_srv_reply_json(r, 200, obj);
}
