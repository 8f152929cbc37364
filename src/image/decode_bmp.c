/* image/decode_bmp.c - Windows/OS2 bitmaps, read by hand the way Pillow's
 * BmpImagePlugin reads them (no Debian library covers BMP):
 *  - headers of 12 (OS/2), 40, 64, 108 or 124 bytes; a height with its top
 *    byte 0xFF means top-down rows;
 *  - 1/4/8 bit: palette (BGR or BGRX entries right after the header) looked
 *    up; 16 bit: 5-5-5 (or the 5-6-5 bitfields) scaled as v * 255 / max;
 *    24 bit BGR; 32 bit BGRX, or the bitfield layouts Pillow knows;
 * *  - uncompressed, or RLE8/RLE4 expanded exactly as Pillow's Python decoder
 *    does (its quirks included, see expand_rle);
 *  - every length is checked against the file before it is used: a
 *    truncated file is refused, never read past. */
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

enum { BMP_RAW = 0, BMP_RLE8 = 1, BMP_RLE4 = 2, BMP_BITFIELDS = 3 };

typedef struct bmp_info {
    uint32_t width, height;
    int top_down, bits, compression;
    uint32_t colors, offset;
    int pal_entry; /* 3 or 4 bytes */
    size_t pal_at; /* where the palette starts */
    uint32_t mask[4];
    int has_mask;
} bmp_info;

static uint32_t le16(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static cs_status parse_header(const cs_decode_ctx *ctx, bmp_info *bi, cs_error *err) {
    const uint8_t *p = ctx->data;
    const size_t n = ctx->size;
    if (n < 18) return cs_fail(err, CS_EFORMAT, "%s: truncated BMP header", ctx->name);
    bi->offset = le32(p + 10);
    uint32_t hs = le32(p + 14);
    if (hs != 12 && hs != 40 && hs != 64 && hs != 108 && hs != 124)
        return cs_fail(err, CS_EUNSUPPORTED, "%s: unsupported BMP header type (%u)", ctx->name, hs);
    if (n < 14 + (size_t)hs) return cs_fail(err, CS_EFORMAT, "%s: truncated BMP header", ctx->name);
    const uint8_t *h = p + 18; /* header_data, after its size field */
    size_t after = 14 + hs;
    if (hs == 12) {
        bi->width = le16(h);
        bi->height = le16(h + 2);
        bi->bits = (int)le16(h + 6);
        bi->compression = BMP_RAW;
        bi->pal_entry = 3;
        bi->colors = 0;
    } else {
        bi->width = le32(h);
        bi->top_down = h[7] == 0xFF;
        bi->height = bi->top_down ? (uint32_t)(0x100000000ull - le32(h + 4)) : le32(h + 4);
        bi->bits = (int)le16(h + 10);
        bi->compression = (int)le32(h + 12);
        bi->colors = le32(h + 28);
        bi->pal_entry = 4;
        if (bi->compression == BMP_BITFIELDS) {
            bi->has_mask = 1;
            if (hs >= 56) {
                for (int i = 0; i < 4; i++) bi->mask[i] = le32(h + 36 + 4 * i);
            } else { /* a 40-byte header: three masks follow it */
                if (n < after + 12)
                    return cs_fail(err, CS_EFORMAT, "%s: truncated BMP header", ctx->name);
                for (int i = 0; i < 3; i++) bi->mask[i] = le32(p + after + 4 * i);
                after += 12;
            }
        }
    }
    if (bi->colors == 0 && bi->bits < 32) bi->colors = 1u << bi->bits;
    bi->pal_at = after;
    if (bi->offset == 14 + hs && bi->bits <= 8) bi->offset += 4 * bi->colors;
    return CS_OK;
}

/* Pillow's BmpRleDecoder, step for step: a linear run of indices filled
 * row after row (in file order), which must end up at least w * h long.
 * Its quirks are kept: a delta escape skips two bytes before reading its
 * offsets, RLE4 absolute runs of odd length lose their last pixel, and the
 * word alignment is on the absolute file position. Returns 0, or -1 when the
 * data runs short of the image. */
static int expand_rle(const cs_decode_ctx *ctx, size_t pos, int rle4, uint32_t w, uint32_t h,
                      uint8_t *idx) {
    const uint8_t *p = ctx->data;
    const size_t n = ctx->size, total = (size_t)w * h;
    size_t len = 0, x = 0;
#define PUT(v)                                                                                     \
    do {                                                                                           \
        if (len < total) idx[len] = (uint8_t)(v);                                                  \
        len++;                                                                                     \
    } while (0)
    while (len < total) {
        if (pos + 2 > n) break;
        unsigned count = p[pos], byte = p[pos + 1];
        pos += 2;
        if (count) { /* a run */
            if (x + count > w) count = x < w ? (unsigned)(w - x) : 0;
            for (unsigned i = 0; i < count; i++) PUT(rle4 ? (i % 2 ? byte & 15 : byte >> 4) : byte);
            x += count;
        } else if (byte == 0) { /* end of line */
            while (len % w) PUT(0);
            x = 0;
        } else if (byte == 1) { /* end of bitmap */
            break;
        } else if (byte == 2) { /* delta */
            if (pos + 4 > n) return -1;
            size_t skip = p[pos + 2] + (size_t)p[pos + 3] * w;
            pos += 4;
            for (size_t i = 0; i < skip && len < total; i++) PUT(0);
            x = len % w;
        } else { /* absolute run */
            size_t want = rle4 ? byte / 2 : byte, got = want < n - pos ? want : n - pos;
            for (size_t i = 0; i < got; i++) {
                if (rle4) {
                    PUT(p[pos + i] >> 4);
                    PUT(p[pos + i] & 15);
                } else
                    PUT(p[pos + i]);
            }
            pos += got;
            if (got < want) break;
            x += byte;
            if (pos % 2) pos++;
        }
    }
#undef PUT
    return len >= total ? 0 : -1;
}

/* Positions of the red, green, blue bytes of a 32-bit pixel for the
 * bitfield layouts Pillow accepts; 0 if the layout is not one of them. */
static int masks32(const bmp_info *bi, int pos[3]) {
    static const uint32_t ok[6][4] = {
        {0xFF0000, 0xFF00, 0xFF, 0x0},        {0xFF000000, 0xFF0000, 0xFF00, 0x0},
        {0xFF000000, 0xFF0000, 0xFF00, 0xFF}, {0xFF, 0xFF00, 0xFF0000, 0xFF000000},
        {0xFF0000, 0xFF00, 0xFF, 0xFF000000}, {0x0, 0x0, 0x0, 0x0}};
    static const int where[6][3] = {{2, 1, 0}, {3, 2, 1}, {3, 2, 1},
                                    {0, 1, 2}, {2, 1, 0}, {2, 1, 0}};
    for (int i = 0; i < 6; i++)
        if (!memcmp(bi->mask, ok[i], sizeof ok[i])) {
            memcpy(pos, where[i], sizeof where[i]);
            return 1;
        }
    return 0;
}

/* One stored row to RGB. kind: 'P' palette (bits 1/4/8), '5' 5-5-5, '6' 5-6-5,
 * 'B' BGR, 'X' 32-bit with byte positions pos[]. */
static void convert_row(int kind, int bits, const cs_palette *pal, const int pos[3],
                        const uint8_t *in, uint8_t *rgb, uint32_t w) {
    for (uint32_t x = 0; x < w; x++, rgb += 3) {
        switch (kind) {
        case 'P': {
            unsigned i = bits == 8   ? in[x]
                         : bits == 4 ? (in[x / 2] >> (x % 2 ? 0 : 4)) & 15
                                     : (in[x / 8] >> (7 - x % 8)) & 1;
            memcpy(rgb, pal->rgb + 3 * i, 3);
            break;
        }
        case '5':
        case '6': {
            unsigned v = le16(in + 2 * x);
            if (kind == '5') {
                rgb[0] = (uint8_t)(((v >> 10) & 31) * 255 / 31);
                rgb[1] = (uint8_t)(((v >> 5) & 31) * 255 / 31);
            } else {
                rgb[0] = (uint8_t)(((v >> 11) & 31) * 255 / 31);
                rgb[1] = (uint8_t)(((v >> 5) & 63) * 255 / 63);
            }
            rgb[2] = (uint8_t)((v & 31) * 255 / 31);
            break;
        }
        case 'B':
            rgb[0] = in[3 * x + 2], rgb[1] = in[3 * x + 1], rgb[2] = in[3 * x];
            break;
        default:
            for (int c = 0; c < 3; c++) rgb[c] = in[4 * x + pos[c]];
        }
    }
}

static cs_status pixel_kind(const cs_decode_ctx *ctx, const bmp_info *bi, int *kind, int pos[3],
                            cs_error *err) {
    const uint32_t *m = bi->mask;
    const int rle = bi->compression == BMP_RLE8 || bi->compression == BMP_RLE4;
    if (bi->compression != BMP_RAW && bi->compression != BMP_BITFIELDS && !rle)
        return cs_fail(err, CS_EUNSUPPORTED, "%s: unsupported BMP compression (%d)", ctx->name,
                       bi->compression);
    pos[0] = 2, pos[1] = 1, pos[2] = 0;
    switch (bi->bits) {
    case 1:
    case 4:
    case 8:
        *kind = 'P';
        break;
    case 16:
        *kind = bi->has_mask && m[0] == 0xF800 && m[1] == 0x7E0 && m[2] == 0x1F ? '6' : '5';
        break;
    case 24:
        *kind = 'B';
        break;
    case 32:
        *kind = 'X';
        break;
    default:
        return cs_fail(err, CS_EUNSUPPORTED, "%s: unsupported BMP pixel depth (%d)", ctx->name,
                       bi->bits);
    }
    int ok = 1;
    if (bi->has_mask) {
        if (bi->bits == 32)
            ok = masks32(bi, pos);
        else if (bi->bits == 24)
            ok = m[0] == 0xFF0000 && m[1] == 0xFF00 && m[2] == 0xFF;
        else if (bi->bits == 16)
            ok = m[2] == 0x1F &&
                 ((m[0] == 0xF800 && m[1] == 0x7E0) || (m[0] == 0x7C00 && m[1] == 0x3E0));
        else
            ok = 0;
    }
    if (!ok)
        return cs_fail(err, CS_EUNSUPPORTED, "%s: unsupported BMP bitfields layout", ctx->name);
    if (rle && bi->bits != (bi->compression == BMP_RLE8 ? 8 : 4))
        return cs_fail(err, CS_EUNSUPPORTED, "%s: RLE with %d-bit pixels", ctx->name, bi->bits);
    return CS_OK;
}

static void read_palette(const cs_decode_ctx *ctx, const bmp_info *bi, cs_palette *pal) {
    cs_palette_init(pal);
    for (uint32_t i = 0; i < bi->colors && i < 256; i++) {
        size_t at = bi->pal_at + (size_t)i * bi->pal_entry;
        if (at + 3 > ctx->size) break;
        const uint8_t *e = ctx->data + at;
        pal->rgb[3 * i] = e[2], pal->rgb[3 * i + 1] = e[1], pal->rgb[3 * i + 2] = e[0];
    }
}

cs_status cs_decode_bmp(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err) {
    (void)orientation;
    bmp_info bi;
    memset(&bi, 0, sizeof bi);
    int kind = 0, pos[3] = {2, 1, 0};
    cs_status st = parse_header(ctx, &bi, err);
    if (!st) st = pixel_kind(ctx, &bi, &kind, pos, err);
    if (!st) st = cs_image_check_size(ctx, bi.width, bi.height, err);
    if (st) return st;
    /* Pillow reads up to 65536 entries, then refuses more than 256 when it
     * loads the palette ("invalid palette size") */
    if (kind == 'P' && (bi.colors == 0 || bi.colors > 256))
        return cs_fail(err, CS_EUNSUPPORTED, "%s: unsupported BMP palette size (%u)", ctx->name,
                       bi.colors);
    const uint32_t w = bi.width, h = bi.height;
    const int rle = bi.compression == BMP_RLE8 || bi.compression == BMP_RLE4;
    const size_t stride = rle ? w : (((size_t)w * bi.bits + 31) >> 3) & ~(size_t)3;
    /* Pillow's raw decoder stops after the last row's pixels: that row's
     * padding to 4 bytes may be missing from the file */
    const size_t last = ((size_t)w * bi.bits + 7) >> 3;
    if (!rle && (bi.offset > ctx->size || stride * (h - 1) + last > ctx->size - bi.offset))
        return cs_fail(err, CS_EFORMAT, "%s: truncated BMP pixel data", ctx->name);
    cs_palette pal;
    read_palette(ctx, &bi, &pal); /* unused unless kind == 'P' */
    st = cs_image_alloc(ctx, w, h, out, err);
    if (st) return st;
    const uint8_t *pixels = ctx->data + bi.offset;
    uint8_t *idx = NULL;
    if (rle) {
        idx = malloc((size_t)w * h);
        if (!idx || bi.offset > ctx->size ||
            expand_rle(ctx, bi.offset, bi.compression == BMP_RLE4, w, h, idx)) {
            int oom = !idx;
            free(idx);
            cs_image_free(out);
            return oom ? cs_fail(err, CS_ENOMEM, "%s: out of memory", ctx->name)
                       : cs_fail(err, CS_EFORMAT, "%s: truncated BMP RLE data", ctx->name);
        }
        pixels = idx;
    }
    for (uint32_t r = 0; r < h; r++) { /* r: rows in file order */
        uint32_t y = bi.top_down ? r : h - 1 - r;
        convert_row(kind, rle ? 8 : bi.bits, &pal, pos, pixels + stride * r,
                    out->rgb + (size_t)y * w * 3, w);
    }
    free(idx);
    return CS_OK;
}
