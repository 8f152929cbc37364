/* model/tensors.c - the tensor table shared by the checkpoint readers. */
#include "model/tensors.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* safetensors' spellings */
static const struct {
    cs_dtype dt;
    const char *name;
} dtypes[] = {
    {CS_DT_F32, "F32"}, {CS_DT_F16, "F16"},   {CS_DT_BF16, "BF16"}, {CS_DT_F64, "F64"},
    {CS_DT_I64, "I64"}, {CS_DT_I32, "I32"},   {CS_DT_I16, "I16"},   {CS_DT_I8, "I8"},
    {CS_DT_U8, "U8"},   {CS_DT_BOOL, "BOOL"},
};

const char *cs_dtype_name(cs_dtype dt) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dt == dt) return dtypes[i].name;
    return "unknown";
}

cs_dtype cs_dtype_parse(const char *s) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dtypes[i].name, s)) return dtypes[i].dt;
    return CS_DT_UNKNOWN;
}

int cs_tensor_nbytes(const int64_t *shape, int ndim, cs_dtype dt, size_t *out) {
    size_t n = cs_dtype_size(dt);
    if (n == 0) return -1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (__builtin_mul_overflow(n, (size_t)shape[i], &n)) return -1;
    }
    *out = n;
    return 0;
}

/* Names are looked up through a hash index, so that a hostile header with a
 * million entries costs linear time, not quadratic. */
static uint64_t hash_name(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

/* The slot holding `name`, or the empty slot where it would go. */
static int *slot_of(const cs_tensor_table *tab, const char *name) {
    size_t mask = 2 * (size_t)tab->cap - 1, i = (size_t)hash_name(name) & mask;
    while (tab->slots[i] >= 0 && strcmp(tab->t[tab->slots[i]].name, name) != 0) i = (i + 1) & mask;
    return &tab->slots[i];
}

const cs_tensor *cs_tensors_find(const cs_tensor_table *tab, const char *name) {
    if (!tab->slots) return NULL;
    int k = *slot_of(tab, name);
    return k >= 0 ? &tab->t[k] : NULL;
}

/* Doubles the capacity (cap is a power of two) and rebuilds the index. */
static int grow(cs_tensor_table *tab) {
    int cap = tab->cap ? tab->cap * 2 : 64;
    cs_tensor *t = realloc(tab->t, (size_t)cap * sizeof *t);
    if (!t) return -1;
    tab->t = t;
    int *slots = malloc(2 * (size_t)cap * sizeof *slots);
    if (!slots) return -1;
    free(tab->slots);
    tab->slots = slots;
    tab->cap = cap;
    memset(slots, 0xff, 2 * (size_t)cap * sizeof *slots); /* all -1 */
    for (int i = 0; i < tab->n; i++) *slot_of(tab, tab->t[i].name) = i;
    return 0;
}

cs_status cs_tensors_add(cs_tensor_table *tab, const char *name, cs_dtype dt, int ndim,
                         const int64_t *shape, const void *data, size_t nbytes, const char *file,
                         cs_error *err) {
    if (ndim < 0 || ndim > CS_MAX_DIMS)
        return cs_fail(err, CS_EUNSUPPORTED, "%s: tensor '%s' has %d dimensions (at most %d)", file,
                       name, ndim, CS_MAX_DIMS);
    if (cs_tensors_find(tab, name))
        return cs_fail(err, CS_EFORMAT, "%s: tensor '%s' appears twice", file, name);
    if (tab->n >= CS_MAX_TENSORS)
        return cs_fail(err, CS_ELIMIT, "%s: more than %d tensors", file, CS_MAX_TENSORS);
    if (tab->n == tab->cap && grow(tab) != 0)
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", file);
    cs_tensor *t = &tab->t[tab->n];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) return cs_fail(err, CS_ENOMEM, "%s: out of memory", file);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->data = data;
    t->nbytes = nbytes;
    /* The engine reads weights as float/uint16_t arrays: a tensor that is not
     * aligned to its element size (legal in safetensors) gets an aligned copy. */
    size_t el = cs_dtype_size(dt);
    if (el > 1 && nbytes > 0 && ((uintptr_t)data % el) != 0) {
        t->owned = malloc(nbytes);
        if (!t->owned) {
            free(t->name);
            return cs_fail(err, CS_ENOMEM, "%s: out of memory copying '%s'", file, name);
        }
        memcpy(t->owned, data, nbytes);
        t->data = t->owned;
    }
    *slot_of(tab, t->name) = tab->n;
    tab->n++;
    return CS_OK;
}

cs_status cs_tensors_keep_map(cs_tensor_table *tab, cs_map *map, cs_error *err) {
    cs_map *m = realloc(tab->maps, (size_t)(tab->n_maps + 1) * sizeof *m);
    if (!m) {
        cs_unmap(map);
        return cs_fail(err, CS_ENOMEM, "out of memory");
    }
    tab->maps = m;
    tab->maps[tab->n_maps++] = *map;
    map->data = NULL;
    map->size = 0;
    return CS_OK;
}

cs_status cs_tensors_load_mapped(const char *path, cs_tensors_parse_fn parse, cs_tensor_table *tab,
                                 cs_error *err) {
    cs_map m;
    cs_status st = cs_map_file(path, &m, err);
    if (st) return st;
    st = parse(m.data, m.size, path, tab, err);
    cs_status kept = cs_tensors_keep_map(tab, &m, err);
    return st ? st : kept;
}

void cs_tensors_free(cs_tensor_table *tab) {
    if (!tab) return;
    for (int i = 0; i < tab->n; i++) {
        free(tab->t[i].name);
        free(tab->t[i].owned);
    }
    free(tab->t);
    free(tab->slots);
    for (int i = 0; i < tab->n_maps; i++) cs_unmap(&tab->maps[i]);
    free(tab->maps);
    memset(tab, 0, sizeof *tab);
}
