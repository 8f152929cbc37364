/* image/decode_webp.c - WebP through libwebp. Pillow decodes every WebP with
 * WebPAnimDecoder into RGBA and drops the alpha for convert("RGB"); a still
 * image decodes to the same RGB values with the plain decoder straight into
 * our buffer, so only animations (first frame, on a transparent black
 * canvas) take the animation decoder. The orientation is read from the EXIF
 * chunk, as Pillow's getexif() does. */
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include "image/image_internal.h"

static int webp_orientation(const cs_decode_ctx *ctx) {
    WebPData wd = {ctx->data, ctx->size};
    WebPDemuxer *demux = WebPDemux(&wd);
    if (!demux) return 0;
    int o = 0;
    WebPChunkIterator it;
    if (WebPDemuxGetChunk(demux, "EXIF", 1, &it)) {
        o = cs_exif_orientation(it.chunk.bytes, it.chunk.size);
        WebPDemuxReleaseChunkIterator(&it);
    }
    WebPDemuxDelete(demux);
    return o;
}

static cs_status decode_animation(const cs_decode_ctx *ctx, cs_image *out, cs_error *err) {
    WebPAnimDecoderOptions opts;
    if (!WebPAnimDecoderOptionsInit(&opts)) return cs_fail(err, CS_EINTERNAL, "libwebp: bad ABI");
    opts.color_mode = MODE_RGBA;
    opts.use_threads = 0;
    WebPData wd = {ctx->data, ctx->size};
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, &opts);
    if (!dec) return cs_fail(err, CS_EFORMAT, "%s: bad animated WebP", ctx->name);
    WebPAnimInfo info;
    uint8_t *rgba = NULL;
    int ts = 0;
    cs_status st = CS_OK;
    if (!WebPAnimDecoderGetInfo(dec, &info))
        st = cs_fail(err, CS_EFORMAT, "%s: bad animated WebP", ctx->name);
    if (!st) st = cs_image_alloc(ctx, info.canvas_width, info.canvas_height, out, err);
    if (!st && !WebPAnimDecoderGetNext(dec, &rgba, &ts))
        st = cs_fail(err, CS_EFORMAT, "%s: bad WebP animation frame", ctx->name);
    if (!st) cs_row_rgbx_to_rgb(rgba, 4, out->rgb, out->width * out->height);
    WebPAnimDecoderDelete(dec);
    return st;
}

cs_status cs_decode_webp(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err) {
    WebPBitstreamFeatures f;
    VP8StatusCode vs = WebPGetFeatures(ctx->data, ctx->size, &f);
    if (vs == VP8_STATUS_NOT_ENOUGH_DATA)
        return cs_fail(err, CS_EFORMAT, "%s: truncated WebP data", ctx->name);
    if (vs != VP8_STATUS_OK) return cs_fail(err, CS_EFORMAT, "%s: bad WebP header", ctx->name);
    cs_status st = cs_image_check_size(ctx, (uint64_t)f.width, (uint64_t)f.height, err);
    if (st) return st;
    if (f.has_animation)
        st = decode_animation(ctx, out, err);
    else {
        st = cs_image_alloc(ctx, (uint64_t)f.width, (uint64_t)f.height, out, err);
        if (st) return st;
        size_t stride = (size_t)out->width * 3;
        if (!WebPDecodeRGBInto(ctx->data, ctx->size, out->rgb, stride * out->height, (int)stride))
            st = cs_fail(err, CS_EFORMAT, "%s: bad or truncated WebP data", ctx->name);
    }
    if (st) {
        cs_image_free(out);
        return st;
    }
    *orientation = webp_orientation(ctx);
    return CS_OK;
}
