/* tests/search/test_montage.c - the contact sheet: layout, thumbnails placed
 * and coloured right, captions drawn from the font, and a JPEG that libjpeg
 * decodes to the same picture. */
#include <stdio.h> /* jpeglib.h needs FILE and size_t first */
#include <jpeglib.h>

#include "render/font.h"
#include "render/sheet.h"
#include "test.h"

static cs_image solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
    cs_image img = {w, h, malloc((size_t)w * h * 3)};
    for (int i = 0; i < w * h; i++) {
        img.rgb[3 * i] = r;
        img.rgb[3 * i + 1] = g;
        img.rgb[3 * i + 2] = b;
    }
    return img;
}

static const uint8_t *px(const cs_image *img, int x, int y) {
    return img->rgb + 3 * ((size_t)y * img->width + x);
}

static int near(const uint8_t *p, int r, int g, int b, int tol) {
    return abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol;
}

/* Glyphs checked against their shapes written out independently here. */
static void check_font(void) {
    /* '1': the stem is column 2 on rows 0-6, the base spans columns 1-3 */
    for (int y = 0; y < 7; y++) CHECK(cs_font_pixel('1', 2, y));
    CHECK(cs_font_pixel('1', 1, 6) && cs_font_pixel('1', 3, 6) && !cs_font_pixel('1', 0, 6));
    /* '-': only row 3, all 5 columns */
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 5; x++) CHECK(cs_font_pixel('-', x, y) == (y == 3));
    /* 'p' descends below the baseline (row 6), 'o' does not */
    CHECK(cs_font_pixel('p', 0, 8) && !cs_font_pixel('o', 0, 7) && !cs_font_pixel('o', 0, 8));
    /* ' ' is empty; '.' is a 2x2 block at the bottom */
    int set = 0;
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 5; x++) set += cs_font_pixel(' ', x, y);
    CHECK_EQ_INT(set, 0);
    CHECK(cs_font_pixel('.', 1, 5) && cs_font_pixel('.', 2, 6) && !cs_font_pixel('.', 1, 4));
    /* every printable character but space draws something, and no two of
     * 0-9, A-Z, a-z look the same */
    static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int c = 33; c < 127; c++) {
        set = 0;
        for (int y = 0; y < 9; y++)
            for (int x = 0; x < 5; x++) set += cs_font_pixel((unsigned char)c, x, y);
        CHECK_MSG(set > 0, "glyph '%c' is empty", c);
    }
    for (int a = 0; alnum[a]; a++)
        for (int b = a + 1; alnum[b]; b++) {
            int differ = 0;
            for (int i = 0; i < 45; i++)
                differ |= cs_font_pixel((unsigned char)alnum[a], i % 5, i / 5) !=
                          cs_font_pixel((unsigned char)alnum[b], i % 5, i / 5);
            CHECK_MSG(differ, "'%c' and '%c' look the same", alnum[a], alnum[b]);
        }
    char out[32];
    CHECK_EQ_INT(cs_font_ascii("caf\xc3\xa9 \xf0\x9f\x90\x95!\t", out, sizeof out), 8);
    CHECK(strcmp(out, "caf? ?!?") == 0);
    CHECK_EQ_INT(cs_font_width("abc", 2), (3 * 6 - 1) * 2);
    CHECK_EQ_INT(cs_font_width("", 2), 0);
}

/* Dark pixels in a rectangle: where captions are drawn. */
static int dark_pixels(const cs_image *img, int x0, int y0, int w, int h) {
    int n = 0;
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) n += px(img, x, y)[0] < 100;
    return n;
}

static void check_compose(const char *dir) {
    cs_image red = solid(300, 200, 255, 0, 0); /* landscape */
    cs_image green = solid(40, 80, 0, 255, 0); /* small portrait: enlarged */
    cs_montage_cell cells[4] = {
        {&red, NULL, "Query", "photo.jpg", 1},
        {&green, NULL, "Score: 0.8123", "a very long file name indeed.jpg", 0},
        {NULL, NULL, "Score: 0.5000", "gone.jpg", 0},
        {NULL, "a photo of a golden retriever playing in the grass of a big park", "Query", "", 1}};
    cs_image sheet = {0};
    cs_error err = {0};
    CHECK_OK(cs_montage_compose(cells, 4, 96, 2, &sheet, &err), &err);
    cs_montage_layout l;
    CHECK_OK(cs_montage_plan(4, 96, 2, &l, &err), &err);
    CHECK_EQ_INT(sheet.width, l.width);
    CHECK_EQ_INT(sheet.height, l.height);
    CHECK_EQ_INT(l.columns, 2);
    CHECK_EQ_INT(l.rows, 2);
    CHECK_EQ_INT(l.width, 2 * 96 + 3 * l.pad);
    int x, y;
    /* red 300x200 fits as 96x64, centred vertically: rows 16..79 red, above white */
    cs_montage_cell_origin(&l, 0, &x, &y);
    CHECK(near(px(&sheet, x + 48, y + 48), 255, 0, 0, 0));
    CHECK(near(px(&sheet, x, y + 16), 255, 0, 0, 0) &&
          near(px(&sheet, x + 95, y + 79), 255, 0, 0, 0));
    CHECK(near(px(&sheet, x + 48, y + 15), 255, 255, 255, 0));
    CHECK(near(px(&sheet, x + 48, y + 80), 255, 255, 255, 0));
    CHECK(near(px(&sheet, x - 2, y + 48), 31, 119, 180, 0)); /* the query's frame */
    int caption_y = y + 96 + l.pad / 2;
    CHECK(dark_pixels(&sheet, x, caption_y, 96, 2 * l.line_h) > 20);
    /* green 40x80 fits as 48x96, centred horizontally */
    cs_montage_cell_origin(&l, 1, &x, &y);
    CHECK(near(px(&sheet, x + 24, y), 0, 255, 0, 0) &&
          near(px(&sheet, x + 71, y + 95), 0, 255, 0, 0));
    CHECK(near(px(&sheet, x + 23, y + 48), 255, 255, 255, 0));
    CHECK(near(px(&sheet, x + 72, y + 48), 255, 255, 255, 0));
    CHECK(near(px(&sheet, x - 2, y + 48), 255, 255, 255, 0)); /* no frame */
    /* the long name is shortened to the tile's width: nothing drawn beyond it */
    CHECK_EQ_INT(dark_pixels(&sheet, x + 96, y + 96, l.pad, l.cell_h - 96), 0);
    /* the missing image: grey placeholder, second row */
    cs_montage_cell_origin(&l, 2, &x, &y);
    CHECK(y > l.cell_h);
    CHECK(near(px(&sheet, x + 2, y + 2), 200, 200, 200, 0));
    /* "unreadable" in the box: its glyphs' pixels, exactly */
    int want = 0;
    for (const char *c = "unreadable"; *c; c++)
        for (int i = 0; i < 45; i++) want += cs_font_pixel((unsigned char)*c, i % 5, i / 5);
    CHECK_EQ_INT(dark_pixels(&sheet, x, y, 96, 96), want);
    /* "Score: 0.5000" at scale 1: the set pixels of its glyphs, exactly */
    want = 0;
    for (const char *c = "Score: 0.5000"; *c; c++)
        for (int i = 0; i < 45; i++) want += cs_font_pixel((unsigned char)*c, i % 5, i / 5);
    CHECK_EQ_INT(dark_pixels(&sheet, x, y + 96 + l.pad / 2, 96, l.line_h), want);

    /* the text query: wrapped over several lines inside its framed box, the
     * words kept whole (each line's pixels start at a word) */
    cs_montage_cell_origin(&l, 3, &x, &y);
    CHECK(near(px(&sheet, x - 2, y + 48), 31, 119, 180, 0));
    int text_rows = 0;
    for (int ty = y; ty < y + 96; ty++) text_rows += dark_pixels(&sheet, x, ty, 96, 1) > 0;
    CHECK_MSG(text_rows >= 4 * 7, "%d rows with text", text_rows);
    CHECK_EQ_INT(dark_pixels(&sheet, x, y, 2, 96), 0); /* margins kept */

    /* JPEG: libjpeg reads back the same picture, within compression error */
    char path[600];
    snprintf(path, sizeof path, "%s/sheet.jpg", dir);
    CHECK_OK(cs_jpeg_write_file(path, &sheet, 92, &err), &err);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        struct jpeg_decompress_struct d;
        struct jpeg_error_mgr jerr;
        d.err = jpeg_std_error(&jerr);
        jpeg_create_decompress(&d);
        jpeg_stdio_src(&d, f);
        CHECK(jpeg_read_header(&d, TRUE) == JPEG_HEADER_OK);
        d.out_color_space = JCS_RGB;
        jpeg_start_decompress(&d);
        CHECK_EQ_INT(d.output_width, sheet.width);
        CHECK_EQ_INT(d.output_height, sheet.height);
        cs_image back = {(int)d.output_width, (int)d.output_height,
                         malloc((size_t)d.output_width * d.output_height * 3)};
        while (d.output_scanline < d.output_height) {
            JSAMPROW row = back.rgb + (size_t)d.output_scanline * back.width * 3;
            jpeg_read_scanlines(&d, &row, 1);
        }
        jpeg_finish_decompress(&d);
        jpeg_destroy_decompress(&d);
        fclose(f);
        cs_montage_cell_origin(&l, 0, &x, &y);
        CHECK(near(px(&back, x + 48, y + 48), 255, 0, 0, 12));
        cs_montage_cell_origin(&l, 1, &x, &y);
        CHECK(near(px(&back, x + 48, y + 48), 0, 255, 0, 12));
        free(back.rgb);
    }
    CHECK(cs_jpeg_write_file(path, &(cs_image){0, 0, NULL}, 90, &err) == CS_EINVAL);
    snprintf(path, sizeof path, "%s/no/such/dir/sheet.jpg", dir);
    CHECK(cs_jpeg_write_file(path, &sheet, 90, &err) == CS_EIO);
    cs_image none;
    CHECK(cs_montage_compose(cells, 0, 96, 2, &none, &err) == CS_EINVAL);
    CHECK(none.rgb == NULL);
    free(sheet.rgb);
    free(red.rgb);
    free(green.rgb);
}

int main(void) {
    check_font();
    const char *dir = cs_test_tmpdir();
    check_compose(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/sheet.jpg", dir);
    remove(path);
    remove(dir);
    return cs_test_done("montage");
}
