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

#include "index/faiss_bridge.h"
#include "index/search_internal.h"

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

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
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
    double *t = malloc((size_t)n_queries * sizeof *t);
    cs_hit *ours = malloc((size_t)n_queries * K * sizeof *ours);
    cs_pool *pool2 = cs_pool_create(2);
    run runs[] = {{"ours avx2, 1 thread", NULL, CS_ISA_AUTO},
                  {"ours avx2, 2 threads", pool2, CS_ISA_AUTO},
                  {"ours generic C, 1 thread", NULL, CS_ISA_GENERIC}};
    double ms[3];
    printf("n = %lld, dim = %d, k = %d, %d queries, AVX2+FMA: %s\n", (long long)n, DIM, K,
           n_queries, cs_cpu_has_avx2() ? "yes" : "no");
    for (int r = 0; r < 3; r++) {
        cs_search_flat_isa(runs[r].pool, v, n, DIM, q, K, ours, runs[r].isa); /* warm up */
        for (int i = 0; i < n_queries; i++) {
            double t0 = now_ms();
            cs_search_flat_isa(runs[r].pool, v, n, DIM, q + (int64_t)i * DIM, K, ours + i * K,
                               runs[r].isa);
            t[i] = now_ms() - t0;
        }
        ms[r] = median(t, n_queries);
        printf("  %-26s %9.3f ms/query\n", runs[r].name, ms[r]);
    }

    cs_error err = {0};
    cs_fb_index *flat = NULL;
    if (cs_fb_flat_ip(v, n, DIM, &flat, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        exit(1);
    }
    float d[K];
    int64_t labels[K];
    int mismatches = 0;
    cs_fb_search(flat, 1, q, K, d, labels, &err); /* warm up */
    for (int i = 0; i < n_queries; i++) {
        double t0 = now_ms();
        cs_fb_search(flat, 1, q + (int64_t)i * DIM, K, d, labels, &err);
        t[i] = now_ms() - t0;
        for (int j = 0; j < K; j++) mismatches += labels[j] != ours[i * K + j].id;
    }
    double faiss_ms = median(t, n_queries);
    printf("  %-26s %9.3f ms/query\n", "FAISS IndexFlatIP", faiss_ms);
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
