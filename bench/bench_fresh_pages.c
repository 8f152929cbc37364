/* bench/bench_fresh_pages.c - what memory a process has never touched costs
 * the first time, in 4 KiB pages and in 2 MiB pages, against writing the
 * same bytes again once they are in: why the heap and the scratch cache
 * ask for 2 MiB pages (cli/main.c, core/scratch.h; docs/performance.md).
 *
 *   bench_fresh_pages [MIB]     (default 64)
 *
 * Each run maps MIB fresh (MAP_PRIVATE | MAP_ANONYMOUS), advises it
 * MADV_NOHUGEPAGE or MADV_HUGEPAGE, writes one byte a 4 KiB page (the
 * faults: the kernel zeroes each page, and a virtual machine's host backs
 * it), then memsets it all (the same memory, in). Three runs of each, wall
 * ms, in order: a later run may get back the memory an earlier one gave
 * up, which a virtual machine's host already backs. Prints one JSON
 * object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ms of the first touch and of the memset after it, run r of 3 */
static void measure(size_t bytes, int huge, double first[3], double again[3]) {
    for (int r = 0; r < 3; r++) {
        size_t align = (size_t)2 << 20, len = bytes + align;
        char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            perror("mmap");
            exit(1);
        }
        char *p = (char *)(((size_t)m + align - 1) & ~(align - 1));
        madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
        double t0 = now();
        for (size_t i = 0; i < bytes; i += 4096) p[i] = 1;
        double t1 = now();
        memset(p, 2, bytes);
        double t2 = now();
        first[r] = (t1 - t0) * 1e3, again[r] = (t2 - t1) * 1e3;
        munmap(m, len);
    }
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 64;
    if (mib < 1) {
        fprintf(stderr, "usage: bench_fresh_pages [MIB]\n");
        return 2;
    }
    double f4[3], a4[3], f2[3], a2[3];
    measure(mib << 20, 0, f4, a4);
    measure(mib << 20, 1, f2, a2);
    printf("{\"mib\": %zu, \"first_touch_4k_ms\": [%.1f, %.1f, %.1f], "
           "\"first_touch_2m_ms\": [%.1f, %.1f, %.1f], \"memset_after_ms\": [%.1f, %.1f, %.1f]}\n",
           mib, f4[0], f4[1], f4[2], f2[0], f2[1], f2[2], a2[0], a2[1], a2[2]);
    return 0;
}
