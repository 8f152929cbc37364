/* server/query_vector_json.c - the JSON form of a query (POST /api/search):
 *
 *   {"text": "cat + 2:dog - grass",        rclip syntax, weight "text_weight"
 *    "image_base64": "...",                 weight "image_weight"
 *    "embedding": [0.1, ...],               weight "embedding_weight"
 *    "id": 12,                              an indexed image, weight "id_weight"
 *    "terms": [{"text": "cat", "weight": 1}, {"image_base64": "...", "weight": -0.5},
 *              {"embedding": [...]}, {"id": 3}],   plain parts, any number up to 16
 *    "k": 20, "offset": 0}
 *
 * Every part present is added (query_vector.h); weights default to 1. Unknown keys
 * are refused, so a misspelt one is an error rather than silently ignored. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "server/query_vector.h"

static const char *const TOP_KEYS[] = {"text",         "text_weight",
                                       "image_base64", "image_weight",
                                       "embedding",    "embedding_weight",
                                       "id",           "id_weight",
                                       "terms",        "k",
                                       "offset",       NULL};
static const char *const TERM_KEYS[] = {"text", "image_base64", "embedding", "id", "weight", NULL};

static cs_status check_keys(json_t *obj, const char *const *allowed, const char *where,
                            cs_error *err) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(key, allowed[i]);
        if (!ok) return cs_fail(err, CS_EINVAL, "%s: unknown key \"%s\"", where, key);
    }
    return CS_OK;
}

static cs_status weight_of(json_t *obj, const char *key, const char *where, double *w,
                           cs_error *err) {
    json_t *v = json_object_get(obj, key);
    *w = 1.0;
    if (!v) return CS_OK;
    if (!json_is_number(v))
        return cs_fail(err, CS_EINVAL, "%s: \"%s\" must be a number", where, key);
    *w = json_number_value(v);
    return CS_OK;
}

static cs_status add_image_b64(cs_srv_query *q, json_t *v, double w, const char *where,
                               cs_error *err) {
    if (!json_is_string(v))
        return cs_fail(err, CS_EINVAL, "%s: \"image_base64\" must be a string", where);
    unsigned char *bytes;
    size_t n;
    cs_status st =
        cs_srv_base64_decode(json_string_value(v), json_string_length(v), &bytes, &n, err);
    if (st == CS_OK) st = cs_srv_query_add_image(q, bytes, n, w, err);
    free(bytes);
    return st;
}

static cs_status add_embedding(cs_srv_query *q, json_t *v, double w, const char *where,
                               cs_error *err) {
    if (!json_is_array(v) || json_array_size(v) != (size_t)q->be->dim)
        return cs_fail(err, CS_EINVAL, "%s: \"embedding\" must be an array of %d numbers", where,
                       q->be->dim);
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (!json_is_number(x))
            return cs_fail(err, CS_EINVAL, "%s: \"embedding\"[%zu] is not a number", where, i);
        q->scratch[i] = (float)json_number_value(x);
    }
    /* scratch is the caller's own copy from here: add_vector reads it before
     * anything else writes it */
    return cs_srv_query_add_vector(q, q->scratch, q->be->dim, w, err);
}

static cs_status add_id(cs_srv_query *q, json_t *v, double w, const char *where, cs_error *err) {
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return cs_fail(err, CS_EINVAL, "%s: \"id\" must be a non-negative integer", where);
    return cs_srv_query_add_id(q, (int64_t)json_integer_value(v), w, err);
}

static cs_status add_term(cs_srv_query *q, json_t *t, const char *where, cs_error *err) {
    if (!json_is_object(t)) return cs_fail(err, CS_EINVAL, "%s: must be an object", where);
    cs_status st = check_keys(t, TERM_KEYS, where, err);
    if (st != CS_OK) return st;
    double w;
    st = weight_of(t, "weight", where, &w, err);
    if (st != CS_OK) return st;
    json_t *text = json_object_get(t, "text"), *img = json_object_get(t, "image_base64");
    json_t *emb = json_object_get(t, "embedding"), *id = json_object_get(t, "id");
    if (!!text + !!img + !!emb + !!id != 1)
        return cs_fail(err, CS_EINVAL,
                       "%s: needs exactly one of \"text\", \"image_base64\", \"embedding\", "
                       "\"id\"",
                       where);
    if (text && (!json_is_string(text) || json_string_length(text) > CS_SRV_MAX_TEXT))
        return cs_fail(err, CS_EINVAL, "%s: \"text\" must be a string of at most %d bytes", where,
                       CS_SRV_MAX_TEXT);
    if (text) return cs_srv_query_add_text(q, json_string_value(text), w, err);
    if (img) return add_image_b64(q, img, w, where, err);
    if (emb) return add_embedding(q, emb, w, where, err);
    return add_id(q, id, w, where, err);
}

cs_status cs_srv_query_add_json(cs_srv_query *q, json_t *obj, const char *where, cs_error *err) {
    cs_status st = check_keys(obj, TOP_KEYS, where, err);
    double w = 1.0;
    json_t *v;
    if (st == CS_OK && (v = json_object_get(obj, "text"))) {
        if (!json_is_string(v) || json_string_length(v) > CS_SRV_MAX_TEXT)
            return cs_fail(err, CS_EINVAL, "%s: \"text\" must be a string of at most %d bytes",
                           where, CS_SRV_MAX_TEXT);
        st = weight_of(obj, "text_weight", where, &w, err);
        if (st == CS_OK) st = cs_srv_query_add_expr(q, json_string_value(v), w, err);
    }
    if (st == CS_OK && (v = json_object_get(obj, "image_base64"))) {
        st = weight_of(obj, "image_weight", where, &w, err);
        if (st == CS_OK) st = add_image_b64(q, v, w, where, err);
    }
    if (st == CS_OK && (v = json_object_get(obj, "embedding"))) {
        st = weight_of(obj, "embedding_weight", where, &w, err);
        if (st == CS_OK) st = add_embedding(q, v, w, where, err);
    }
    if (st == CS_OK && (v = json_object_get(obj, "id"))) {
        st = weight_of(obj, "id_weight", where, &w, err);
        if (st == CS_OK) st = add_id(q, v, w, where, err);
    }
    if (st == CS_OK && (v = json_object_get(obj, "terms"))) {
        if (!json_is_array(v))
            return cs_fail(err, CS_EINVAL, "%s: \"terms\" must be an array", where);
        size_t i;
        json_t *t;
        json_array_foreach(v, i, t) {
            char at[64];
            snprintf(at, sizeof at, "%s: terms[%zu]", where, i);
            st = add_term(q, t, at, err);
            if (st != CS_OK) break;
        }
    }
    return st;
}
