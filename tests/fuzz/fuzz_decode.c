/* tests/fuzz/fuzz_decode.c - libFuzzer harness for every image decoder and
 * the preprocessing after it. Any crash, leak, sanitizer report or hang is a
 * bug: the decoders must refuse bad input cleanly.
 *
 *   tests/fuzz/build_fuzz_decode.sh build-fuzz/fuzz_decode  # clang, image + core only
 *   (or: CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCS_FUZZ=ON -DCS_SANITIZE=ON
 *        && cmake --build build-fuzz -j2 --target fuzz_decode, the whole library)
 *   tests/fuzz/make_seeds.sh /tmp/fuzz-seeds       # small files of every format
 *   mkdir -p /tmp/fuzz-corpus
 *   LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp \
 *   build-fuzz/fuzz_decode -runs=1000000 -timeout=10 -rss_limit_mb=2048 \
 *       /tmp/fuzz-corpus /tmp/fuzz-seeds
 *
 * The pixel limit is lowered to 2^16 (256x256) so each input stays cheap; the limit
 * check itself is what refuses bigger claims. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "clipsearch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cs_decode_opts opts = {0};
    opts.max_pixels = 1u << 16;
    /* the last byte picks the exact or the DCT-scaled JPEG path; the size,
     * the smallest side asked for, so that every scale n/8 can be reached
     * (5/8 only with 20, 32-pixel sides) */
    if (size > 0 && (data[size - 1] & 1)) opts.jpeg_min_side = size & 2 ? 20 : 16;
    cs_image img;
    cs_error err;
    if (cs_image_decode_mem(data, size, "fuzz", &opts, &img, &err) != CS_OK) return 0;
    cs_preprocess pp = {.shortest_edge = 24,
                        .crop_width = 16,
                        .crop_height = 16,
                        .do_resize = 1,
                        .do_center_crop = 1,
                        .do_normalize = 1,
                        .do_rescale = 1,
                        .rescale_factor = 1.0f / 255.0f,
                        .mean = {0.5f, 0.5f, 0.5f},
                        .std = {0.25f, 0.25f, 0.25f}};
    cs_image crop;
    if (cs_image_preprocess(&img, &pp, &crop, &err) == CS_OK) {
        float chw[3 * 16 * 16];
        cs_image_normalize(&crop, &pp, chw);
        cs_image_free(&crop);
    }
    cs_image_free(&img);
    return 0;
}
