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

void cs_ann_scan_avx2(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                      int32_t *out) {
    const int16_t *qi = q->qi;
    int64_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const uint8_t *c = codes + r * stride;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        for (int d = 0; d < stride; d += 16) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(qi + d));
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(codes16(c + d), x));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(codes16(c + stride + d), x));
            a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(codes16(c + 2 * stride + d), x));
            a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(codes16(c + 3 * stride + d), x));
        }
        out[r] = hsum(a0);
        out[r + 1] = hsum(a1);
        out[r + 2] = hsum(a2);
        out[r + 3] = hsum(a3);
    }
    for (; r < n; r++) {
        const uint8_t *c = codes + r * stride;
        __m256i a = _mm256_setzero_si256();
        for (int d = 0; d < stride; d += 16)
            a = _mm256_add_epi32(
                a,
                _mm256_madd_epi16(codes16(c + d), _mm256_loadu_si256((const __m256i *)(qi + d))));
        out[r] = hsum(a);
    }
}
