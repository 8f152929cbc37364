/* bench/bench_util.h - the clock and the order statistics the benchmark
 * programs share (header-only: each bench is one program). */
#ifndef CS_BENCH_UTIL_H
#define CS_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Milliseconds on the monotonic clock. */
static inline double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* Seconds of CPU time of the process (all threads): on a shared machine,
 * work per CPU-second is far steadier than per wall-second. */
static inline double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* n floats in [-0.05, 0.05) from a seed (malloc'd), the same on every run. */
static inline float *bench_randv(size_t n, unsigned seed) {
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; v && i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = ((float)(seed >> 9) / 8388608.0f - 0.5f) * 0.1f;
    }
    return v;
}

static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One "--name value" option of a bench program: where its value goes and
 * how it is read ('s': the string itself, 'i': int, 'l': int64_t, 'f':
 * float). */
typedef struct bench_opt {
    const char *name;
    char type;
    void *to;
} bench_opt;

/* Reads the "--name value" pairs of argv[first..argc) into opts[0..n); a
 * last name without a value is passed over. Returns the first name not in
 * opts (its value passed over too; the caller may refuse it), else NULL. */
static inline const char *bench_parse_opts(int argc, char **argv, int first, const bench_opt *opts,
                                           int n) {
    const char *unknown = NULL;
    for (int i = first; i + 1 < argc; i += 2)
        for (int j = 0; j <= n; j++) {
            if (j == n) {
                if (!unknown) unknown = argv[i];
                break;
            }
            if (strcmp(argv[i], opts[j].name)) continue;
            const char *v = argv[i + 1];
            switch (opts[j].type) {
            case 's':
                *(const char **)opts[j].to = v;
                break;
            case 'i':
                *(int *)opts[j].to = atoi(v);
                break;
            case 'l':
                *(int64_t *)opts[j].to = atoll(v);
                break;
            case 'f':
                *(float *)opts[j].to = strtof(v, NULL);
                break;
            }
            break;
        }
    return unknown;
}

/* The exact top 10 of `rows` queries as int32 row numbers (make_vectors.py
 * --gt 10), malloc'd; NULL after a message naming the file. */
static inline int32_t *bench_read_gt(const char *path, int64_t rows) {
    FILE *f = fopen(path, "rb");
    int32_t *gt = malloc((size_t)rows * 10 * sizeof *gt);
    if (!f || !gt || fread(gt, sizeof *gt, (size_t)rows * 10, f) != (size_t)rows * 10) {
        fprintf(stderr, "%s: cannot read %lld x 10 ids\n", path, (long long)rows);
        free(gt);
        gt = NULL;
    }
    if (f) fclose(f);
    return gt;
}

#endif
