/* image/decode_tiff.c - the first page of a TIFF through libtiff.
 *
 * The layouts Pillow unpacks itself are read scanline by scanline and
 * converted by Pillow's rules: grey 1/8 bit (MINISWHITE inverted), grey 16
 * bit (mode I;16, clamped to 255 by convert("RGB")), grey+alpha, RGB(A) 8
 * bit, RGB 16 bit (high byte), palette 1/2/4/8 bit (colormap entries >> 8),
 * CMYK 8 bit (no inversion, Pillow's CMYK rule). Everything else (tiles,
 * planar data, YCbCr, odd depths) goes through libtiff's RGBA reader, in
 * file order, so the orientation tag is applied once, by us, as Pillow's
 * exif_transpose applies it. libtiff's messages go to the error, never to
 * stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "image/image_internal.h"

typedef struct tiff_src {
    const uint8_t *data;
    size_t size, pos;
    char message[256];
} tiff_src;

static tmsize_t on_read(thandle_t h, void *buf, tmsize_t n) {
    tiff_src *s = h;
    if (n < 0) return -1;
    size_t k = (size_t)n < s->size - s->pos ? (size_t)n : s->size - s->pos;
    memcpy(buf, s->data + s->pos, k);
    s->pos += k;
    return (tmsize_t)k;
}

static tmsize_t on_write(thandle_t h, void *buf, tmsize_t n) {
    (void)h, (void)buf, (void)n;
    return -1;
}

static toff_t on_seek(thandle_t h, toff_t off, int whence) {
    tiff_src *s = h;
    uint64_t base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->size : 0;
    if (off > UINT64_MAX - base || base + off > s->size) return (toff_t)-1;
    s->pos = (size_t)(base + off);
    return s->pos;
}

static int on_close(thandle_t h) {
    (void)h;
    return 0;
}

static toff_t on_size(thandle_t h) {
    return ((tiff_src *)h)->size;
}

static int on_map(thandle_t h, void **base, toff_t *size) {
    tiff_src *s = h;
    *base = (void *)s->data;
    *size = s->size;
    return 1;
}

static void on_unmap(thandle_t h, void *base, toff_t size) {
    (void)h, (void)base, (void)size;
}

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif, (void)module;
    tiff_src *s = user;
    if (!s->message[0]) vsnprintf(s->message, sizeof s->message, fmt, ap);
    return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
    return 1;
}

typedef struct tiff_layout {
    uint16_t bps, spp, photometric, planar, format, inkset;
} tiff_layout;

/* Which scanline conversion applies, or 0 for the RGBA fallback. */
static int scanline_kind(TIFF *tif, const tiff_layout *l) {
    if (TIFFIsTiled(tif) || l->planar != PLANARCONFIG_CONTIG || l->format != SAMPLEFORMAT_UINT)
        return 0;
    switch (l->photometric) {
    case PHOTOMETRIC_MINISBLACK:
    case PHOTOMETRIC_MINISWHITE:
        if (l->spp == 1 && (l->bps == 1 || l->bps == 8 || l->bps == 16)) return 'L';
        if (l->spp == 2 && l->bps == 8 && l->photometric == PHOTOMETRIC_MINISBLACK) return 'A';
        return 0;
    case PHOTOMETRIC_RGB:
        return l->spp >= 3 && (l->bps == 8 || l->bps == 16) ? 'R' : 0;
    case PHOTOMETRIC_PALETTE:
        return l->spp == 1 && l->bps <= 8 && 8 % l->bps == 0 ? 'P' : 0;
    case PHOTOMETRIC_SEPARATED:
        return l->inkset == INKSET_CMYK && l->spp >= 4 && l->bps == 8 ? 'C' : 0;
    }
    return 0;
}

static void grey_row(const tiff_layout *l, const uint8_t *in, uint8_t *rgb, uint32_t w) {
    const int inv = l->photometric == PHOTOMETRIC_MINISWHITE;
    if (l->bps == 16) { /* libtiff hands samples over in host (little-endian) order */
        cs_row_grey16_to_rgb(in, 1, 0, rgb, (int)w);
        return;
    }
    for (uint32_t x = 0; x < w; x++, rgb += 3) {
        uint8_t v = l->bps == 1 ? (((in[x / 8] >> (7 - x % 8)) & 1) ? 255 : 0) : in[x];
        rgb[0] = rgb[1] = rgb[2] = inv ? (uint8_t)(255 - v) : v;
    }
}

static int read_colormap(TIFF *tif, int bps, cs_palette *pal) {
    uint16_t *r, *g, *b;
    cs_palette_init(pal);
    if (!TIFFGetField(tif, TIFFTAG_COLORMAP, &r, &g, &b)) return -1;
    for (int i = 0; i < (1 << bps); i++) {
        pal->rgb[3 * i] = (uint8_t)(r[i] >> 8);
        pal->rgb[3 * i + 1] = (uint8_t)(g[i] >> 8);
        pal->rgb[3 * i + 2] = (uint8_t)(b[i] >> 8);
    }
    return 0;
}

static cs_status read_scanlines(const cs_decode_ctx *ctx, TIFF *tif, const tiff_layout *l, int kind,
                                cs_image *out, tiff_src *src, cs_error *err) {
    cs_palette pal;
    if (kind == 'P' && read_colormap(tif, l->bps, &pal))
        return cs_fail(err, CS_EFORMAT, "%s: bad TIFF: palette image without a colormap",
                       ctx->name);
    tmsize_t line = TIFFScanlineSize(tif);
    uint8_t *buf = line > 0 ? malloc((size_t)line) : NULL;
    if (!buf) return cs_fail(err, CS_ENOMEM, "%s: out of memory", ctx->name);
    const uint32_t w = (uint32_t)out->width;
    uint8_t idx[256];
    for (int y = 0; y < out->height; y++) {
        if (TIFFReadScanline(tif, buf, (uint32_t)y, 0) < 0) {
            free(buf);
            return cs_fail(err, CS_EFORMAT, "%s: bad TIFF data: %s", ctx->name,
                           src->message[0] ? src->message : "read failed");
        }
        uint8_t *rgb = out->rgb + (size_t)y * w * 3;
        switch (kind) {
        case 'L':
            grey_row(l, buf, rgb, w);
            break;
        case 'A':
            cs_row_la_to_rgb(buf, rgb, (int)w);
            break;
        case 'R':
            if (l->bps == 8)
                cs_row_rgbx_to_rgb(buf, l->spp, rgb, (int)w);
            else
                cs_row_rgb16_to_rgb(buf, l->spp, 0, rgb, (int)w);
            break;
        case 'C':
            for (uint32_t x = 0; x < w; x++)
                cs_row_cmyk_to_rgb(buf + (size_t)x * l->spp, 0, rgb + 3 * x, 1);
            break;
        case 'P':
            for (uint32_t x0 = 0; x0 < w; x0 += 256) {
                int n = w - x0 < 256 ? (int)(w - x0) : 256;
                for (int i = 0; i < n; i++) {
                    uint32_t x = x0 + (uint32_t)i, bit = x * l->bps;
                    idx[i] =
                        (uint8_t)((buf[bit / 8] >> (8 - l->bps - bit % 8)) & ((1 << l->bps) - 1));
                }
                cs_row_pal_to_rgb(&pal, idx, rgb + 3 * x0, n);
            }
            break;
        }
    }
    free(buf);
    return CS_OK;
}

/* libtiff's RGBA reader, asked for the rows in file order (req_orientation
 * = the file's own), so that only our orientation step transposes. */
static cs_status read_rgba(const cs_decode_ctx *ctx, TIFF *tif, uint16_t orientation, cs_image *out,
                           tiff_src *src, cs_error *err) {
    char emsg[1024] = "";
    TIFFRGBAImage img;
    if (!TIFFRGBAImageOK(tif, emsg) || !TIFFRGBAImageBegin(&img, tif, 0, emsg))
        return cs_fail(err, CS_EUNSUPPORTED, "%s: unsupported TIFF: %s", ctx->name, emsg);
    img.req_orientation = orientation;
    const size_t n = (size_t)out->width * out->height;
    uint32_t *raster = malloc(n * 4);
    cs_status st = CS_OK;
    if (!raster)
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", ctx->name);
    else if (!TIFFRGBAImageGet(&img, raster, (uint32_t)out->width, (uint32_t)out->height))
        st = cs_fail(err, CS_EFORMAT, "%s: bad TIFF data: %s", ctx->name,
                     src->message[0] ? src->message : "read failed");
    TIFFRGBAImageEnd(&img);
    for (size_t i = 0; !st && i < n; i++) {
        out->rgb[3 * i] = (uint8_t)TIFFGetR(raster[i]);
        out->rgb[3 * i + 1] = (uint8_t)TIFFGetG(raster[i]);
        out->rgb[3 * i + 2] = (uint8_t)TIFFGetB(raster[i]);
    }
    free(raster);
    return st;
}

static cs_status decode_open(const cs_decode_ctx *ctx, TIFF *tif, tiff_src *src, cs_image *out,
                             int *orientation, cs_error *err) {
    uint32_t w = 0, h = 0;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h))
        return cs_fail(err, CS_EFORMAT, "%s: bad TIFF: no image size", ctx->name);
    cs_status st = cs_image_check_size(ctx, w, h, err);
    if (st) return st;
    tiff_layout l = {1, 1, 0, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT, INKSET_CMYK};
    uint16_t o = ORIENTATION_TOPLEFT;
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &l.bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &l.spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &l.planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &l.format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_INKSET, &l.inkset);
    TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &o);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &l.photometric))
        l.photometric = l.spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
    st = cs_image_alloc(ctx, w, h, out, err);
    if (st) return st;
    int kind = scanline_kind(tif, &l);
    st = kind ? read_scanlines(ctx, tif, &l, kind, out, src, err)
              : read_rgba(ctx, tif, o, out, src, err);
    *orientation = o >= 1 && o <= 8 ? o : 1;
    return st;
}

cs_status cs_decode_tiff(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err) {
    tiff_src src = {ctx->data, ctx->size, 0, ""};
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) return cs_fail(err, CS_ENOMEM, "%s: out of memory", ctx->name);
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, &src);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, &src);
    /* no single libtiff allocation above what our pixel limit allows */
    uint64_t cap = ctx->max_pixels * 8 + (64u << 20);
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)(cap < (1ull << 40) ? cap : 1ull << 40));
    TIFF *tif = TIFFClientOpenExt(ctx->name, "r", &src, on_read, on_write, on_seek, on_close,
                                  on_size, on_map, on_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (!tif)
        return cs_fail(err, CS_EFORMAT, "%s: bad TIFF: %s", ctx->name,
                       src.message[0] ? src.message : "cannot open");
    cs_status st = decode_open(ctx, tif, &src, out, orientation, err);
    TIFFClose(tif);
    if (st) cs_image_free(out);
    return st;
}
