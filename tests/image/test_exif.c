/* tests/image/test_exif.c - the EXIF orientation: parsing the tag (both byte
 * orders, types, hostile offsets), the eight transposes (expected pixels
 * from Pillow's Image.transpose on the same 3x2 image), and end to end
 * through PNG eXIf and JPEG APP1 files written here. */
#include <png.h>
#include <stdio.h>

#include <jpeglib.h>

#include "test.h"

#include "image/image_internal.h"

#include <unistd.h>

/* A TIFF header + IFD0 with the given entries (tag, type, count, value). */
static size_t make_exif(uint8_t *buf, int big, int n, const uint32_t (*e)[4]) {
    size_t len = 0;
    memcpy(buf, "Exif\0\0", 6), len = 6;
#define W16(v)                                                                                     \
    (big ? (buf[len] = (uint8_t)((v) >> 8), buf[len + 1] = (uint8_t)(v))                           \
         : (buf[len] = (uint8_t)(v), buf[len + 1] = (uint8_t)((v) >> 8)),                          \
     len += 2)
#define W32(v) (big ? (W16((v) >> 16), W16((v)&0xFFFF)) : (W16((v)&0xFFFF), W16((v) >> 16)))
    memcpy(buf + len, big ? "MM\0*" : "II*\0", 4), len += 4;
    W32(8u);
    W16((uint32_t)n);
    for (int i = 0; i < n; i++) {
        W16(e[i][0]);
        W16(e[i][1]);
        W32(e[i][2]);
        if (e[i][1] == 3 && e[i][2] == 1)
            W16(e[i][3]), W16(0u); /* SHORT, left-justified */
        else
            W32(e[i][3]);
    }
    W32(0u);
#undef W16
#undef W32
    return len;
}

static void check_parse(void) {
    uint8_t buf[256];
    for (int big = 0; big < 2; big++)
        for (uint32_t o = 1; o <= 8; o++) {
            const uint32_t e[2][4] = {{0x010F, 2, 4, 0}, {0x0112, 3, 1, o}};
            size_t n = make_exif(buf, big, 2, e);
            CHECK_EQ_INT(cs_exif_orientation(buf, n), o);
            CHECK_EQ_INT(cs_exif_orientation(buf + 6, n - 6), o); /* without the prefix */
        }
    const uint32_t as_long[1][4] = {{0x0112, 4, 1, 6}};
    CHECK_EQ_INT(cs_exif_orientation(buf, make_exif(buf, 0, 1, as_long)), 6);
    const uint32_t bad_value[1][4] = {{0x0112, 3, 1, 9}};
    CHECK_EQ_INT(cs_exif_orientation(buf, make_exif(buf, 1, 1, bad_value)), 0);
    const uint32_t ascii[1][4] = {{0x0112, 2, 1, '6'}};
    CHECK_EQ_INT(cs_exif_orientation(buf, make_exif(buf, 0, 1, ascii)), 0);
    /* 3 SHORTs do not fit in the entry: their offset points far outside */
    const uint32_t outside[1][4] = {{0x0112, 3, 3, 0x7FFFFFF0}};
    CHECK_EQ_INT(cs_exif_orientation(buf, make_exif(buf, 0, 1, outside)), 0);
    /* a later duplicate wins, as in Pillow's dict */
    const uint32_t dup[2][4] = {{0x0112, 3, 1, 3}, {0x0112, 3, 1, 8}};
    size_t n = make_exif(buf, 0, 2, dup);
    CHECK_EQ_INT(cs_exif_orientation(buf, n), 8);
    /* truncated after the first entry: what was read still counts */
    CHECK_EQ_INT(cs_exif_orientation(buf, 6 + 8 + 2 + 12 + 5), 3);
    /* IFD offset past the end, a short header, garbage */
    buf[6 + 4] = 0xF0;
    CHECK_EQ_INT(cs_exif_orientation(buf, n), 0);
    CHECK_EQ_INT(cs_exif_orientation(buf, 7), 0);
    CHECK_EQ_INT(cs_exif_orientation((const uint8_t *)"Exif\0\0garbage!", 14), 0);
    CHECK_EQ_INT(cs_exif_orientation(NULL, 0), 0);

    const char *xmp1 = "<x:xmpmeta><rdf:Description tiff:Orientation=\"6\"/></x:xmpmeta>";
    const char *xmp2 = "<tiff:Orientation>8</tiff:Orientation>";
    CHECK_EQ_INT(cs_xmp_orientation(xmp1, strlen(xmp1)), 6);
    CHECK_EQ_INT(cs_xmp_orientation(xmp2, strlen(xmp2)), 8);
    CHECK_EQ_INT(cs_xmp_orientation("tiff:Orientation=", 17), 0);
}

/* Pillow: Image.new("L", (3, 2)) with 1..6, transposed per exif_transpose. */
static const struct {
    int w, h;
    uint8_t px[6];
} want[9] = {
    {0, 0, {0}},
    {3, 2, {1, 2, 3, 4, 5, 6}},
    {3, 2, {3, 2, 1, 6, 5, 4}},
    {3, 2, {6, 5, 4, 3, 2, 1}},
    {3, 2, {4, 5, 6, 1, 2, 3}},
    {2, 3, {1, 4, 2, 5, 3, 6}},
    {2, 3, {4, 1, 5, 2, 6, 3}},
    {2, 3, {6, 3, 5, 2, 4, 1}},
    {2, 3, {3, 6, 2, 5, 1, 4}},
};

static void check_image(const cs_image *img, int o, const char *what) {
    CHECK_MSG(img->width == want[o].w && img->height == want[o].h, "%s %d: %dx%d", what, o,
              img->width, img->height);
    if (img->width != want[o].w || img->height != want[o].h) return;
    for (int i = 0; i < 6; i++)
        CHECK_MSG(img->rgb[3 * i] == want[o].px[i] && img->rgb[3 * i + 2] == want[o].px[i],
                  "%s %d: pixel %d is %d, want %d", what, o, i, img->rgb[3 * i], want[o].px[i]);
}

static void check_transposes(void) {
    for (int o = 1; o <= 8; o++) {
        cs_image img = {3, 2, malloc(18)};
        for (int i = 0; i < 6; i++) memset(img.rgb + 3 * i, i + 1, 3);
        cs_error err;
        CHECK_OK(cs_image_orient(&img, o, &err), &err);
        check_image(&img, o, "transpose");
        cs_image_free(&img);
    }
}

/* A 3x2 grey PNG (values 1..6) with an eXIf chunk, through libpng. */
static void write_png(const char *path, const uint8_t *exif, size_t n) {
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, 3, 2, 8, PNG_COLOR_TYPE_GRAY, 0, 0, 0);
    png_set_eXIf_1(png, info, (png_uint_32)n, (png_bytep)exif);
    png_write_info(png, info);
    uint8_t rows[2][3] = {{1, 2, 3}, {4, 5, 6}};
    png_write_row(png, rows[0]);
    png_write_row(png, rows[1]);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static void check_png_files(const char *dir) {
    uint8_t buf[256];
    char path[512];
    snprintf(path, sizeof path, "%s/o.png", dir);
    for (uint32_t o = 1; o <= 8; o++) {
        const uint32_t e[1][4] = {{0x0112, 3, 1, o}};
        size_t n = make_exif(buf, o % 2, 1, e);
        write_png(path, buf + 6, n - 6); /* eXIf holds the TIFF structure only */
        cs_image img;
        cs_error err;
        CHECK_OK(cs_image_decode_file(path, NULL, &img, &err), &err);
        if (img.rgb) check_image(&img, (int)o, "PNG eXIf");
        cs_image_free(&img);
        /* ignore_exif: transformers' way, the stored pixels */
        cs_decode_opts opts = {.ignore_exif = 1};
        CHECK_OK(cs_image_decode_file(path, &opts, &img, &err), &err);
        if (img.rgb) check_image(&img, 1, "PNG ignore_exif");
        cs_image_free(&img);
    }
    remove(path);
}

/* A 32x16 JPEG, left half black and right half white, with an APP1 EXIF. */
static void check_jpeg_file(const char *dir, int o) {
    char path[512];
    snprintf(path, sizeof path, "%s/o.jpg", dir);
    FILE *f = fopen(path, "wb");
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = 32, c.image_height = 16, c.input_components = 3, c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    uint8_t buf[64];
    const uint32_t e[1][4] = {{0x0112, 3, 1, (uint32_t)o}};
    jpeg_write_marker(&c, JPEG_APP0 + 1, buf, (unsigned)make_exif(buf, 1, 1, e));
    uint8_t row[32 * 3];
    for (int x = 0; x < 32; x++) memset(row + 3 * x, x < 16 ? 0 : 255, 3);
    while (c.next_scanline < 16) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    cs_image img;
    cs_error err;
    CHECK_OK(cs_image_decode_file(path, NULL, &img, &err), &err);
    if (!img.rgb) return;
    int swap = o >= 5;
    CHECK_EQ_INT(img.width, swap ? 16 : 32);
    CHECK_EQ_INT(img.height, swap ? 32 : 16);
    /* where the black half went: 6 (clockwise) puts it on top, 8 at the bottom */
    int first = img.rgb[0], last = img.rgb[((size_t)img.width * img.height - 1) * 3];
    if (o == 6) CHECK(first < 20 && last > 235);
    if (o == 8) CHECK(first > 235 && last < 20);
    if (o == 3) CHECK(first > 235 && last < 20);
    cs_image_free(&img);
    remove(path);
}

int main(void) {
    check_parse();
    check_transposes();
    const char *dir = cs_test_tmpdir();
    check_png_files(dir);
    check_jpeg_file(dir, 6);
    check_jpeg_file(dir, 8);
    check_jpeg_file(dir, 3);
    rmdir(dir);
    return cs_test_done("image.exif");
}
