/* image/decode_heif.c - HEIC/HEIF and AVIF through libheif: the primary
 * image, decoded to interleaved 8-bit RGB (alpha dropped). libheif applies
 * the container's transformations (irot, imir, clap) itself, which is what a
 * viewer shows; the EXIF orientation inside a HEIF file only repeats them, so
 * it is never applied on top (orientation stays 1). */
#include "core/lazy_heif.h" /* <libheif/heif.h> */
#include <string.h>

#include "image/image_internal.h"

static cs_status heif_fail(const cs_decode_ctx *ctx, struct heif_error e, cs_error *err) {
    /* libheif refuses an image larger than its own limits before we see its
     * size, as a "memory allocation error": it is too large, not out of
     * memory (CS_ELIMIT, as every other decoder says of a huge image) */
    if (e.subcode == heif_suberror_Security_limit_exceeded)
        return cs_fail(err, CS_ELIMIT, "%s: image larger than the decoder's limits (%s)", ctx->name,
                       e.message && *e.message ? e.message : "security limit");
    cs_status st =
        e.code == heif_error_Unsupported_feature || e.code == heif_error_Unsupported_filetype
            ? CS_EUNSUPPORTED
        : e.code == heif_error_Memory_allocation_error ? CS_ENOMEM
                                                       : CS_EFORMAT;
    return cs_fail(err, st, "%s: bad HEIF/AVIF: %s", ctx->name,
                   e.message && *e.message ? e.message : "decoding failed");
}

static cs_status decode_handle(const cs_decode_ctx *ctx, struct heif_image_handle *handle,
                               cs_image *out, cs_error *err) {
    /* the size after the transformations, checked before decoding */
    int w = heif_image_handle_get_width(handle), h = heif_image_handle_get_height(handle);
    cs_status st = cs_image_check_size(ctx, w > 0 ? (uint64_t)w : 0, h > 0 ? (uint64_t)h : 0, err);
    if (st) return st;
    struct heif_image *img = NULL;
    struct heif_error e =
        heif_decode_image(handle, &img, heif_colorspace_RGB, heif_chroma_interleaved_RGB, NULL);
    if (e.code != heif_error_Ok) return heif_fail(ctx, e, err);
    int stride = 0;
    const uint8_t *plane = heif_image_get_plane_readonly(img, heif_channel_interleaved, &stride);
    int iw = heif_image_get_width(img, heif_channel_interleaved);
    int ih = heif_image_get_height(img, heif_channel_interleaved);
    if (!plane || iw <= 0 || ih <= 0 || stride < iw * 3)
        st = cs_fail(err, CS_EFORMAT, "%s: bad HEIF/AVIF: no RGB plane", ctx->name);
    if (!st) st = cs_image_alloc(ctx, (uint64_t)iw, (uint64_t)ih, out, err);
    for (int y = 0; !st && y < ih; y++)
        memcpy(out->rgb + (size_t)y * iw * 3, plane + (size_t)y * stride, (size_t)iw * 3);
    heif_image_release(img);
    return st;
}

cs_status cs_decode_heif(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err) {
    *orientation = 1;
    struct heif_context *hc = heif_context_alloc();
    if (!hc) return cs_fail(err, CS_ENOMEM, "%s: out of memory", ctx->name);
    struct heif_image_handle *handle = NULL;
    struct heif_error e =
        heif_context_read_from_memory_without_copy(hc, ctx->data, ctx->size, NULL);
    if (e.code == heif_error_Ok) e = heif_context_get_primary_image_handle(hc, &handle);
    cs_status st =
        e.code == heif_error_Ok ? decode_handle(ctx, handle, out, err) : heif_fail(ctx, e, err);
    heif_image_handle_release(handle);
    heif_context_free(hc);
    if (st) cs_image_free(out);
    return st;
}
