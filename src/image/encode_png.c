/* image/encode_png.c - an RGB8 image to a PNG file, via libpng into memory
 * and then cs_write_file_atomic. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "image/image_internal.h"

typedef struct png_sink {
    uint8_t *buf;
    size_t len, cap;
    char message[200];
} png_sink;

static void on_write(png_structp png, png_bytep data, size_t n) {
    png_sink *s = png_get_io_ptr(png);
    if (n > s->cap - s->len) {
        size_t cap = s->cap ? s->cap : 1 << 16;
        while (cap - s->len < n) cap *= 2;
        uint8_t *b = realloc(s->buf, cap);
        if (!b) png_error(png, "out of memory");
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
}

static void on_flush(png_structp png) {
    (void)png;
}

static void on_error(png_structp png, png_const_charp msg) {
    png_sink *s = png_get_error_ptr(png);
    snprintf(s->message, sizeof s->message, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png, (void)msg;
}

cs_status cs_image_write_png(const cs_image *img, const char *path, cs_error *err) {
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0 || !path)
        return cs_fail(err, CS_EINVAL, "cs_image_write_png: no image");
    png_sink sink;
    memset(&sink, 0, sizeof sink);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(sink.buf);
        return cs_fail(err, CS_EINTERNAL, "%s: PNG encoding failed: %s", path, sink.message);
    }
    png_set_write_fn(png, &sink, on_write, on_flush);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < img->height; y++) png_write_row(png, img->rgb + (size_t)y * img->width * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    cs_status st = cs_write_file_atomic(path, sink.buf, sink.len, err);
    free(sink.buf);
    return st;
}
