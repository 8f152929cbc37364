/* image/decode_gif.c - the first frame of a GIF through giflib, as Pillow
 * shows it: a canvas the size of the logical screen (grown to hold the
 * frame if it sticks out), filled with the frame's transparent index when it
 * has one, else index 0; the frame's indices pasted at its offset; then the
 * palette looked up (the local table, else the global one; indices past the
 * table get Pillow's grey default). Transparency is not composited. */
#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

typedef struct gif_src {
    const uint8_t *data;
    size_t size, pos;
} gif_src;

static int on_read(GifFileType *gif, GifByteType *buf, int n) {
    gif_src *s = gif->UserData;
    size_t k = (size_t)n < s->size - s->pos ? (size_t)n : s->size - s->pos;
    memcpy(buf, s->data + s->pos, k);
    s->pos += k;
    return (int)k;
}

static cs_status gif_fail(const cs_decode_ctx *ctx, GifFileType *gif, cs_error *err) {
    const char *why = GifErrorString(gif ? gif->Error : D_GIF_ERR_READ_FAILED);
    return cs_fail(err, CS_EFORMAT, "%s: bad GIF: %s", ctx->name, why ? why : "unknown error");
}

/* Skips records up to the first image, noting the transparent index of the
 * graphic control extension in front of it (-1 if none). */
static int seek_first_image(GifFileType *gif, int *transparent) {
    *transparent = -1;
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) return -1;
        if (type == IMAGE_DESC_RECORD_TYPE) return 0;
        if (type == TERMINATE_RECORD_TYPE) return 1;
        if (type != EXTENSION_RECORD_TYPE) continue;
        int code;
        GifByteType *ext;
        if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) return -1;
        if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4)
            *transparent = (ext[1] & 1) ? ext[4] : -1;
        while (ext)
            if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) return -1;
    }
}

static cs_status decode_frame(const cs_decode_ctx *ctx, GifFileType *gif, int transparent,
                              cs_image *out, cs_error *err) {
    const GifImageDesc *d = &gif->Image;
    if (d->Left < 0 || d->Top < 0 || d->Width < 0 || d->Height < 0)
        return cs_fail(err, CS_EFORMAT, "%s: bad GIF frame geometry", ctx->name);
    uint64_t w = (uint64_t)d->Left + (uint64_t)d->Width, h = (uint64_t)d->Top + d->Height;
    if (w < (uint64_t)gif->SWidth) w = (uint64_t)gif->SWidth;
    if (h < (uint64_t)gif->SHeight) h = (uint64_t)gif->SHeight;
    cs_status st = cs_image_alloc(ctx, w, h, out, err);
    if (st) return st;

    cs_palette pal;
    cs_palette_init(&pal);
    const ColorMapObject *map = d->ColorMap ? d->ColorMap : gif->SColorMap;
    for (int i = 0; map && i < map->ColorCount && i < 256; i++) {
        pal.rgb[3 * i] = map->Colors[i].Red;
        pal.rgb[3 * i + 1] = map->Colors[i].Green;
        pal.rgb[3 * i + 2] = map->Colors[i].Blue;
    }
    const uint8_t *bg = pal.rgb + 3 * (transparent >= 0 ? transparent : 0);
    for (size_t i = 0; i < (size_t)w * h; i++) memcpy(out->rgb + 3 * i, bg, 3);

    GifPixelType *line = malloc(d->Width > 0 ? (size_t)d->Width : 1);
    if (!line) return cs_fail(err, CS_ENOMEM, "%s: out of memory", ctx->name);
    static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    const int passes = d->Interlace ? 4 : 1;
    for (int p = 0; p < passes; p++)
        for (int y = d->Interlace ? start[p] : 0; y < d->Height; y += d->Interlace ? step[p] : 1) {
            if (DGifGetLine(gif, line, d->Width) == GIF_ERROR) {
                free(line);
                return gif_fail(ctx, gif, err);
            }
            uint8_t *dst = out->rgb + (((size_t)d->Top + y) * w + (size_t)d->Left) * 3;
            cs_row_pal_to_rgb(&pal, line, dst, d->Width);
        }
    free(line);
    return CS_OK;
}

cs_status cs_decode_gif(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err) {
    (void)orientation; /* GIF has no EXIF */
    gif_src src = {ctx->data, ctx->size, 0};
    int code = 0;
    GifFileType *gif = DGifOpen(&src, on_read, &code);
    if (!gif) {
        const char *why = GifErrorString(code);
        return cs_fail(err, CS_EFORMAT, "%s: bad GIF: %s", ctx->name, why ? why : "unknown");
    }
    int transparent;
    int r = seek_first_image(gif, &transparent);
    cs_status st;
    if (r < 0 || (r == 0 && DGifGetImageDesc(gif) == GIF_ERROR))
        st = gif_fail(ctx, gif, err);
    else if (r > 0)
        st = cs_fail(err, CS_EFORMAT, "%s: GIF has no image", ctx->name);
    else
        st = decode_frame(ctx, gif, transparent, out, err);
    if (st) cs_image_free(out);
    DGifCloseFile(gif, &code);
    return st;
}
