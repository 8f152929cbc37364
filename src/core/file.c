/* core/file.c - read-only memory maps and whole-file reads. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

/* Opens a regular file for reading: *fd and its stat, or the error.
 * O_NONBLOCK: opening a FIFO (a hostile or odd folder) would otherwise wait
 * for a writer forever; regular files ignore the flag. */
static cs_status open_regular(const char *path, int *fd, struct stat *st, cs_error *err) {
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (*fd < 0)
        return cs_fail(err, errno == ENOENT ? CS_ENOTFOUND : CS_EIO, "%s: %s", path,
                       strerror(errno));
    if (fstat(*fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(*fd);
        *fd = -1;
        return cs_fail(err, CS_EIO, "%s: not a regular file", path);
    }
    return CS_OK;
}

cs_status cs_map_file_fd(const char *path, cs_map *out, int *fd_out, cs_error *err) {
    out->data = NULL;
    out->size = 0;
    int fd;
    struct stat st;
    cs_status s = open_regular(path, &fd, &st, err);
    if (s != CS_OK) return s;
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return cs_fail(err, CS_EIO, "%s: mmap: %s", path, strerror(e));
        }
        out->data = p;
        out->size = (size_t)st.st_size;
    }
    if (fd_out)
        *fd_out = fd;
    else
        close(fd);
    return CS_OK;
}

cs_status cs_map_file(const char *path, cs_map *out, cs_error *err) {
    return cs_map_file_fd(path, out, NULL, err);
}

void cs_unmap(cs_map *map) {
    if (map && map->data) munmap((void *)map->data, map->size);
    if (map) {
        map->data = NULL;
        map->size = 0;
    }
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older headers lack the name */
#endif

static uintptr_t page_size(void) {
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (uintptr_t)ps : 4096;
}

cs_prefault_how cs_prefault(const void *p, size_t len, int force_touch) {
    if (!p || !len) return CS_PREFAULT_FAILED;
    size_t page = page_size();
    /* madvise wants a page-aligned start; the pages are the same */
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(page - 1), end = (uintptr_t)p + len;
    if (!force_touch) {
        int r;
        while ((r = madvise((void *)a, end - a, MADV_POPULATE_READ)) != 0 && errno == EINTR) {
        }
        if (r == 0) return CS_PREFAULT_MADVISE;
        if (errno != EINVAL && errno != ENOSYS) return CS_PREFAULT_FAILED;
    }
    /* one volatile read (never optimised away) every page size, so each
     * page of the range gets one, plus the last byte's */
    const volatile uint8_t *b = p;
    for (size_t off = 0; off < len; off += page) (void)b[off];
    (void)b[len - 1];
    return CS_PREFAULT_TOUCH;
}

void cs_map_hint_huge(const void *p, size_t len) {
    if (!p || !len) return;
    uintptr_t page = page_size();
    uintptr_t a = (uintptr_t)p & ~(page - 1);
    (void)madvise((void *)a, (uintptr_t)p + len - a, MADV_HUGEPAGE);
}

void *cs_alloc_huge(size_t size) {
    const size_t huge = (size_t)2 << 20;
    if (size < huge / 2) return malloc(size ? size : 1);
    if (size > SIZE_MAX - huge) return NULL;
    size_t rounded = (size + huge - 1) & ~(huge - 1);
    void *p = aligned_alloc(huge, rounded);
    cs_map_hint_huge(p, rounded);
    return p;
}

void cs_map_release(const void *p, size_t len) {
    if (!p || !len) return;
    uintptr_t page = page_size();
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), end = ((uintptr_t)p + len) & ~(page - 1);
    if (a < end) (void)madvise((void *)a, end - a, MADV_DONTNEED);
}

cs_status cs_read_file(const char *path, size_t max_bytes, char **out, size_t *size,
                       cs_error *err) {
    *out = NULL;
    if (size) *size = 0;
    int fd;
    struct stat st;
    cs_status s = open_regular(path, &fd, &st, err);
    if (s != CS_OK) return s;
    return cs_read_fd(fd, path, &st, max_bytes, out, size, err);
}

cs_status cs_read_fd(int fd, const char *path, const struct stat *stp, size_t max_bytes, char **out,
                     size_t *size, cs_error *err) {
    *out = NULL;
    if (size) *size = 0;
    cs_status s = cs_check_file_size(path, stp, max_bytes, err);
    if (s != CS_OK) {
        close(fd);
        return s;
    }
    size_t n = (size_t)stp->st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    s = cs_read_exact(fd, path, buf, n, err);
    close(fd);
    if (s != CS_OK) {
        free(buf);
        return s;
    }
    buf[n] = '\0';
    *out = buf;
    if (size) *size = n;
    return CS_OK;
}

cs_status cs_check_file_size(const char *path, const struct stat *st, size_t max_bytes,
                             cs_error *err) {
    if ((uint64_t)st->st_size <= max_bytes) return CS_OK;
    return cs_fail(err, CS_ELIMIT, "%s: %lld bytes, more than the limit of %zu", path,
                   (long long)st->st_size, max_bytes);
}

cs_status cs_read_exact(int fd, const char *path, char *buf, size_t n, cs_error *err) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return cs_fail(err, CS_EIO, "%s: read: %s", path,
                           r < 0 ? strerror(errno) : "file shrank while reading");
        got += (size_t)r;
    }
    return CS_OK;
}

cs_status cs_write_file_atomic(const char *path, const void *data, size_t size, cs_error *err) {
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) return cs_fail(err, CS_ELIMIT, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return cs_fail(err, CS_EIO, "%s: %s", tmp, strerror(errno));
    const uint8_t *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return cs_fail(err, CS_EIO, "%s: write: %s", tmp, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return cs_fail(err, CS_EIO, "%s: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cs_fail(err, CS_EIO, "%s: rename: %s", path, strerror(e));
    }
    return CS_OK;
}

cs_status cs_mkdirs(const char *path, cs_error *err) {
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "%s", path);
    if (n < 0 || (size_t)n >= sizeof buf) return cs_fail(err, CS_ELIMIT, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p && *p != '/') continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return cs_fail(err, CS_EIO, "%s: cannot create folder: %s", buf, strerror(errno));
        if (!c) break;
        *p = c;
    }
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return cs_fail(err, CS_EIO, "%s: not a folder", buf);
    return CS_OK;
}

cs_status cs_path_join(char *buf, size_t cap, const char *dir, const char *name, cs_error *err) {
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return cs_fail(err, CS_ELIMIT, "%s/%s: path too long", dir, name);
    return CS_OK;
}
