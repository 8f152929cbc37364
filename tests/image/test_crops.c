/* tests/image/test_crops.c - every image of ../shared/oracle/images gives,
 * pixel for pixel, the crop Pillow + CLIPImageProcessor gave (crops-224 with
 * the tiny model's preprocessor_config.json, crops-64 with tiny-p16's); every
 * file of bad/ is refused with a message naming the file and the reason. The
 * reference crops are read with our own PNG decoder. */
#include <dirent.h>

#include "test.h"

static int compare_crop(const char *image, const cs_image *crop, const char *ref_dir) {
    char ref_path[9000];
    const char *base = strrchr(image, '/') ? strrchr(image, '/') + 1 : image;
    snprintf(ref_path, sizeof ref_path, "%s/%s/%s.png", cs_test_oracle(), ref_dir, base);
    cs_image ref;
    cs_error err;
    if (cs_image_decode_file(ref_path, NULL, &ref, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 0;
    }
    int same = ref.width == crop->width && ref.height == crop->height &&
               !memcmp(ref.rgb, crop->rgb, (size_t)ref.width * ref.height * 3);
    if (!same) {
        long diff = 0;
        int maxd = 0;
        if (ref.width == crop->width && ref.height == crop->height)
            for (size_t i = 0; i < (size_t)ref.width * ref.height * 3; i++) {
                int d = abs(ref.rgb[i] - crop->rgb[i]);
                diff += d != 0;
                maxd = d > maxd ? d : maxd;
            }
        fprintf(stderr, "%s vs %s: %dx%d vs %dx%d, %ld values differ (max %d)\n", image, ref_path,
                crop->width, crop->height, ref.width, ref.height, diff, maxd);
    }
    cs_image_free(&ref);
    return same;
}

static void check_images(void) {
    const char *dir = cs_test_oracle_path("images");
    char images[4096];
    snprintf(images, sizeof images, "%s", dir);
    static const char *const models[2] = {"models/tiny", "models/tiny-p16"};
    static const char *const crops[2] = {"crops-224", "crops-64"};
    cs_preprocess pp[2];
    cs_error err;
    for (int m = 0; m < 2; m++) {
        char model[4096];
        snprintf(model, sizeof model, "%s", cs_test_oracle_path(models[m]));
        CHECK_OK(cs_preprocess_load(model, &pp[m], &err), &err);
    }
    CHECK_EQ_INT(pp[0].shortest_edge, 224);
    CHECK_EQ_INT(pp[1].crop_width, 64);
    DIR *d = opendir(images);
    CHECK(d != NULL);
    if (!d) return;
    int files = 0, passed[2] = {0, 0};
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", images, e->d_name);
        files++;
        cs_image img;
        cs_status st = cs_image_decode_file(path, NULL, &img, &err);
        CHECK_MSG(st == CS_OK, "%s", err.message);
        if (st) continue;
        for (int m = 0; m < 2; m++) {
            cs_image crop;
            st = cs_image_preprocess(&img, &pp[m], &crop, &err);
            CHECK_MSG(st == CS_OK, "%s", err.message);
            if (st) continue;
            int ok = compare_crop(path, &crop, crops[m]);
            CHECK_MSG(ok, "%s: crop differs from %s", path, crops[m]);
            passed[m] += ok;
            cs_image_free(&crop);
        }
        cs_image_free(&img);
    }
    closedir(d);
    printf("oracle images: %d files, %d/%d match crops-224, %d/%d match crops-64\n", files,
           passed[0], files, passed[1], files);
    CHECK(files >= 25);
}

/* Each bad file: refused, no image, message names the file and a reason. */
static void check_bad(void) {
    static const struct {
        const char *name, *reason;
        cs_status status;
    } bad[] = {
        {"corrupt.jpg", "bad JPEG", CS_EFORMAT},
        {"empty.png", "empty file", CS_EFORMAT},
        {"garbage.webp", "not an image", CS_EFORMAT},
        {"huge_dims.jpg", "60000x60000 pixels, above the limit", CS_ELIMIT},
        {"text_named.jpg", "not an image", CS_EFORMAT},
        {"truncated.png", "truncated", CS_EFORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s", cs_test_oracle_path("bad"));
        strncat(path, "/", sizeof path - strlen(path) - 1);
        strncat(path, bad[i].name, sizeof path - strlen(path) - 1);
        cs_image img = {1, 1, (uint8_t *)"x"};
        cs_error err = {0};
        cs_status st = cs_image_decode_file(path, NULL, &img, &err);
        CHECK_MSG(st == bad[i].status, "%s: status %d (%s)", path, (int)st, err.message);
        CHECK(img.rgb == NULL);
        CHECK_MSG(strstr(err.message, path) != NULL, "message does not name the file: %s",
                  err.message);
        CHECK_MSG(strstr(err.message, bad[i].reason) != NULL, "message lacks '%s': %s",
                  bad[i].reason, err.message);
    }
}

/* The pixel limit is configurable, and checked before decoding. */
static void check_limit_and_scaling(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s", cs_test_oracle_path("images/retina.jpg"));
    cs_image img;
    cs_error err;
    cs_decode_opts opts = {0};
    opts.max_pixels = 1411ull * 1411 - 1;
    CHECK_EQ_INT(cs_image_decode_file(path, &opts, &img, &err), CS_ELIMIT);
    CHECK(strstr(err.message, "1411x1411") != NULL);
    opts.max_pixels = 1411ull * 1411;
    CHECK_OK(cs_image_decode_file(path, &opts, &img, &err), &err);
    CHECK_EQ_INT(img.width, 1411);
    cs_image_free(&img);
    /* DCT scaling only where libjpeg scales exactly: 1411 * n / 8 never
     * is a whole number, so this one is decoded at full size ... */
    opts.jpeg_min_side = 224;
    CHECK_OK(cs_image_decode_file(path, &opts, &img, &err), &err);
    CHECK_EQ_INT(img.width, 1411);
    CHECK_EQ_INT(img.height, 1411);
    cs_image_free(&img);
    /* ... and 1000x872 is: the smallest n/8 with the short side >= 224 is
     * 3/8 (872 * 3 / 8 = 327) */
    snprintf(path, sizeof path, "%s", cs_test_oracle_path("images/hubble_deep_field.jpg"));
    CHECK_OK(cs_image_decode_file(path, &opts, &img, &err), &err);
    CHECK_EQ_INT(img.width, 375);
    CHECK_EQ_INT(img.height, 327);
    cs_image_free(&img);
}

/* A strip whose resized long side passes INT_MAX (1 x 10^7: 224 x 2.24e9,
 * from a 40 KB PNG) is refused, not computed with overflowing offsets. A
 * strip that still fits is cropped as usual. */
static void check_extreme_aspect(void) {
    cs_preprocess pp = {224, 224, 224, 1, 1, 1, 1, 1.0f / 255, {0}, {1, 1, 1}};
    cs_image strip = {1, 10000000, calloc(10000000, 3)}, crop = {0};
    cs_error err = {0};
    CHECK(strip.rgb != NULL);
    CHECK_EQ_INT(cs_image_preprocess(&strip, &pp, &crop, &err), CS_ELIMIT);
    CHECK_MSG(strstr(err.message, "1 x 10000000") != NULL, "%s", err.message);
    CHECK(crop.rgb == NULL);
    strip.height = 100000; /* 224 x 22.4e6 */
    CHECK_OK(cs_image_preprocess(&strip, &pp, &crop, &err), &err);
    CHECK(crop.width == 224 && crop.height == 224);
    cs_image_free(&crop);
    free(strip.rgb);
}

int main(void) {
    cs_test_oracle();
    check_extreme_aspect();
    check_images();
    check_bad();
    check_limit_and_scaling();
    return cs_test_done("image.crops");
}
