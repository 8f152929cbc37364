/* model/safetensors.c - a strict reader (and writer) of the safetensors format.
 *
 * File layout: u64 little-endian N, N bytes of JSON header, then the data
 * buffer. Each header entry {"dtype", "shape", "data_offsets": [begin, end]}
 * is relative to the data buffer. Everything a hostile file could lie about
 * is checked before a pointer is formed: N against the file size, offsets
 * against the buffer, end - begin against dtype x shape (with overflow
 * checks), and ranges against each other (no overlaps). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "model/tensors.h"

#define MAX_HEADER (100u << 20) /* the format's own limit */

typedef struct range {
    uint64_t begin, end;
    const char *name;
} range;

static int cmp_range(const void *a, const void *b) {
    const range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Reads one header entry into dt/shape/offsets. */
static cs_status parse_entry(const char *file, const char *key, json_t *v, cs_dtype *dt, int *ndim,
                             int64_t *shape, uint64_t *off, cs_error *err) {
    if (!json_is_object(v))
        return cs_fail(err, CS_EFORMAT, "%s: header entry '%s' is not an object", file, key);
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
           *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo))
        return cs_fail(err, CS_EFORMAT,
                       "%s: tensor '%s' needs string dtype, array shape and data_offsets", file,
                       key);
    *dt = cs_dtype_parse(json_string_value(jd));
    if (*dt == CS_DT_UNKNOWN)
        return cs_fail(err, CS_EUNSUPPORTED, "%s: tensor '%s' has unknown dtype '%s'", file, key,
                       json_string_value(jd));
    size_t nd = json_array_size(js);
    if (nd > CS_MAX_DIMS)
        return cs_fail(err, CS_EUNSUPPORTED, "%s: tensor '%s' has %zu dimensions", file, key, nd);
    *ndim = (int)nd;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return cs_fail(err, CS_EFORMAT, "%s: tensor '%s' has a bad shape", file, key);
        shape[i] = json_integer_value(d);
    }
    if (json_array_size(jo) != 2)
        return cs_fail(err, CS_EFORMAT, "%s: tensor '%s': data_offsets needs 2 numbers", file, key);
    for (int i = 0; i < 2; i++) {
        json_t *o = json_array_get(jo, (size_t)i);
        if (!json_is_integer(o) || json_integer_value(o) < 0)
            return cs_fail(err, CS_EFORMAT, "%s: tensor '%s' has a bad data offset", file, key);
        off[i] = (uint64_t)json_integer_value(o);
    }
    return CS_OK;
}

cs_status cs_safetensors_parse(const uint8_t *buf, size_t size, const char *file,
                               cs_tensor_table *tab, cs_error *err) {
    if (size < 8)
        return cs_fail(err, CS_EFORMAT, "%s: not a safetensors file (%zu bytes, truncated)", file,
                       size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
    if (n > size - 8)
        return cs_fail(err, CS_EFORMAT,
                       "%s: header of %llu bytes runs past the end of the file (%zu bytes): "
                       "truncated or not safetensors",
                       file, (unsigned long long)n, size);
    if (n > MAX_HEADER)
        return cs_fail(err, CS_ELIMIT, "%s: header of %llu bytes exceeds the 100 MB limit", file,
                       (unsigned long long)n);
    if (n < 2 || buf[8] != '{')
        return cs_fail(err, CS_EFORMAT, "%s: header is not a JSON object", file);
    const uint8_t *data = buf + 8 + n;
    uint64_t data_size = size - 8 - n;

    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return cs_fail(err, CS_EFORMAT, "%s: bad JSON header: %s (at byte %d)", file, jerr.text,
                       jerr.position);
    cs_status st = CS_OK;
    range *ranges = NULL;
    if (!json_is_object(root)) {
        st = cs_fail(err, CS_EFORMAT, "%s: header is not a JSON object", file);
        goto done;
    }
    size_t count = json_object_size(root);
    ranges = calloc(count ? count : 1, sizeof *ranges);
    if (!ranges) {
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", file);
        goto done;
    }
    size_t nr = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_is_object(v)) {
                st = cs_fail(err, CS_EFORMAT, "%s: __metadata__ is not an object", file);
                goto done;
            }
            continue;
        }
        cs_dtype dt = CS_DT_UNKNOWN;
        int ndim = 0;
        int64_t shape[CS_MAX_DIMS];
        uint64_t off[2];
        st = parse_entry(file, key, v, &dt, &ndim, shape, off, err);
        if (st) goto done;
        size_t nbytes;
        if (off[0] > off[1] || off[1] > data_size) {
            st = cs_fail(err, CS_EFORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] outside the data buffer "
                         "(%llu bytes): truncated or corrupt file",
                         file, key, (unsigned long long)off[0], (unsigned long long)off[1],
                         (unsigned long long)data_size);
            goto done;
        }
        if (cs_tensor_nbytes(shape, ndim, dt, &nbytes) != 0 || nbytes != off[1] - off[0]) {
            st = cs_fail(err, CS_EFORMAT,
                         "%s: tensor '%s': %llu bytes of data do not match its dtype %s and shape",
                         file, key, (unsigned long long)(off[1] - off[0]), cs_dtype_name(dt));
            goto done;
        }
        ranges[nr].begin = off[0];
        ranges[nr].end = off[1];
        ranges[nr].name = key;
        nr++;
        st = cs_tensors_add(tab, key, dt, ndim, shape, data + off[0], nbytes, file, err);
        if (st) goto done;
    }
    qsort(ranges, nr, sizeof *ranges, cmp_range);
    for (size_t i = 1; i < nr; i++)
        if (ranges[i].begin < ranges[i - 1].end) {
            st = cs_fail(err, CS_EFORMAT, "%s: tensors '%s' and '%s' overlap in the data buffer",
                         file, ranges[i - 1].name, ranges[i].name);
            goto done;
        }
done:
    free(ranges);
    json_decref(root);
    return st;
}

cs_status cs_safetensors_load(const char *path, cs_tensor_table *tab, cs_error *err) {
    return cs_tensors_load_mapped(path, cs_safetensors_parse, tab, err);
}

/* A shard name from an index must be a plain file name in the same folder. */
static int plain_name(const char *s) {
    return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

cs_status cs_safetensors_load_sharded(const char *dir, const char *index_path, cs_tensor_table *tab,
                                      cs_error *err) {
    char *text;
    size_t len;
    cs_status st = cs_read_file(index_path, 64u << 20, &text, &len, err);
    if (st) return st;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return cs_fail(err, CS_EFORMAT, "%s: bad JSON: %s (line %d)", index_path, jerr.text,
                       jerr.line);
    json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map)) {
        json_decref(root);
        return cs_fail(err, CS_EFORMAT, "%s: no \"weight_map\" object", index_path);
    }
    /* Load each distinct shard once, then check that the map and shards agree. */
    const char *key;
    json_t *v;
    json_t *loaded = json_object();
    json_object_foreach(map, key, v) {
        if (!json_is_string(v) || !plain_name(json_string_value(v))) {
            st = cs_fail(err, CS_EFORMAT, "%s: bad shard name for '%s'", index_path, key);
            break;
        }
        const char *shard = json_string_value(v);
        if (json_object_get(loaded, shard)) continue;
        json_object_set_new(loaded, shard, json_true());
        char path[4096];
        if ((st = cs_path_join(path, sizeof path, dir, shard, err))) break;
        if ((st = cs_safetensors_load(path, tab, err))) break;
    }
    if (!st) json_object_foreach(map, key, v) {
            if (!cs_tensors_find(tab, key)) {
                st = cs_fail(err, CS_EFORMAT, "%s: tensor '%s' is not in its shard %s", index_path,
                             key, json_string_value(v));
                break;
            }
        }
    json_decref(loaded);
    json_decref(root);
    return st;
}

/* Wider elements first, then by name: with no holes allowed between tensors
 * (the format's rule), this keeps every tensor aligned to its element size. */
static int cmp_layout(const void *a, const void *b) {
    const cs_tensor *const *x = a, *const *y = b;
    size_t ex = cs_dtype_size((*x)->dtype), ey = cs_dtype_size((*y)->dtype);
    if (ex != ey) return ex > ey ? -1 : 1;
    return strcmp((*x)->name, (*y)->name);
}

static cs_status write_all(FILE *f, const void *p, size_t n, const char *tmp, cs_error *err) {
    if (n && fwrite(p, 1, n, f) != n)
        return cs_fail(err, CS_EIO, "%s: write: %s", tmp, strerror(errno));
    return CS_OK;
}

cs_status cs_safetensors_write(const char *path, const cs_tensor_table *tab, cs_error *err) {
    const cs_tensor **order = malloc((size_t)(tab->n ? tab->n : 1) * sizeof *order);
    json_t *hdr = json_object();
    if (!order || !hdr) {
        free(order);
        json_decref(hdr);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < tab->n; i++) order[i] = &tab->t[i];
    qsort(order, (size_t)tab->n, sizeof *order, cmp_layout);
    json_object_set_new(hdr, "__metadata__", json_pack("{s:s}", "format", "pt"));
    uint64_t off = 0;
    for (int i = 0; i < tab->n; i++) {
        const cs_tensor *t = order[i];
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        json_object_set_new(hdr, t->name,
                            json_pack("{s:s,s:o,s:[I,I]}", "dtype", cs_dtype_name(t->dtype),
                                      "shape", shape, "data_offsets", (json_int_t)off,
                                      (json_int_t)(off + t->nbytes)));
        off += t->nbytes;
    }
    char *js = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(hdr);
    if (!js) {
        free(order);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
    }
    /* Pad the header with spaces so the data buffer starts 8-byte aligned. */
    size_t jl = strlen(js), hl = (jl + 7) & ~(size_t)7;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hl >> (8 * i));

    char tmp[4096];
    int k = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    cs_status st = CS_OK;
    FILE *f = NULL;
    if (k < 0 || (size_t)k >= sizeof tmp)
        st = cs_fail(err, CS_ELIMIT, "%s: path too long", path);
    else if (!(f = fopen(tmp, "wb")))
        st = cs_fail(err, CS_EIO, "%s: %s", tmp, strerror(errno));
    if (!st) st = write_all(f, len8, 8, tmp, err);
    if (!st) st = write_all(f, js, jl, tmp, err);
    for (size_t i = jl; !st && i < hl; i++) st = write_all(f, " ", 1, tmp, err);
    for (int i = 0; !st && i < tab->n; i++)
        st = write_all(f, order[i]->data, order[i]->nbytes, tmp, err);
    if (f) {
        if (!st && (fflush(f) != 0 || fsync(fileno(f)) != 0))
            st = cs_fail(err, CS_EIO, "%s: %s", tmp, strerror(errno));
        if (fclose(f) != 0 && !st) st = cs_fail(err, CS_EIO, "%s: %s", tmp, strerror(errno));
        if (!st && rename(tmp, path) != 0)
            st = cs_fail(err, CS_EIO, "%s: rename: %s", path, strerror(errno));
        if (st) unlink(tmp);
    }
    free(js);
    free(order);
    return st;
}
