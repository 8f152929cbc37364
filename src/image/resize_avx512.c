/* image/resize_avx512.c - the horizontal pass of resize.c in 16 lanes: four
 * taps (4 x RGB) per multiply, half the steps of resize_avx2.c's pairs,
 * and the rounding and clipping of a pixel in vector registers. Integer
 * sums are exact in any order, so the bytes are the scalar pass's (and
 * Pillow's). Built for plain x86-64 like the rest; only this
 * target-attributed function uses AVX-512, and resize.c calls it only when
 * cs_cpu_level_get() reports it. */
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <string.h>

#include "image/resize_internal.h"

#define AVX512         __attribute__((target("avx512f,avx2")))
#define PRECISION_BITS (32 - 8 - 2)

AVX512 void cs_resize_horizontal_avx512(const uint8_t *src, int w_in, int y0, int rows, int ksize,
                                        const int *first, const int *count, const int32_t *wide,
                                        int w_out, uint8_t *dst) {
    const int quads = (ksize + 3) / 4;
    /* bytes 0-11 (four RGB pixels) -> the first three lanes of each 4 */
    const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
    const __m128i half = _mm_set1_epi32(1 << (PRECISION_BITS - 1));
    const uint8_t *end = src + (size_t)(y0 + rows) * w_in * 3; /* never read at or past this */
    for (int y = 0; y < rows; y++) {
        const uint8_t *row = src + (size_t)(y0 + y) * w_in * 3;
        uint8_t *o = dst + (size_t)y * w_out * 3;
        for (int xx = 0; xx < w_out; xx++, o += 3) {
            const uint8_t *p = row + (size_t)first[xx] * 3;
            const int32_t *k = wide + (size_t)xx * quads * 16;
            __m512i acc = _mm512_setzero_si512();
            /* a last quad past the output's taps weighs those pixels by 0 */
            for (int x = 0; x < count[xx]; x += 4, p += 12, k += 16) {
                __m128i px;
                if (p + 16 <= end)
                    px = _mm_loadu_si128((const __m128i *)p);
                else { /* the image's last bytes: copy those there are */
                    uint8_t tmp[16] = {0};
                    size_t left = (size_t)(end - p);
                    memcpy(tmp, p, left < 12 ? left : 12);
                    px = _mm_loadu_si128((const __m128i *)tmp);
                }
                __m512i v = _mm512_cvtepu8_epi32(_mm_shuffle_epi8(px, spread));
                acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(v, _mm512_loadu_si512(k)));
            }
            __m256i h =
                _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
            __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
            /* clip8: >> 22, then clamped to 0..255 by the packs */
            s = _mm_srai_epi32(_mm_add_epi32(s, half), PRECISION_BITS);
            s = _mm_packus_epi16(_mm_packs_epi32(s, s), s);
            uint32_t rgb = (uint32_t)_mm_cvtsi128_si32(s);
            memcpy(o, &rgb, 3);
        }
    }
}
#else
typedef int cs_resize_avx512_unused; /* ISO C wants something in a file */
#endif
