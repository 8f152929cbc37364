/* bench/bench_dups.c - duplicate groups at scale, on make_vectors.py output.
 *
 *   bench_dups OUT.base.f32 OUT.dups.i64 [--dim 512] [--n N] [--threshold 0.97]
 *              [--method auto|exact|ivf] [--nlist L] [--nprobe P] [--k 10] [--threads T]
 *
 * Runs the same steps as cs_db_duplicates on the rows of the file (mapped,
 * read once before the clock starts): neighbour lists, links, connected
 * components. Prints one JSON line: seconds per step, peak memory, and the
 * recall of the planted near-copies (copy, original): "found" when both
 * are in one group; also over
 * only the planted pairs whose true cosine is >= the threshold (the others
 * are not duplicates at that threshold). bench/compare_dups.sh runs it
 * beside FAISS. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "core/pool.h"
#include "index/dups_internal.h"

static const void *map_file(const char *path, size_t *size) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(path);
        exit(1);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        perror(path);
        exit(1);
    }
    *size = (size_t)st.st_size;
    return p;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr,
                "usage: bench_dups BASE.f32 DUPS.i64 [--dim D] [--n N] [--threshold T] "
                "[--method auto|exact|ivf] [--nlist L] [--nprobe P] [--k K] [--threads T]\n");
        return 2;
    }
    int dim = 512, nlist = 0, nprobe = 0, k = 10, threads = 0;
    int64_t n = -1;
    float t = 0.97f;
    const char *method = "auto";
    const bench_opt opts[] = {{"--dim", 'i', &dim},     {"--n", 'l', &n},
                              {"--threshold", 'f', &t}, {"--method", 's', &method},
                              {"--nlist", 'i', &nlist}, {"--nprobe", 'i', &nprobe},
                              {"--k", 'i', &k},         {"--threads", 'i', &threads}};
    const char *unknown = bench_parse_opts(argc, argv, 3, opts, sizeof opts / sizeof *opts);
    if (unknown) {
        fprintf(stderr, "unknown option %s\n", unknown);
        return 2;
    }
    size_t bytes, pbytes;
    double t0 = now_ms();
    const float *x = map_file(argv[1], &bytes);
    const int64_t *pairs = map_file(argv[2], &pbytes);
    double load_ms = now_ms() - t0;
    int64_t rows = (int64_t)(bytes / ((size_t)dim * sizeof(float)));
    if (n < 0 || n > rows) n = rows;
    int64_t n_pairs = (int64_t)(pbytes / (2 * sizeof(int64_t)));

    cs_pool *pool = cs_pool_create(threads);
    cs_error err;
    double s0 = now_ms();
    cs_dup_lists *l = cs_dup_lists_new(n, k);
    cs_status st = !l                         ? CS_ENOMEM
                   : !strcmp(method, "exact") ? cs_dups_find_exact(pool, x, n, dim, t, l, &err)
                   : !strcmp(method, "ivf")
                       ? cs_dups_find_ivf_with(pool, x, n, dim, t, nlist, nprobe, l, &err)
                       : cs_dups_find(pool, x, n, dim, t, CS_DUPS_AUTO, l, &err);
    double find_ms = now_ms() - s0;
    cs_dup_link *links = NULL;
    int64_t n_links = 0;
    if (st == CS_OK) st = cs_dup_lists_links(l, &links, &n_links, &err);
    cs_dup_lists_free(l);
    cs_dup_groups g = {0};
    if (st == CS_OK) st = cs_dups_make_groups(links, n_links, n, x, dim, t, 0, &g, &err);
    double total_ms = now_ms() - s0;
    if (st != CS_OK) {
        fprintf(stderr, "bench_dups: %s\n", err.message);
        return 1;
    }

    /* recall of the planted pairs among the first n rows */
    int64_t *group = malloc((size_t)n * sizeof *group);
    for (int64_t r = 0; r < n; r++) group[r] = -1;
    for (int64_t i = 0; i < g.n_groups; i++)
        for (int64_t j = g.start[i]; j < g.start[i + 1]; j++) group[g.rows[j]] = i;
    int64_t planted = 0, found = 0, above = 0, found_above = 0;
    for (int64_t p = 0; p < n_pairs; p++) {
        int64_t a = pairs[2 * p], b = pairs[2 * p + 1];
        if (a >= n || b >= n) continue;
        planted++;
        int same = group[a] >= 0 && group[a] == group[b];
        found += same;
        if (cs_dups_dot(x, dim, a, b) >= t) {
            above++;
            found_above += same;
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"n\": %lld, \"dim\": %d, \"threshold\": %.4f, \"method\": \"%s\", \"nlist\": %d, "
           "\"nprobe\": %d, \"k\": %d, \"threads\": %d, \"load_s\": %.2f, \"find_s\": %.2f, "
           "\"total_s\": %.2f, \"links\": %lld, \"groups\": %lld, \"planted\": %lld, "
           "\"found\": %lld, \"recall\": %.5f, \"planted_above_t\": %lld, \"recall_above_t\": "
           "%.5f, \"max_rss_mb\": %.0f, \"rows_mb\": %.0f}\n",
           (long long)n, dim, (double)t, method, nlist, nprobe, k, cs_pool_threads(pool),
           load_ms / 1e3, find_ms / 1e3, total_ms / 1e3, (long long)n_links, (long long)g.n_groups,
           (long long)planted, (long long)found, planted ? (double)found / (double)planted : 1.0,
           (long long)above, above ? (double)found_above / (double)above : 1.0,
           (double)ru.ru_maxrss / 1024.0, (double)n * dim * 4 / 1048576.0);
    free(group);
    free(links);
    cs_dup_groups_clear(&g);
    cs_pool_free(pool);
    return 0;
}
