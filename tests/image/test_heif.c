/* tests/image/test_heif.c - HEIC and AVIF files, made here with Debian's
 * heif-enc (libheif-examples) from an oracle photo, decode through libheif
 * to the photo's size and (lossy codecs) close to its pixels. An EXIF
 * orientation inside a HEIF file is not applied on top of libheif's own
 * transformations. Skipped when heif-enc or the oracle is missing. */
#include <math.h>
#include <png.h>

#include "test.h"

#include <unistd.h>

static int have_heif_enc(void) {
    return system("command -v heif-enc >/dev/null 2>&1") == 0;
}

/* mean absolute difference of two same-sized images, or -1 */
static double mad(const cs_image *a, const cs_image *b) {
    if (a->width != b->width || a->height != b->height) return -1;
    double s = 0;
    size_t n = (size_t)a->width * a->height * 3;
    for (size_t i = 0; i < n; i++) s += fabs((double)a->rgb[i] - b->rgb[i]);
    return s / (double)n;
}

static void check_codec(const char *dir, const char *src_png, const cs_image *ref, int avif) {
    char path[512], cmd[8192];
    snprintf(path, sizeof path, "%s/photo.%s", dir, avif ? "avif" : "heic");
    snprintf(cmd, sizeof cmd, "heif-enc %s -q 90 -o '%s' '%s' >/dev/null 2>&1", avif ? "-A" : "",
             path, src_png);
    if (system(cmd) != 0) {
        fprintf(stderr, "heif-enc could not write %s (codec missing?)\n", path);
        cs_test_failures++;
        return;
    }
    size_t size;
    char *data = cs_test_read(path, &size);
    CHECK_EQ_INT(cs_image_sniff(data, size), avif ? CS_FMT_AVIF : CS_FMT_HEIF);
    free(data);
    cs_image img;
    cs_error err;
    CHECK_OK(cs_image_decode_file(path, NULL, &img, &err), &err);
    if (!img.rgb) return;
    double d = mad(&img, ref);
    printf("%s: %dx%d, mean abs difference %.2f\n", path, img.width, img.height, d);
    CHECK_MSG(d >= 0 && d < 4.0, "%s decodes too far from the source (%.2f)", path, d);
    cs_image_free(&img);
    /* a pixel limit below its size refuses it before decoding */
    cs_decode_opts opts = {.max_pixels = (uint64_t)ref->width * ref->height - 1};
    CHECK_EQ_INT(cs_image_decode_file(path, &opts, &img, &err), CS_ELIMIT);
    /* claiming more pixels than libheif's own limit (each 'ispe' box set to
     * 40000 x 40000): refused as too large (CS_ELIMIT, HTTP 413), like every
     * other format, not as out of memory */
    data = cs_test_read(path, &size);
    int patched = 0;
    for (size_t i = 0; i + 16 <= size; i++)
        if (!memcmp(data + i, "ispe", 4)) {
            for (int k = 0; k < 2; k++) {
                uint8_t *v = (uint8_t *)data + i + 8 + 4 * k;
                v[0] = 0, v[1] = 0, v[2] = 0x9C, v[3] = 0x40; /* 40000 */
            }
            patched++;
        }
    CHECK(patched > 0);
    CHECK_EQ_INT(cs_image_decode_mem(data, size, "huge.heic", NULL, &img, &err), CS_ELIMIT);
    CHECK(img.rgb == NULL && strstr(err.message, "huge.heic") != NULL);
    free(data);
    /* truncated: refused, not half decoded */
    data = cs_test_read(path, &size);
    CHECK(cs_image_decode_mem(data, size / 2, "half.heic", NULL, &img, &err) != CS_OK);
    CHECK(img.rgb == NULL && strstr(err.message, "half.heic") != NULL);
    free(data);
    remove(path);
}

/* The image as a 16-bit PNG (each byte doubled), for a 10-bit HEIC. */
static int write_png16(const char *path, const cs_image *img) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 16,
                 PNG_COLOR_TYPE_RGB, 0, 0, 0);
    png_write_info(png, info);
    uint8_t *row = malloc((size_t)img->width * 6);
    for (int y = 0; y < img->height; y++) {
        for (int i = 0; i < img->width * 3; i++)
            row[2 * i] = row[2 * i + 1] = img->rgb[(size_t)y * img->width * 3 + i];
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(row);
    return fclose(f);
}

int main(void) {
    cs_test_oracle();
    if (!have_heif_enc()) {
        printf("SKIP: heif-enc not found (Debian package libheif-examples)\n");
        return 77;
    }
    const char *dir = cs_test_tmpdir();
    char src[4096];
    snprintf(src, sizeof src, "%s", cs_test_oracle_path("images/chelsea.png"));
    cs_image ref;
    cs_error err;
    CHECK_OK(cs_image_decode_file(src, NULL, &ref, &err), &err);
    if (!ref.rgb) return cs_test_done("image.heif");
    check_codec(dir, src, &ref, 0);
    check_codec(dir, src, &ref, 1);
    /* 10-bit HEVC (heif-enc makes 10 bit from 16-bit PNGs): libheif hands
     * us 8-bit RGB */
    char png16[512];
    snprintf(png16, sizeof png16, "%s/photo16.png", dir);
    CHECK(write_png16(png16, &ref) == 0);
    check_codec(dir, png16, &ref, 0);
    remove(png16);

    /* A JPEG with EXIF orientation 6 turned into HEIC: heif-enc copies the
     * EXIF block but writes no irot, so the HEIF shows the stored pixels;
     * the EXIF tag must not rotate it (libheif's transformations rule). */
    char jpg[512], heic[512], cmd[8192];
    snprintf(jpg, sizeof jpg, "%s/o6.jpg", dir);
    snprintf(heic, sizeof heic, "%s/o6.heic", dir);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"from PIL import Image; e = Image.Exif(); e[274] = 6; "
             "Image.open('%s').save('%s', quality=95, exif=e.tobytes())\" 2>/dev/null && "
             "heif-enc -q 90 -o '%s' '%s' >/dev/null 2>&1",
             src, jpg, heic, jpg);
    if (system(cmd) == 0) {
        cs_image img;
        CHECK_OK(cs_image_decode_file(heic, NULL, &img, &err), &err);
        CHECK_EQ_INT(img.width, ref.width);
        CHECK_EQ_INT(img.height, ref.height);
        cs_image_free(&img);
    } else
        printf("note: no python3-pil, EXIF-in-HEIF case not run\n");
    remove(jpg);
    remove(heic);
    rmdir(dir);
    cs_image_free(&ref);
    return cs_test_done("image.heif");
}
