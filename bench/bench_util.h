/* bench/bench_util.h - the clock and the order statistics the benchmark
 * programs share (header-only: each bench is one program). */
#ifndef CS_BENCH_UTIL_H
#define CS_BENCH_UTIL_H

#include <stdlib.h>
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

#endif
