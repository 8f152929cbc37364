/* image/jpeg_idct_avx512.c - jpeg_fast.c's 2x2 IDCT (a 12 MP photograph's
 * luma at 1/4 scale) on two blocks at once: jpeg_idct_avx2.c's arithmetic
 * in 32-bit lanes, one block in each half of a 16-lane register, so the
 * same bits. The two are neighbours across (h = 0 and 1 of an MCU), whose
 * outputs lie side by side. Built for plain x86-64 like the rest; only this
 * target-attributed function uses AVX-512, and jpeg_fast.c calls it only
 * when cs_cpu_level_get() reports it. */
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "image/jpeg_idct.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx2")))

/* coefficient row r of both blocks, dequantised: block a in lanes 0-7 */
AVX512 static inline __m512i dq_rows(const int16_t *a, const int16_t *b, const int32_t *q, int r) {
    __m256i c = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_load_si128((const __m128i *)(a + 8 * r))),
        _mm_load_si128((const __m128i *)(b + 8 * r)), 1);
    __m512i qr = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(q + 8 * r)));
    return _mm512_mullo_epi32(_mm512_cvtepi16_epi32(c), qr);
}

AVX512 static inline __m512i mul(__m512i v, int k) {
    return _mm512_mullo_epi32(v, _mm512_set1_epi32(k));
}

/* _mm256_hadd_epi32 in each 128-bit lane: a0+a1, a2+a3, b0+b1, b2+b3 */
AVX512 static inline __m512i hadd(__m512i a, __m512i b) {
    __m512 fa = _mm512_castsi512_ps(a), fb = _mm512_castsi512_ps(b);
    return _mm512_add_epi32(_mm512_castps_si512(_mm512_shuffle_ps(fa, fb, 0x88)),
                            _mm512_castps_si512(_mm512_shuffle_ps(fa, fb, 0xDD)));
}

AVX512 int cs_jpeg_idct_2x2_pair_avx512(const int16_t *c0, const int16_t *c1, const int32_t *q,
                                        uint8_t *out, int stride) {
    __m512i d0 = dq_rows(c0, c1, q, 0), d1 = dq_rows(c0, c1, q, 1), d3 = dq_rows(c0, c1, q, 3);
    __m512i d5 = dq_rows(c0, c1, q, 5), d7 = dq_rows(c0, c1, q, 7);
    __m512i dc = _mm512_slli_epi32(d0, 15);
    __m512i odd = _mm512_add_epi32(_mm512_add_epi32(mul(d7, -5906), mul(d5, 6967)),
                                   _mm512_add_epi32(mul(d3, -10426), mul(d1, 29692)));
    const __m512i r13 = _mm512_set1_epi32(1 << 12);
    __m512i w0 = _mm512_srai_epi32(_mm512_add_epi32(_mm512_add_epi32(dc, odd), r13), 13);
    __m512i w1 = _mm512_srai_epi32(_mm512_add_epi32(_mm512_sub_epi32(dc, odd), r13), 13);
    /* the row pass as dot products: columns 2, 4, 6 weigh nothing */
    const __m512i plus =
        _mm512_broadcast_i64x4(_mm256_setr_epi32(32768, 29692, 0, -10426, 0, 6967, 0, -5906));
    const __m512i minus =
        _mm512_broadcast_i64x4(_mm256_setr_epi32(32768, -29692, 0, 10426, 0, -6967, 0, 5906));
    __m512i p = hadd(_mm512_mullo_epi32(w0, plus), _mm512_mullo_epi32(w0, minus));
    __m512i m = hadd(_mm512_mullo_epi32(w1, plus), _mm512_mullo_epi32(w1, minus));
    __m512i pm = hadd(p, m); /* per 128-bit lane: row 0 +, row 0 -, row 1 +, row 1 - */
    /* each block's two lanes summed: block 0 in lane 0, block 1 in lane 2 */
    __m512i s = _mm512_add_epi32(pm, _mm512_shuffle_i32x4(pm, pm, _MM_SHUFFLE(2, 3, 0, 1)));
    __m128i s0 = _mm512_castsi512_si128(s), s1 = _mm512_extracti32x4_epi32(s, 2);
    const __m128i r20 = _mm_set1_epi32(1 << 19), bias = _mm_set1_epi32(128);
    __m128i y0 = _mm_add_epi32(_mm_srai_epi32(_mm_add_epi32(s0, r20), 20), bias);
    __m128i y1 = _mm_add_epi32(_mm_srai_epi32(_mm_add_epi32(s1, r20), 20), bias);
    /* bytes: block 0's r0+ r0- r1+ r1-, then block 1's; rows of four */
    __m128i bytes = _mm_packus_epi16(_mm_packs_epi32(y0, y1), _mm_setzero_si128());
    bytes = _mm_shuffle_epi8(bytes,
                             _mm_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, -1, -1, -1, -1, -1, -1, -1, -1));
    uint64_t eight = (uint64_t)_mm_cvtsi128_si64(bytes);
    memcpy(out, &eight, 4);
    memcpy(out + stride, (const uint8_t *)&eight + 4, 4);
    return 1;
}
#else
typedef int cs_jpeg_idct_avx512_unused; /* ISO C wants something in a file */
#endif
