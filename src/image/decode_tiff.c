/* image/decode_tiff.c - the first page of a TIFF through libtiff.
 *
 * Every layout Pillow 9.4 opens is decoded as Pillow decodes it: libtiff
 * decodes the strips or tiles (tiff_read.c) and Pillow's unpacking and
 * convert("RGB") rules turn the samples into RGB (tiff_rules.c). YCbCr
 * goes through libjpeg's RGB when JPEG-compressed and through libtiff's RGBA
 * reader otherwise, as in Pillow; layouts Pillow cannot open at all go
 * through libtiff's RGBA reader too. Rows come in file order: the
 * orientation tag is applied once, by decode.c.
 *
 * A libtiff error while reading pixels, or libjpeg finding missing or
 * corrupt data inside a JPEG strip, refuses the file: libtiff would
 * otherwise go on and hand back zeros or grey where the data was bad.
 * libtiff's messages go to the error, never to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "image/tiff_internal.h"

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
    s->failed = 1;
    return 1;
}

/* Warnings are harmless (unknown tags, odd values libtiff corrects), except
 * libjpeg's inside a JPEG-compressed strip or tile when its coded data is
 * missing or corrupt: libjpeg fills the rest with grey, and we refuse the
 * file as we refuse such a JPEG (see decode_jpeg.c). */
static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif, (void)module;
    tiff_src *s = user;
    char text[256];
    vsnprintf(text, sizeof text, fmt, ap);
    if (strstr(text, "Premature end of JPEG file") ||
        (strstr(text, "Corrupt JPEG data") && !strstr(text, "extraneous bytes"))) {
        if (!s->message[0]) snprintf(s->message, sizeof s->message, "%s", text);
        s->failed = 1;
    }
    return 1;
}

/* libtiff's RGBA reader, asked for the rows in file order (req_orientation
 * = the file's own), so that only our orientation step transposes. */
static cs_status read_rgba(const cs_decode_ctx *ctx, TIFF *tif, uint16_t orientation, cs_image *out,
                           tiff_src *src, cs_error *err) {
    char emsg[1024] = "";
    TIFFRGBAImage img;
    if (!TIFFRGBAImageOK(tif, emsg) || !TIFFRGBAImageBegin(&img, tif, 1, emsg))
        return cs_fail(err, CS_EUNSUPPORTED, "%s: unsupported TIFF: %s", ctx->name, emsg);
    img.req_orientation = orientation;
    const size_t n = (size_t)out->width * out->height;
    uint32_t *raster = malloc(n * 4);
    cs_status st = CS_OK;
    if (!raster)
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", ctx->name);
    else if (!TIFFRGBAImageGet(&img, raster, (uint32_t)out->width, (uint32_t)out->height) ||
             src->failed)
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

/* The largest buffer we allocate for libtiff or for a band of raw rows. */
static uint64_t alloc_cap(const cs_decode_ctx *ctx) {
    uint64_t cap = ctx->max_pixels * 8 + (64u << 20);
    return cap < (1ull << 40) ? cap : 1ull << 40;
}

static void read_layout(TIFF *tif, uint32_t w, uint32_t h, tiff_layout *l) {
    *l = (tiff_layout){w,
                       h,
                       1,
                       1,
                       0,
                       PLANARCONFIG_CONTIG,
                       SAMPLEFORMAT_UINT,
                       FILLORDER_MSB2LSB,
                       COMPRESSION_NONE,
                       0,
                       NULL,
                       TIFFIsBigEndian(tif)};
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &l->bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &l->spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &l->planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &l->format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_FILLORDER, &l->fillorder);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &l->compression);
    TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &l->nextra, &l->extra);
    /* Pillow: a missing tag is 0 (min-is-white); old-style JPEG is YCbCr */
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &l->photometric)) l->photometric = 0;
    if (l->compression == COMPRESSION_OJPEG) l->photometric = PHOTOMETRIC_YCBCR;
}

static cs_status decode_open(const cs_decode_ctx *ctx, TIFF *tif, tiff_src *src, cs_image *out,
                             int *orientation, cs_error *err) {
    uint32_t w = 0, h = 0;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h))
        return cs_fail(err, CS_EFORMAT, "%s: bad TIFF: no image size", ctx->name);
    cs_status st = cs_image_check_size(ctx, w, h, err);
    if (st) return st;
    /* libtiff recovers from bad metadata (a tag it cannot read is dropped),
     * and so does Pillow: only what goes wrong from here on counts */
    src->failed = 0;
    src->message[0] = '\0';
    tiff_layout l;
    read_layout(tif, w, h, &l);
    uint16_t o = ORIENTATION_TOPLEFT;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &o);
    *orientation = o >= 1 && o <= 8 ? o : 1;
    int invert;
    tiff_rule rule = cs_tiff_rule(&l, &invert);
    /* Pillow: YCbCr JPEG in one plane through libjpeg's own RGB conversion,
     * any other YCbCr through libtiff's RGBA reader */
    if (rule == TIFF_RULE_YCBCR) {
        if (l.compression == COMPRESSION_JPEG && l.planar == PLANARCONFIG_CONTIG)
            TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
        else
            rule = TIFF_RULE_NONE;
    }
    st = cs_image_alloc(ctx, w, h, out, err);
    if (st) return st;
    if (rule == TIFF_RULE_NONE) return read_rgba(ctx, tif, o, out, src, err);
    tiff_convert *conv;
    st = cs_tiff_convert_new(tif, &l, rule, invert, ctx->name, &conv, err);
    if (st) return st;
    st = cs_tiff_read(tif, &l, conv, src, ctx->name, alloc_cap(ctx), out, err);
    cs_tiff_convert_free(conv);
    return st;
}

cs_status cs_decode_tiff(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err) {
    tiff_src src = {ctx->data, ctx->size, 0, 0, ""};
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) return cs_fail(err, CS_ENOMEM, "%s: out of memory", ctx->name);
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, &src);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, &src);
    /* no single libtiff allocation above what our pixel limit allows */
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)alloc_cap(ctx));
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
