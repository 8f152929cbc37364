/* image/resize_avx2.c - the two passes of resize.c with AVX2: across, two
 * taps (2 x RGB) per multiply; down, eight samples of a row at once. Integer
 * sums are exact in any order, so the result is identical to the scalar
 * passes (and to Pillow) bit for bit. Only called when cs_cpu_level_get()
 * >= CS_CPU_AVX2. */
#include <immintrin.h>
#include <string.h>

#include "image/resize_internal.h"

#define PRECISION_BITS (32 - 8 - 2)

/* wide[xx][group] = {k0, k0, k0, 0, k1, k1, k1, 0, ...}: the taps of output
 * xx in groups of `group`, each spread over the R, G, B lanes; zero past
 * the output's count. */
void cs_resize_widen_taps(const int32_t *w, int ksize, const int *count, int out_size, int group,
                          int32_t *wide) {
    const int groups = (ksize + group - 1) / group;
    for (int xx = 0; xx < out_size; xx++) {
        int32_t *o = wide + (size_t)xx * groups * group * 4;
        memset(o, 0, sizeof(int32_t) * 4 * (size_t)group * (size_t)groups);
        for (int x = 0; x < count[xx]; x++)
            for (int c = 0; c < 3; c++) o[x * 4 + c] = w[(size_t)xx * ksize + x];
    }
}

static inline uint8_t clip8(int32_t v) {
    if (v >= (1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

void cs_resize_horizontal_avx2(const uint8_t *src, int w_in, int y0, int rows, int ksize,
                               const int *first, const int *count, const int32_t *wide, int w_out,
                               uint8_t *dst) {
    const int pairs = (ksize + 1) / 2;
    /* bytes 0-2 -> lanes 0-2, bytes 3-5 -> lanes 4-6, the rest zero */
    const __m128i spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const uint8_t *end = src + (size_t)(y0 + rows) * w_in * 3; /* never read at or past this */
    for (int y = 0; y < rows; y++) {
        const uint8_t *row = src + (size_t)(y0 + y) * w_in * 3;
        uint8_t *o = dst + (size_t)y * w_out * 3;
        for (int xx = 0; xx < w_out; xx++, o += 3) {
            const uint8_t *p = row + (size_t)first[xx] * 3;
            const int32_t *k = wide + (size_t)xx * pairs * 8;
            const int n = count[xx];
            __m256i acc = _mm256_setzero_si256();
            int x = 0;
            for (; x + 1 < n; x += 2, p += 6, k += 8) {
                __m128i px;
                if (p + 8 <= end)
                    px = _mm_loadl_epi64((const __m128i *)p);
                else { /* the image's last bytes: copy the 6 we need */
                    uint8_t tmp[8] = {0};
                    memcpy(tmp, p, 6);
                    px = _mm_loadl_epi64((const __m128i *)tmp);
                }
                __m256i v = _mm256_cvtepu8_epi32(_mm_shuffle_epi8(px, spread));
                acc = _mm256_add_epi32(
                    acc, _mm256_mullo_epi32(v, _mm256_loadu_si256((const __m256i *)k)));
            }
            if (x < n) { /* an odd last tap: its weights sit in the pair's low half */
                __m128i px =
                    _mm_cvtsi32_si128((int)(p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16));
                __m128i v = _mm_cvtepu8_epi32(px);
                __m128i kk = _mm_loadu_si128((const __m128i *)k);
                acc = _mm256_add_epi32(acc, _mm256_castsi128_si256(_mm_mullo_epi32(v, kk)));
            }
            __m128i s =
                _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
            int32_t lanes[4];
            _mm_storeu_si128((__m128i *)lanes, s);
            const int32_t half = 1 << (PRECISION_BITS - 1);
            o[0] = clip8(lanes[0] + half);
            o[1] = clip8(lanes[1] + half);
            o[2] = clip8(lanes[2] + half);
        }
    }
}

void cs_resize_vertical_avx2(const uint8_t *const *rows, const int32_t *k, int count, size_t n,
                             uint8_t *dst) {
    const __m256i half = _mm256_set1_epi32(1 << (PRECISION_BITS - 1));
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i acc = half;
        for (int y = 0; y < count; y++) {
            __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(rows[y] + i)));
            acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(v, _mm256_set1_epi32(k[y])));
        }
        /* clip8 of eight sums: >> 22 then clamped to 0..255 by the packs */
        __m256i s = _mm256_srai_epi32(acc, PRECISION_BITS);
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        _mm_storel_epi64((__m128i *)(dst + i), _mm_packus_epi16(w, w));
    }
    for (; i < n; i++) {
        int32_t acc = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < count; y++) acc += rows[y][i] * k[y];
        dst[i] = clip8(acc);
    }
}
