/* image/resize_internal.h - the SIMD pass of resize.c (resize_avx2.c). */
#ifndef CS_IMAGE_RESIZE_INTERNAL_H
#define CS_IMAGE_RESIZE_INTERNAL_H

#include <stdint.h>

/* Spreads each output's fixed-point taps into pairs over the R, G, B lanes:
 * wide holds out_size * ((ksize + 1) / 2) * 8 int32. */
void cs_resize_widen_taps(const int32_t *w, int ksize, const int *count, int out_size,
                          int32_t *wide);

/* The horizontal pass (see resize.c's pass_horizontal) with AVX2. */
void cs_resize_horizontal_avx2(const uint8_t *src, int w_in, int y0, int rows, int ksize,
                               const int *first, const int *count, const int32_t *wide, int w_out,
                               uint8_t *dst);

#endif
