/* tests/image/test_sniff.c - formats are known by their bytes, not names. */
#include "test.h"

#define SNIFF(lit) cs_image_sniff(lit, sizeof(lit) - 1)

int main(void) {
    CHECK_EQ_INT(SNIFF("\xFF\xD8\xFF\xE0\0\x10JFIF"), CS_FMT_JPEG);
    CHECK_EQ_INT(SNIFF("\xFF\xD8\xFF\xDB"), CS_FMT_JPEG);
    CHECK_EQ_INT(SNIFF("\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), CS_FMT_PNG);
    CHECK_EQ_INT(SNIFF("\x89PNG\r\n\x1a"), CS_FMT_UNKNOWN); /* one byte short */
    CHECK_EQ_INT(SNIFF("GIF87a\x01\0"), CS_FMT_GIF);
    CHECK_EQ_INT(SNIFF("GIF89a\x01\0"), CS_FMT_GIF);
    CHECK_EQ_INT(SNIFF("GIF88a\x01\0"), CS_FMT_UNKNOWN);
    CHECK_EQ_INT(SNIFF("RIFF\x10\0\0\0WEBPVP8 "), CS_FMT_WEBP);
    CHECK_EQ_INT(SNIFF("RIFF\x10\0\0\0WAVEfmt "), CS_FMT_UNKNOWN);
    CHECK_EQ_INT(SNIFF("BM\x36\0\0\0\0\0\0\0\x36\0\0\0"), CS_FMT_BMP);
    CHECK_EQ_INT(SNIFF("II*\0\x08\0\0\0"), CS_FMT_TIFF);
    CHECK_EQ_INT(SNIFF("MM\0*\0\0\0\x08"), CS_FMT_TIFF);
    CHECK_EQ_INT(SNIFF("II+\0\x08\0\0\0"), CS_FMT_TIFF); /* BigTIFF */
    CHECK_EQ_INT(SNIFF("\0\0\0\x18"
                       "ftypheic\0\0\0\0mif1heic"),
                 CS_FMT_HEIF);
    CHECK_EQ_INT(SNIFF("\0\0\0\x18"
                       "ftypmif1\0\0\0\0mif1heic"),
                 CS_FMT_HEIF);
    CHECK_EQ_INT(SNIFF("\0\0\0\x1c"
                       "ftypavif\0\0\0\0avifmif1miaf"),
                 CS_FMT_AVIF);
    CHECK_EQ_INT(SNIFF("\0\0\0\x18"
                       "ftypmif1\0\0\0\0mif1avif"),
                 CS_FMT_AVIF);
    CHECK_EQ_INT(SNIFF("\0\0\0\x18"
                       "ftypisom\0\0\0\0isommp41"),
                 CS_FMT_UNKNOWN); /* MP4 */
    CHECK_EQ_INT(SNIFF("not an image at all"), CS_FMT_UNKNOWN);
    CHECK_EQ_INT(cs_image_sniff("", 0), CS_FMT_UNKNOWN);
    CHECK_EQ_INT(cs_image_sniff(NULL, 0), CS_FMT_UNKNOWN);
    CHECK(!strcmp(cs_image_format_name(CS_FMT_AVIF), "AVIF"));
    CHECK(!strcmp(cs_image_format_name(CS_FMT_UNKNOWN), "unknown"));

    /* the name never matters: PNG bytes named .jpg decode as PNG */
    const char *dir = cs_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/really_a_png.jpg", dir);
    cs_image img = {2, 1, (uint8_t[]){1, 2, 3, 4, 5, 6}}, back;
    cs_error err;
    CHECK_OK(cs_image_write_png(&img, path, &err), &err);
    CHECK_OK(cs_image_decode_file(path, NULL, &back, &err), &err);
    CHECK(back.rgb && back.width == 2 && !memcmp(back.rgb, img.rgb, 6));
    cs_image_free(&back);
    remove(path);
    remove(dir);
    return cs_test_done("image.sniff");
}
