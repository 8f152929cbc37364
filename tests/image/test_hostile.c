/* tests/image/test_hostile.c - hostile and broken input is refused cleanly:
 * headers claiming huge sizes (refused before allocating, with the limit in
 * the message), files cut short at many points (never a partial image), and
 * a progressive JPEG with endless scans (refused, not decoded for minutes),
 * a chunk claiming more bytes than the file holds (refused before anything
 * that size is allocated). Runs under ASan in the default test build. */
#include <stdio.h>

#include <jpeglib.h>

#include "test.h"

static void refuse(const void *data, size_t size, const char *name, cs_status want,
                   const char *reason) {
    cs_image img = {7, 7, (uint8_t *)"junk"};
    cs_error err = {0};
    cs_status st = cs_image_decode_mem(data, size, name, NULL, &img, &err);
    CHECK_MSG(st == want, "%s: status %d, want %d (%s)", name, (int)st, (int)want, err.message);
    CHECK(img.rgb == NULL);
    CHECK_MSG(strstr(err.message, name) && strstr(err.message, reason), "%s: message '%s'", name,
              err.message);
}

static void check_huge_headers(void) {
    /* PNG IHDR 100000 x 100000 (valid CRC), then an empty IDAT's header */
    uint8_t png[41] = {0x89, 'P',  'N', 'G', '\r', '\n', 0x1a, '\n', 0,    0,    0,
                       13,   'I',  'H', 'D', 'R',  0,    1,    0x86, 0xA0, 0,    1,
                       0x86, 0xA0, 8,   2,   0,    0,    0,    0x27, 0x30, 0x9C, 0x9F,
                       0,    0,    0,   0,   'I',  'D',  'A',  'T'};
    refuse(png, sizeof png, "huge.png", CS_ELIMIT, "100000x100000 pixels, above the limit");
    png[29] ^= 1; /* a broken CRC is libpng's to report */
    refuse(png, sizeof png, "crc.png", CS_EFORMAT, "bad PNG");
    /* BMP 40-byte header, 60000 x 60000, 24 bit */
    uint8_t bmp[54] = {'B', 'M', 0, 0,    0,    0, 0, 0,    0,    0, 54, 0, 0, 0,  40,
                       0,   0,   0, 0x60, 0xEA, 0, 0, 0x60, 0xEA, 0, 0,  1, 0, 24, 0};
    refuse(bmp, sizeof bmp, "huge.bmp", CS_ELIMIT, "60000x60000 pixels, above the limit");
    /* GIF logical screen 65535 x 65535, then one frame of the same size */
    uint8_t gif[32] = {'G', 'I', 'F', '8', '9', 'a',  0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0,
                       ',', 0,   0,   0,   0,   0xFF, 0xFF, 0xFF, 0xFF, 0,    8, 0};
    refuse(gif, 26, "huge.gif", CS_ELIMIT, "above the limit");
    /* a BMP whose pixel data would lie far outside the file */
    uint8_t bmp2[54];
    memcpy(bmp2, bmp, sizeof bmp2);
    bmp2[18] = bmp2[22] = 16, bmp2[19] = bmp2[20] = bmp2[23] = bmp2[24] = 0;
    refuse(bmp2, sizeof bmp2, "short.bmp", CS_EFORMAT, "truncated BMP");
}

/* Every cut between 5% and 95% of a real file is refused. */
static void check_truncations(void) {
    static const char *const files[] = {"china.jpg",     "astronaut_progressive.jpg",
                                        "coffee.png",    "chelsea.webp",
                                        "astronaut.gif", "coins.bmp",
                                        "hubble.tif",    "china_palette.png"};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char rel[256];
        snprintf(rel, sizeof rel, "images/%s", files[f]);
        size_t size;
        char *data = cs_test_read(cs_test_oracle_path(rel), &size);
        for (int pct = 5; pct <= 95; pct += 6) {
            size_t cut = size * (size_t)pct / 100;
            char *copy = malloc(cut); /* exact size, so ASan sees any overread */
            memcpy(copy, data, cut);
            cs_image img = {0};
            cs_error err = {0};
            cs_status st = cs_image_decode_mem(copy, cut, files[f], NULL, &img, &err);
            CHECK_MSG(st != CS_OK && img.rgb == NULL, "%s cut at %d%% was accepted", files[f], pct);
            CHECK_MSG(strstr(err.message, files[f]) != NULL, "%s: message '%s'", files[f],
                      err.message);
            cs_image_free(&img);
            free(copy);
        }
        free(data);
    }
}

/* A small progressive JPEG whose last scan is repeated 600 times. That scan
 * codes a whole band (not a refinement, which, repeated, would be refused
 * sooner as corrupt data), so every copy decodes cleanly and only the scan
 * limit stops it. */
static void check_endless_scans(void) {
    static const jpeg_scan_info script[] = {
        {3, {0, 1, 2}, 0, 0, 0, 0}, /* DC of every component */
        {1, {0}, 1, 63, 0, 0},      /* then all the AC of each */
        {1, {1}, 1, 63, 0, 0},
        {1, {2}, 1, 63, 0, 0},
    };
    unsigned char *buf = NULL;
    unsigned long len = 0;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = c.image_height = 64, c.input_components = 3, c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    c.scan_info = script;
    c.num_scans = 4;
    jpeg_start_compress(&c, TRUE);
    uint8_t row[64 * 3];
    for (int i = 0; i < 64 * 3; i++) row[i] = (uint8_t)(i * 5);
    while (c.next_scanline < 64) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    size_t last = 0; /* the last SOS marker */
    for (size_t i = 0; i + 1 < len; i++)
        if (buf[i] == 0xFF && buf[i + 1] == 0xDA) last = i;
    size_t scan = len - 2 - last, n = 600;
    uint8_t *big = malloc(len - 2 + scan * n + 2), *p = big;
    memcpy(p, buf, len - 2), p += len - 2;
    for (size_t i = 0; i < n; i++) memcpy(p, buf + last, scan), p += scan;
    p[0] = 0xFF, p[1] = 0xD9, p += 2;
    refuse(big, (size_t)(p - big), "scans.jpg", CS_EFORMAT, "progressive scans");
    /* the original decodes */
    cs_image img;
    cs_error err;
    CHECK_OK(cs_image_decode_mem(buf, len, "ok.jpg", NULL, &img, &err), &err);
    cs_image_free(&img);
    free(big);
    free(buf);
}

/* The sanitizers' allocation hook, where the test build has one: the
 * largest single allocation while armed. */
int __sanitizer_install_malloc_and_free_hooks(void (*m)(const volatile void *, size_t),
                                              void (*f)(const volatile void *))
    __attribute__((weak));
static volatile int alloc_armed;
static volatile size_t alloc_largest;
static void on_malloc(const volatile void *p, size_t size) {
    (void)p;
    if (alloc_armed && size > alloc_largest) alloc_largest = size;
}
/* the hooks come in pairs */
static void on_free(const volatile void *p) {
    (void)p;
}

/* A PNG whose eXIf, before the image data, claims 117,964,826 bytes in a
 * 207-byte file: libpng allocates what a chunk claims before reading it, so
 * such a chunk must be refused before libpng sees it. */
static void check_cut_chunk_claim(void) {
    uint8_t png[207] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0,    0,    0,    13,
                        'I',  'H', 'D', 'R', 0,    0,    0,    24,   0,    0,    0,    16,
                        8,    2,   0,   0,   0,    0x83, 0x46, 0x28, 0xc2, 0x07, 0x08, 0x00,
                        0x1a, 'e', 'X', 'I', 'f',  'M',  'M',  0,    '*'};
    for (size_t i = 45; i < sizeof png; i++) png[i] = 0xa8;
    int hooked = __sanitizer_install_malloc_and_free_hooks &&
                 __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    alloc_largest = 0;
    alloc_armed = 1;
    refuse(png, sizeof png, "exif-claim.png", CS_EFORMAT, "truncated chunk");
    alloc_armed = 0;
    if (hooked)
        CHECK_MSG(alloc_largest < (1u << 20), "a %zu-byte allocation for a 207-byte file",
                  (size_t)alloc_largest);
    else
        printf("no allocation hook in this build: the allocation size is not checked\n");
}

int main(void) {
    check_huge_headers();
    check_endless_scans();
    check_cut_chunk_claim();
    cs_test_oracle();
    check_truncations();
    return cs_test_done("image.hostile");
}
