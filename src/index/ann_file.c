/* index/ann_file.c - DB.ann on disk: the layout, the checks made before a
 * file is used, and opening it (see ann.h for the format). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "index/ann.h"
#include "index/ann_internal.h"

enum {
    MAX_DIM = 65536,
    MAX_NLIST = 1 << 22,
};
#define MAX_COUNT ((uint64_t)1 << 40)

_Static_assert(sizeof(cs_ann_header) == CS_ANN_HEADER, "DB.ann header is 128 bytes");

int cs_ann_stride(int dim, int bits) {
    return bits == 4 ? ((dim + 127) & ~127) / 2 : (dim + 15) & ~15;
}

/* a * b * c + d without overflow (core/checked.h), or 0. */
static int mul_add(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t *out) {
    uint64_t p;
    return cs_mul3_u64(a, b, c, &p) && cs_add_u64(p, d, out);
}

int cs_ann_layout(uint64_t dim, uint64_t nlist, uint64_t count, uint64_t stride, uint64_t bits,
                  cs_ann_offsets *l) {
    if (dim < 1 || dim > MAX_DIM || nlist < 1 || nlist > MAX_NLIST || count > MAX_COUNT ||
        (bits != 4 && bits != 8) || stride != (uint64_t)cs_ann_stride((int)dim, (int)bits))
        return 0;
    l->centroids = CS_ANN_HEADER;
    uint64_t ids_end;
    int ok = mul_add(nlist, dim, sizeof(float), l->centroids, &l->sq) &&
             mul_add(2, dim, sizeof(float), l->sq, &l->lists) &&
             mul_add(nlist + 1, 1, sizeof(uint64_t), l->lists, &l->ids) &&
             mul_add(count, 1, sizeof(int64_t), l->ids, &ids_end) &&
             cs_align_u64(ids_end, 64, &l->codes);
    return ok && mul_add(count, stride, 1, l->codes, &l->size);
}

uint64_t cs_ann_checksum(const cs_ann_header *h, const uint8_t *tables, size_t n) {
    /* the header as written, with check = 0, then the small tables */
    cs_ann_header z = *h;
    z.check = 0;
    uint8_t a[16], b[16];
    cs_hash128(&z, sizeof z, a);
    cs_hash128(tables, n, b);
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return x ^ (y * 0x9e3779b97f4a7c15ull);
}

static cs_ann_state damaged(cs_error *err, const char *why) {
    cs_fail(err, CS_EFORMAT, "damaged index: %s", why);
    return CS_ANN_DAMAGED;
}

cs_ann_state cs_ann_check(const cs_map *m, int dim, const uint8_t *uuid, uint64_t generation,
                          cs_ann *a, cs_error *err) {
    memset(a, 0, sizeof *a);
    cs_ann_header h;
    if (m->size < sizeof h) return damaged(err, "shorter than its header");
    memcpy(&h, m->data, sizeof h);
    if (memcmp(h.magic, CS_ANN_MAGIC, 8) != 0) return damaged(err, "not an index file (magic)");
    if (h.version != 1 && h.version != 2) return damaged(err, "unknown version");
    if (h.version == 1 && h.code_bits != 0) return damaged(err, "bad code size");
    uint32_t bits = h.version == 1 ? 8 : h.code_bits;
    cs_ann_offsets l;
    if (!cs_ann_layout(h.dim, h.nlist, h.count, h.code_stride, bits, &l))
        return damaged(err, "bad dimension, list count, row count or code size");
    if (h.centroids != l.centroids || h.sq != l.sq || h.lists != l.lists || h.ids != l.ids ||
        h.codes != l.codes || h.file_size != l.size || h.reserved != 0)
        return damaged(err, "bad offsets");
    size_t tables;
    if (m->size != l.size || !cs_u64_size(l.ids - l.centroids, &tables))
        return damaged(err, "truncated or too long");
    if (cs_ann_checksum(&h, m->data + l.centroids, tables) != h.check)
        return damaged(err, "checksum of the header and tables");
    if (dim > 0 && h.dim != (uint32_t)dim) return damaged(err, "dimension is not the database's");
    a->map = *m;
    a->dim = (int)h.dim;
    a->nlist = (int)h.nlist;
    a->code_stride = (int)h.code_stride;
    a->code_bits = (int)bits;
    a->count = (int64_t)h.count;
    a->trained_count = (int64_t)h.trained_count;
    a->generation = h.generation;
    memcpy(a->uuid, h.uuid, 16);
    a->centroids = (const float *)(m->data + l.centroids);
    a->sq_min = (const float *)(m->data + l.sq);
    a->sq_step = a->sq_min + h.dim;
    a->lists = (const uint64_t *)(m->data + l.lists);
    a->ids = (const int64_t *)(m->data + l.ids);
    a->codes = m->data + l.codes;
    if (a->lists[0] != 0 || a->lists[h.nlist] != h.count) return damaged(err, "list bounds");
    for (uint32_t i = 0; i < h.nlist; i++) {
        if (a->lists[i] > a->lists[i + 1]) return damaged(err, "list bounds");
        for (uint64_t e = a->lists[i] + 1; e < a->lists[i + 1]; e++)
            if (a->ids[e] <= a->ids[e - 1]) return damaged(err, "ids out of order");
    }
    for (uint32_t i = 0; i < 2 * h.dim; i++)
        if (!(a->sq_min[i] > -1e30f && a->sq_min[i] < 1e30f)) return damaged(err, "bad ranges");
    if (uuid && (memcmp(h.uuid, uuid, 16) != 0 || h.generation != generation)) return CS_ANN_STALE;
    return CS_ANN_OK;
}

cs_status cs_ann_prepare(cs_ann *a) {
    int dim = a->dim, stride = cs_ann_stride(dim, 8); /* the rows' codes may be of 4 bits */
    /* 2 MiB at 1M rows, written once per process: in 2 MiB pages
     * (cs_alloc_huge), not 512 fresh 4 KiB ones */
    a->ccodes = cs_alloc_huge((size_t)a->nlist * (size_t)stride);
    a->cmin = malloc(2 * (size_t)dim * sizeof *a->cmin);
    if (!a->ccodes || !a->cmin) {
        cs_ann_unprepare(a);
        return CS_ENOMEM;
    }
    a->cstep = a->cmin + dim;
    for (int d = 0; d < dim; d++) a->cmin[d] = INFINITY, a->cstep[d] = -INFINITY;
    float *restrict lo = a->cmin, *restrict hi = a->cstep; /* the max, for now */
    for (int l = 0; l < a->nlist; l++) {
        const float *restrict c = a->centroids + (size_t)l * dim;
        for (int d = 0; d < dim; d++) { /* comparisons, not fminf: they vectorize */
            lo[d] = c[d] < lo[d] ? c[d] : lo[d];
            hi[d] = c[d] > hi[d] ? c[d] : hi[d];
        }
    }
    for (int d = 0; d < dim; d++) {
        float span = a->cstep[d] - a->cmin[d];
        /* a NaN or huge centroid (damage the checksum missed) ranks badly
         * but keeps the ranges finite */
        a->cstep[d] = span > 1e-6f && span < 1e30f ? span / 255.0f : 1e-6f;
        if (!(fabsf(a->cmin[d]) < 1e30f)) a->cmin[d] = 0;
    }
    for (int l = 0; l < a->nlist; l++)
        cs_ann_encode(a->centroids + (size_t)l * dim, a->cmin, a->cstep, dim, stride,
                      a->ccodes + (size_t)l * stride);
    return CS_OK;
}

void cs_ann_unprepare(cs_ann *a) {
    free(a->ccodes);
    free(a->cmin);
    a->ccodes = NULL;
    a->cmin = a->cstep = NULL;
}

cs_ann_state cs_ann_open(const char *path, int dim, const uint8_t *uuid, uint64_t generation,
                         cs_ann **out, cs_error *err) {
    *out = NULL;
    cs_map m;
    cs_error e;
    if (cs_map_file(path, &m, &e) != CS_OK) {
        if (err) *err = e;
        return e.status == CS_ENOTFOUND ? CS_ANN_MISSING : CS_ANN_DAMAGED;
    }
    /* before the first read, as for DB.vectors: pages read back from disk
     * come in as 2 MiB folios, which later processes map 2 MiB at a time */
    cs_map_hint_huge(m.data, m.size);
    cs_ann *a = calloc(1, sizeof *a);
    if (!a) {
        cs_unmap(&m);
        cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
        return CS_ANN_DAMAGED;
    }
    cs_ann_state s = cs_ann_check(&m, dim, uuid, generation, a, err);
    if (s != CS_ANN_OK) {
        if (s == CS_ANN_DAMAGED && err) cs_fail_prefix(err, err->status, path);
        cs_unmap(&m);
        free(a);
        return s;
    }
    atomic_init(&a->refs, 1);
    cs_ann_prepare(a); /* out of memory: the float ranking */
    *out = a;
    return CS_ANN_OK;
}

void cs_ann_close(cs_ann *a) {
    if (!a) return;
    cs_ann_unprepare(a);
    cs_unmap(&a->map);
    free(a);
}
