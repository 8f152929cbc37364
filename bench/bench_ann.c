/* bench/bench_ann.c - recall@10 against time of the catalogue's search, one
 * thread, through cs_db_search (what `search`, `similar` and `serve` run):
 * the approximate index at several nprobe values, and the exact scan.
 *
 *   bench_ann --db DB --queries Q.npy --gt GT.i32 [--nprobe 8,16,32] [--id-base 1]
 *             [--cpu native,avx2] [--centroids codes,float] [--rerank 0,160]
 *             [--exact 0|1]
 *
 * --rerank: the candidates re-scored exactly in the search of the vectors
 * alone (0: the index's default; cs_db_search always uses the default).
 * --cpu and --centroids run each nprobe once per kernel level (as
 * CLIPSEARCH_CPU sets it; native: all the CPU has, the VNNI code scan
 * included; avx512: AVX-512 without VNNI, i.e. the AVX2 code scan)
 * and per way of ranking the centroids, alternating, so that their times
 * are side by side under the same load.
 * GT.i32: Q x 10 int32, the exact top 10 as row numbers of the vectors
 * imported (make_vectors.py --gt 10); id = row + id-base (1 for a catalogue
 * made by one `import` into an empty database). The first half of the
 * queries are image-like, the second half text-like: recall is printed for
 * all and each half. One JSON object per setting, each after an untimed
 * pass over the queries (page cache and CPU caches warm): "median_ms" is
 * cs_db_search (with the paths read from SQLite, default centroid ranking),
 * "core_median_ms" the search of the vectors alone (cs_snapshot_topk: what
 * a FAISS search does), whose results give the recall. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

/* CPU time of this thread, ms: on a machine shared with other jobs it
 * leaves out the time the thread waits for a core (wall time is printed
 * too). */
static double cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}
#include "clipsearch.h"
#include "index/ann.h"
#include "index/ann_internal.h"
#include "index/npy.h"
#include "core/cpu.h"

static int in_gt(const int32_t *gt, int64_t id) {
    for (int i = 0; i < 10; i++)
        if (gt[i] == id) return 1;
    return 0;
}

static int run(cs_db *db, const cs_npy *q, const int32_t *gt, int nprobe, int rerank, int exact,
               int float_centroids, int64_t id_base) {
    int64_t nq = q->rows;
    double *t = malloc((size_t)nq * sizeof *t), *tc = malloc((size_t)nq * sizeof *tc);
    double *cc = malloc((size_t)nq * sizeof *cc);
    double hits[2] = {0, 0};
    float *v = malloc((size_t)q->cols * sizeof *v);
    cs_search_opts so = {.k = 10, .exact = exact, .nprobe = nprobe};
    cs_vecs *snap = NULL;
    cs_error e;
    if (cs_db_vectors_opt(db, exact, &snap, &e) != CS_OK) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    cs_ann *ann = exact ? NULL : cs_db_ann_for(db, snap);
    cs_ann_params ap = {.nprobe = nprobe, .rerank = rerank, .float_centroids = float_centroids};
    const char *kind = !ann ? "exact" : ann->code_bits == 4 ? "ivf-sq4" : "ivf-sq8";
    cs_hit h[10];
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < nq; i++) { /* the vectors alone; pass 0 warms up */
            cs_npy_row(q, i, v);
            cs_db_normalize(v, q->cols);
            double t0 = now_ms(), c0 = cpu_ms();
            int64_t n = cs_snapshot_topk(NULL, snap, ann, &ap, v, 10, h, NULL);
            cc[i] = cpu_ms() - c0;
            tc[i] = now_ms() - t0;
            for (int64_t j = 0; pass && j < n; j++)
                hits[i >= nq / 2] += in_gt(gt + i * 10, h[j].id - id_base);
        }
    cs_db_ann_release(db, ann);
    cs_vecs_release(snap);
    for (int64_t i = 0; i < nq; i++) {
        cs_npy_row(q, i, v);
        cs_result *res;
        int n;
        cs_error err;
        double t0 = now_ms();
        if (cs_db_search(db, v, &so, &res, &n, &err) != CS_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        t[i] = now_ms() - t0;
        cs_results_free(res, n);
    }
    qsort(t, (size_t)nq, sizeof *t, cmp_double);
    qsort(tc, (size_t)nq, sizeof *tc, cmp_double);
    qsort(cc, (size_t)nq, sizeof *cc, cmp_double);
    int64_t half = nq / 2;
    printf("{\"search\": \"%s\", \"kernel\": \"%s\", \"centroids\": \"%s\", \"nprobe\": %d, "
           "\"rerank\": %d, "
           "\"recall\": %.4f, \"recall_image\": %.4f, "
           "\"recall_text\": %.4f, \"median_ms\": %.3f, \"p90_ms\": %.3f, "
           "\"core_median_ms\": %.3f, \"core_p90_ms\": %.3f, \"core_cpu_median_ms\": %.3f}\n",
           kind, exact ? cs_cpu_level_name(cs_cpu_level_get()) : cs_ann_scan_kernel_name(),
           float_centroids ? "float" : "codes", exact ? 0 : nprobe, rerank,
           (hits[0] + hits[1]) / (10.0 * nq), hits[0] / (10.0 * half),
           hits[1] / (10.0 * (nq - half)), t[nq / 2], t[nq * 9 / 10], tc[nq / 2], tc[nq * 9 / 10],
           cc[nq / 2]);
    fflush(stdout);
    free(t);
    free(tc);
    free(cc);
    free(v);
    return 0;
}

/* CLIPSEARCH_CPU = the list item at c ("": as the environment has it;
 * "native": unset). */
static void set_cpu(const char *c) {
    static char *initial;
    static int saved;
    if (!saved) {
        const char *e = getenv("CLIPSEARCH_CPU");
        initial = e ? strdup(e) : NULL;
        saved = 1;
    }
    size_t n = strcspn(c, ",");
    char level[32];
    snprintf(level, sizeof level, "%.*s", (int)(n < 31 ? n : 31), c);
    if (!strcmp(level, "native"))
        unsetenv("CLIPSEARCH_CPU");
    else if (*level)
        setenv("CLIPSEARCH_CPU", level, 1);
    else if (initial)
        setenv("CLIPSEARCH_CPU", initial, 1);
    else
        unsetenv("CLIPSEARCH_CPU");
    cs_cpu_level_reload();
}

int main(int argc, char **argv) {
    const char *dbp = NULL, *qp = NULL, *gtp = NULL, *probes = "0", *cpus = "", *cents = "codes",
               *reranks = "0";
    int64_t id_base = 1;
    int exact = 1;
    const bench_opt opts[] = {
        {"--db", 's', &dbp},          {"--queries", 's', &qp},      {"--gt", 's', &gtp},
        {"--nprobe", 's', &probes},   {"--id-base", 'l', &id_base}, {"--cpu", 's', &cpus},
        {"--centroids", 's', &cents}, {"--exact", 'i', &exact},     {"--rerank", 's', &reranks}};
    bench_parse_opts(argc, argv, 1, opts, sizeof opts / sizeof *opts);
    if (!dbp || !qp || !gtp) {
        fprintf(stderr, "usage: bench_ann --db DB --queries Q.npy --gt GT.i32 [--nprobe 8,16,32] "
                        "[--id-base 1] [--cpu native,avx2] [--centroids codes,float] "
                        "[--rerank 0,160] [--exact 0|1]\n");
        return 2;
    }
    cs_error err;
    cs_npy q;
    cs_db *db;
    cs_db_opts o = {.flags = CS_DB_READONLY};
    if (cs_npy_open(qp, &q, &err) != CS_OK || cs_db_open(dbp, &o, &db, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    int32_t *gt = bench_read_gt(gtp, q.rows);
    if (!gt) return 1;
    int rc = 0;
    for (const char *p = probes; p && *p && !rc; p = strchr(p, ','), p = p ? p + 1 : p)
        for (const char *c = cpus; c && !rc; c = strchr(c, ','), c = c ? c + 1 : c) {
            set_cpu(c);
            for (const char *f = cents; f && *f && !rc; f = strchr(f, ','), f = f ? f + 1 : f)
                for (const char *r = reranks; r && *r && !rc; r = strchr(r, ','), r = r ? r + 1 : r)
                    rc = run(db, &q, gt, atoi(p), atoi(r), 0, !strncmp(f, "float", 5), id_base);
            if (!*c) break;
        }
    set_cpu("");
    if (exact && !rc) rc = run(db, &q, gt, 0, 0, 1, 0, id_base);
    cs_db_close(db);
    cs_npy_close(&q);
    free(gt);
    return rc;
}
