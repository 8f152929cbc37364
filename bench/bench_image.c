/* bench/bench_image.c - decode + preprocess time for one image, exact and
 * with the DCT-scaled JPEG decode (jpeg_min_side = the model's shortest
 * edge), and how far the scaled crop lands from the exact one.
 *
 *   /usr/bin/python3 -c "from PIL import Image; Image.open('../shared/oracle/images/china.jpg')\
 *       .resize((4240, 2832), Image.BICUBIC).save('/tmp/big.jpg', quality=92)"
 *   build-rel/bench/bench_image /tmp/big.jpg ../shared/oracle/models/tiny [runs]
 *
 * Prints one JSON object: milliseconds per image (best and median of runs),
 * split into decode and preprocess. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clipsearch.h"

#include "bench_util.h"

typedef struct timing {
    double decode_best, decode_median, pre_best, pre_median, total_median;
} timing;

static int run(const char *path, const cs_preprocess *pp, int min_side, int runs, timing *t,
               cs_image *last_crop) {
    double *dec = calloc((size_t)runs, sizeof *dec), *pre = calloc((size_t)runs, sizeof *pre);
    double *tot = calloc((size_t)runs, sizeof *tot);
    cs_decode_opts opts = {.jpeg_min_side = min_side};
    cs_error err;
    for (int r = 0; r < runs; r++) {
        cs_image img, crop;
        double t0 = now_ms();
        if (cs_image_decode_file(path, &opts, &img, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        double t1 = now_ms();
        if (cs_image_preprocess(&img, pp, &crop, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        double t2 = now_ms();
        dec[r] = t1 - t0, pre[r] = t2 - t1, tot[r] = t2 - t0;
        cs_image_free(&img);
        if (r == runs - 1)
            *last_crop = crop;
        else
            cs_image_free(&crop);
    }
    qsort(dec, (size_t)runs, sizeof *dec, cmp_double);
    qsort(pre, (size_t)runs, sizeof *pre, cmp_double);
    qsort(tot, (size_t)runs, sizeof *tot, cmp_double);
    *t = (timing){dec[0], dec[runs / 2], pre[0], pre[runs / 2], tot[runs / 2]};
    free(dec), free(pre), free(tot);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_image IMAGE MODEL_DIR [runs]\n");
        return 2;
    }
    int runs = argc > 3 ? atoi(argv[3]) : 10;
    if (runs < 1) runs = 1;
    cs_preprocess pp;
    cs_error err;
    if (cs_preprocess_load(argv[2], &pp, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    cs_image probe;
    if (cs_image_decode_file(argv[1], NULL, &probe, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("{\"image\": \"%s\", \"width\": %d, \"height\": %d, \"runs\": %d", argv[1], probe.width,
           probe.height, runs);
    cs_image_free(&probe);
    cs_image exact_crop, fast_crop;
    timing exact, fast;
    if (run(argv[1], &pp, 0, runs, &exact, &exact_crop) ||
        run(argv[1], &pp, pp.shortest_edge, runs, &fast, &fast_crop))
        return 1;
    const timing *ts[2] = {&exact, &fast};
    const char *names[2] = {"exact", "jpeg_min_side"};
    for (int i = 0; i < 2; i++)
        printf(", \"%s\": {\"decode_ms_best\": %.2f, \"decode_ms_median\": %.2f, "
               "\"preprocess_ms_best\": %.2f, \"preprocess_ms_median\": %.2f, "
               "\"total_ms_median\": %.2f}",
               names[i], ts[i]->decode_best, ts[i]->decode_median, ts[i]->pre_best,
               ts[i]->pre_median, ts[i]->total_median);
    size_t n = (size_t)exact_crop.width * exact_crop.height * 3, same = 0;
    double mad = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs(exact_crop.rgb[i] - fast_crop.rgb[i]);
        same += d == 0;
        mad += d;
    }
    printf(", \"scaled_vs_exact\": {\"identical_values\": %.4f, \"mean_abs_diff\": %.3f}}\n",
           (double)same / (double)n, mad / (double)n);
    cs_image_free(&exact_crop);
    cs_image_free(&fast_crop);
    return 0;
}
