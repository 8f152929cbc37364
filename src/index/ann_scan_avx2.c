/* index/ann_scan_avx2.c - integer dot products of 8-bit codes with a 16-bit
 * query, AVX2 (built with -mavx2; reached through cs_ann_scan_kernel's
 * runtime check). vpmaddwd multiplies 16 pairs and adds neighbours into 8
 * 32-bit lanes; four rows per pass share each query load. The query's
 * scale (cs_ann_quantize_query) keeps every lane and sum within 32 bits. */
#include <immintrin.h>

#include "index/ann_internal.h"

static inline int32_t hsum(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static inline __m256i codes16(const uint8_t *p) {
    return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
}

/* One step of a row's sum: the row at c, code bytes from d on, against
 * the query (8-bit codes: 16 bytes; 4-bit: a 64-byte block). */
typedef __m256i (*scan_step)(const uint8_t *c, int d, const cs_ann_qcode *q);

/* out[r] for n rows of `stride` bytes, `width` bytes a step: four rows a
 * pass (four chains of additions in flight, the query's loads shared),
 * then the rest one by one. Inlined into each kernel with its step. */
static inline __attribute__((always_inline)) void scan_rows(const uint8_t *codes, int64_t n,
                                                            int stride, int width, scan_step step,
                                                            const cs_ann_qcode *q, int32_t *out) {
    int64_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const uint8_t *c = codes + r * stride;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        for (int d = 0; d < stride; d += width) {
            a0 = _mm256_add_epi32(a0, step(c, d, q));
            a1 = _mm256_add_epi32(a1, step(c + stride, d, q));
            a2 = _mm256_add_epi32(a2, step(c + 2 * stride, d, q));
            a3 = _mm256_add_epi32(a3, step(c + 3 * stride, d, q));
        }
        out[r] = hsum(a0);
        out[r + 1] = hsum(a1);
        out[r + 2] = hsum(a2);
        out[r + 3] = hsum(a3);
    }
    for (; r < n; r++) {
        const uint8_t *c = codes + r * stride;
        __m256i a = _mm256_setzero_si256();
        for (int d = 0; d < stride; d += width) a = _mm256_add_epi32(a, step(c, d, q));
        out[r] = hsum(a);
    }
}

static inline __m256i step8(const uint8_t *c, int d, const cs_ann_qcode *q) {
    return _mm256_madd_epi16(codes16(c + d), _mm256_loadu_si256((const __m256i *)(q->qi + d)));
}

void cs_ann_scan_avx2(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                      int32_t *out) {
    scan_rows(codes, n, stride, 16, step8, q, out);
}

/* The 4-bit codes (ann_sq4.c): vpmaddubsw multiplies 32 nibbles (as
 * unsigned bytes) by 32 signed query bytes and adds neighbours into 16-bit
 * lanes; a 64-byte block's four products add up in 16 bits (4 x 2 x 15 x
 * 127 < 2^15, no saturation) before one vpmaddwd widens them. */
static inline __m256i block4(const uint8_t *c, const int8_t *q) {
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256i v0 = _mm256_loadu_si256((const __m256i *)c);
    __m256i v1 = _mm256_loadu_si256((const __m256i *)(c + 32));
    __m256i s =
        _mm256_maddubs_epi16(_mm256_and_si256(v0, m4), _mm256_loadu_si256((const __m256i *)q));
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(_mm256_and_si256(v1, m4),
                                                 _mm256_loadu_si256((const __m256i *)(q + 32))));
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v0, 4), m4),
                                                 _mm256_loadu_si256((const __m256i *)(q + 64))));
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v1, 4), m4),
                                                 _mm256_loadu_si256((const __m256i *)(q + 96))));
    return _mm256_madd_epi16(s, _mm256_set1_epi16(1));
}

static inline __m256i step4(const uint8_t *c, int b, const cs_ann_qcode *q) {
    return block4(c + b, q->q8 + 2 * b);
}

void cs_ann_scan4_avx2(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                       int32_t *out) {
    scan_rows(codes, n, stride, 64, step4, q, out);
}
