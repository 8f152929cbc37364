/* bench/bench_embed.c - throughput of the CLIP engine on one model folder.
 *
 *   bench_embed MODEL_DIR [--threads N] [--batch N] [--images N] [--texts N]
 *
 * Embeds N synthetic images (random normalised pixels; speed does not depend
 * on the values) in batches, and N short texts (8 tokens, the length of a
 * typical query), after one warm-up call each. Prints one JSON object with
 * images/s, texts/s and the achieved GFLOP/s of the image encoder, plus
 * the process CPU time per image and per text (less sensitive than wall
 * time to other programs competing for the cores). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clipsearch.h"

#include "bench_util.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Multiply-adds x 2 of one image through the vision tower. */
static double image_flops(const cs_model_info *i) {
    double g = i->image_size / i->patch_size, np = g * g, s = np + 1, d = i->vision_width;
    double mlp = 4 * d; /* every CLIP ViT uses 4x; only used for the report */
    double per_layer = 2 * s * d * d * 4 + 2 * s * d * mlp * 2 + 2 * 2 * s * s * d;
    return 2 * np * 3 * i->patch_size * i->patch_size * d + i->vision_layers * per_layer +
           2 * d * i->embed_dim;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_embed MODEL_DIR [--threads N] [--batch N] [--images N] "
                        "[--texts N]\n");
        return 2;
    }
    int threads = 0, batch = 8, n_img = 32, n_txt = 256;
    const bench_opt opts[] = {{"--threads", 'i', &threads},
                              {"--batch", 'i', &batch},
                              {"--images", 'i', &n_img},
                              {"--texts", 'i', &n_txt}};
    bench_parse_opts(argc, argv, 2, opts, sizeof opts / sizeof *opts);
    cs_error err = {0};
    cs_model *m = NULL;
    cs_model_opts o = {.n_threads = threads};
    double t0 = now();
    if (cs_model_open(argv[1], &o, &m, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    double t_open = now() - t0;
    cs_model_info info;
    cs_model_get_info(m, &info);
    size_t per = 3 * (size_t)info.image_size * info.image_size;
    float *px = malloc(per * (size_t)batch * sizeof *px);
    float *out = malloc((size_t)(batch > 64 ? batch : 64) * info.embed_dim * sizeof *out);
    uint32_t r = 12345;
    for (size_t i = 0; i < per * (size_t)batch; i++) {
        r = r * 1664525u + 1013904223u;
        px[i] = (float)(r >> 8) / (float)(1 << 24) * 4 - 2;
    }
    /* warm-up: builds the tower and faults the weights in */
    t0 = now();
    if (cs_embed_pixels(m, px, 1, 0, out, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    double t_first_image = now() - t0;
    t0 = now();
    double c0 = cpu_seconds();
    int done = 0;
    while (done < n_img) {
        int k = n_img - done < batch ? n_img - done : batch;
        cs_embed_pixels(m, px, k, 0, out, &err);
        done += k;
    }
    double t_img = now() - t0, c_img = cpu_seconds() - c0;

    static const int32_t query[] = {49406, 320, 1125, 539, 320, 2368, 530, 49407};
    const int32_t *ids[64];
    int n_ids[64];
    for (int i = 0; i < 64; i++) ids[i] = query, n_ids[i] = 8;
    t0 = now();
    cs_embed_tokens(m, ids, n_ids, 1, 0, out, &err);
    double t_first_text = now() - t0;
    t0 = now();
    c0 = cpu_seconds();
    for (int i = 0; i < n_txt; i++) cs_embed_tokens(m, ids, n_ids, 1, 0, out, &err);
    double t_txt1 = now() - t0, c_txt1 = cpu_seconds() - c0;
    t0 = now();
    for (done = 0; done < n_txt; done += 64)
        cs_embed_tokens(m, ids, n_ids, n_txt - done < 64 ? n_txt - done : 64, 0, out, &err);
    double t_txt64 = now() - t0;

    double fl = image_flops(&info);
    printf("{\"model\": \"%s\", \"dtype\": \"%s\", \"threads\": %d, \"batch\": %d, "
           "\"open_ms\": %.1f, \"first_image_ms\": %.1f, \"images\": %d, "
           "\"images_per_second\": %.2f, \"image_gflop\": %.2f, \"gflop_per_second\": %.1f, "
           "\"first_text_ms\": %.1f, \"texts_per_second_one_by_one\": %.1f, "
           "\"texts_per_second_batch64\": %.1f, \"cpu_seconds_per_image\": %.3f, "
           "\"cpu_ms_per_text_one_by_one\": %.2f}\n",
           argv[1], info.dtype, threads, batch, t_open * 1e3, t_first_image * 1e3, n_img,
           n_img / t_img, fl * 1e-9, fl * n_img / t_img * 1e-9, t_first_text * 1e3, n_txt / t_txt1,
           n_txt / t_txt64, c_img / n_img, c_txt1 / n_txt * 1e3);
    free(px);
    free(out);
    cs_model_close(m);
    return 0;
}
