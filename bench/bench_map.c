/* bench/bench_map.c - what the first read of a mapped file costs on this
 * machine: a file (a model's weights, DB.vectors) mapped once, its pages
 * mapped in up front (cs_prefault, as the warm-up does), then read through
 * that one mapping several times, one load per cache line. The first pass
 * pays for each page's first touch in the process; the others show the
 * memory's speed. A cold command makes exactly one such first pass over
 * everything it reads, so the gap is the floor of its cold start. Then the
 * first write to each page of fresh anonymous memory of the same size (what
 * every new buffer pays), in microseconds a page, and the same in 2 MiB
 * pages (cs_alloc_huge), in microseconds a 4 KiB share.
 *
 * usage: bench_map FILE [PASSES]        (prints one JSON object)
 *
 * The file should be in the page cache (read it once before): disk reads
 * are not what this measures. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/file.h"

#include "bench_util.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_map FILE [PASSES]\n");
        return 2;
    }
    int passes = argc > 2 ? atoi(argv[2]) : 4;
    if (passes < 2 || passes > 100) passes = 4;
    cs_map m;
    cs_error err;
    if (cs_map_file(argv[1], &m, &err) != CS_OK) {
        fprintf(stderr, "bench_map: %s\n", err.message);
        return 1;
    }
    double t = now_ms();
    cs_prefault(m.data, m.size, 0);
    double prefault = now_ms() - t;
    printf("{\"file\": \"%s\", \"bytes\": %zu, \"prefault_ms\": %.1f, \"passes_gb_per_s\": [",
           argv[1], m.size, prefault);
    uint64_t sum = 0;
    for (int p = 0; p < passes; p++) {
        t = now_ms();
        for (size_t i = 0; i < m.size; i += 64) sum += m.data[i];
        double ms = now_ms() - t;
        printf("%s%.2f", p ? ", " : "", (double)m.size / 1e6 / ms);
    }
    size_t size = m.size;
    cs_unmap(&m);
    uint8_t *anon = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    double anon_us = -1;
    if (anon != MAP_FAILED) {
        t = now_ms();
        for (size_t i = 0; i < size; i += 4096) anon[i] = (uint8_t)i;
        anon_us = (now_ms() - t) * 1e3 / (double)((size + 4095) / 4096);
        sum += anon[size / 2];
        munmap(anon, size);
    }
    /* the same in 2 MiB pages (cs_alloc_huge): per 4 KiB written */
    double huge_us = -1;
    uint8_t *h = cs_alloc_huge(size);
    if (h) {
        t = now_ms();
        for (size_t i = 0; i < size; i += 4096) h[i] = (uint8_t)i;
        huge_us = (now_ms() - t) * 1e3 / (double)((size + 4095) / 4096);
        sum += h[size / 2];
        free(h);
    }
    /* the sum printed, so the reads cannot be optimised away */
    printf("], \"anon_first_touch_us_per_page\": %.2f, \"huge_first_touch_us_per_4k\": %.2f, "
           "\"checksum\": %llu}\n",
           anon_us, huge_us, (unsigned long long)(sum & 0xffff));
    return 0;
}
