/* tests/fuzz/fuzz_ann.c - libFuzzer harness for the approximate index file
 * (DB.ann, src/index/ann_file.c) and a search over whatever it accepts.
 *
 *   tests/fuzz/build_fuzz_index.sh            (or -DCS_FUZZ=ON, see fuzz_query.c)
 *   build-fuzz/fuzz_ann -max_len=65536 build-fuzz/ann_seeds
 *
 * Each input is checked as it is, then again with its check value made
 * right, so that mutations of the tables behind the checksum reach the
 * other checks and the search. A file may be refused, never crash; a search
 * over an accepted one stays inside it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/ann.h"
#include "index/ann_internal.h"

static void search(const cs_ann *a) {
    float *q = calloc((size_t)a->dim, sizeof *q);
    if (!q) return;
    q[0] = 1;
    int64_t id = a->count ? a->ids[0] : 1;
    cs_vecs v = {0};
    v.dim = a->dim;
    v.n = 1; /* one row, the first entry's id: re-ranking finds it */
    v.ids = &id;
    v.vectors = q;
    cs_hit hits[4];
    cs_ann_params p = {.nprobe = a->nlist < 3 ? a->nlist : 3, .rerank = 8};
    cs_ann_search(a, &v, q, 4, &p, hits, NULL);
    free(q);
}

static void check(const uint8_t *data, size_t size) {
    cs_map m = {data, size};
    cs_ann a;
    cs_error err;
    if (cs_ann_check(&m, 0, NULL, 0, &a, &err) == CS_ANN_OK) {
        search(&a);                                  /* centroids ranked in float */
        if (cs_ann_prepare(&a) == CS_OK) search(&a); /* and by their codes */
        cs_ann_unprepare(&a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* the file is mapped, hence aligned, in real use */
    uint8_t *buf = aligned_alloc(64, (size + 64) & ~(size_t)63);
    if (!buf) return 0;
    memcpy(buf, data, size);
    check(buf, size);
    cs_ann_header h;
    cs_ann_offsets l;
    if (size >= sizeof h) {
        memcpy(&h, buf, sizeof h);
        uint32_t bits = h.version == 1 ? 8 : h.code_bits;
        if (cs_ann_layout(h.dim, h.nlist, h.count, h.code_stride, bits, &l) && l.ids <= size &&
            h.centroids == l.centroids) {
            h.check = cs_ann_checksum(&h, buf + l.centroids, (size_t)(l.ids - l.centroids));
            memcpy(buf, &h, sizeof h);
            check(buf, size);
        }
    }
    free(buf);
    return 0;
}
