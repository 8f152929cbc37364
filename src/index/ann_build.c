/* index/ann_build.c - making DB.ann: spherical k-means for the centroids,
 * the codes' ranges, the assignment of every row to its list (on cs_gemm:
 * one matrix product per block of rows against all centroids), and the
 * file, written atomically. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/ann.h"
#include "index/ann_internal.h"
#include "index/ann_build.h"
#include "kernels/gemm.h"
#include "kernels/gemm_lp.h"

enum {
    TRAIN_PER_LIST = 32, /* k-means sample: rows per centroid */
    KMEANS_ITERS = 10,
    GEMM_FLOATS = 4 << 20, /* scores of one block of rows: 16 MB */
    RANGE_BINS = 1024,
    WRITE_BUFFER = 4 << 20
};

/* The largest 8-bit codes a catalogue gets; past it, 4 bits. A search
 * touches a few percent of the codes, but a server's queries soon map them
 * all in: 2 GiB of 8-bit codes is 4M rows of 512 dimensions, and a 10M
 * catalogue's 4-bit codes are 2.6 GB (docs/performance.md). */
#define BITS8_MAX_BYTES 2147483648.0

int cs_ann_choose_nlist(int64_t n) {
    /* about 3.6 sqrt(n), the nearest power of two: 1M rows -> 4096 lists
     * of ~244, 10M -> 8192 of ~1220. Assigning the rows costs n x nlist x
     * dim multiply-adds, so at 10M 16384 lists would double the build
     * (~10 min more on two cores) to save part of a query's scan, which
     * is about a millisecond there (docs/performance.md). */
    double t = 3.6 * sqrt((double)n);
    int l = 16;
    while (l < 65536 && l * 1.41 < t) l *= 2;
    return l;
}

/* The centroids packed once for the multiply: cs_gemm would pack them
 * again for every block of rows (32 MB at 16384 lists, against a block's
 * 256 rows of work). BF16 products where the CPU has them: twice the
 * rate, and a row whose two best centroids score within BF16's rounding
 * lies near both lists, so either serves it. */
typedef struct centroid_panels {
    cs_lp_panels lp; /* type CS_LP_NONE: the float panels */
    cs_gemm_panels f;
    void *mem;
} centroid_panels;

/* cs_lp_pack reads the matrix a row at a time */
typedef struct float_rows {
    const float *p;
    int k;
} float_rows;

static void centroid_row(const void *ctx, int r, float *out) {
    const float_rows *m = ctx;
    memcpy(out, m->p + (size_t)r * (size_t)m->k, (size_t)m->k * sizeof *out);
}

static int pack_centroids(const float *centroids, int nlist, int dim, centroid_panels *c) {
    memset(c, 0, sizeof *c);
    if (cs_lp_native(CS_LP_BF16)) {
        size_t bytes = (cs_lp_bytes(CS_LP_BF16, nlist, dim) + 63) & ~(size_t)63;
        float *row = malloc(2 * (size_t)dim * sizeof *row);
        c->mem = aligned_alloc(64, bytes);
        float_rows m = {centroids, dim};
        if (c->mem && row)
            cs_lp_pack(CS_LP_BF16, nlist, dim, centroid_row, &m, row, c->mem, &c->lp);
        free(row);
        return c->mem != NULL;
    }
    size_t bytes = (cs_gemm_panels_floats(nlist, dim) * sizeof(float) + 63) & ~(size_t)63;
    c->mem = aligned_alloc(64, bytes);
    if (c->mem) cs_gemm_pack(nlist, dim, centroids, (size_t)dim, CS_DT_F32, NULL, c->mem, &c->f);
    return c->mem != NULL;
}

/* list[i] = the centroid with the largest inner product with row i of x
 * (rows[i] of base when rows is not NULL, else row i), for i < n. */
cs_status cs_ann_assign(cs_pool *pool, const float *base, const int64_t *rows, int64_t n, int dim,
                        const float *centroids, int nlist, uint32_t *list, cs_error *err) {
    int64_t chunk = GEMM_FLOATS / nlist;
    if (chunk < 16) chunk = 16;
    if (chunk > 4096) chunk = 4096;
    float *y = malloc((size_t)chunk * (size_t)nlist * sizeof *y);
    float *x = rows ? malloc((size_t)chunk * (size_t)dim * sizeof *x) : NULL;
    centroid_panels pk;
    int packed = pack_centroids(centroids, nlist, dim, &pk);
    cs_status st = CS_OK;
    if (!y || (rows && !x) || !packed) st = cs_fail(err, CS_ENOMEM, "index: out of memory");
    for (int64_t b = 0; !st && b < n; b += chunk) {
        int m = (int)(n - b < chunk ? n - b : chunk);
        const float *xb = base + b * (int64_t)dim;
        if (rows) {
            for (int i = 0; i < m; i++)
                memcpy(x + (size_t)i * dim, base + rows[b + i] * (int64_t)dim,
                       (size_t)dim * sizeof *x);
            xb = x;
        }
        if (pk.lp.type == CS_LP_BF16)
            st = cs_gemm_lp(pool, m, xb, (size_t)dim, &pk.lp, NULL, y, (size_t)nlist, 0, err);
        else
            st = cs_gemm_packed(pool, m, nlist, dim, xb, (size_t)dim, &pk.f, centroids, (size_t)dim,
                                CS_DT_F32, NULL, NULL, y, (size_t)nlist, 0, err);
        for (int i = 0; !st && i < m; i++) {
            const float *s = y + (size_t)i * nlist;
            int best = 0;
            for (int l = 1; l < nlist; l++)
                if (s[l] > s[best]) best = l;
            list[b + i] = (uint32_t)best;
        }
    }
    free(pk.mem);
    free(y);
    free(x);
    return st;
}

static void normalize(float *v, int dim) {
    double ss = 0;
    for (int d = 0; d < dim; d++) ss += (double)v[d] * v[d];
    if (ss > 0) {
        float inv = (float)(1 / sqrt(ss));
        for (int d = 0; d < dim; d++) v[d] *= inv;
    }
}

/* One k-means step: centroids = normalised sums of their rows; an empty
 * list takes a row of the sample (deterministic, spread out). */
static void update_centroids(const float *x, int64_t n, int dim, const uint32_t *list, int nlist,
                             float *c, int64_t *counts, uint64_t *rng) {
    memset(c, 0, (size_t)nlist * (size_t)dim * sizeof *c);
    memset(counts, 0, (size_t)nlist * sizeof *counts);
    for (int64_t i = 0; i < n; i++) {
        float *ci = c + (size_t)list[i] * dim;
        const float *xi = x + (size_t)i * dim;
        for (int d = 0; d < dim; d++) ci[d] += xi[d];
        counts[list[i]]++;
    }
    for (int l = 0; l < nlist; l++) {
        if (!counts[l]) {
            *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
            memcpy(c + (size_t)l * dim, x + (size_t)((*rng >> 33) % (uint64_t)n) * dim,
                   (size_t)dim * sizeof *c);
        }
        normalize(c + (size_t)l * dim, dim);
    }
}

int cs_ann_choose_bits(int64_t n, int dim, int current) {
    const char *e = getenv("CLIPSEARCH_ANN_BITS");
    if (e && (!strcmp(e, "4") || !strcmp(e, "8"))) return atoi(e);
    if (current) return current;
    return (double)n * cs_ann_stride(dim, 8) > BITS8_MAX_BYTES ? 4 : 8;
}

/* Each dimension's range for codes of `bits`. 8 bits: the sample's range
 * and a little room for rows outside it. 4 bits: the central 98% of the
 * sample (a histogram of RANGE_BINS bins); 16 levels spread over the whole
 * range would spend most of them on the few extreme values, and clamping
 * those costs less recall (docs/performance.md). */
static cs_status code_ranges(const float *x, int64_t ns, int dim, int bits, float *sq_min,
                             float *sq_step, cs_error *err) {
    float *lo = sq_min, *hi = sq_step; /* the max, for now */
    for (int d = 0; d < dim; d++) lo[d] = INFINITY, hi[d] = -INFINITY;
    for (int64_t i = 0; i < ns; i++)
        for (int d = 0; d < dim; d++) {
            float v = x[(size_t)i * dim + d];
            if (v < lo[d]) lo[d] = v;
            if (v > hi[d]) hi[d] = v;
        }
    for (int d = 0; d < dim; d++)
        if (!(hi[d] - lo[d] > 1e-6f)) hi[d] = lo[d] + 1e-6f;
    if (bits == 8) {
        for (int d = 0; d < dim; d++) {
            float span = hi[d] - lo[d];
            lo[d] -= span * 0.02f;
            sq_step[d] = span * 1.04f / 255.0f;
        }
        return CS_OK;
    }
    uint32_t *hist = calloc((size_t)dim * RANGE_BINS, sizeof *hist);
    if (!hist) return cs_fail(err, CS_ENOMEM, "index: out of memory");
    for (int64_t i = 0; i < ns; i++)
        for (int d = 0; d < dim; d++) {
            float t = (x[(size_t)i * dim + d] - lo[d]) / (hi[d] - lo[d]) * RANGE_BINS;
            /* compared before the cast: NaN and huge values convert to no int */
            int b = t > 0 ? (t < RANGE_BINS ? (int)t : RANGE_BINS - 1) : 0;
            hist[(size_t)d * RANGE_BINS + b]++;
        }
    int64_t tail = ns / 100;
    for (int d = 0; d < dim; d++) {
        const uint32_t *h = hist + (size_t)d * RANGE_BINS;
        int b0 = 0, b1 = RANGE_BINS - 1;
        for (int64_t c = h[0]; b0 < RANGE_BINS - 1 && c <= tail; c += h[++b0]) {
        }
        for (int64_t c = h[b1]; b1 > b0 && c <= tail; c += h[--b1]) {
        }
        float w = (hi[d] - lo[d]) / RANGE_BINS;
        float a = lo[d] + w * (float)b0, z = lo[d] + w * (float)(b1 + 1);
        lo[d] = a;
        sq_step[d] = (z - a) / 15.0f;
    }
    free(hist);
    return CS_OK;
}

cs_status cs_ann_train(cs_pool *pool, const float *vecs, int64_t n, int dim, int nlist, int bits,
                       float *centroids, float *sq_min, float *sq_step, cs_error *err) {
    int64_t ns = (int64_t)nlist * TRAIN_PER_LIST;
    if (ns > n) ns = n;
    float *x = malloc((size_t)ns * (size_t)dim * sizeof *x);
    uint32_t *list = malloc((size_t)ns * sizeof *list);
    int64_t *counts = malloc((size_t)nlist * sizeof *counts);
    if (!x || !list || !counts) {
        free(x);
        free(list);
        free(counts);
        return cs_fail(err, CS_ENOMEM, "index: out of memory for %lld training rows",
                       (long long)ns);
    }
    /* an even spread of the rows (id order is arrival order: no bias to
     * the first folders indexed) */
    for (int64_t i = 0; i < ns; i++)
        memcpy(x + (size_t)i * dim, vecs + (i * n / ns) * (int64_t)dim, (size_t)dim * sizeof *x);
    cs_status st = code_ranges(x, ns, dim, bits, sq_min, sq_step, err);
    for (int l = 0; l < nlist; l++)
        memcpy(centroids + (size_t)l * dim, x + (size_t)(l * ns / nlist) * dim,
               (size_t)dim * sizeof *x);
    uint64_t rng = 1;
    for (int it = 0; it < KMEANS_ITERS && !st; it++) {
        st = cs_ann_assign(pool, x, NULL, ns, dim, centroids, nlist, list, err);
        if (!st) update_centroids(x, ns, dim, list, nlist, centroids, counts, &rng);
    }
    free(x);
    free(list);
    free(counts);
    return st;
}

/* ---- the file ------------------------------------------------------------ */

static int write_all(FILE *f, const void *p, size_t n) {
    return fwrite(p, 1, n, f) == n;
}

cs_status cs_ann_write(const char *path, const cs_ann_header *proto, const float *centroids,
                       const float *sq_min, const float *sq_step, const uint32_t *list,
                       const cs_vecs *v, cs_error *err) {
    cs_ann_header h = *proto;
    int dim = (int)h.dim, nlist = (int)h.nlist, bits = (int)h.code_bits;
    int stride = cs_ann_stride(dim, bits);
    int64_t n = v->n;
    cs_ann_offsets l;
    if (!cs_ann_layout(h.dim, h.nlist, (uint64_t)n, (uint64_t)stride, (uint64_t)bits, &l))
        return cs_fail(err, CS_ELIMIT, "%s: index too large", path);
    memcpy(h.magic, CS_ANN_MAGIC, 8);
    h.version = 2;
    h.code_stride = (uint32_t)stride;
    h.count = (uint64_t)n;
    h.centroids = l.centroids, h.sq = l.sq, h.lists = l.lists, h.ids = l.ids, h.codes = l.codes;
    h.file_size = l.size;
    h.reserved = 0;
    /* the tables as they will lie in the file, for the check value */
    size_t tbytes = (size_t)(l.ids - l.centroids);
    uint8_t *tables = malloc(tbytes);
    int64_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    uint8_t *code = malloc((size_t)stride);
    char *wbuf = malloc(WRITE_BUFFER);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = NULL;
    cs_status st = CS_OK;
    if (!tables || !order || !code || !wbuf) {
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    uint64_t *lists = (uint64_t *)(tables + (l.lists - l.centroids));
    memcpy(tables, centroids, (size_t)nlist * dim * sizeof(float));
    memcpy(tables + (l.sq - l.centroids), sq_min, (size_t)dim * sizeof(float));
    memcpy(tables + (l.sq - l.centroids) + (size_t)dim * sizeof(float), sq_step,
           (size_t)dim * sizeof(float));
    /* counting sort of the rows by list; within a list, id order */
    memset(lists, 0, (size_t)(nlist + 1) * sizeof *lists);
    for (int64_t r = 0; r < n; r++) lists[list[r] + 1]++;
    for (int i = 0; i < nlist; i++) lists[i + 1] += lists[i];
    for (int64_t r = 0; r < n; r++) order[lists[list[r]]++] = r;
    memmove(lists + 1, lists, (size_t)nlist * sizeof *lists);
    lists[0] = 0;
    h.check = cs_ann_checksum(&h, tables, tbytes);
    f = fopen(tmp, "wb");
    if (!f) {
        st = cs_fail(err, CS_EIO, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    /* whole 4 MiB writes: the page cache then holds the file in 2 MiB
     * folios, which a search maps 2 MiB at a time (vecfile.c says
     * more); glibc ignores the size unless given the buffer */
    setvbuf(f, wbuf, _IOFBF, WRITE_BUFFER);
    int ok = write_all(f, &h, sizeof h) && write_all(f, tables, tbytes);
    for (int64_t e = 0; ok && e < n; e++) ok = write_all(f, &v->ids[order[e]], sizeof(int64_t));
    static const uint8_t zeros[64];
    uint64_t at = l.ids + (uint64_t)n * sizeof(int64_t);
    if (ok) ok = write_all(f, zeros, (size_t)(l.codes - at));
    for (int64_t e = 0; ok && e < n; e++) {
        const float *x = v->vectors + order[e] * (int64_t)dim;
        if (bits == 4)
            cs_ann_encode4(x, sq_min, sq_step, dim, stride, code);
        else
            cs_ann_encode(x, sq_min, sq_step, dim, stride, code);
        ok = write_all(f, code, (size_t)stride);
    }
    if (!ok || fflush(f) != 0 || fsync(fileno(f)) != 0)
        st = cs_fail(err, CS_EIO, "%s: write: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && !st) st = cs_fail(err, CS_EIO, "%s: close: %s", tmp, strerror(errno));
    f = NULL;
    if (!st && rename(tmp, path) != 0)
        st = cs_fail(err, CS_EIO, "%s: rename: %s", path, strerror(errno));
    if (st) unlink(tmp);
done:
    free(wbuf);
    free(tables);
    free(order);
    free(code);
    return st;
}
