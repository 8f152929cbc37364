/* image/tiff_internal.h - what the TIFF decoder's files share:
 * decode_tiff.c (libtiff, the dispatch), tiff_rules.c (which layouts Pillow
 * reads and how each becomes RGB) and tiff_read.c (strips and tiles to rows). */
#ifndef CS_TIFF_INTERNAL_H
#define CS_TIFF_INTERNAL_H

#include <stdint.h>
#include <tiffio.h>

#include "image/image_internal.h"

/* The memory libtiff reads from, and what libtiff reported while reading it.
 * `failed` is set by every libtiff error and by libjpeg running out of data
 * inside a JPEG strip: either means the pixels are not all there. */
typedef struct tiff_src {
    const uint8_t *data;
    size_t size, pos;
    int failed;
    char message[256]; /* the first report, for the error message */
} tiff_src;

/* How Pillow 9.4 turns a layout into RGB: the mode and raw mode its TIFF
 * plugin picks (OPEN_INFO), then convert("RGB"). */
typedef enum tiff_rule {
    TIFF_RULE_NONE,       /* a layout Pillow cannot open: libtiff's RGBA reader */
    TIFF_RULE_YCBCR,      /* JPEG: libjpeg's RGB; other codings: libtiff's RGBA reader */
    TIFF_RULE_BILEVEL,    /* "1", "1;I" */
    TIFF_RULE_GREY,       /* "L;2", "L;4", "L" (and their ;I), first sample of "LA" */
    TIFF_RULE_GREY16,     /* "I;16", "I;16B", "I;12": clamped to 255 */
    TIFF_RULE_GREY16S,    /* "I;16S": clamped to 0..255 */
    TIFF_RULE_GREY32,     /* "I;32N", "I;32S": 32-bit signed, clamped to 0..255 */
    TIFF_RULE_FLOAT,      /* "F;32F": clipped to 0..255, truncated */
    TIFF_RULE_PALETTE,    /* "P;1".."P", first sample of "PA" */
    TIFF_RULE_RGB,        /* RGB, RGBX, RGBA (alpha dropped); 16 bit: high byte */
    TIFF_RULE_RGBA_ASSOC, /* "RGBa": un-premultiplied, then alpha dropped */
    TIFF_RULE_CMYK,       /* Pillow's CMYK -> RGB; 16 bit: high byte */
    TIFF_RULE_LAB         /* LittleCMS, Lab (D50) to sRGB, as Pillow's convert */
} tiff_rule;

typedef struct tiff_layout {
    uint32_t width, height;
    uint16_t bps, spp, photometric, planar, format, fillorder, compression;
    uint16_t nextra;
    const uint16_t *extra; /* the ExtraSamples values (nextra of them) */
    int big_endian;
} tiff_layout;

/* The rule Pillow applies to this layout, or TIFF_RULE_NONE. *invert is set
 * for min-is-white grey of 1 to 8 bits, the only layouts Pillow inverts. */
tiff_rule cs_tiff_rule(const tiff_layout *l, int *invert);

/* One row of samples (chunky: spp samples a pixel, 16 and 32-bit samples in
 * host order, as libtiff hands them over) to RGB, by the layout's rule. */
typedef struct tiff_convert tiff_convert;
cs_status cs_tiff_convert_new(TIFF *tif, const tiff_layout *l, tiff_rule rule, int invert,
                              const char *name, tiff_convert **out, cs_error *err);
void cs_tiff_convert_row(tiff_convert *c, const uint8_t *row, uint8_t *rgb);
void cs_tiff_convert_free(tiff_convert *c);

/* Reads every strip or tile of the image (planar or chunky) and hands
 * each row of the image, top to bottom, to cs_tiff_convert_row, which writes
 * it into out. Fails on any read error. */
cs_status cs_tiff_read(TIFF *tif, const tiff_layout *l, tiff_convert *conv, tiff_src *src,
                       const char *name, uint64_t max_alloc, cs_image *out, cs_error *err);

/* ---- lab.c: Pillow's LAB -> RGB (its ImageCms transform) --------------------- */
typedef struct cs_lab cs_lab;
/* NULL when LittleCMS cannot build the transform (out of memory). */
cs_lab *cs_lab_new(void);
/* lab: 4 bytes a pixel as Pillow stores mode LAB (L, a + 128, b + 128, unused);
 * rgba: 4 bytes a pixel, alpha untouched. */
void cs_lab_to_rgb(cs_lab *t, const uint8_t *lab, uint8_t *rgba, int w);
void cs_lab_free(cs_lab *t);

#endif
