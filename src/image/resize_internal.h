/* image/resize_internal.h - the SIMD passes of resize.c (resize_avx2.c,
 * resize_avx512.c). */
#ifndef CS_IMAGE_RESIZE_INTERNAL_H
#define CS_IMAGE_RESIZE_INTERNAL_H

#include <stdint.h>

/* Spreads each output's fixed-point taps into groups of `group` (2 for
 * AVX2, 4 for AVX-512) over the R, G, B lanes, zero past its count: wide
 * holds out_size * ceil(ksize / group) * group * 4 int32. */
void cs_resize_widen_taps(const int32_t *w, int ksize, const int *count, int out_size, int group,
                          int32_t *wide);

/* The horizontal pass (see resize.c's pass_horizontal) with AVX2 (taps in
 * pairs) and AVX-512 (taps in quads). */
void cs_resize_horizontal_avx2(const uint8_t *src, int w_in, int y0, int rows, int ksize,
                               const int *first, const int *count, const int32_t *wide, int w_out,
                               uint8_t *dst);
void cs_resize_horizontal_avx512(const uint8_t *src, int w_in, int y0, int rows, int ksize,
                                 const int *first, const int *count, const int32_t *wide, int w_out,
                                 uint8_t *dst);

/* One output row of the vertical pass with AVX2: dst[i] for i < n from
 * rows[0..count)[i] weighed by k[0..count). */
void cs_resize_vertical_avx2(const uint8_t *const *rows, const int32_t *k, int count, size_t n,
                             uint8_t *dst);

#endif
