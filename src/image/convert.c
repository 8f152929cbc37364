/* image/convert.c - Pillow's convert("RGB") rules, one row at a time, so the
 * decoders can convert as they go without a second full-size buffer. */
#include <string.h>

#include "image/image_internal.h"

void cs_palette_init(cs_palette *pal) {
    for (int i = 0; i < 256; i++) memset(pal->rgb + 3 * i, i, 3);
}

void cs_row_pal_to_rgb(const cs_palette *pal, const uint8_t *idx, uint8_t *rgb, int w) {
    for (int x = 0; x < w; x++, rgb += 3) memcpy(rgb, pal->rgb + 3 * idx[x], 3);
}

void cs_row_l_to_rgb(const uint8_t *l, uint8_t *rgb, int w) {
    for (int x = 0; x < w; x++, rgb += 3) rgb[0] = rgb[1] = rgb[2] = l[x];
}

void cs_row_rgbx_to_rgb(const uint8_t *in, int n, uint8_t *rgb, int w) {
    for (int x = 0; x < w; x++, rgb += 3, in += n) {
        rgb[0] = in[0];
        rgb[1] = in[1];
        rgb[2] = in[2];
    }
}

void cs_row_la_to_rgb(const uint8_t *la, uint8_t *rgb, int w) {
    for (int x = 0; x < w; x++, rgb += 3) rgb[0] = rgb[1] = rgb[2] = la[2 * x];
}

/* a * b / 255, rounded, in Pillow's integer form */
static inline int muldiv255(int a, int b) {
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

void cs_row_cmyk_to_rgb(const uint8_t *cmyk, int invert, uint8_t *rgb, int w) {
    const uint8_t flip = invert ? 0xFF : 0;
    for (int x = 0; x < w; x++, cmyk += 4, rgb += 3) {
        int nk = 255 - (cmyk[3] ^ flip);
        for (int c = 0; c < 3; c++) {
            int v = nk - muldiv255(cmyk[c] ^ flip, nk);
            rgb[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

void cs_row_rgb16_to_rgb(const uint8_t *in, int channels, int big_endian, uint8_t *rgb, int w) {
    const int hi = big_endian ? 0 : 1;
    if (channels <= 2) { /* LA 16: the high byte of L, replicated */
        for (int x = 0; x < w; x++, rgb += 3) rgb[0] = rgb[1] = rgb[2] = in[2 * channels * x + hi];
        return;
    }
    for (int x = 0; x < w; x++, rgb += 3, in += 2 * channels) {
        rgb[0] = in[hi];
        rgb[1] = in[2 + hi];
        rgb[2] = in[4 + hi];
    }
}

void cs_row_grey16_to_rgb(const uint8_t *in, int channels, int big_endian, uint8_t *rgb, int w) {
    for (int x = 0; x < w; x++, rgb += 3, in += 2 * channels) {
        unsigned v = big_endian ? (unsigned)in[0] << 8 | in[1] : (unsigned)in[1] << 8 | in[0];
        rgb[0] = rgb[1] = rgb[2] = (uint8_t)(v > 255 ? 255 : v);
    }
}
