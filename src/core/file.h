/* core/file.h - read-only memory maps and whole-file reads. */
#ifndef CS_CORE_FILE_H
#define CS_CORE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "clipsearch/common.h"

/* A read-only mapping of a whole file. An empty file maps to data == NULL,
 * size == 0 (mmap refuses zero lengths). */
typedef struct cs_map {
    const uint8_t *data;
    size_t size;
} cs_map;

cs_status cs_map_file(const char *path, cs_map *out, cs_error *err);
/* The same, handing back in *fd (which the caller closes) the descriptor the
 * map was made from: pread() on it reads the same file. A few scattered
 * rows of a large file cost less read than through a new mapping, where
 * each first touch of a page table's span (2 MiB) costs a page fault and a
 * new page table (25-90 us on a virtual machine, docs/performance.md). */
cs_status cs_map_file_fd(const char *path, cs_map *out, int *fd, cs_error *err);
void cs_unmap(cs_map *map);

/* How cs_prefault mapped the pages. */
typedef enum cs_prefault_how {
    CS_PREFAULT_FAILED = 0, /* nothing done (the pages fault on first read, as usual) */
    CS_PREFAULT_MADVISE,    /* madvise(MADV_POPULATE_READ), Linux >= 5.14 */
    CS_PREFAULT_TOUCH       /* one read per page (older kernels: EINVAL) */
} cs_prefault_how;

/* Maps the pages of [p, p + len) of a read-only mapping now, so that later
 * reads take no page faults: one system call instead of a fault per 16
 * pages, and it can run on a thread that would otherwise wait. Only for
 * ranges that will certainly be read. force_touch selects the fallback
 * (tests). Never fails loudly: a page not mapped here faults later. */
cs_prefault_how cs_prefault(const void *p, size_t len, int force_touch);

/* Asks the kernel to bring [p, p + len) of a file mapping into the page
 * cache as 2 MiB folios when it reads it from disk (madvise MADV_HUGEPAGE,
 * where transparent huge pages are "madvise" or "always"): every later
 * mapping of the file then needs one page-table entry per 2 MiB instead of
 * 512 (prefaulting 205 MB: 0.1 ms instead of 8-10). Pages already cached
 * keep their size. Nothing happens where it is unsupported. */
void cs_map_hint_huge(const void *p, size_t len);

/* A buffer that is written once when a command starts and then read
 * (tables made at open): aligned to 2 MiB and rounded up to it, with
 * transparent huge pages asked for (MADV_HUGEPAGE), so its first write
 * maps 2 MiB at a time. On virtual machines that fault fresh memory in
 * from the host 4 KiB at a time that first write is the cost: 10-18 us a
 * 4 KiB page, against 0.25 us a 4 KiB share of a 2 MiB page (bench_map,
 * docs/performance.md). Below 1 MiB (where rounding would waste more than
 * it saves) a plain malloc. Freed with free(); NULL when out of memory. */
void *cs_alloc_huge(size_t size);

/* Drops this process's pages of [p, p + len) inside a read-only file
 * mapping (the whole pages within it): they leave the resident set, and a
 * later read faults them back in from the page cache. */
void cs_map_release(const void *p, size_t len);

/* Reads a whole file into a malloc'd buffer with a NUL after the last byte
 * (so text parsers may treat it as a string). Files larger than max_bytes are
 * refused with CS_ELIMIT before anything is allocated. */
cs_status cs_read_file(const char *path, size_t max_bytes, char **out, size_t *size, cs_error *err);

/* The same from an open regular file (closed here) whose fstat is *st;
 * path is for messages. */
struct stat;
cs_status cs_read_fd(int fd, const char *path, const struct stat *st, size_t max_bytes, char **out,
                     size_t *size, cs_error *err);
/* CS_ELIMIT, naming path, when st says the file is larger than max_bytes. */
cs_status cs_check_file_size(const char *path, const struct stat *st, size_t max_bytes,
                             cs_error *err);
/* The next n bytes of an open file into buf (fd stays open); CS_EIO when it
 * ends first ("file shrank while reading"). */
cs_status cs_read_exact(int fd, const char *path, char *buf, size_t n, cs_error *err);

/* Writes data to path atomically: a temporary file in the same folder, fsync,
 * rename. A crash leaves either the old file or the new one, never a mix. */
cs_status cs_write_file_atomic(const char *path, const void *data, size_t size, cs_error *err);

/* mkdir -p: path and the folders above it (0755), CS_EIO naming the one
 * that could not be made, or when path exists but is not a folder. */
cs_status cs_mkdirs(const char *path, cs_error *err);

/* "dir/name" into buf; CS_ELIMIT if it does not fit. */
cs_status cs_path_join(char *buf, size_t cap, const char *dir, const char *name, cs_error *err);

#endif
