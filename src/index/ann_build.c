/* index/ann_build.c - making DB.ann: spherical k-means for the centroids,
 * the 8-bit ranges, the assignment of every row to its list (on cs_gemm:
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

enum {
    TRAIN_PER_LIST = 32, /* k-means sample: rows per centroid */
    KMEANS_ITERS = 10,
    GEMM_FLOATS = 4 << 20 /* scores of one block of rows: 16 MB */
};

int cs_ann_choose_nlist(int64_t n) {
    /* about 4 sqrt(n), a power of two: 1M rows -> 4096 lists of ~244 */
    double t = 4.0 * sqrt((double)n);
    int l = 16;
    while (l < 65536 && l * 1.41 < t) l *= 2;
    return l;
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
    cs_status st = CS_OK;
    if (!y || (rows && !x)) st = cs_fail(err, CS_ENOMEM, "index: out of memory");
    for (int64_t b = 0; !st && b < n; b += chunk) {
        int m = (int)(n - b < chunk ? n - b : chunk);
        const float *xb = base + b * (int64_t)dim;
        if (rows) {
            for (int i = 0; i < m; i++)
                memcpy(x + (size_t)i * dim, base + rows[b + i] * (int64_t)dim,
                       (size_t)dim * sizeof *x);
            xb = x;
        }
        st = cs_gemm(pool, m, nlist, dim, xb, (size_t)dim, centroids, (size_t)dim, CS_DT_F32, NULL,
                     y, (size_t)nlist, 0, err);
        for (int i = 0; !st && i < m; i++) {
            const float *s = y + (size_t)i * nlist;
            int best = 0;
            for (int l = 1; l < nlist; l++)
                if (s[l] > s[best]) best = l;
            list[b + i] = (uint32_t)best;
        }
    }
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

cs_status cs_ann_train(cs_pool *pool, const float *vecs, int64_t n, int dim, int nlist,
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
    for (int d = 0; d < dim; d++) sq_min[d] = INFINITY, sq_step[d] = -INFINITY;
    for (int64_t i = 0; i < ns; i++)
        for (int d = 0; d < dim; d++) {
            float v = x[(size_t)i * dim + d];
            if (v < sq_min[d]) sq_min[d] = v;
            if (v > sq_step[d]) sq_step[d] = v; /* the max, for now */
        }
    for (int d = 0; d < dim; d++) {
        float span = sq_step[d] - sq_min[d];
        if (!(span > 1e-6f)) span = 1e-6f;
        /* a little room for rows outside the sample's range */
        sq_min[d] -= span * 0.02f;
        sq_step[d] = span * 1.04f / 255.0f;
    }
    for (int l = 0; l < nlist; l++)
        memcpy(centroids + (size_t)l * dim, x + (size_t)(l * ns / nlist) * dim,
               (size_t)dim * sizeof *x);
    uint64_t rng = 1;
    cs_status st = CS_OK;
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
    int dim = (int)h.dim, nlist = (int)h.nlist, stride = cs_ann_stride(dim);
    int64_t n = v->n;
    cs_ann_offsets l;
    if (!cs_ann_layout(h.dim, h.nlist, (uint64_t)n, (uint64_t)stride, &l))
        return cs_fail(err, CS_ELIMIT, "%s: index too large", path);
    memcpy(h.magic, CS_ANN_MAGIC, 8);
    h.version = 1;
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
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = NULL;
    cs_status st = CS_OK;
    if (!tables || !order || !code) {
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
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    int ok = write_all(f, &h, sizeof h) && write_all(f, tables, tbytes);
    for (int64_t e = 0; ok && e < n; e++) ok = write_all(f, &v->ids[order[e]], sizeof(int64_t));
    static const uint8_t zeros[64];
    uint64_t at = l.ids + (uint64_t)n * sizeof(int64_t);
    if (ok) ok = write_all(f, zeros, (size_t)(l.codes - at));
    for (int64_t e = 0; ok && e < n; e++) {
        cs_ann_encode(v->vectors + order[e] * (int64_t)dim, sq_min, sq_step, dim, stride, code);
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
    free(tables);
    free(order);
    free(code);
    return st;
}
