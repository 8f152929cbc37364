/* index/ann_search.c - one query against DB.ann: rank the centroids, scan
 * the codes of the best lists, re-score the best candidates exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/ann.h"
#include "index/ann_internal.h"
#include "index/search_internal.h"
#include "core/cpu.h"

/* Candidates re-scored exactly, from bench/bench_ann.c on CLIP-like
 * vectors (docs/performance.md): 160 with 8-bit codes; 4-bit codes rank
 * near-copies less finely, and an image query's ten best are often a
 * burst of them: at 10M rows 320 take its recall@10 from 0.984 to 0.995. */
enum { DEFAULT_RERANK = 160, DEFAULT_RERANK4 = 320 };

/* With quantized centroids the lists are chosen in two steps: the best
 * CENTROID_SLACK x nprobe by their 8-bit codes (a quarter of the bytes of
 * the float centroids, on the integer kernel), then the best nprobe of
 * those by the exact dot, so that rounding only matters for a list that
 * falls out of the shortlist. */
enum { CENTROID_SLACK = 2 };

/* Enough lists to scan about 25 sqrt(count) rows: 102 of 4096 lists at 1M
 * rows (recall@10 0.980), 65 of 8192 at 10M (0.961, 3 ms); a share of
 * the rows that falls as the catalogue grows, as the lists' count grows
 * only as its square root (docs/performance.md). */
static int default_nprobe(int nlist, int64_t count) {
    double p = 25.0 * nlist / sqrt((double)(count > 0 ? count : 1));
    int n = p < 8 ? 8 : p > nlist ? nlist : (int)lrint(p);
    return n < nlist ? n : nlist;
}

void cs_ann_quantize_query(const float *q, const float *step, int dim, int stride, int16_t *qi) {
    float m = 0;
    for (int d = 0; d < dim; d++) m = fmaxf(m, fabsf(q[d] * step[d]));
    /* |qi| * 255 * stride must fit in an int32 (the kernels' widest sum) */
    double lim = (double)INT32_MAX / (255.0 * stride);
    if (lim > 16383) lim = 16383; /* 128 hi + lo in two signed bytes */
    double scale = m > 0 ? floor(lim) / m : 0;
    for (int d = 0; d < stride; d++) qi[d] = d < dim ? (int16_t)lrint(q[d] * step[d] * scale) : 0;
}

void cs_ann_encode(const float *restrict x, const float *restrict min, const float *restrict step,
                   int dim, int stride, uint8_t *restrict code) {
    for (int d = 0; d < dim; d++) { /* restrict: a byte store could alias the floats */
        float c = (x[d] - min[d]) / step[d];
        c = c > 0 ? c : 0; /* NaN -> 0 */
        c = c < 255 ? c : 255;
        code[d] = (uint8_t)cs_ann_round_small(c);
    }
    memset(code + dim, 0, (size_t)(stride - dim));
}

void cs_ann_split_query(const int16_t *qi, int stride, int8_t *q8) {
    for (int d = 0; d < stride; d++) {
        int hi = (qi[d] + 16384) / 128 - 128; /* floor: lo = qi - 128 hi in 0..127 */
        q8[d] = (int8_t)hi;
        q8[stride + d] = (int8_t)(qi[d] - hi * 128);
    }
}

void cs_ann_scan_generic(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                         int32_t *out) {
    const int16_t *qi = q->qi;
    for (int64_t r = 0; r < n; r++) {
        const uint8_t *c = codes + r * stride;
        int32_t s = 0;
        for (int d = 0; d < stride; d++) s += (int32_t)c[d] * qi[d];
        out[r] = s;
    }
}

cs_ann_scan_fn cs_ann_scan_kernel(int bits) {
#if defined(__x86_64__) || defined(_M_X64)
    if (cs_cpu_has(CS_CPU_VNNI)) return bits == 4 ? cs_ann_scan4_vnni : cs_ann_scan_vnni;
    if (cs_cpu_level_get() >= CS_CPU_AVX2) return bits == 4 ? cs_ann_scan4_avx2 : cs_ann_scan_avx2;
#endif
    return bits == 4 ? cs_ann_scan4_generic : cs_ann_scan_generic;
}

const char *cs_ann_scan_kernel_name(void) {
    cs_ann_scan_fn f = cs_ann_scan_kernel(8);
#if defined(__x86_64__) || defined(_M_X64)
    if (f == cs_ann_scan_vnni) return "avx512-vnni";
    if (f == cs_ann_scan_avx2) return "avx2";
#endif
    return f == cs_ann_scan_generic ? "generic" : "?";
}

static cs_dot_rows_fn dot_kernel(void) {
#if defined(__x86_64__) || defined(_M_X64)
    if (cs_cpu_level_get() >= CS_CPU_AVX2) return cs_dot_rows_avx2;
#endif
    return cs_dot_rows_generic;
}

/* ---- a bounded min-heap of (score, index): the root is the worst kept ---- */

typedef struct cand {
    float score;
    int64_t at;
} cand;

typedef struct heap {
    cand *h;
    int size, cap;
} heap;

static inline int worse(cand a, cand b) {
    return a.score < b.score || (a.score == b.score && a.at > b.at);
}

static void heap_push(heap *t, float score, int64_t at) {
    cand x = {score, at};
    int i;
    if (t->size < t->cap) {
        i = t->size++;
        while (i > 0 && worse(x, t->h[(i - 1) / 2])) {
            t->h[i] = t->h[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        t->h[i] = x;
        return;
    }
    if (!worse(t->h[0], x)) return;
    i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= t->size) break;
        if (c + 1 < t->size && worse(t->h[c + 1], t->h[c])) c++;
        if (!worse(t->h[c], x)) break;
        t->h[i] = t->h[c];
        i = c;
    }
    t->h[i] = x;
}

/* The row of `id` in the ascending ids[0..n), or -1. A catalogue's ids
 * are nearly dense (given in arrival order, with the holes of removed
 * rows), so a guess in proportion between the bounds lands on or beside
 * the row: a few probes where a binary search over 1M ids takes 20, most
 * of them cache misses (not timed apart from the rest of the search). After
 * INTERPOLATE guesses the search halves, so skewed ids cost no more than
 * a binary search. */
static int64_t row_of(const int64_t *ids, int64_t n, int64_t id) {
    enum { INTERPOLATE = 4 };
    int64_t lo = 0, hi = n - 1;
    for (int step = 0; lo <= hi; step++) {
        int64_t m = lo + (hi - lo) / 2;
        if (step < INTERPOLATE) {
            if (id < ids[lo] || id > ids[hi]) return -1;
            double span = (double)ids[hi] - (double)ids[lo];
            /* in doubles: the ids' difference may not fit 64 bits */
            if (span > 0)
                m = lo + (int64_t)(((double)id - (double)ids[lo]) / span * (double)(hi - lo));
            if (m > hi) m = hi;
        }
        if (ids[m] == id) return m;
        if (ids[m] < id)
            lo = m + 1;
        else
            hi = m - 1;
    }
    return -1;
}

static int cmp_hit(const void *a, const void *b) {
    const cs_hit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

enum { SCAN_CHUNK = 512 };

/* The best `cap` entries of the probed lists by their codes, into t. */
static void scan_lists(const cs_ann *a, const int *probe, int nprobe, const cs_ann_qcode *qc,
                       heap *t) {
    cs_ann_scan_fn scan = cs_ann_scan_kernel(a->code_bits);
    int32_t s[SCAN_CHUNK];
    for (int p = 0; p < nprobe; p++) {
        uint64_t b = a->lists[probe[p]], e = a->lists[probe[p] + 1];
        for (uint64_t at = b; at < e; at += SCAN_CHUNK) {
            int64_t m = (int64_t)(e - at < SCAN_CHUNK ? e - at : SCAN_CHUNK);
            scan(a->codes + at * (uint64_t)a->code_stride, m, a->code_stride, qc, s);
            for (int64_t i = 0; i < m; i++)
                if (t->size < t->cap || (float)s[i] > t->h[0].score)
                    heap_push(t, (float)s[i], (int64_t)at + i);
        }
    }
}

/* q in the terms of 8-bit codes with ranges `step`: qi and its byte
 * split, in buf (4 x stride bytes, int16-aligned). */
static cs_ann_qcode quantize(const float *q, const float *step, int dim, int stride, void *buf) {
    int16_t *qi = buf;
    int8_t *q8 = (int8_t *)(qi + stride);
    cs_ann_quantize_query(q, step, dim, stride, qi);
    cs_ann_split_query(qi, stride, q8);
    return (cs_ann_qcode){qi, q8};
}

/* The `nprobe` lists whose centroids are nearest q, into probe; returns
 * their number. With the centroids' codes (cs_ann_prepare) the integer
 * kernel shortlists CENTROID_SLACK x nprobe of them, re-scored in float;
 * else every centroid is scored in float. cs: nlist floats of scratch;
 * ph: (CENTROID_SLACK + 1) x nprobe heap slots; qbuf: 4 x the 8-bit
 * stride bytes. */
static int choose_lists(const cs_ann *a, const float *q, int nprobe, int use_codes, float *cs,
                        cand *ph, void *qbuf, int *probe) {
    cs_dot_rows_fn dot = dot_kernel();
    heap lists = {ph, 0, nprobe};
    if (use_codes && a->ccodes && nprobe < a->nlist) {
        int wide = nprobe * CENTROID_SLACK < a->nlist ? nprobe * CENTROID_SLACK : a->nlist;
        int stride = cs_ann_stride(a->dim, 8);
        cs_ann_qcode qc = quantize(q, a->cstep, a->dim, stride, qbuf);
        int32_t *ci = (int32_t *)(void *)cs; /* same size as the floats */
        cs_ann_scan_kernel(8)(a->ccodes, a->nlist, stride, &qc, ci);
        heap near = {ph, 0, wide};
        for (int l = 0; l < a->nlist; l++)
            if (near.size < wide || (float)ci[l] > near.h[0].score)
                heap_push(&near, (float)ci[l], l);
        lists.h = ph + wide; /* the shortlist re-scored exactly, after it */
        for (int i = 0; i < near.size; i++) {
            int l = (int)near.h[i].at;
            float s;
            dot(a->centroids + (size_t)l * a->dim, 1, a->dim, q, &s);
            if (lists.size < nprobe || s > lists.h[0].score) heap_push(&lists, s, l);
        }
    } else {
        dot(a->centroids, a->nlist, a->dim, q, cs);
        for (int l = 0; l < a->nlist; l++)
            if (lists.size < nprobe || cs[l] > lists.h[0].score) heap_push(&lists, cs[l], l);
    }
    for (int i = 0; i < lists.size; i++) probe[i] = (int)lists.h[i].at;
    return lists.size;
}

enum { RESCORE_CHUNK = 16 }; /* rows read at a time: 32 kB at 512 dimensions */

/* hits[i].score = the exact score of base row rows[i] of v, for i < m;
 * -inf, counted in *n_bad, where the stored row is not a unit vector (NaN
 * too). The rows are read RESCORE_CHUNK at a time into buf (RESCORE_CHUNK
 * x dim floats): the same bytes as in the map, the same sums. */
static void rescore(const cs_vecs *v, const float *q, const int64_t *rows, int64_t m, float *buf,
                    cs_hit *hits, int64_t *n_bad) {
    cs_dot_rows_fn dot = dot_kernel();
    for (int64_t i = 0; i < m; i += RESCORE_CHUNK) {
        int c = (int)(m - i < RESCORE_CHUNK ? m - i : RESCORE_CHUNK);
        cs_vecs_read_rows(v, rows + i, c, buf);
        for (int j = 0; j < c; j++) {
            float s;
            dot(buf + (size_t)j * (size_t)v->dim, 1, v->dim, q, &s);
            if (!(fabsf(s) <= CS_UNIT_LIMIT)) {
                if (n_bad) ++*n_bad;
                s = -INFINITY;
            }
            hits[i + j].score = s;
        }
    }
}

int64_t cs_ann_search(const cs_ann *a, const cs_vecs *v, const float *q, int want,
                      const cs_ann_params *p, cs_hit *hits, int64_t *n_bad) {
    if (n_bad) *n_bad = 0;
    if (want <= 0 || a->count == 0) return 0;
    int nprobe = p && p->nprobe > 0 ? p->nprobe : default_nprobe(a->nlist, a->count);
    if (nprobe > a->nlist) nprobe = a->nlist;
    int rerank = p && p->rerank > 0  ? p->rerank
                 : a->code_bits == 4 ? DEFAULT_RERANK4
                                     : DEFAULT_RERANK;
    if (rerank < want) rerank = want;
    size_t nph = (size_t)nprobe * (CENTROID_SLACK + 1);
    float *cs = malloc((size_t)a->nlist * sizeof *cs);
    cand *ph = malloc(nph * sizeof *ph), *ch = malloc((size_t)rerank * sizeof *ch);
    int *probe = malloc((size_t)nprobe * sizeof *probe);
    /* the centroids' query, then the rows' (of 4 bits: one byte a
     * dimension of the code's, 2 x its stride) */
    size_t qcent = (size_t)cs_ann_stride(a->dim, 8) * 4;
    void *qbuf = malloc(qcent + (size_t)a->code_stride * 4);
    cs_hit *all = malloc((size_t)rerank * sizeof *all);
    int64_t *rows = malloc((size_t)rerank * sizeof *rows);
    float *rowbuf = aligned_alloc(64, (size_t)RESCORE_CHUNK * (size_t)v->dim * sizeof(float));
    int64_t n = -1;
    if (!cs || !ph || !ch || !probe || !qbuf || !all || !rows || !rowbuf) goto done;
    int np = choose_lists(a, q, nprobe, !(p && p->float_centroids), cs, ph, qbuf, probe);
    cs_ann_qcode qc;
    if (a->code_bits == 4) {
        int8_t *q8 = (int8_t *)qbuf + qcent;
        cs_ann_quantize_query4(q, a->sq_step, a->dim, a->code_stride, q8);
        qc = (cs_ann_qcode){NULL, q8};
    } else {
        qc = quantize(q, a->sq_step, a->dim, a->code_stride, (char *)qbuf + qcent);
    }
    heap cands = {ch, 0, rerank};
    scan_lists(a, probe, np, &qc, &cands);
    /* re-score exactly; hits may be shorter than the candidates */
    int64_t m = 0;
    for (int i = 0; i < cands.size; i++) {
        int64_t id = a->ids[cands.h[i].at];
        int64_t r = row_of(v->ids, v->n, id);
        if (r < 0) continue;                /* not in this snapshot */
        if (cs_vecs_masked(v, r)) continue; /* removed or rewritten since */
        rows[m] = r;
        all[m++] = (cs_hit){id, 0};
    }
    rescore(v, q, rows, m, rowbuf, all, n_bad);
    qsort(all, (size_t)m, sizeof *all, cmp_hit);
    n = m < want ? m : want;
    memcpy(hits, all, (size_t)n * sizeof *hits);
done:
    free(rows);
    free(rowbuf);
    free(all);
    free(cs);
    free(ph);
    free(ch);
    free(probe);
    free(qbuf);
    return n;
}
