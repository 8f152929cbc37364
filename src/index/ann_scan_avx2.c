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

void cs_ann_scan4_avx2(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                       int32_t *out) {
    const int8_t *q8 = q->q8;
    int64_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const uint8_t *c = codes + r * stride;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        for (int b = 0; b < stride; b += 64) {
            a0 = _mm256_add_epi32(a0, block4(c + b, q8 + 2 * b));
            a1 = _mm256_add_epi32(a1, block4(c + stride + b, q8 + 2 * b));
            a2 = _mm256_add_epi32(a2, block4(c + 2 * stride + b, q8 + 2 * b));
            a3 = _mm256_add_epi32(a3, block4(c + 3 * stride + b, q8 + 2 * b));
        }
        out[r] = hsum(a0);
        out[r + 1] = hsum(a1);
        out[r + 2] = hsum(a2);
        out[r + 3] = hsum(a3);
    }
    for (; r < n; r++) {
        const uint8_t *c = codes + r * stride;
        __m256i a = _mm256_setzero_si256();
        for (int b = 0; b < stride; b += 64) a = _mm256_add_epi32(a, block4(c + b, q8 + 2 * b));
        out[r] = hsum(a);
    }
}
