/* server/item_file.c - opening the file of an indexed image (see item_file.h). */
#include "server/item_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/error.h"
#include "index/content_hash.h"

/* Catalogue paths are absolute and canonical (the indexer resolves its
 * roots), so a path with "." or ".." components, or a relative one, is not
 * one the indexer wrote: refused before anything is opened. */
static int canonical(const char *path) {
    if (path[0] != '/') return 0;
    for (const char *p = path; *p;) {
        while (*p == '/') p++;
        size_t n = strcspn(p, "/");
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
        p += n;
    }
    return 1;
}

/* One component at a time from "/": every folder opened with O_NOFOLLOW |
 * O_DIRECTORY (a link there fails), the file itself with O_NOFOLLOW. For
 * kernels without openat2. */
static int open_by_components(const char *path) {
    int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    const char *p = path;
    while (dir >= 0) {
        while (*p == '/') p++;
        size_t n = strcspn(p, "/");
        char name[256];
        if (n == 0 || n >= sizeof name) {
            close(dir);
            errno = n ? ENAMETOOLONG : EISDIR;
            return -1;
        }
        memcpy(name, p, n);
        name[n] = 0;
        p += n;
        while (*p == '/') p++;
        int last = !*p;
        int fd = last ? openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
                      : openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        close(dir);
        errno = saved;
        if (fd < 0 || last) return fd;
        dir = fd;
    }
    return -1;
}

int cs_srv_open_no_links(const char *path, int use_openat2) {
    if (!use_openat2) return open_by_components(path);
#ifdef SYS_openat2
    struct open_how how = {
        .flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    /* ENOSYS: an older kernel; EPERM: a seccomp filter that does not know it */
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return fd;
#endif
    return open_by_components(path);
}

static cs_status refuse(const cs_srv_item *it, cs_error *err, const char *why) {
    return cs_fail(err, CS_ENOTFOUND,
                   "image %lld is not the file that was indexed (%s); index its folder again",
                   (long long)it->id, why);
}

static int64_t mtime_ns(const struct stat *st) {
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int hash_known(const uint8_t h[16]) {
    for (int i = 0; i < 16; i++)
        if (h[i]) return 1;
    return 0;
}

/* Reads exactly `size` bytes from fd, hashing them; into `data` when given,
 * else through a small buffer. 0 if the file ends early or cannot be read. */
static int read_and_hash(int fd, size_t size, char *data, uint8_t hash[16]) {
    char chunk[1 << 16];
    cs_hash128_state hs;
    cs_hash128_init(&hs);
    size_t done = 0;
    while (done < size) {
        size_t want = size - done;
        char *dst = data ? data + done : chunk;
        if (!data && want > sizeof chunk) want = sizeof chunk;
        ssize_t got = pread(fd, dst, want, (off_t)done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return 0;
        cs_hash128_update(&hs, dst, (size_t)got);
        done += (size_t)got;
    }
    char extra;
    if (pread(fd, &extra, 1, (off_t)size) != 0) return 0; /* it grew meanwhile */
    cs_hash128_final(&hs, hash);
    return 1;
}

/* The checks on the opened file that need not read it all. */
static cs_status check_stat(const cs_srv_item *it, cs_srv_item_file *f, cs_error *err) {
    struct stat st;
    if (fstat(f->fd, &st) != 0) return refuse(it, err, "cannot be read");
    if (!S_ISREG(st.st_mode)) return refuse(it, err, "not a regular file");
    if ((int64_t)st.st_size != it->size) return refuse(it, err, "its size changed");
    if (mtime_ns(&st) != it->mtime_ns) return refuse(it, err, "it was modified");
    unsigned char head[32];
    ssize_t got = pread(f->fd, head, sizeof head, 0);
    f->format = got > 0 ? cs_image_sniff(head, (size_t)got) : CS_FMT_UNKNOWN;
    if (f->format == CS_FMT_UNKNOWN) return refuse(it, err, "not an image");
    return CS_OK;
}

/* 1 when the file at path, or opened as fd, is one of the guard's. */
static int guarded(cs_file_guard *guard, const char *path, int fd) {
    struct stat st;
    if (!guard) return 0;
    return fd < 0 ? stat(path, &st) == 0 && cs_guard_has(guard, &st)
                  : fstat(fd, &st) == 0 && cs_guard_has(guard, &st);
}

cs_status cs_srv_item_open(const cs_srv_item *it, cs_file_guard *guard, cs_srv_item_file *out,
                           cs_error *err) {
    *out = (cs_srv_item_file){.fd = -1};
    if (!canonical(it->path)) return refuse(it, err, "not a canonical path");
    /* checked before opening (most of the time nothing is opened at all),
     * and on the opened file: it may have been swapped in between */
    if (guarded(guard, it->path, -1)) return refuse(it, err, "the catalogue's own file");
    out->fd = cs_srv_open_no_links(it->path, 1);
    if (out->fd < 0)
        return refuse(it, err,
                      errno == ELOOP     ? "a symbolic link is on its path"
                      : errno == ENOTDIR ? "a folder on its path was replaced"
                      : errno == ENOENT  ? "it no longer exists"
                                         : "it cannot be opened");
    if (guarded(guard, it->path, out->fd)) {
        cs_guard_close(guard, out->fd); /* kept open: closing drops the locks */
        out->fd = -1;
        return refuse(it, err, "the catalogue's own file");
    }
    cs_status st = check_stat(it, out, err);
    if (st != CS_OK) cs_srv_item_file_close(out);
    return st;
}

cs_status cs_srv_item_verify(const cs_srv_item *it, cs_srv_item_file *f, int want_data,
                             size_t max_bytes, cs_error *err) {
    size_t size = (size_t)it->size; /* check_stat saw the file at this size */
    if (want_data && size > max_bytes)
        return cs_fail(err, CS_ELIMIT, "image %lld: %zu bytes, more than the limit of %zu",
                       (long long)it->id, size, max_bytes);
    if (want_data && !(f->data = malloc(size ? size : 1)))
        return cs_fail(err, CS_ENOMEM, "image %lld: out of memory", (long long)it->id);
    uint8_t hash[16];
    if (!read_and_hash(f->fd, size, f->data, hash)) return refuse(it, err, "it changed size");
    if (hash_known(it->hash) && memcmp(hash, it->hash, 16))
        return refuse(it, err, "its content changed");
    return CS_OK;
}

void cs_srv_item_file_close(cs_srv_item_file *f) {
    if (f->fd >= 0) close(f->fd);
    free(f->data);
    *f = (cs_srv_item_file){.fd = -1};
}

const char *cs_srv_image_mime(cs_image_format fmt) {
    switch (fmt) {
    case CS_FMT_JPEG:
        return "image/jpeg";
    case CS_FMT_PNG:
        return "image/png";
    case CS_FMT_GIF:
        return "image/gif";
    case CS_FMT_WEBP:
        return "image/webp";
    case CS_FMT_BMP:
        return "image/bmp";
    case CS_FMT_TIFF:
        return "image/tiff";
    case CS_FMT_HEIF:
        return "image/heic";
    case CS_FMT_AVIF:
        return "image/avif";
    case CS_FMT_UNKNOWN:
        break;
    }
    return "application/octet-stream";
}
