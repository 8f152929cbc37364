/* image/jpeg_fast.h - the scaled decoding of common JPEGs, faster than
 * libjpeg-turbo's and giving its pixels (see jpeg_fast.c). */
#ifndef CS_JPEG_FAST_H
#define CS_JPEG_FAST_H

#include <stdint.h>
#include <stdio.h> /* before jpeglib.h, which needs FILE and size_t */

#include <jpeglib.h>

/* After jpeg_read_header (libjpeg has read the tables and the first SOS
 * header; the source's next byte is the first byte of coded data) and
 * jpeg_calc_output_dimensions: decodes the scan into rgb
 * (output_width x output_height x 3) and returns 1, or returns 0 without
 * touching cinfo when the file is not one this decoder gives libjpeg's
 * pixels for (the caller then decodes it with libjpeg, whose verdict on a
 * bad file stands). rgb may hold garbage after a 0. */
int cs_jpeg_fast_decode(j_decompress_ptr cinfo, uint8_t *rgb);

#endif
