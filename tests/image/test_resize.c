/* tests/image/test_resize.c - Pillow's BICUBIC on cases small enough to
 * check by hand, the resize/crop geometry of CLIPImageProcessor, and the
 * normalisation against values numpy computed the transformers way.
 *
 * Hand computation for 2 -> 4 pixels [0, 255] (scale 0.5, support 2): output
 * 1 has centre 0.75, taps at distances 0.25 and 0.75 with weights 0.8671875
 * and 0.2265625, normalised to 111/140 and 29/140; in 22-bit fixed point
 * 868820 for the second, so (2^21 + 255 * 868820) >> 22 = 53. Output 0 gets
 * a negative sum (clipped to 0) and output 3 one above 255 (clipped). */
#include "test.h"

#include "core/cpu.h"
#include "image/image_internal.h"

#include <stdlib.h>
#include <unistd.h>

static cs_image make(int w, int h, const uint8_t *grey) {
    cs_image img = {w, h, malloc((size_t)w * h * 3)};
    for (int i = 0; i < w * h; i++) memset(img.rgb + 3 * i, grey[i], 3);
    return img;
}

static void check_row(const char *what, int w, const uint8_t *in, int ow, const uint8_t *want) {
    cs_image img = make(w, 1, in), out;
    cs_error err;
    CHECK_OK(cs_resize_bicubic(&img, ow, 1, &out, &err), &err);
    for (int x = 0; x < ow; x++)
        for (int c = 0; c < 3; c++)
            CHECK_MSG(out.rgb[3 * x + c] == want[x], "%s: pixel %d is %d, want %d", what, x,
                      out.rgb[3 * x + c], want[x]);
    cs_image_free(&img);
    cs_image_free(&out);
}

static void check_hand_cases(void) {
    check_row("upscale 2->4", 2, (const uint8_t[]){0, 255}, 4, (const uint8_t[]){0, 53, 202, 255});
    /* 4 -> 2: scale 2 widens the support to 4; output 0 sees taps at
     * 0.25, 0.25, 0.75, 1.25 (scaled) -> 29/242 and -9/242 on the 255s:
     * (2^21 + 255 * (502624 - 155986)) >> 22 = 21. */
    check_row("downscale 4->2", 4, (const uint8_t[]){0, 0, 255, 255}, 2,
              (const uint8_t[]){21, 234});
    check_row("same size", 3, (const uint8_t[]){9, 200, 17}, 3, (const uint8_t[]){9, 200, 17});
    /* a constant stays constant whatever the scale */
    uint8_t flat[7] = {77, 77, 77, 77, 77, 77, 77}, want[5] = {77, 77, 77, 77, 77};
    check_row("constant 7->5", 7, flat, 5, want);
    /* vertical pass alone: the 2->4 case turned on its side */
    cs_image col = make(1, 2, (const uint8_t[]){0, 255}), out;
    cs_error err;
    CHECK_OK(cs_resize_bicubic(&col, 1, 4, &out, &err), &err);
    CHECK(out.rgb[3] == 53 && out.rgb[6] == 202 && out.rgb[0] == 0 && out.rgb[9] == 255);
    cs_image_free(&col);
    cs_image_free(&out);
}

static void check_geometry(void) {
    cs_preprocess pp = {.shortest_edge = 224,
                        .crop_width = 224,
                        .crop_height = 224,
                        .do_resize = 1,
                        .do_center_crop = 1};
    cs_error err;
    /* 50 x 1500: short side 50 -> 224, long int(224 * 1500 / 50) = 6720 */
    uint8_t *grey = calloc(50 * 1500, 1);
    for (int y = 0; y < 1500; y++) grey[y * 50] = (uint8_t)(y * 7);
    cs_image tall = make(50, 1500, grey), crop;
    CHECK_OK(cs_image_preprocess(&tall, &pp, &crop, &err), &err);
    CHECK_EQ_INT(crop.width, 224);
    CHECK_EQ_INT(crop.height, 224);
    cs_image_free(&crop);
    /* no crop: the resized image itself */
    pp.do_center_crop = 0;
    CHECK_OK(cs_image_preprocess(&tall, &pp, &crop, &err), &err);
    CHECK_EQ_INT(crop.width, 224);
    CHECK_EQ_INT(crop.height, 6720);
    cs_image_free(&crop);
    cs_image_free(&tall);
    free(grey);
    /* a crop larger than the image pads with zeros, the image centred with
     * transformers' offsets: 3x3 into 6x6 -> rows/cols 2..4 (the image padded
     * by ceil(3 / 2) = 2 in front, then cut at top = -3 // 2 + 2 = 0) */
    pp = (cs_preprocess){.crop_width = 6, .crop_height = 6, .do_center_crop = 1};
    cs_image small = make(3, 3, (const uint8_t[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK_OK(cs_image_preprocess(&small, &pp, &crop, &err), &err);
    CHECK_EQ_INT(crop.rgb[3 * (2 * 6 + 2)], 1);
    CHECK_EQ_INT(crop.rgb[3 * (2 * 6 + 4)], 3);
    CHECK_EQ_INT(crop.rgb[3 * (4 * 6 + 4)], 9);
    CHECK_EQ_INT(crop.rgb[3 * (1 * 6 + 1)], 0);
    CHECK_EQ_INT(crop.rgb[3 * (5 * 6 + 5)], 0);
    cs_image_free(&crop);
    cs_image_free(&small);
}

/* Values from numpy: (x.astype(float64) * 1/255).astype(float32), then
 * (x - mean) / std in float32 with CLIP's mean and std. */
static void check_normalize(void) {
    cs_preprocess pp = {.do_rescale = 1,
                        .do_normalize = 1,
                        .rescale_factor = (float)(1.0 / 255),
                        .mean = {0.48145466f, 0.4578275f, 0.40821073f},
                        .std = {0.26862954f, 0.26130258f, 0.27577711f}};
    uint8_t px[6] = {0, 128, 255, 37, 200, 1};
    cs_image img = {2, 1, px};
    float chw[6];
    cs_image_normalize(&img, &pp, chw);
    const float want[6] = {-0x1.cad1b8p+0f, -0x1.408afcp+0f, 0x1.59e6d6p-3f,
                           0x1.3fdc62p+0f,  0x1.12acc0p+1f,  -0x1.774bc2p+0f};
    for (int i = 0; i < 6; i++)
        CHECK_MSG(chw[i] == want[i], "chw[%d] = %a, want %a", i, chw[i], want[i]);
}

static void check_config(void) {
    const char *dir = cs_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"size\": 336, \"crop_size\": 320, \"do_normalize\": false}", f);
    fclose(f);
    cs_preprocess pp;
    cs_error err;
    CHECK_OK(cs_preprocess_load(dir, &pp, &err), &err);
    CHECK_EQ_INT(pp.shortest_edge, 336);
    CHECK_EQ_INT(pp.crop_width, 320);
    CHECK_EQ_INT(pp.do_normalize, 0);
    CHECK_EQ_INT(pp.do_resize, 1); /* transformers' default */
    CHECK(pp.mean[0] == 0.48145466f);
    f = fopen(path, "w");
    fputs("{\"size\": {\"height\": 224, \"width\": 224}}", f);
    fclose(f);
    CHECK_EQ_INT(cs_preprocess_load(dir, &pp, &err), CS_EUNSUPPORTED);
    f = fopen(path, "w");
    fputs("{\"size\": ", f);
    fclose(f);
    CHECK_EQ_INT(cs_preprocess_load(dir, &pp, &err), CS_EFORMAT);
    CHECK(strstr(err.message, "preprocessor_config.json") != NULL);
    remove(path);
    CHECK_EQ_INT(cs_preprocess_load(dir, &pp, &err), CS_ENOTFOUND);
    rmdir(dir);
}

/* The SIMD passes (AVX-512's horizontal one, AVX2's horizontal and
 * vertical ones, each used where the CPU has it) and the scalar ones give
 * the same bytes: random images, widths and scales, tap counts of every
 * remainder, rows ending at the very end of the buffer (ASan watches the
 * loads). CLIPSEARCH_CPU=avx2 and =generic force the lower levels; on a CPU
 * without AVX-512 the first two runs are the same pass. */
static void check_simd_matches_scalar(void) {
    unsigned seed = 12345;
    for (int round = 0; round < 60; round++) {
        seed = seed * 1103515245u + 12345u;
        int w = 1 + (int)(seed >> 8) % 97, h = 1 + (int)(seed >> 16) % 23;
        seed = seed * 1103515245u + 12345u;
        int ow = 1 + (int)(seed >> 8) % 131, oh = 1 + (int)(seed >> 20) % 17;
        cs_image img = {w, h, malloc((size_t)w * h * 3)}, a, b, top;
        for (int i = 0; i < w * h * 3; i++) {
            seed = seed * 1103515245u + 12345u;
            img.rgb[i] = (uint8_t)(seed >> 24);
        }
        cs_error err;
        unsetenv("CLIPSEARCH_CPU");
        cs_cpu_level_reload();
        CHECK_OK(cs_resize_bicubic(&img, ow, oh, &top, &err), &err);
        setenv("CLIPSEARCH_CPU", "avx2", 1);
        cs_cpu_level_reload();
        CHECK_OK(cs_resize_bicubic(&img, ow, oh, &a, &err), &err);
        setenv("CLIPSEARCH_CPU", "generic", 1);
        cs_cpu_level_reload();
        CHECK_OK(cs_resize_bicubic(&img, ow, oh, &b, &err), &err);
        unsetenv("CLIPSEARCH_CPU");
        cs_cpu_level_reload();
        CHECK_MSG(a.rgb && b.rgb && !memcmp(a.rgb, b.rgb, (size_t)ow * oh * 3),
                  "%dx%d -> %dx%d: AVX2 and scalar passes differ", w, h, ow, oh);
        CHECK_MSG(top.rgb && b.rgb && !memcmp(top.rgb, b.rgb, (size_t)ow * oh * 3),
                  "%dx%d -> %dx%d: the CPU's best and the scalar passes differ", w, h, ow, oh);
        cs_image_free(&top);
        cs_image_free(&a);
        cs_image_free(&b);
        cs_image_free(&img);
    }
}

/* A box of a resize is exactly that part of the full resize. */
static void check_box_matches_full(void) {
    unsigned seed = 777;
    for (int round = 0; round < 40; round++) {
        seed = seed * 1103515245u + 12345u;
        int w = 1 + (int)(seed >> 8) % 61, h = 1 + (int)(seed >> 16) % 47;
        seed = seed * 1103515245u + 12345u;
        int ow = 1 + (int)(seed >> 8) % 90, oh = 1 + (int)(seed >> 20) % 70;
        seed = seed * 1103515245u + 12345u;
        int bx = (int)(seed >> 8) % ow, by = (int)(seed >> 20) % oh;
        int bw = 1 + (int)(seed >> 4) % (ow - bx), bh = 1 + (int)(seed >> 12) % (oh - by);
        cs_image img = {w, h, malloc((size_t)w * h * 3)}, full, box;
        for (int i = 0; i < w * h * 3; i++) img.rgb[i] = (uint8_t)(i * 37 + (i >> 3));
        cs_error err;
        CHECK_OK(cs_resize_bicubic(&img, ow, oh, &full, &err), &err);
        CHECK_OK(cs_resize_bicubic_box(&img, ow, oh, bx, by, bw, bh, &box, &err), &err);
        int same = full.rgb && box.rgb && box.width == bw && box.height == bh;
        for (int y = 0; same && y < bh; y++)
            same = !memcmp(box.rgb + (size_t)y * bw * 3,
                           full.rgb + ((size_t)(by + y) * ow + bx) * 3, (size_t)bw * 3);
        CHECK_MSG(same, "%dx%d -> %dx%d, box %d,%d %dx%d differs from the full resize", w, h, ow,
                  oh, bx, by, bw, bh);
        cs_image_free(&full);
        cs_image_free(&box);
        cs_image_free(&img);
    }
    cs_image img = {2, 2, (uint8_t[12]){0}}, out;
    cs_error err;
    CHECK_EQ_INT(cs_resize_bicubic_box(&img, 4, 4, 3, 0, 2, 1, &out, &err), CS_EINVAL);
}

int main(void) {
    check_hand_cases();
    check_box_matches_full();
    check_simd_matches_scalar();
    check_geometry();
    check_normalize();
    check_config();
    return cs_test_done("image.resize");
}
