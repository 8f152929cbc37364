/* image/decode_png.c - PNG through libpng, converted by Pillow's rules:
 *   grey 1/2/4 bit  -> scaled to 0..255 (Pillow "1", "L;2", "L;4")
 *   grey 16 bit     -> mode I, and I -> RGB clamps: v > 255 gives 255
 *   RGB/RGBA/LA 16  -> the high byte of each sample
 *   palette         -> looked up (tRNS ignored; undefined entries are grey)
 *   alpha           -> dropped, never composited
 * gAMA, sRGB and iCCP are ignored, as Pillow ignores them. The orientation
 * comes from eXIf (before or after the image data), else from the
 * "Raw profile type exif" text, else from XMP's tiff:Orientation. */
#include <png.h>
#include <ctype.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

typedef struct png_src {
    const uint8_t *data;
    size_t size, pos;
    size_t rowbytes;
    char message[200];
    uint8_t *raw; /* raw rows (interlaced images) or one scratch row */
} png_src;

static void on_read(png_structp png, png_bytep buf, size_t n) {
    png_src *s = png_get_io_ptr(png);
    if (n > s->size - s->pos) png_error(png, "truncated PNG data");
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
}

static void on_error(png_structp png, png_const_charp msg) {
    png_src *s = png_get_error_ptr(png);
    snprintf(s->message, sizeof s->message, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

/* Whether a chunk before IEND claims more bytes than the file has left.
 * Pillow reads every chunk up to IEND and refuses such a file ("Truncated
 * File Read"), even when the cut chunk comes after complete image data;
 * a file that simply stops at a chunk boundary (no IEND, or no last CRC)
 * is fine for it, and so for us. libpng alone would not tell the two apart
 * after the image, where we ignore its errors as Pillow does. */
static int has_cut_chunk(const uint8_t *d, size_t size) {
    for (size_t pos = 8; size - pos >= 8;) {
        uint32_t len = (uint32_t)d[pos] << 24 | (uint32_t)d[pos + 1] << 16 |
                       (uint32_t)d[pos + 2] << 8 | d[pos + 3];
        const uint8_t *type = d + pos + 4;
        for (int i = 0; i < 4; i++) /* not a chunk type (Pillow: \w{4}): it stops there */
            if (!isalnum(type[i]) && type[i] != '_') return 0;
        if (!memcmp(type, "IEND", 4)) return 0;
        if (len > size - pos - 8) return 1;
        if (size - pos - 8 - len < 4) return 0;
        pos += 12 + (size_t)len;
    }
    return 0;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* ImageMagick's "Raw profile type exif": "\nexif\n  LEN\nHEX..." - Pillow
 * drops the first 3 lines and decodes the hex of the rest. */
static int raw_profile_orientation(const char *text, size_t len) {
    size_t i = 0;
    for (int lines = 0; i < len && lines < 3; i++)
        if (text[i] == '\n') lines++;
    uint8_t *bytes = malloc(len / 2 + 1);
    if (!bytes) return 0;
    size_t n = 0;
    int hi = -1;
    for (; i < len; i++) {
        int v = hexval((unsigned char)text[i]);
        if (text[i] == '\n') continue;
        if (v < 0) { /* Pillow's bytes.fromhex would fail: no EXIF */
            free(bytes);
            return 0;
        }
        if (hi < 0)
            hi = v;
        else
            bytes[n++] = (uint8_t)(hi << 4 | v), hi = -1;
    }
    int o = hi < 0 ? cs_exif_orientation(bytes, n) : 0;
    free(bytes);
    return o;
}

static int png_orientation(png_structp png, png_infop info) {
    png_uint_32 exif_len = 0;
    png_bytep exif = NULL;
    int have_exif = 0, o = 0;
#ifdef PNG_eXIf_SUPPORTED
    if (png_get_eXIf_1(png, info, &exif_len, &exif) && exif) {
        have_exif = 1;
        o = cs_exif_orientation(exif, exif_len);
    }
#endif
    png_textp text = NULL;
    int n_text = png_get_text(png, info, &text, NULL);
    for (int i = 0; !have_exif && i < n_text; i++)
        if (!strcmp(text[i].key, "Raw profile type exif")) {
            have_exif = 1;
            o = raw_profile_orientation(text[i].text, text[i].text_length);
        }
    for (int i = 0; o == 0 && i < n_text; i++)
        if (!strcmp(text[i].key, "XML:com.adobe.xmp")) {
            size_t len = text[i].itxt_length ? text[i].itxt_length : text[i].text_length;
            o = cs_xmp_orientation(text[i].text, len);
        }
    return o;
}

static int channels(int color) {
    switch (color) {
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        return 2;
    case PNG_COLOR_TYPE_RGB:
        return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA:
        return 4;
    default:
        return 1;
    }
}

/* One raw row (as libpng delivers it after packing) to RGB8. */
static void convert_row(int color, int depth, const cs_palette *pal, const uint8_t *in,
                        uint8_t *rgb, int w) {
    if (depth == 16) {
        if (color == PNG_COLOR_TYPE_GRAY)
            cs_row_grey16_to_rgb(in, 1, 1, rgb, w);
        else
            cs_row_rgb16_to_rgb(in, channels(color), 1, rgb, w);
        return;
    }
    switch (color) {
    case PNG_COLOR_TYPE_PALETTE:
        cs_row_pal_to_rgb(pal, in, rgb, w);
        break;
    case PNG_COLOR_TYPE_GRAY:
        cs_row_l_to_rgb(in, rgb, w);
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        cs_row_la_to_rgb(in, rgb, w);
        break;
    case PNG_COLOR_TYPE_RGB_ALPHA:
        cs_row_rgbx_to_rgb(in, 4, rgb, w);
        break;
    default:
        memcpy(rgb, in, (size_t)w * 3);
        break;
    }
}

/* The rows, read straight into the output when they are already RGB8. */
static void read_rows(png_structp png, png_src *src, int passes, int color, int depth,
                      const cs_palette *pal, cs_image *out) {
    const int w = out->width, h = out->height;
    const size_t stride = (size_t)w * 3;
    const int direct = color == PNG_COLOR_TYPE_RGB && depth == 8;
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < h; y++) {
            uint8_t *row = direct       ? out->rgb + y * stride
                           : passes > 1 ? src->raw + (size_t)y * src->rowbytes
                                        : src->raw;
            png_read_row(png, row, NULL);
            if (!direct && passes == 1)
                convert_row(color, depth, pal, row, out->rgb + y * stride, w);
        }
    if (!direct && passes > 1)
        for (int y = 0; y < h; y++)
            convert_row(color, depth, pal, src->raw + (size_t)y * src->rowbytes,
                        out->rgb + y * stride, w);
}

cs_status cs_decode_png(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err) {
    png_src src;
    memset(&src, 0, sizeof src);
    src.data = ctx->data;
    src.size = ctx->size;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", ctx->name);
    }
    cs_palette pal;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(src.raw);
        cs_image_free(out);
        return cs_fail(err, CS_EFORMAT, "%s: bad PNG: %s", ctx->name, src.message);
    }
    png_set_read_fn(png, &src, on_read);
    /* a bad CRC in an ancillary chunk is an error too, as in Pillow, which
     * checks every chunk in front of the image data */
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff); /* our own pixel limit applies */
    /* before libpng reads the chunks: it allocates what an ancillary chunk
     * claims before reading it (a 207-byte file claiming a 112 MB eXIf cost
     * 112 MB, and a second under ASan) */
    if (has_cut_chunk(ctx->data, ctx->size)) {
        png_destroy_read_struct(&png, &info, NULL);
        return cs_fail(err, CS_EFORMAT, "%s: bad PNG: truncated chunk", ctx->name);
    }
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    cs_status st = cs_image_check_size(ctx, w, h, err);
    if (st) {
        png_destroy_read_struct(&png, &info, NULL);
        return st;
    }
    if (depth < 8) {
        png_set_packing(png); /* one byte per sample */
        if (color == PNG_COLOR_TYPE_GRAY) png_set_expand_gray_1_2_4_to_8(png);
    }
    const int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    src.rowbytes = png_get_rowbytes(png, info);
    cs_palette_init(&pal);
    png_colorp plte;
    int n_plte = 0;
    if (color == PNG_COLOR_TYPE_PALETTE && png_get_PLTE(png, info, &plte, &n_plte))
        for (int i = 0; i < n_plte && i < 256; i++) {
            pal.rgb[3 * i] = plte[i].red;
            pal.rgb[3 * i + 1] = plte[i].green;
            pal.rgb[3 * i + 2] = plte[i].blue;
        }
    st = cs_image_alloc(ctx, w, h, out, err);
    if (!st && !(color == PNG_COLOR_TYPE_RGB && depth == 8) &&
        !(src.raw = malloc(src.rowbytes * (passes > 1 ? h : 1))))
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", ctx->name);
    if (st) {
        png_destroy_read_struct(&png, &info, NULL);
        cs_image_free(out);
        return st;
    }
    read_rows(png, &src, passes, color, depth, &pal, out);
    free(src.raw);
    src.raw = NULL;
    /* Chunks after the image (e.g. eXIf) count, but like Pillow we keep the
     * image if what follows it is damaged or missing (has_cut_chunk has
     * refused a file cut inside a chunk). */
    if (setjmp(png_jmpbuf(png)) == 0) png_read_end(png, info);
    *orientation = png_orientation(png, info);
    png_destroy_read_struct(&png, &info, NULL);
    return CS_OK;
}
