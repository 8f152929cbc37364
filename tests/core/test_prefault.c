/* tests/core/test_prefault.c - cs_prefault: after it, every page of the
 * range is mapped in the page table (the kernel's word: the "present" bit of
 * /proc/self/pagemap), so reading it takes no page fault (getrusage's minor
 * faults), with madvise(MADV_POPULATE_READ) and with the page-touching
 * fallback; the bytes read are the file's. A fresh mapping, the control,
 * has no page present. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/file.h"
#include "test.h"

#define FILE_BYTES (4u << 20) /* 1024 pages of 4 KiB */
#define SKIP_HEAD  100        /* an unaligned start */
#define SKIP_TAIL  333        /* and end */

static long minor_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* How many pages of [p, p + len) are present in the page table; -1 if
 * /proc/self/pagemap cannot be read. */
static long present_pages(const uint8_t *p, size_t len) {
    long page = sysconf(_SC_PAGESIZE);
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long n = 0;
    uintptr_t first = (uintptr_t)p / (uintptr_t)page, last = ((uintptr_t)p + len - 1) / page;
    for (uintptr_t v = first; v <= last; v++) {
        uint64_t e;
        if (pread(fd, &e, sizeof e, (off_t)(v * sizeof e)) != (ssize_t)sizeof e) {
            n = -1;
            break;
        }
        n += (long)(e >> 63 & 1);
    }
    close(fd);
    return n;
}

/* A sum over the range, one byte per 512: not instrumented, so that the
 * sanitizer's shadow memory (faulted in on first check) stays out of the
 * count. */
__attribute__((no_sanitize_address)) static uint64_t read_range(const uint8_t *p, size_t len) {
    uint64_t s = 0;
    for (size_t i = 0; i < len; i += 512) s += p[i] * (uint64_t)(i + 1);
    return s;
}

static uint64_t expected_sum(const uint8_t *data, size_t len) {
    uint64_t s = 0;
    for (size_t i = 0; i < len; i += 512) s += data[i] * (uint64_t)(i + 1);
    return s;
}

/* Maps the file, optionally prefaults the range, checks how many of its
 * pages are present, reads it: the faults the read took. */
static long faults_reading(const char *path, const uint8_t *data, int prefault, int force_touch) {
    cs_error err;
    cs_map m;
    CHECK_OK(cs_map_file(path, &m, &err), &err);
    if (!m.data) return -1;
    const uint8_t *p = m.data + SKIP_HEAD;
    size_t len = m.size - SKIP_HEAD - SKIP_TAIL;
    if (prefault) {
        cs_prefault_how how = cs_prefault(p, len, force_touch);
        if (force_touch)
            CHECK_EQ_INT(how, CS_PREFAULT_TOUCH);
        else /* the fallback is fine on a kernel without MADV_POPULATE_READ */
            CHECK(how == CS_PREFAULT_MADVISE || how == CS_PREFAULT_TOUCH);
    }
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    long pages = (long)(((uintptr_t)p + len - 1) / page - (uintptr_t)p / page + 1);
    long present = present_pages(p, len);
    if (present >= 0 && prefault)
        CHECK_MSG(present == pages, "%ld of %ld pages present", present, pages);
    else if (present >= 0)
        CHECK_MSG(present == 0, "%ld pages present in a fresh mapping", present);
    long before = minor_faults();
    uint64_t got = read_range(p, len);
    long faults = minor_faults() - before;
    CHECK(got == expected_sum(data + SKIP_HEAD, len));
    cs_unmap(&m);
    return faults;
}

int main(void) {
    const char *dir = cs_test_tmpdir();
    char path[512];
    cs_error err;
    CHECK_OK(cs_path_join(path, sizeof path, dir, "pages.bin", &err), &err);
    uint8_t *data = malloc(FILE_BYTES);
    CHECK(data != NULL);
    if (!data) return cs_test_done("prefault");
    for (size_t i = 0; i < FILE_BYTES; i++) data[i] = (uint8_t)(i * 2654435761u >> 24);
    CHECK_OK(cs_write_file_atomic(path, data, FILE_BYTES, &err), &err);

    /* control: without prefaulting, the read faults (how often depends on
     * the kernel's fault-around and folio sizes: at least once) */
    long plain = faults_reading(path, data, 0, 0);
    CHECK_MSG(plain >= 1, "%ld faults reading fresh pages", plain);

    long populated = faults_reading(path, data, 1, 0);
    CHECK_MSG(populated <= 2, "%ld faults after MADV_POPULATE_READ", populated);
    long touched = faults_reading(path, data, 1, 1);
    CHECK_MSG(touched <= 2, "%ld faults after touching", touched);

    /* nothing to do: no crash, no claim */
    CHECK_EQ_INT(cs_prefault(NULL, 100, 0), CS_PREFAULT_FAILED);
    CHECK_EQ_INT(cs_prefault(data, 0, 0), CS_PREFAULT_FAILED);
    unlink(path);
    free(data);
    return cs_test_done("prefault");
}
