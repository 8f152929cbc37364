/* index/topk_avx2.c - inner products of many rows with one query, AVX2+FMA.
 * Built with -mavx2 -mfma; reached only through cs_search_flat's runtime
 * check (core/cpu.h). The search is bound by memory bandwidth, so the
 * kernel's job is to keep loads streaming: 8 rows per pass share each query
 * load and give 8 independent FMA chains (enough to cover FMA latency). */
#include <immintrin.h>

#include "index/search_internal.h"

/* Sum of the 8 lanes of each of a..d -> [sum a, sum b, sum c, sum d]. */
static inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    /* hadd(hadd(a,b), hadd(c,d)): low half holds lanes 0-3 of each input
     * summed, high half lanes 4-7; adding the halves finishes the sums. */
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

static inline float tail_dot(const float *a, const float *q, int from, int dim) {
    float s = 0.0f;
    for (int j = from; j < dim; j++) s += a[j] * q[j];
    return s;
}

/* One row in the same order of operations as a row of the 8-row passes
 * below: one FMA chain, the same horizontal sum, then the tail. So a row
 * scores the same bits wherever it falls (a catalogue split into shards
 * ranks exactly as the whole). */
static float dot_one(const float *a, const float *q, int dim) {
    int d8 = dim & ~7;
    __m256 acc = _mm256_setzero_ps();
    for (int j = 0; j < d8; j += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(q + j), acc);
    return _mm_cvtss_f32(hsum4(acc, acc, acc, acc)) + tail_dot(a, q, d8, dim);
}

void cs_dot_rows_avx2(const float *rows, int64_t nrows, int dim, const float *q, float *out) {
    const int d8 = dim & ~7;
    const int64_t stride = dim;
    int64_t r = 0;
    for (; r + 8 <= nrows; r += 8) {
        const float *a = rows + r * stride;
        __m256 acc[8];
        for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
        for (int j = 0; j < d8; j += 8) {
            __m256 qv = _mm256_loadu_ps(q + j);
            for (int i = 0; i < 8; i++)
                acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i * stride + j), qv, acc[i]);
        }
        __m128 lo = hsum4(acc[0], acc[1], acc[2], acc[3]);
        __m128 hi = hsum4(acc[4], acc[5], acc[6], acc[7]);
        if (d8 < dim) { /* dim not a multiple of 8: a scalar tail per row */
            float t[8];
            for (int i = 0; i < 8; i++) t[i] = tail_dot(a + i * stride, q, d8, dim);
            lo = _mm_add_ps(lo, _mm_loadu_ps(t));
            hi = _mm_add_ps(hi, _mm_loadu_ps(t + 4));
        }
        _mm_storeu_ps(out + r, lo);
        _mm_storeu_ps(out + r + 4, hi);
    }
    for (; r < nrows; r++) out[r] = dot_one(rows + r * stride, q, dim);
}
