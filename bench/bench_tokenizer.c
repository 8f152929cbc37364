/* bench/bench_tokenizer.c - tokenizer load and encode times, in microseconds.
 *
 *   bench_tokenizer [MODEL_DIR] [ROUNDS]
 *
 * MODEL_DIR defaults to $CS_ORACLE/tokenizer (../shared/oracle/tokenizer).
 * Prints one JSON object: median load time from tokenizer.json, from
 * vocab.json + merges.txt (a temporary folder of links), a plain jansson
 * parse of tokenizer.json for comparison, and the encode time of a 10-word
 * query, cold (first call after loading, empty cache) and warm. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clipsearch.h"

#include "bench_util.h"

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* CPU time of this thread: on a shared, overloaded machine the wall clock
 * mostly measures the other processes. */
static double cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static const char QUERY[] = "a photo of a dog playing with a red ball"; /* 10 words */

/* Median load time (wall); *cpu_min gets the least CPU time of a load,
 * *cold the median time of the first encode after each load. */
static double bench_load(const char *dir, int rounds, double *cpu_min, double *cold) {
    double *t = malloc((size_t)rounds * sizeof *t), *c = malloc((size_t)rounds * sizeof *c);
    *cpu_min = 1e30;
    for (int r = 0; r < rounds; r++) {
        cs_error err;
        cs_tokenizer *tok;
        double c0 = cpu_us(), t0 = now_us();
        if (cs_tokenizer_load(dir, 0, &tok, &err) != CS_OK) {
            fprintf(stderr, "bench_tokenizer: %s\n", err.message);
            exit(1);
        }
        double t1 = now_us();
        if (cpu_us() - c0 < *cpu_min) *cpu_min = cpu_us() - c0;
        int32_t ids[77];
        int n;
        cs_tokenizer_encode(tok, QUERY, sizeof QUERY - 1, ids, &n, &err);
        c[r] = now_us() - t1;
        t[r] = t1 - t0;
        cs_tokenizer_free(tok);
    }
    double m = median(t, rounds);
    if (cold) *cold = median(c, rounds);
    free(t);
    free(c);
    return m;
}

int main(int argc, char **argv) {
    char def[4096];
    const char *oracle = getenv("CS_ORACLE");
    snprintf(def, sizeof def, "%s/tokenizer", oracle ? oracle : "../shared/oracle");
    const char *dir = argc > 1 ? argv[1] : def;
    int rounds = argc > 2 ? atoi(argv[2]) : 20;
    if (rounds < 1) rounds = 1;

    char tj[4200], tmp[] = "/tmp/cs-bench-tok-XXXXXX", src[4200], dst[4200];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    const char *files[] = {"vocab.json", "merges.txt"};
    for (int f = 0; f < 2; f++) {
        snprintf(src, sizeof src, "%s/%s", dir, files[f]);
        snprintf(dst, sizeof dst, "%s/%s", tmp, files[f]);
        if (symlink(src, dst) != 0) perror(dst);
    }

    double cold = 0, cpu_tj, cpu_vm;
    double load_tj = bench_load(dir, rounds, &cpu_tj, &cold);
    double load_vm = bench_load(tmp, rounds, &cpu_vm, NULL);

    double *t = malloc((size_t)rounds * sizeof *t), jansson_cpu = 1e30;
    for (int r = 0; r < rounds; r++) {
        json_error_t je;
        double c0 = cpu_us(), t0 = now_us();
        json_t *root = json_load_file(tj, 0, &je);
        t[r] = now_us() - t0;
        if (cpu_us() - c0 < jansson_cpu) jansson_cpu = cpu_us() - c0;
        json_decref(root);
    }
    double jansson = median(t, rounds);
    free(t);

    cs_error err;
    cs_tokenizer *tok;
    if (cs_tokenizer_load(dir, 0, &tok, &err) != CS_OK) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.message);
        return 1;
    }
    int32_t ids[77];
    int n = 0;
    const int reps = 20000;
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now_us();
        for (int i = 0; i < reps; i++)
            cs_tokenizer_encode(tok, QUERY, sizeof QUERY - 1, ids, &n, &err);
        double us = (now_us() - t0) / reps;
        if (us < best) best = us;
    }
    cs_tokenizer_free(tok);

    for (int f = 0; f < 2; f++) {
        snprintf(dst, sizeof dst, "%s/%s", tmp, files[f]);
        unlink(dst);
    }
    rmdir(tmp);
    printf("{\"model\": \"%s\", \"rounds\": %d,\n"
           " \"load_tokenizer_json_us\": %.0f, \"load_tokenizer_json_cpu_min_us\": %.0f,\n"
           " \"load_vocab_merges_us\": %.0f, \"load_vocab_merges_cpu_min_us\": %.0f,\n"
           " \"jansson_parse_tokenizer_json_us\": %.0f, \"jansson_cpu_min_us\": %.0f,\n"
           " \"query\": \"%s\", \"query_ids\": %d,\n"
           " \"encode_cold_us\": %.2f,\n"
           " \"encode_warm_us\": %.3f}\n",
           dir, rounds, load_tj, cpu_tj, load_vm, cpu_vm, jansson, jansson_cpu, QUERY, n, cold,
           best);
    return 0;
}
