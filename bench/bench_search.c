/* bench/bench_search.c - exact top-10 search latency: ours (AVX2 kernel, 1
 * and 2 pool threads; the portable kernel for reference) against FAISS's
 * IndexFlatIP (Debian's libfaiss.a) on the same random L2-normalised vectors,
 * in the same process, one query at a time.
 *
 * usage: bench_search [N...]   (default: 100000 1000000; dim 512, k 10)
 * Prints one line per measurement (median ms per query) and the ratios. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cpu.h"
#include "index/faiss_bridge.h"
#include "index/search_internal.h"

#include "bench_util.h"

enum { DIM = 512, K = 10 };

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float rng_uniform(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (float)((rng_state * 0x2545f4914f6cdd1dull) >> 40) / 8388608.0f - 1.0f;
}

static void fill_unit(float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float *r = v + i * DIM;
        double s = 0;
        for (int j = 0; j < DIM; j++) {
            r[j] = rng_uniform();
            s += (double)r[j] * r[j];
        }
        float inv = (float)(1.0 / sqrt(s));
        for (int j = 0; j < DIM; j++) r[j] *= inv;
    }
}

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

typedef struct run {
    const char *name;
    cs_pool *pool;
    cs_isa isa;
} run;

static void bench_size(int64_t n, int n_queries) {
    float *v = malloc((size_t)n * DIM * sizeof *v);
    float *q = malloc((size_t)n_queries * DIM * sizeof *q);
    if (!v || !q) {
        fprintf(stderr, "out of memory for %lld vectors\n", (long long)n);
        exit(1);
    }
    fill_unit(v, n);
    fill_unit(q, n_queries);
    cs_error err = {0};
    cs_fb_index *flat = NULL; /* FAISS keeps its own copy of the vectors */
    if (cs_fb_flat_ip(v, n, DIM, &flat, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    enum { RUNS = 4 };
    double *t = malloc((size_t)RUNS * n_queries * sizeof *t); /* t[r * n_queries + i] */
    cs_hit *ours = malloc((size_t)K * sizeof *ours);
    cs_pool *pool2 = cs_pool_create(2);
    run runs[RUNS - 1] = {{"ours avx2, 1 thread", NULL, CS_ISA_AUTO},
                          {"ours avx2, 2 threads", pool2, CS_ISA_AUTO},
                          {"ours generic C, 1 thread", NULL, CS_ISA_GENERIC}};
    printf("n = %lld, dim = %d, k = %d, %d queries, AVX2+FMA: %s\n", (long long)n, DIM, K,
           n_queries, cs_cpu_level_get() >= CS_CPU_AVX2 ? "yes" : "no");
    /* Each query runs through every contender in turn, so that a busy spell
     * of a shared machine slows them all alike: the ratios stay meaningful
     * even when the absolute times wander. One warm-up round first. */
    float d[K];
    int64_t labels[K];
    int mismatches = 0;
    for (int i = -1; i < n_queries; i++) {
        const float *qi = q + (int64_t)(i < 0 ? 0 : i) * DIM;
        for (int r = 0; r < RUNS - 1; r++) {
            double t0 = now_ms();
            cs_search_flat_isa(runs[r].pool, v, n, DIM, qi, K, ours, runs[r].isa);
            if (i >= 0) t[r * n_queries + i] = now_ms() - t0;
        }
        double t0 = now_ms();
        cs_fb_search(flat, 1, qi, K, d, labels, &err);
        if (i >= 0) t[(RUNS - 1) * n_queries + i] = now_ms() - t0;
        for (int j = 0; j < K && i >= 0; j++) mismatches += labels[j] != ours[j].id;
    }
    double ms[RUNS];
    for (int r = 0; r < RUNS; r++) {
        ms[r] = median(t + r * n_queries, n_queries);
        printf("  %-26s %9.3f ms/query\n", r < RUNS - 1 ? runs[r].name : "FAISS IndexFlatIP",
               ms[r]);
    }
    double faiss_ms = ms[RUNS - 1];
    printf("  speed-up vs FAISS: %.2fx (1 thread), %.2fx (2 threads); "
           "results differing from FAISS: %d of %d\n",
           faiss_ms / ms[0], faiss_ms / ms[1], mismatches, n_queries * K);
    cs_fb_free(flat);
    cs_pool_free(pool2);
    free(ours);
    free(t);
    free(q);
    free(v);
}

/* The machine's load, printed with the figures: on a shared machine a
 * result means little without it. */
static void print_load(void) {
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
    printf("load average: %s\n", buf);
}

int main(int argc, char **argv) {
    print_load();
    if (argc > 1) {
        for (int i = 1; i < argc; i++) bench_size(strtoll(argv[i], NULL, 10), 30);
    } else {
        bench_size(100000, 50);
        bench_size(1000000, 20);
    }
    print_load();
    return 0;
}
