/* render/font.h - a small built-in bitmap font (5x7 pixels plus 2 rows of
 * descenders, in a 6x10 cell; printable ASCII) for captions on the images we
 * write, e.g. the montage. */
#ifndef CS_RENDER_FONT_H
#define CS_RENDER_FONT_H

#include <stddef.h>
#include <stdint.h>

#include "clipsearch/image.h"

enum {
    CS_FONT_GLYPH_W = 5, /* the drawn pixels of a glyph */
    CS_FONT_GLYPH_H = 9, /* 7 above the baseline, 2 below */
    CS_FONT_ADVANCE = 6, /* from one character to the next */
    CS_FONT_LINE_H = 10  /* from one line to the next */
};

/* 1 when pixel (x, y) of the glyph for c is set (x < 5, y < 9). A byte
 * outside printable ASCII draws as '?'. */
int cs_font_pixel(unsigned char c, int x, int y);

/* The characters text is drawn as: UTF-8 decoded, each code point outside
 * printable ASCII replaced by '?'. Writes at most cap-1 bytes plus a NUL;
 * returns the number of characters. */
size_t cs_font_ascii(const char *text, char *out, size_t cap);

/* Width in pixels of an ASCII string drawn at the given scale. */
int cs_font_width(const char *ascii, int scale);

/* Draws an ASCII string with its top-left corner at (x, y), each font pixel
 * a scale x scale square of colour rgb; pixels outside img are clipped. */
void cs_font_draw(cs_image *img, int x, int y, int scale, const uint8_t rgb[3], const char *ascii);

#endif
