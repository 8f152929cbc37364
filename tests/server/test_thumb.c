/* tests/server/test_thumb.c - thumbnails: sizes, anti-aliasing, the JPEG
 * encoder, and the cache's byte budget and eviction order. */
#include <stdio.h>
#include <stdlib.h>

#include "server/cache.h"
#include "server/thumb.h"
#include "test.h"

#include <jpeglib.h> /* after stdio.h */

static cs_image make(int w, int h, uint8_t (*px)(int x, int y, int c)) {
    cs_image img = {w, h, malloc((size_t)w * h * 3)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) img.rgb[((size_t)y * w + x) * 3 + c] = px(x, y, c);
    return img;
}

static uint8_t stripes(int x, int y, int c) {
    (void)y, (void)c;
    return x % 2 ? 255 : 0;
}
static uint8_t flat(int x, int y, int c) {
    (void)x, (void)y;
    return (uint8_t)(60 + 50 * c);
}

static void expect_size(int w, int h, int box, int ow, int oh) {
    cs_image in = make(w, h, flat), out;
    cs_error err = {0};
    CHECK_OK(cs_srv_image_fit(&in, box, &out, &err), &err);
    CHECK_MSG(out.width == ow && out.height == oh, "%dx%d in %d: got %dx%d, want %dx%d", w, h, box,
              out.width, out.height, ow, oh);
    /* a flat colour stays exactly that colour */
    int exact = 1;
    for (size_t i = 0; i < (size_t)out.width * out.height * 3; i++)
        exact &= out.rgb[i] == flat(0, 0, (int)(i % 3));
    CHECK_MSG(exact, "%dx%d: a flat image changed colour", w, h);
    free(in.rgb);
    free(out.rgb);
}

static void test_sizes(void) {
    expect_size(1000, 500, 320, 320, 160);
    expect_size(500, 1000, 320, 160, 320);
    expect_size(2500, 60, 320, 320, 8);  /* 7.68 rounds to 8 */
    expect_size(50, 1500, 320, 11, 320); /* 10.67 rounds to 11 */
    expect_size(100, 80, 320, 100, 80);  /* never enlarged */
    expect_size(1, 1, 320, 1, 1);
    expect_size(5000, 1, 320, 320, 1); /* never below one pixel */
}

/* One-pixel stripes shrunk 10x average to grey: a filter that only picked
 * samples would keep black and white columns (aliasing). */
static void test_antialias(void) {
    cs_image in = make(1000, 20, stripes), out;
    cs_error err = {0};
    CHECK_OK(cs_srv_image_fit(&in, 100, &out, &err), &err);
    CHECK_EQ_INT(out.width, 100);
    int worst = 0;
    for (size_t i = 0; i < (size_t)out.width * out.height * 3; i++) {
        int d = abs((int)out.rgb[i] - 128);
        if (d > worst) worst = d;
    }
    CHECK_MSG(worst <= 8, "stripes shrunk: a pixel is %d away from grey", worst);
    free(in.rgb);
    free(out.rgb);
}

static void test_jpeg(void) {
    cs_image in = make(64, 48, flat);
    unsigned char *jpg;
    size_t n;
    cs_error err = {0};
    CHECK_OK(cs_image_encode_jpeg(&in, 85, &jpg, &n, &err), &err);
    CHECK(n > 100 && jpg[0] == 0xFF && jpg[1] == 0xD8);
    struct jpeg_decompress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, jpg, n);
    jpeg_read_header(&c, TRUE);
    jpeg_start_decompress(&c);
    CHECK_EQ_INT(c.output_width, 64);
    CHECK_EQ_INT(c.output_height, 48);
    CHECK_EQ_INT(c.output_components, 3);
    uint8_t row[64 * 3];
    JSAMPROW rp = row;
    jpeg_read_scanlines(&c, &rp, 1);
    for (int ch = 0; ch < 3; ch++)
        CHECK_MSG(abs(row[3 * 10 + ch] - flat(0, 0, ch)) <= 2, "channel %d: %d", ch, row[30 + ch]);
    jpeg_abort_decompress(&c);
    jpeg_destroy_decompress(&c);
    free(jpg);
    free(in.rgb);
}

/* grey (the same in every channel: chroma subsampling does not blur it) */
static uint8_t noise(int x, int y, int c) {
    (void)c;
    return (uint8_t)((x * 7919u + y * 104729u) * 2654435761u >> 24);
}

/* Output past the first buffer (grey noise at quality 100 is ~100 KB): it grows,
 * and the bytes decode back to the same picture. */
static void test_jpeg_large(void) {
    cs_image in = make(400, 300, noise), back = {0};
    unsigned char *jpg = NULL;
    size_t n = 0;
    cs_error err = {0};
    CHECK_OK(cs_image_encode_jpeg(&in, 100, &jpg, &n, &err), &err);
    CHECK_MSG(n > 4 * 16384, "%zu bytes", n);
    CHECK_OK(cs_image_decode_mem(jpg, n, "thumb", NULL, &back, &err), &err);
    CHECK(back.width == 400 && back.height == 300);
    long total = 0;
    for (size_t i = 0; back.rgb && i < (size_t)400 * 300 * 3; i++)
        total += abs((int)back.rgb[i] - in.rgb[i]);
    CHECK_MSG(total / (400 * 300 * 3) <= 4, "mean error %ld", total / (400 * 300 * 3));
    cs_image_free(&back);
    free(jpg);
    free(in.rgb);
}

/* An image libjpeg refuses (wider than 65500) fails cleanly: an error that
 * says why, and nothing leaked (the sanitizer build checks) or printed. */
static void test_jpeg_refused(void) {
    cs_image in = make(70000, 1, flat);
    unsigned char *jpg = (unsigned char *)"not touched";
    size_t n = 1;
    cs_error err = {0};
    CHECK(cs_image_encode_jpeg(&in, 85, &jpg, &n, &err) != CS_OK);
    CHECK(jpg == NULL && n == 0);
    CHECK_MSG(strstr(err.message, "JPEG") != NULL, "%s", err.message);
    free(in.rgb);
}

static void test_cache(void) {
    cs_srv_cache *c = cs_srv_cache_new(100);
    unsigned char data[60] = {1, 2, 3}, *got;
    size_t n;
    cs_srv_cache_put(c, 1, data, 40);
    cs_srv_cache_put(c, 2, data, 40);
    CHECK(cs_srv_cache_get(c, 1, &got, &n) && n == 40 && got[2] == 3); /* 1 is now the newest */
    free(got);
    cs_srv_cache_put(c, 3, data, 40); /* over budget: 2, the least recently used, goes */
    CHECK(!cs_srv_cache_get(c, 2, &got, &n));
    CHECK(cs_srv_cache_get(c, 1, &got, &n));
    free(got);
    CHECK(cs_srv_cache_get(c, 3, &got, &n));
    free(got);
    cs_srv_cache_put(c, 3, data, 60);  /* replacing keeps one entry per id */
    cs_srv_cache_put(c, 4, data, 200); /* larger than the whole budget: not kept */
    CHECK(!cs_srv_cache_get(c, 4, &got, &n));
    size_t entries, bytes;
    uint64_t hits, misses;
    cs_srv_cache_stats(c, &entries, &bytes, &hits, &misses);
    CHECK_EQ_INT(entries, 2);
    CHECK_EQ_INT(bytes, 100);
    CHECK_EQ_INT(hits, 3);
    CHECK_EQ_INT(misses, 2);
    for (int64_t id = 10; id < 5000; id++) cs_srv_cache_put(c, id, data, 10); /* churn */
    cs_srv_cache_stats(c, &entries, &bytes, &hits, &misses);
    CHECK(bytes <= 100 && entries == 10);
    cs_srv_cache_free(c);
}

int main(void) {
    test_sizes();
    test_antialias();
    test_jpeg();
    test_jpeg_large();
    test_jpeg_refused();
    test_cache();
    return cs_test_done("server.thumb");
}
