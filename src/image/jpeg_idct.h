/* image/jpeg_idct.h - the IDCTs, upsampling and colour conversion of
 * jpeg_fast.c (jpeg_idct.c, jpeg_idct_avx2.c, jpeg_idct_avx512.c). */
#ifndef CS_JPEG_IDCT_H
#define CS_JPEG_IDCT_H

#include <stdint.h>

/* One block's quantised coefficients c (natural order, 16-byte aligned) and
 * its quantisation table q to size x size pixels at out (rows stride
 * apart), exactly as libjpeg-turbo computes them. Returns 1; 0 (only the
 * 8x8) for a block whose pixels it cannot promise. */
typedef int (*cs_jpeg_idct_fn)(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_1x1(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_2x2(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_4x4(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
/* libjpeg-turbo computes these in C (jidctint.c), range table and all */
int cs_jpeg_idct_3x3(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_6x6(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_5x5(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_10x10(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_12x12(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
/* libjpeg-turbo's 8x8 where it agrees with jidctint.c; 0 where it may not
 * (jpeg_idct.c says when) */
int cs_jpeg_idct_8x8(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_8x8_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_3x3_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_5x5_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_10x10_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_12x12_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_6x6_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_2x2_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
int cs_jpeg_idct_4x4_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride);
/* Two 2x2s side by side (blocks c0 and c1 of one component, out + 2 the
 * second's place): two cs_jpeg_idct_2x2_avx2 calls' bytes. */
typedef int (*cs_jpeg_idct_pair_fn)(const int16_t *c0, const int16_t *c1, const int32_t *q,
                                    uint8_t *out, int stride);
int cs_jpeg_idct_2x2_pair_avx512(const int16_t *c0, const int16_t *c1, const int32_t *q,
                                 uint8_t *out, int stride);

/* libjpeg's h2v1 upsampling (jdsample.c): n >= 3 samples to 2n. Fancy:
 * each 3/4 of the nearer sample and 1/4 of the other neighbour, rounding up
 * and down by turns, the ends repeating the end samples; else each sample
 * twice. */
void cs_jpeg_h2v1(const uint8_t *in, unsigned n, int fancy, uint8_t *out);
/* The fancy way: both ends, and the samples from `from` on (from >= 1; the
 * vector version's tail). */
void cs_jpeg_h2v1_from(const uint8_t *in, unsigned n, unsigned from, uint8_t *out);
void cs_jpeg_h2v1_avx2(const uint8_t *in, unsigned n, int fancy, uint8_t *out);
typedef void (*cs_jpeg_h2v1_fn)(const uint8_t *in, unsigned n, int fancy, uint8_t *out);

/* libjpeg's YCbCr -> RGB of one row of w pixels. */
void cs_jpeg_ycc_row(const uint8_t *y, const uint8_t *cb, const uint8_t *cr, uint8_t *rgb, int w);
void cs_jpeg_ycc_row_avx2(const uint8_t *y, const uint8_t *cb, const uint8_t *cr, uint8_t *rgb,
                          int w);
typedef void (*cs_jpeg_ycc_fn)(const uint8_t *y, const uint8_t *cb, const uint8_t *cr, uint8_t *rgb,
                               int w);

#endif
