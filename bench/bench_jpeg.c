/* bench/bench_jpeg.c - the scaled JPEG decode that indexing uses, with the
 * fast decoder (src/image/jpeg_fast.c) and with libjpeg-turbo alone
 * (CLIPSEARCH_FAST_JPEG=0), alternating in one process: CPU ms per image.
 *
 *   build-rel/bench/bench_jpeg [--min-side 448] [--rounds 5] FILE.jpg...
 *
 * --min-side is cs_decode_opts.jpeg_min_side; 448 is what `clipsearch index`
 * asks of a 224-pixel model (1/4 scale for a 4000x3000 photograph). The
 * files are read into memory first: this times the decode alone. Prints one
 * JSON object with the best round of each and their ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "clipsearch.h"
#include "core/file.h"

typedef struct file {
    char *data;
    size_t size;
} file;

/* CPU ms per image of one pass over the files; 0 after an error. */
static double pass(const file *fs, int n, int min_side, int *w, int *h) {
    cs_decode_opts opts = {.jpeg_min_side = min_side};
    double t0 = cpu_seconds();
    for (int i = 0; i < n; i++) {
        cs_image img;
        cs_error err;
        if (cs_image_decode_mem(fs[i].data, fs[i].size, "bench", &opts, &img, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 0;
        }
        *w = img.width, *h = img.height;
        cs_image_free(&img);
    }
    return (cpu_seconds() - t0) * 1e3 / n;
}

int main(int argc, char **argv) {
    int min_side = 448, rounds = 5, a = 1;
    for (; a + 1 < argc && !strncmp(argv[a], "--", 2); a += 2) {
        if (!strcmp(argv[a], "--min-side"))
            min_side = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--rounds"))
            rounds = atoi(argv[a + 1]);
    }
    int n = argc - a;
    if (n < 1 || rounds < 1) {
        fprintf(stderr, "usage: bench_jpeg [--min-side N] [--rounds R] FILE.jpg...\n");
        return 2;
    }
    file *fs = calloc((size_t)n, sizeof *fs);
    for (int i = 0; i < n; i++) {
        cs_error err;
        if (cs_read_file(argv[a + i], (size_t)1 << 31, &fs[i].data, &fs[i].size, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
    }
    double best[2] = {1e30, 1e30};
    int w = 0, h = 0;
    /* round -1 is not timed: the first pass in a process pays for fresh
     * memory and cold caches, whichever decoder runs it */
    for (int r = -1; r < rounds; r++)
        for (int fast = 1; fast >= 0; fast--) {
            setenv("CLIPSEARCH_FAST_JPEG", fast ? "1" : "0", 1);
            double ms = pass(fs, n, min_side, &w, &h);
            if (ms <= 0) return 1;
            if (r >= 0 && ms < best[fast]) best[fast] = ms;
        }
    printf("{\"files\": %d, \"min_side\": %d, \"output\": \"%dx%d\", \"rounds\": %d, "
           "\"fast_cpu_ms\": %.2f, \"libjpeg_cpu_ms\": %.2f, \"speedup\": %.3f}\n",
           n, min_side, w, h, rounds, best[1], best[0], best[0] / best[1]);
    for (int i = 0; i < n; i++) free(fs[i].data);
    free(fs);
    return 0;
}
