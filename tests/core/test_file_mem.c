/* tests/core/test_file_mem.c - cs_alloc_huge and cs_map_file_fd (core/file.h).
 *
 * cs_alloc_huge: a large buffer is 2 MiB aligned, whole and writable, and
 * its mapping carries the huge-page hint (the "hg" flag of its VmFlags in
 * /proc/self/smaps, the kernel's own record of MADV_HUGEPAGE; whether a
 * huge page is then free to back it is the kernel's business). A small one
 * is a plain allocation; an impossible size is refused.
 * cs_map_file_fd: pread() on the descriptor handed back reads the bytes the
 * map shows, at any offset. */
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "core/file.h"
#include "test.h"

#define HUGE_BYTES ((size_t)2 << 20)

/* 1 when the mapping holding p has VmFlags "hg", 0 when not, -1 unknown. */
static int hinted_huge(const void *p) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    int in = 0, got = -1;
    unsigned long lo, hi;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
            continue;
        }
        if (in && strncmp(line, "VmFlags:", 8) == 0) {
            got = strstr(line, " hg") != NULL;
            break;
        }
    }
    fclose(f);
    return got;
}

/* "[madvise]" or "[always]": the kernel honours the hint at all. */
static int thp_enabled(void) {
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f) return 0;
    char line[128] = "";
    int ok = fgets(line, sizeof line, f) && (strstr(line, "[madvise]") || strstr(line, "[always]"));
    fclose(f);
    return ok;
}

static void test_alloc_huge(void) {
    size_t size = 3 * HUGE_BYTES + 12345; /* rounded up to 4 x 2 MiB */
    uint8_t *p = cs_alloc_huge(size);
    CHECK(p != NULL);
    if (!p) return;
    CHECK_MSG((uintptr_t)p % HUGE_BYTES == 0, "%p is not 2 MiB aligned", (void *)p);
    for (size_t i = 0; i < 4 * HUGE_BYTES; i += 4096) p[i] = (uint8_t)(i >> 12);
    uint64_t sum = 0;
    for (size_t i = 0; i < 4 * HUGE_BYTES; i += 4096) sum += p[i] == (uint8_t)(i >> 12);
    CHECK(sum == 4 * HUGE_BYTES / 4096);
    int hg = hinted_huge(p);
    if (thp_enabled() && hg >= 0)
        CHECK_MSG(hg == 1, "a %zu-byte buffer's mapping has no MADV_HUGEPAGE", size);
    else
        printf("note: transparent huge pages off or smaps unreadable (%d)\n", hg);
    free(p);

    uint8_t *small = cs_alloc_huge(100);
    CHECK(small != NULL);
    if (small) memset(small, 7, 100);
    free(small);
    CHECK(cs_alloc_huge(SIZE_MAX) == NULL);
    CHECK(cs_alloc_huge(SIZE_MAX - HUGE_BYTES / 2) == NULL);
}

static void test_map_fd(void) {
    const char *dir = cs_test_tmpdir();
    char path[512];
    cs_error err;
    CHECK_OK(cs_path_join(path, sizeof path, dir, "rows.bin", &err), &err);
    size_t n = (1u << 20) + 333;
    uint8_t *data = malloc(n);
    CHECK(data != NULL);
    if (!data) return;
    for (size_t i = 0; i < n; i++) data[i] = (uint8_t)(i * 2654435761u >> 24);
    CHECK_OK(cs_write_file_atomic(path, data, n, &err), &err);
    cs_map m;
    int fd = -1;
    CHECK_OK(cs_map_file_fd(path, &m, &fd, &err), &err);
    CHECK(fd >= 0 && m.size == n && m.data);
    if (fd >= 0 && m.data) {
        CHECK(memcmp(m.data, data, n) == 0);
        const size_t offs[] = {0, 1, 4095, 4096, 65536 + 17, n - 2048};
        for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
            uint8_t row[2048];
            CHECK(pread(fd, row, sizeof row, (off_t)offs[i]) == (ssize_t)sizeof row);
            CHECK_MSG(memcmp(row, m.data + offs[i], sizeof row) == 0, "offset %zu", offs[i]);
        }
        close(fd);
    }
    cs_unmap(&m);
    /* a missing file: an error naming it, no descriptor */
    fd = -1;
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.bin", dir);
    CHECK(cs_map_file_fd(missing, &m, &fd, &err) == CS_ENOTFOUND);
    CHECK(fd == -1 && strstr(err.message, "none.bin"));
    unlink(path);
    free(data);
}

int main(void) {
    test_alloc_huge();
    test_map_fd();
    return cs_test_done("file_mem");
}
