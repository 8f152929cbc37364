/* index/ann_search.c - one query against DB.ann: rank the centroids, scan
 * the codes of the best lists, re-score the best candidates exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/ann.h"
#include "index/ann_internal.h"
#include "index/search_internal.h"

/* Defaults from bench/bench_ann.c on 1M CLIP-like vectors (docs/performance.md):
 * the lists scanned grow with the list count, so that the rows scanned stay
 * about the same share of the catalogue. */
enum { DEFAULT_RERANK = 160 };

static int default_nprobe(int nlist) {
    int p = nlist / 40;
    return p < 8 ? (nlist < 8 ? nlist : 8) : p;
}

void cs_ann_quantize_query(const float *q, const float *step, int dim, int stride, int16_t *qi) {
    float m = 0;
    for (int d = 0; d < dim; d++) m = fmaxf(m, fabsf(q[d] * step[d]));
    /* |qi| * 255 * stride must fit in an int32 (the kernels' widest sum) */
    double lim = (double)INT32_MAX / (255.0 * stride);
    if (lim > 32767) lim = 32767;
    double scale = m > 0 ? floor(lim) / m : 0;
    for (int d = 0; d < stride; d++) qi[d] = d < dim ? (int16_t)lrint(q[d] * step[d] * scale) : 0;
}

void cs_ann_encode(const float *x, const float *min, const float *step, int dim, int stride,
                   uint8_t *code) {
    for (int d = 0; d < dim; d++) {
        float c = rintf((x[d] - min[d]) / step[d]);
        code[d] = c <= 0 ? 0 : c >= 255 ? 255 : (uint8_t)c; /* NaN -> 0 */
    }
    memset(code + dim, 0, (size_t)(stride - dim));
}

void cs_ann_scan_generic(const uint8_t *codes, int64_t n, int stride, const int16_t *qi,
                         int32_t *out) {
    for (int64_t r = 0; r < n; r++) {
        const uint8_t *c = codes + r * stride;
        int32_t s = 0;
        for (int d = 0; d < stride; d++) s += (int32_t)c[d] * qi[d];
        out[r] = s;
    }
}

cs_ann_scan_fn cs_ann_scan_kernel(void) {
#if defined(__x86_64__) || defined(_M_X64)
    if (cs_cpu_has_avx2()) return cs_ann_scan_avx2;
#endif
    return cs_ann_scan_generic;
}

static cs_dot_rows_fn dot_kernel(void) {
#if defined(__x86_64__) || defined(_M_X64)
    if (cs_cpu_has_avx2()) return cs_dot_rows_avx2;
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

static int cmp_id64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_hit(const void *a, const void *b) {
    const cs_hit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

enum { SCAN_CHUNK = 512 };

/* The best `cap` entries of the probed lists by their codes, into t. */
static void scan_lists(const cs_ann *a, const int *probe, int nprobe, const int16_t *qi, heap *t) {
    cs_ann_scan_fn scan = cs_ann_scan_kernel();
    int32_t s[SCAN_CHUNK];
    for (int p = 0; p < nprobe; p++) {
        uint64_t b = a->lists[probe[p]], e = a->lists[probe[p] + 1];
        for (uint64_t at = b; at < e; at += SCAN_CHUNK) {
            int64_t m = (int64_t)(e - at < SCAN_CHUNK ? e - at : SCAN_CHUNK);
            scan(a->codes + at * (uint64_t)a->code_stride, m, a->code_stride, qi, s);
            for (int64_t i = 0; i < m; i++)
                if (t->size < t->cap || (float)s[i] > t->h[0].score)
                    heap_push(t, (float)s[i], (int64_t)at + i);
        }
    }
}

int64_t cs_ann_search(const cs_ann *a, const cs_vecs *v, const float *q, int want,
                      const cs_ann_params *p, cs_hit *hits, int64_t *n_bad) {
    if (n_bad) *n_bad = 0;
    if (want <= 0 || a->count == 0) return 0;
    int nprobe = p && p->nprobe > 0 ? p->nprobe : default_nprobe(a->nlist);
    if (nprobe > a->nlist) nprobe = a->nlist;
    int rerank = p && p->rerank > 0 ? p->rerank : DEFAULT_RERANK;
    if (rerank < want) rerank = want;
    float *cs = malloc((size_t)a->nlist * sizeof *cs);
    cand *ph = malloc((size_t)nprobe * sizeof *ph), *ch = malloc((size_t)rerank * sizeof *ch);
    int *probe = malloc((size_t)nprobe * sizeof *probe);
    int16_t *qi = malloc((size_t)a->code_stride * sizeof *qi);
    cs_hit *all = malloc((size_t)rerank * sizeof *all);
    int64_t n = -1;
    if (!cs || !ph || !ch || !probe || !qi || !all) goto done;
    cs_dot_rows_fn dot = dot_kernel();
    dot(a->centroids, a->nlist, a->dim, q, cs);
    heap lists = {ph, 0, nprobe};
    for (int l = 0; l < a->nlist; l++)
        if (lists.size < nprobe || cs[l] > lists.h[0].score) heap_push(&lists, cs[l], l);
    for (int i = 0; i < lists.size; i++) probe[i] = (int)lists.h[i].at;
    cs_ann_quantize_query(q, a->sq_step, a->dim, a->code_stride, qi);
    heap cands = {ch, 0, rerank};
    scan_lists(a, probe, lists.size, qi, &cands);
    /* re-score exactly; hits may be shorter than the candidates */
    int64_t m = 0;
    for (int i = 0; i < cands.size; i++) {
        int64_t id = a->ids[cands.h[i].at];
        const int64_t *hit = v->n ? bsearch(&id, v->ids, (size_t)v->n, sizeof id, cmp_id64) : NULL;
        if (!hit) continue; /* not in this snapshot */
        int64_t r = hit - v->ids;
        if (cs_vecs_masked(v, r)) continue; /* removed or rewritten since */
        float s;
        dot(v->vectors + r * (int64_t)v->dim, 1, v->dim, q, &s);
        if (!(fabsf(s) <= CS_UNIT_LIMIT)) { /* NaN too */
            if (n_bad) ++*n_bad;
            s = -INFINITY;
        }
        all[m++] = (cs_hit){id, s};
    }
    qsort(all, (size_t)m, sizeof *all, cmp_hit);
    n = m < want ? m : want;
    memcpy(hits, all, (size_t)n * sizeof *hits);
done:
    free(all);
    free(cs);
    free(ph);
    free(ch);
    free(probe);
    free(qi);
    return n;
}
