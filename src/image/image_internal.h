/* image/image_internal.h - what the decoders, the orientation and the
 * preprocessing steps share inside src/image/.
 *
 * Every decoder turns a whole file in memory into an RGB8 image exactly as
 * Pillow's Image.open(...).convert("RGB") would (before the EXIF orientation)
 * and reports the orientation it found (1..8; 1 when there is none).
 * decode.c applies the orientation afterwards. A decoder either returns
 * CS_OK with a complete image, or fails, frees everything and leaves
 * out->rgb == NULL: there are no partial images. */
#ifndef CS_IMAGE_INTERNAL_H
#define CS_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "clipsearch/image.h"
#include "core/error.h"

typedef struct cs_decode_ctx {
    const uint8_t *data;
    size_t size;
    const char *name;    /* for messages; never NULL */
    uint64_t max_pixels; /* resolved (never 0) */
    int jpeg_min_side;   /* 0 = exact decode */
} cs_decode_ctx;

typedef cs_status (*cs_decoder_fn)(const cs_decode_ctx *ctx, cs_image *out, int *orientation,
                                   cs_error *err);

cs_status cs_decode_jpeg(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err);
cs_status cs_decode_png(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err);
cs_status cs_decode_webp(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err);
cs_status cs_decode_gif(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err);
cs_status cs_decode_bmp(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err);
cs_status cs_decode_tiff(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err);
/* HEIF/AVIF: libheif applies irot/imir itself; *orientation is always 1. */
cs_status cs_decode_heif(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err);

/* Refuses sizes of zero, above INT_MAX, or above ctx->max_pixels (CS_ELIMIT),
 * before anything is allocated. */
cs_status cs_image_check_size(const cs_decode_ctx *ctx, uint64_t width, uint64_t height,
                              cs_error *err);
/* Checks the size as above and allocates out->rgb (uninitialised). */
cs_status cs_image_alloc(const cs_decode_ctx *ctx, uint64_t width, uint64_t height, cs_image *out,
                         cs_error *err);

/* ---- exif.c: the orientation tag -------------------------------------------
 * The orientation (tag 0x0112) of IFD0 of a TIFF-structured block (an EXIF
 * payload, with or without its "Exif\0\0" prefix). Returns 1..8, or 0 when the
 * block has no valid orientation (malformed blocks are ignored, not fatal). */
int cs_exif_orientation(const uint8_t *data, size_t size);
/* Pillow's fallback for PNG: `tiff:Orientation="N"` or `tiff:Orientation>N`
 * in the XMP packet. Returns 0..9 as Pillow would read it (0 = none). */
int cs_xmp_orientation(const char *xmp, size_t size);

/* ---- orient.c: Pillow's exif_transpose --------------------------------------
 * Replaces img by its transposed copy for orientations 2..8 (1, 0 and out of
 * range values leave it alone). */
cs_status cs_image_orient(cs_image *img, int orientation, cs_error *err);

/* ---- convert.c: Pillow's mode -> RGB rules, one row at a time --------------- */
/* A 256-entry RGB palette as Pillow builds it: entries the file does not
 * define keep Pillow's default, the grey ramp (i, i, i). */
typedef struct cs_palette {
    uint8_t rgb[256 * 3];
} cs_palette;
void cs_palette_init(cs_palette *pal);
void cs_row_pal_to_rgb(const cs_palette *pal, const uint8_t *idx, uint8_t *rgb, int w);
void cs_row_l_to_rgb(const uint8_t *l, uint8_t *rgb, int w);
/* Keeps the first 3 of every `n` bytes (RGBA, RGBX: alpha dropped, no
 * compositing, as Pillow's convert("RGB") does). */
void cs_row_rgbx_to_rgb(const uint8_t *in, int n, uint8_t *rgb, int w);
/* LA: grey replicated, alpha dropped. */
void cs_row_la_to_rgb(const uint8_t *la, uint8_t *rgb, int w);
/* CMYK as Pillow stores it (ink amounts, 0 = no ink) to RGB by Pillow's rule:
 * nk = 255 - K, channel = clip(nk - round(C * nk / 255)). invert = 1 for
 * Adobe-polarity data (libjpeg's CMYK output), which Pillow inverts first. */
void cs_row_cmyk_to_rgb(const uint8_t *cmyk, int invert, uint8_t *rgb, int w);
/* 16-bit samples: Pillow keeps only the high byte for RGB/RGBA/LA data, but a
 * 16-bit greyscale image is mode "I" and I -> RGB clamps: v > 255 -> 255.
 * `big_endian` says how the samples are stored. */
void cs_row_rgb16_to_rgb(const uint8_t *in, int channels, int big_endian, uint8_t *rgb, int w);
void cs_row_grey16_to_rgb(const uint8_t *in, int channels, int big_endian, uint8_t *rgb, int w);

/* ---- resize.c: Pillow's BICUBIC ---------------------------------------------- */
cs_status cs_resize_bicubic(const cs_image *in, int out_w, int out_h, cs_image *out, cs_error *err);
/* Only the box [bx, bx + bw) x [by, by + bh) of that out_w x out_h resize
 * (out is bw x bh): every pixel of a resize depends only on its own taps, so
 * these are exactly the pixels of the full resize there, computed without
 * the rest (a centre crop needs a fraction of a long strip). */
cs_status cs_resize_bicubic_box(const cs_image *in, int out_w, int out_h, int bx, int by, int bw,
                                int bh, cs_image *out, cs_error *err);

#endif
