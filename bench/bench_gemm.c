/* bench/bench_gemm.c - our GEMM kernels against OpenBLAS on the shapes of
 * ViT-B/32, interleaved in one process so both see the same machine load.
 *
 *   bench_gemm [--batch N] [--threads N] [--reps N]
 *
 * Prints one JSON line per shape: GFLOP/s of each kernel level this CPU
 * runs (avx512, avx2, generic), of OpenBLAS sgemm with as many threads, and
 * the ratio ours / OpenBLAS. Figures are the best of --reps rounds, per
 * CPU-second of the process (cpu_seconds, bench_util.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clipsearch.h"
#include "core/pool.h"
#include "core/cpu.h"
#include "kernels/gemm.h"

#include "bench_util.h"

/* OpenBLAS (libblas.so.3 of Debian's openblas-pthread), declared here so the
 * bench needs no BLAS header. */
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int n);

typedef struct shape {
    const char *name;
    int m_per_image, n, k;
} shape;

int main(int argc, char **argv) {
    int batch = 8, threads = 2, reps = 5;
    const bench_opt opts[] = {
        {"--batch", 'i', &batch}, {"--threads", 'i', &threads}, {"--reps", 'i', &reps}};
    bench_parse_opts(argc, argv, 1, opts, sizeof opts / sizeof *opts);
    /* ViT-B/32 vision: 50 tokens per image (49 patches + class), width 768,
     * MLP 3072; the patch embedding is a 3072-deep product over 49 patches. */
    const shape shapes[] = {{"qkv/out 768x768", 50, 768, 768},
                            {"fc1 768->3072", 50, 3072, 768},
                            {"fc2 3072->768", 50, 768, 3072},
                            {"patch 3072->768", 49, 768, 3072},
                            {"text q 512x512 (m=8)", 0, 512, 512}};
    const char *levels[] = {"avx512", "avx2", "generic"};
    int top = cs_cpu_level_get();
    cs_pool *pool = cs_pool_create(threads);
    openblas_set_num_threads(threads);
    printf("{\"cpu\":\"%s\",\"threads\":%d,\"batch\":%d}\n", cs_cpu_level_name(top), threads,
           batch);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        int m = sh->m_per_image ? sh->m_per_image * batch : 8, n = sh->n, k = sh->k;
        float *x = bench_randv((size_t)m * k, 1), *w = bench_randv((size_t)n * k, 2),
              *b = bench_randv(n, 3);
        float *y = calloc((size_t)m * n, sizeof(float)), *yr = calloc((size_t)m * n, sizeof(float));
        double flop = 2.0 * m * n * k, best[4] = {1e9, 1e9, 1e9, 1e9};
        for (int r = 0; r < reps; r++) {
            for (int lv = 0; lv < 3; lv++) {
                if (2 - lv > top) continue;
                setenv("CLIPSEARCH_CPU", levels[lv], 1);
                cs_cpu_level_reload();
                double t0 = cpu_seconds();
                cs_gemm(pool, m, n, k, x, k, w, k, CS_DT_F32, b, y, n, 0, NULL);
                double t = cpu_seconds() - t0;
                if (t < best[lv]) best[lv] = t;
            }
            double t0 = cpu_seconds();
            for (int i = 0; i < m; i++) memcpy(yr + (size_t)i * n, b, n * sizeof(float));
            cblas_sgemm(101, 111, 112, m, n, k, 1.0f, x, k, w, k, 1.0f, yr, n);
            double t = cpu_seconds() - t0;
            if (t < best[3]) best[3] = t;
        }
        unsetenv("CLIPSEARCH_CPU");
        cs_cpu_level_reload();
        double maxdiff = 0;
        for (size_t i = 0; i < (size_t)m * n; i++) maxdiff = fmax(maxdiff, fabs(y[i] - yr[i]));
        printf("{\"shape\":\"%s\",\"m\":%d,\"n\":%d,\"k\":%d", sh->name, m, n, k);
        for (int lv = 0; lv < 3; lv++)
            if (2 - lv <= top) printf(",\"%s_gflops\":%.1f", levels[lv], flop / best[lv] * 1e-9);
        printf(
            ",\"openblas_gflops\":%.1f,\"best_ours_over_openblas\":%.2f,\"max_abs_diff\":%.2g}\n",
            flop / best[3] * 1e-9, best[3] / best[2 - top], maxdiff);
        free(x), free(w), free(b), free(y), free(yr);
    }
    cs_pool_free(pool);
    return 0;
}
