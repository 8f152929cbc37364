/* image/tiff_rules.c - the TIFF layouts Pillow 9.4 reads, and how each one
 * becomes RGB.
 *
 * cs_tiff_rule is Pillow's OPEN_INFO table (TiffImagePlugin.py): a layout
 * (byte order, photometric, sample format, fill order, bits per sample,
 * extra samples) is read only if the table lists it, and the table's raw
 * mode fixes the unpacking; Image.convert("RGB") then does the rest. The
 * table is kept as Pillow has it, oddities included: 16-bit min-is-white
 * grey is not inverted, 12 and unsigned 32-bit grey only exist little-endian,
 * 16-bit CMYK only little-endian. The row conversions follow Pillow's
 * Unpack.c and Convert.c (see docs/images.md for each rule). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/tiff_internal.h"

/* Grey and palette layouts: one sample (or two, the second an unassociated
 * alpha, for LA and PA). */
static tiff_rule single_rule(const tiff_layout *l, int *invert) {
    const int ii = !l->big_endian, fo1 = l->fillorder == FILLORDER_MSB2LSB;
    const int ph = l->photometric, bps = l->bps, sf = l->format;
    if (l->spp == 2) /* "LA" and "PA": 8 bits, ExtraSamples = (2,) */
        return bps == 8 && sf == SAMPLEFORMAT_UINT && fo1 && l->nextra == 1 && l->extra[0] == 2
                   ? (ph == PHOTOMETRIC_MINISBLACK ? TIFF_RULE_GREY
                      : ph == PHOTOMETRIC_PALETTE  ? TIFF_RULE_PALETTE
                                                   : TIFF_RULE_NONE)
                   : TIFF_RULE_NONE;
    if (l->spp != 1 || l->nextra) return TIFF_RULE_NONE;
    const int grey = ph == PHOTOMETRIC_MINISWHITE || ph == PHOTOMETRIC_MINISBLACK;
    const int black = ph == PHOTOMETRIC_MINISBLACK;
    if (sf == SAMPLEFORMAT_UINT) {
        if (bps == 1 || bps == 2 || bps == 4 || bps == 8) { /* both fill orders */
            if (ph == PHOTOMETRIC_PALETTE) return TIFF_RULE_PALETTE;
            if (!grey) return TIFF_RULE_NONE;
            *invert = !black;
            return bps == 1 ? TIFF_RULE_BILEVEL : TIFF_RULE_GREY;
        }
        if (bps == 12) return ii && black && fo1 ? TIFF_RULE_GREY16 : TIFF_RULE_NONE;
        if (bps == 16) /* "I;16" (II, min-is-white too, not inverted), "I;16R", "I;16B" */
            return (ii && fo1 && grey) || (black && (ii || fo1)) ? TIFF_RULE_GREY16
                                                                 : TIFF_RULE_NONE;
        if (bps == 32) return ii && black && fo1 ? TIFF_RULE_GREY32 : TIFF_RULE_NONE;
        return TIFF_RULE_NONE;
    }
    if (!fo1) return TIFF_RULE_NONE;
    if (sf == SAMPLEFORMAT_INT && black)
        return bps == 16 ? TIFF_RULE_GREY16S : bps == 32 ? TIFF_RULE_GREY32 : TIFF_RULE_NONE;
    if (sf == SAMPLEFORMAT_IEEEFP && grey && bps == 32) return TIFF_RULE_FLOAT;
    return TIFF_RULE_NONE;
}

/* RGB: 3 samples, then ExtraSamples as Pillow lists them: with 8 bits,
 * (0|1|2, 0, 0) for 4 to 6 samples, 999 (Corel) or none for 4; with 16 bits,
 * 0, 1 or 2 or none for 4. 1 is associated alpha. */
static tiff_rule rgb_rule(const tiff_layout *l) {
    const int n = l->spp - 3;
    if (n < 0 || (l->bps != 8 && l->bps != 16)) return TIFF_RULE_NONE;
    if (n == 0) return l->nextra == 0 ? TIFF_RULE_RGB : TIFF_RULE_NONE;
    if (l->nextra == 0) return n == 1 ? TIFF_RULE_RGB : TIFF_RULE_NONE;
    if (l->nextra != n || (l->bps == 16 && n > 1)) return TIFF_RULE_NONE;
    for (int i = 1; i < n; i++)
        if (l->extra[i] != 0) return TIFF_RULE_NONE;
    const int a = l->extra[0];
    if (a == 1) return TIFF_RULE_RGBA_ASSOC;
    return a == 0 || a == 2 || (a == 999 && n == 1 && l->bps == 8) ? TIFF_RULE_RGB : TIFF_RULE_NONE;
}

tiff_rule cs_tiff_rule(const tiff_layout *l, int *invert) {
    *invert = 0;
    if (l->spp > 6) return TIFF_RULE_NONE; /* Pillow's MAX_SAMPLESPERPIXEL */
    if (l->fillorder != FILLORDER_MSB2LSB && l->fillorder != FILLORDER_LSB2MSB)
        return TIFF_RULE_NONE;
    switch (l->photometric) {
    case PHOTOMETRIC_MINISWHITE:
    case PHOTOMETRIC_MINISBLACK:
    case PHOTOMETRIC_PALETTE:
        return single_rule(l, invert);
    default:
        break;
    }
    if (l->format != SAMPLEFORMAT_UINT) return TIFF_RULE_NONE;
    /* only grey, palette and 8-bit RGB have a fill order 2 entry */
    const int fo1 = l->fillorder == FILLORDER_MSB2LSB;
    switch (l->photometric) {
    case PHOTOMETRIC_RGB:
        if (!fo1 && !(l->bps == 8 && l->spp == 3)) return TIFF_RULE_NONE;
        return rgb_rule(l);
    case PHOTOMETRIC_SEPARATED: /* whatever the InkSet says */
        if (!fo1) return TIFF_RULE_NONE;
        if (l->bps == 16)
            return l->spp == 4 && !l->nextra && !l->big_endian ? TIFF_RULE_CMYK : TIFF_RULE_NONE;
        if (l->bps != 8 || l->spp < 4 || l->nextra != l->spp - 4) return TIFF_RULE_NONE;
        for (int i = 0; i < l->nextra; i++)
            if (l->extra[i] != 0) return TIFF_RULE_NONE;
        return TIFF_RULE_CMYK;
    case PHOTOMETRIC_YCBCR:
    case PHOTOMETRIC_CIELAB:
        if (!fo1 || l->bps != 8 || l->spp != 3 || l->nextra) return TIFF_RULE_NONE;
        return l->photometric == PHOTOMETRIC_YCBCR ? TIFF_RULE_YCBCR : TIFF_RULE_LAB;
    }
    return TIFF_RULE_NONE;
}

/* ---- rows ------------------------------------------------------------------- */

struct tiff_convert {
    const tiff_layout *l;
    tiff_rule rule;
    int invert;
    cs_palette pal;
    cs_lab *lab;
    uint8_t *scratch; /* 8 bytes a pixel: CMYK or LAB in, RGBA out */
};

static int read_colormap(TIFF *tif, int bps, cs_palette *pal) {
    uint16_t *r, *g, *b;
    cs_palette_init(pal);
    if (!TIFFGetField(tif, TIFFTAG_COLORMAP, &r, &g, &b)) return -1;
    for (int i = 0; i < (1 << bps); i++) { /* Pillow: the high byte, b // 256 */
        pal->rgb[3 * i] = (uint8_t)(r[i] >> 8);
        pal->rgb[3 * i + 1] = (uint8_t)(g[i] >> 8);
        pal->rgb[3 * i + 2] = (uint8_t)(b[i] >> 8);
    }
    return 0;
}

cs_status cs_tiff_convert_new(TIFF *tif, const tiff_layout *l, tiff_rule rule, int invert,
                              const char *name, tiff_convert **out, cs_error *err) {
    tiff_convert *c = calloc(1, sizeof *c);
    if (!c) return cs_fail(err, CS_ENOMEM, "%s: out of memory", name);
    c->l = l;
    c->rule = rule;
    c->invert = invert;
    if (rule == TIFF_RULE_PALETTE && read_colormap(tif, l->bps, &c->pal)) {
        free(c);
        return cs_fail(err, CS_EFORMAT, "%s: bad TIFF: palette image without a colormap", name);
    }
    if (rule == TIFF_RULE_CMYK || rule == TIFF_RULE_LAB) {
        c->scratch = malloc((size_t)l->width * 8);
        if (rule == TIFF_RULE_LAB) c->lab = cs_lab_new();
        if (!c->scratch || (rule == TIFF_RULE_LAB && !c->lab)) {
            cs_tiff_convert_free(c);
            return cs_fail(err, CS_ENOMEM, "%s: out of memory", name);
        }
    }
    *out = c;
    return CS_OK;
}

void cs_tiff_convert_free(tiff_convert *c) {
    if (!c) return;
    if (c->lab) cs_lab_free(c->lab);
    free(c->scratch);
    free(c);
}

static inline unsigned u16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* sample s of pixel x, 8 bits or the high byte of 16 ("RGB;16", "R;16N", ...) */
static inline uint8_t byte_of(const uint8_t *row, int bps, int spp, uint32_t x, int s) {
    size_t i = (size_t)x * spp + s;
    return bps == 8 ? row[i] : (uint8_t)(u16(row + 2 * i) >> 8);
}

static inline uint8_t clamp_int(int64_t v) {
    return (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : v);
}

/* Pillow's f2l: 0 below 0, 255 above 255, else truncated. NaN: 0, what
 * Pillow's (UINT8) cast gives on x86. */
static inline uint8_t clamp_float(float v) {
    if (isnan(v) || v <= 0.0f) return 0;
    return v >= 255.0f ? 255 : (uint8_t)v;
}

/* One grey level of 1 to 32 bits to the 8-bit value Pillow ends with. */
static uint8_t grey_at(const tiff_convert *c, const uint8_t *row, uint32_t x) {
    const tiff_layout *l = c->l;
    switch (c->rule) {
    case TIFF_RULE_BILEVEL: {
        int bit = (row[x / 8] >> (7 - x % 8)) & 1;
        return bit ^ c->invert ? 255 : 0;
    }
    case TIFF_RULE_GREY: {
        unsigned v;
        if (l->bps == 8)
            v = row[(size_t)x * l->spp];
        else {
            size_t bit = (size_t)x * l->bps;
            v = (row[bit / 8] >> (8 - l->bps - bit % 8)) & ((1u << l->bps) - 1);
            v *= l->bps == 2 ? 0x55 : 0x11;
        }
        return (uint8_t)(c->invert ? 255 - v : v);
    }
    case TIFF_RULE_GREY16: {
        unsigned v;
        if (l->bps == 12) { /* "I;12": packed, most significant bits first */
            size_t bit = (size_t)x * 12, i = bit / 8;
            v = bit % 8 ? (row[i] & 0x0F) << 8 | row[i + 1] : row[i] << 4 | row[i + 1] >> 4;
        } else {
            v = u16(row + 2 * (size_t)x);
        }
        return (uint8_t)(v > 255 ? 255 : v);
    }
    case TIFF_RULE_GREY16S:
        return clamp_int((int16_t)u16(row + 2 * (size_t)x));
    case TIFF_RULE_GREY32: {
        int32_t v;
        memcpy(&v, row + 4 * (size_t)x, 4);
        return clamp_int(v);
    }
    case TIFF_RULE_FLOAT: {
        float v;
        memcpy(&v, row + 4 * (size_t)x, 4);
        return clamp_float(v);
    }
    default:
        return 0;
    }
}

static uint8_t index_at(const tiff_layout *l, const uint8_t *row, uint32_t x) {
    if (l->bps == 8) return row[(size_t)x * l->spp];
    size_t bit = (size_t)x * l->bps;
    return (uint8_t)((row[bit / 8] >> (8 - l->bps - bit % 8)) & ((1u << l->bps) - 1));
}

/* "RGBa": c * 255 / a, truncated and clipped; a = 0 gives black. */
static void rgba_assoc_row(const tiff_layout *l, const uint8_t *row, uint8_t *rgb) {
    for (uint32_t x = 0; x < l->width; x++, rgb += 3) {
        int a = byte_of(row, l->bps, l->spp, x, 3);
        for (int s = 0; s < 3; s++) {
            int v = byte_of(row, l->bps, l->spp, x, s);
            rgb[s] = (uint8_t)(a == 0 ? 0 : a == 255 ? v : v * 255 / a > 255 ? 255 : v * 255 / a);
        }
    }
}

/* Pillow unpacks chunky Lab with a and b moved to unsigned ("LAB": ^ 128),
 * but planar Lab plane by plane as they are. */
static void lab_row(tiff_convert *c, const uint8_t *row, uint8_t *rgb) {
    const tiff_layout *l = c->l;
    const uint8_t flip = l->planar == PLANARCONFIG_CONTIG ? 0x80 : 0;
    uint8_t *in = c->scratch, *rgba = c->scratch + 4 * (size_t)l->width;
    for (uint32_t x = 0; x < l->width; x++) {
        in[4 * x] = row[3 * x];
        in[4 * x + 1] = row[3 * x + 1] ^ flip;
        in[4 * x + 2] = row[3 * x + 2] ^ flip;
        in[4 * x + 3] = 255;
    }
    cs_lab_to_rgb(c->lab, in, rgba, (int)l->width);
    cs_row_rgbx_to_rgb(rgba, 4, rgb, (int)l->width);
}

void cs_tiff_convert_row(tiff_convert *c, const uint8_t *row, uint8_t *rgb) {
    const tiff_layout *l = c->l;
    const uint32_t w = l->width;
    switch (c->rule) {
    case TIFF_RULE_PALETTE:
        for (uint32_t x = 0; x < w; x++)
            memcpy(rgb + 3 * x, c->pal.rgb + 3 * index_at(l, row, x), 3);
        return;
    case TIFF_RULE_YCBCR: /* libjpeg's RGB */
    case TIFF_RULE_RGB:
        if (l->bps == 8) {
            cs_row_rgbx_to_rgb(row, l->spp, rgb, (int)w);
            return;
        }
        for (uint32_t x = 0; x < w; x++)
            for (int s = 0; s < 3; s++) rgb[3 * x + s] = byte_of(row, 16, l->spp, x, s);
        return;
    case TIFF_RULE_RGBA_ASSOC:
        rgba_assoc_row(l, row, rgb);
        return;
    case TIFF_RULE_CMYK:
        for (uint32_t x = 0; x < w; x++)
            for (int s = 0; s < 4; s++) c->scratch[4 * x + s] = byte_of(row, l->bps, l->spp, x, s);
        cs_row_cmyk_to_rgb(c->scratch, 0, rgb, (int)w);
        return;
    case TIFF_RULE_LAB:
        lab_row(c, row, rgb);
        return;
    default:
        for (uint32_t x = 0; x < w; x++)
            rgb[3 * x] = rgb[3 * x + 1] = rgb[3 * x + 2] = grey_at(c, row, x);
        return;
    }
}
