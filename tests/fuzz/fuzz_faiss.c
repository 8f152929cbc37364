/* tests/fuzz/fuzz_faiss.c - libFuzzer harness for the FAISS file reader
 * (cs_fb_read_mem: faiss::read_index, then the checks of faiss_bridge.cpp).
 * An index accepted is searched and every vector reconstructed, as `import`
 * and cs_faiss_search would: a file whose counts disagree and that still
 * got through is an AddressSanitizer report there. Seeds: indexes written
 * by Python's faiss (tests/fuzz/make_seeds.sh). Build with -DCS_FUZZ=ON
 * (clang); run:
 *   build-fuzz/tests/fuzz_faiss -runs=1000000 -rss_limit_mb=4096 CORPUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/faiss_bridge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int once;
    if (!once++) cs_fb_set_threads(1); /* OpenMP's spinning threads cost 5x the runs */
    cs_fb_index *ix = NULL;
    cs_error err;
    if (cs_fb_read_mem(data, size, "fuzz", &ix, &err) != CS_OK) return 0;
    int d = cs_fb_dim(ix);
    int64_t n = cs_fb_ntotal(ix);
    float *q = calloc((size_t)d, sizeof *q);
    float dist[5];
    int64_t labels[5];
    if (q) {
        q[0] = 1;
        if (cs_fb_search(ix, 1, q, 5, dist, labels, &err) == CS_OK)
            for (int i = 0; i < 5; i++)
                if (labels[i] < -1) { /* an id FAISS made up */
                    fprintf(stderr, "label %lld of %lld vectors\n", (long long)labels[i],
                            (long long)n);
                    abort();
                }
    }
    /* small indexes only: a 2^40-vector claim is refused by the checks, but
     * a valid large one would just take memory */
    if (n > 0 && (uint64_t)n * (uint64_t)d <= (1u << 22)) {
        float *v = malloc((size_t)n * (size_t)d * sizeof *v);
        int64_t *ids = malloc((size_t)n * sizeof *ids);
        if (v && ids) cs_fb_reconstruct_all(ix, v, ids, &err);
        free(v);
        free(ids);
    }
    free(q);
    cs_fb_free(ix);
    return 0;
}
