/* bench/bench_gemm_lp.c - the F32 (packed once), BF16 and int8 GEMM on the
 * shapes of ViT-B/32, alternating in one process so all three see the
 * same machine load.
 *
 *   bench_gemm_lp [--batch N] [--threads N] [--reps N]
 *
 * Prints one JSON line per shape: GFLOP per CPU-second of each (best of
 * --reps rounds), and the ratios bf16/f32 and int8/bf16. BF16 and int8 run
 * their portable kernels where the CPU lacks AVX512_BF16 / VNNI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clipsearch.h"
#include "core/pool.h"
#include "kernels/gemm.h"
#include "kernels/gemm_lp.h"

#include "bench_util.h"

typedef struct src {
    const float *w;
    int k;
} src;

static void row(const void *ctx, int r, float *out) {
    const src *s = ctx;
    memcpy(out, s->w + (size_t)r * s->k, (size_t)s->k * sizeof(float));
}

int main(int argc, char **argv) {
    int batch = 8, threads = 1, reps = 5, only = -1;
    const bench_opt opts[] = {{"--batch", 'i', &batch},
                              {"--threads", 'i', &threads},
                              {"--reps", 'i', &reps},
                              {"--shape", 'i', &only}}; /* 0, 1, 2: only that one */
    bench_parse_opts(argc, argv, 1, opts, sizeof opts / sizeof *opts);
    struct {
        const char *name;
        int n, k;
    } shapes[] = {
        {"qkv/out 768x768", 768, 768}, {"fc1 768->3072", 3072, 768}, {"fc2 3072->768", 768, 3072}};
    cs_pool *pool = cs_pool_create(threads);
    int m = 50 * batch;
    printf("{\"threads\":%d,\"batch\":%d,\"rows\":%d,\"bf16_native\":%d,\"int8_native\":%d}\n",
           threads, batch, m, cs_lp_native(CS_LP_BF16), cs_lp_native(CS_LP_I8));
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        if (only >= 0 && (int)s != only) continue;
        int n = shapes[s].n, k = shapes[s].k;
        float *x = bench_randv((size_t)m * k, 1), *w = bench_randv((size_t)n * k, 2),
              *b = bench_randv(n, 3);
        float *y = malloc((size_t)m * n * sizeof(float));
        float *fp = aligned_alloc(64, (cs_gemm_panels_floats(n, k) * 4 + 63) / 64 * 64);
        cs_gemm_panels pk;
        cs_gemm_pack(n, k, w, k, CS_DT_F32, NULL, fp, &pk);
        cs_lp_panels lp[2];
        uint8_t *lpp[2];
        float *rowbuf = malloc(2 * (size_t)k * sizeof(float));
        src sw = {w, k};
        for (int t = 0; t < 2; t++) {
            lpp[t] = aligned_alloc(64, cs_lp_bytes(t ? CS_LP_I8 : CS_LP_BF16, n, k));
            cs_lp_pack(t ? CS_LP_I8 : CS_LP_BF16, n, k, row, &sw, rowbuf, lpp[t], &lp[t]);
        }
        double best[3] = {1e30, 1e30, 1e30}, flop = 2.0 * m * n * k;
        int inner = (int)(2e9 / flop) + 1;
        cs_error err;
        for (int r = 0; r < reps; r++)
            for (int v = 0; v < 3; v++) {
                double t0 = cpu_seconds();
                for (int i = 0; i < inner; i++) {
                    if (v == 0)
                        cs_gemm_packed(pool, m, n, k, x, k, &pk, w, k, CS_DT_F32, NULL, b, y, n, 0,
                                       &err);
                    else
                        cs_gemm_lp(pool, m, x, k, &lp[v - 1], b, y, n, 0, &err);
                }
                double dt = (cpu_seconds() - t0) / inner;
                if (dt < best[v]) best[v] = dt;
            }
        printf("{\"shape\":\"%s\",\"gflops_per_cpu_s\":{\"f32\":%.1f,\"bf16\":%.1f,\"int8\":%.1f},"
               "\"bf16_over_f32\":%.2f,\"int8_over_bf16\":%.2f}\n",
               shapes[s].name, flop / best[0] * 1e-9, flop / best[1] * 1e-9, flop / best[2] * 1e-9,
               best[0] / best[1], best[1] / best[2]);
        fflush(stdout);
        free(x), free(w), free(b), free(y), free(fp), free(rowbuf), free(lpp[0]), free(lpp[1]);
    }
    cs_pool_free(pool);
    return 0;
}
