/* image/decode.c - from bytes to an upright RGB8 image: sniff the format,
 * run its decoder, apply the EXIF orientation. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "image/image_internal.h"

cs_status cs_image_check_size(const cs_decode_ctx *ctx, uint64_t width, uint64_t height,
                              cs_error *err) {
    if (width == 0 || height == 0)
        return cs_fail(err, CS_EFORMAT, "%s: image has no pixels (%llux%llu)", ctx->name,
                       (unsigned long long)width, (unsigned long long)height);
    /* width, height < 2^32 here for every format, so the product fits */
    if (width > INT_MAX || height > INT_MAX || width * height > ctx->max_pixels)
        return cs_fail(err, CS_ELIMIT, "%s: image is %llux%llu pixels, above the limit of %llu",
                       ctx->name, (unsigned long long)width, (unsigned long long)height,
                       (unsigned long long)ctx->max_pixels);
    return CS_OK;
}

cs_status cs_image_alloc(const cs_decode_ctx *ctx, uint64_t width, uint64_t height, cs_image *out,
                         cs_error *err) {
    cs_status st = cs_image_check_size(ctx, width, height, err);
    if (st) return st;
    out->rgb = malloc((size_t)width * (size_t)height * 3);
    if (!out->rgb)
        return cs_fail(err, CS_ENOMEM, "%s: out of memory for %llux%llu pixels", ctx->name,
                       (unsigned long long)width, (unsigned long long)height);
    out->width = (int)width;
    out->height = (int)height;
    return CS_OK;
}

void cs_image_free(cs_image *img) {
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = img->height = 0;
}

static cs_decoder_fn decoder_for(cs_image_format fmt) {
    switch (fmt) {
    case CS_FMT_JPEG:
        return cs_decode_jpeg;
    case CS_FMT_PNG:
        return cs_decode_png;
    case CS_FMT_WEBP:
        return cs_decode_webp;
    case CS_FMT_GIF:
        return cs_decode_gif;
    case CS_FMT_BMP:
        return cs_decode_bmp;
    case CS_FMT_TIFF:
        return cs_decode_tiff;
    case CS_FMT_HEIF:
    case CS_FMT_AVIF:
        return cs_decode_heif;
    case CS_FMT_UNKNOWN:
        break;
    }
    return NULL;
}

cs_status cs_image_decode_mem(const void *data, size_t size, const char *name,
                              const cs_decode_opts *opts, cs_image *out, cs_error *err) {
    if (!out) return cs_fail(err, CS_EINVAL, "cs_image_decode_mem: out is NULL");
    out->width = out->height = 0;
    out->rgb = NULL;
    cs_decode_ctx ctx = {data, size, name ? name : "(memory)", CS_DEFAULT_MAX_PIXELS, 0};
    if (opts && opts->max_pixels) ctx.max_pixels = opts->max_pixels;
    if (opts && opts->jpeg_min_side > 0) ctx.jpeg_min_side = opts->jpeg_min_side;
    if (!data || size == 0) return cs_fail(err, CS_EFORMAT, "%s: empty file", ctx.name);

    cs_image_format fmt = cs_image_sniff(data, size);
    cs_decoder_fn fn = decoder_for(fmt);
    if (!fn) {
        const uint8_t *p = data;
        char sig[16] = "";
        for (size_t i = 0, len = 0; i < 4 && i < size; i++)
            len += (size_t)snprintf(sig + len, sizeof sig - len, "%s%02x", i ? " " : "", p[i]);
        return cs_fail(err, CS_EFORMAT, "%s: not an image we can read (unknown signature %s)",
                       ctx.name, sig);
    }
    int orientation = 1;
    cs_status st = fn(&ctx, out, &orientation, err);
    if (st) {
        cs_image_free(out);
        return st;
    }
    if (!(opts && opts->ignore_exif) && orientation > 1) {
        st = cs_image_orient(out, orientation, err);
        if (st) {
            cs_image_free(out);
            return cs_fail_prefix(err, st, ctx.name);
        }
    }
    return CS_OK;
}

cs_status cs_image_decode_file(const char *path, const cs_decode_opts *opts, cs_image *out,
                               cs_error *err) {
    if (out) out->rgb = NULL;
    if (!path || !out) return cs_fail(err, CS_EINVAL, "cs_image_decode_file: NULL argument");
    /* Read, not mapped: a file cut short while we decode it (a copy in
     * progress, a photo re-saved) would kill the process with SIGBUS through
     * a map; a read sees the new end and fails cleanly. The size limit: no
     * format stores more than 16 bytes a pixel (float RGBA), plus metadata. */
    uint64_t max_pixels = opts && opts->max_pixels ? opts->max_pixels : CS_DEFAULT_MAX_PIXELS;
    size_t max_bytes =
        max_pixels < (SIZE_MAX >> 5) ? (size_t)max_pixels * 16 + ((size_t)64 << 20) : SIZE_MAX >> 1;
    char *data = NULL;
    size_t size = 0;
    cs_status st = cs_read_file(path, max_bytes, &data, &size, err);
    if (st) return st;
    st = cs_image_decode_mem(data, size, path, opts, out, err);
    free(data);
    return st;
}
