/* model/packcache.c - a tower's packed matrices kept in a file, so that a
 * later process maps them instead of packing again.
 *
 * Packing (prepack.c, lowp.c) reads every weight of the tower and writes
 * the kernel's layout into fresh memory. For ViT-B/32's image tower that is
 * a fixed cost of every process that embeds a batch (docs/performance.md,
 * "Packed weights kept"), larger than a run of a few dozen photos spends
 * on the rest of the model. Kept in a file, the packing comes back through
 * the page cache: a map and the first touch of its pages, shared by every
 * process mapping it (the ranks of a job on one host hold one copy).
 *
 * The file, <dir>/<model id>.<tower>.<kind>.pack:
 *   [0, 4096)  header: magic, version, the layout hash, the checkpoint's
 *              identity, the packing's size, then the three names
 *   [2 MiB, 2 MiB + bytes)  the packing, byte for byte as it was packed
 * The packing starts at 2 MiB (the gap is a hole, not disk) so that its
 * 2 MiB folios line up with the map's. Every address inside the packing is
 * computed from the model's shapes, never read from the file: a damaged
 * file can give wrong numbers but cannot make a read stray. On a hit the
 * caller's check re-packs one matrix and compares (the guard against a
 * packer that changed without the version below changing). */
#include "model/packcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "core/fnv.h"

#define PACK_MAGIC "CSPACK\0\n"
enum { PACK_VERSION = 1, HEADER_BYTES = 4096, PAYLOAD_AT = 2 << 20, WRITE_PIECE = 4 << 20 };

typedef struct pack_header {
    char magic[8];
    uint32_t version, header_bytes;
    uint64_t layout, source, bytes, payload_at;
    char model_id[64], tower[16], kind[16];
} pack_header;

uint64_t cs_pack_source(const char *path) {
    struct stat st;
    if (!path || stat(path, &st) != 0) return 0;
    uint64_t v[5] = {(uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
                     (uint64_t)st.st_mtim.tv_nsec, (uint64_t)st.st_ino, (uint64_t)st.st_dev};
    return cs_fnv(CS_FNV_SEED, v, sizeof v);
}

static int file_name(const cs_pack_cache *pc, const cs_pack_layout *l, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "%s/%s.%s.%s.pack", pc->dir, pc->model_id, pc->tower, l->kind);
    return n > 0 && (size_t)n < cap;
}

static void make_header(const cs_pack_cache *pc, const cs_pack_layout *l, size_t bytes,
                        pack_header *h) {
    memset(h, 0, sizeof *h);
    memcpy(h->magic, PACK_MAGIC, 8);
    h->version = PACK_VERSION;
    h->header_bytes = HEADER_BYTES;
    h->layout = l->hash;
    h->source = pc->source;
    h->bytes = bytes;
    h->payload_at = PAYLOAD_AT;
    snprintf(h->model_id, sizeof h->model_id, "%s", pc->model_id);
    snprintf(h->tower, sizeof h->tower, "%s", pc->tower);
    snprintf(h->kind, sizeof h->kind, "%s", l->kind);
}

const uint8_t *cs_pack_map(const cs_pack_cache *pc, const cs_pack_layout *layout, size_t bytes,
                           cs_pack_check_fn check, void *ctx, cs_pack_file *f) {
    f->map = NULL;
    f->size = 0;
    char path[4096];
    if (!pc || !pc->dir || !pc->source || !file_name(pc, layout, path, sizeof path)) return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cs_log(pc->log, CS_LOG_DEBUG, "%s: no packed weights kept (%s)", path, strerror(errno));
        return NULL;
    }
    pack_header want, have;
    make_header(pc, layout, bytes, &want);
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        why = "not a file";
    else if (pread(fd, &have, sizeof have, 0) != (ssize_t)sizeof have)
        why = "no header";
    else if (memcmp(&have, &want, sizeof have))
        why = "made for another checkpoint, layout or version";
    else if ((uint64_t)st.st_size != (uint64_t)PAYLOAD_AT + bytes)
        why = "wrong size";
    void *p = MAP_FAILED;
    if (!why) {
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) why = strerror(errno);
    }
    close(fd);
    if (why) {
        cs_log(pc->log, CS_LOG_DEBUG, "%s: packed weights not used: %s", path, why);
        return NULL;
    }
    const uint8_t *kept = (const uint8_t *)p + PAYLOAD_AT;
    if (!check(kept, ctx)) {
        cs_log(pc->log, CS_LOG_WARN,
               "%s tower: the kept %s packing differs from a fresh one; packing again", pc->tower,
               layout->kind);
        munmap(p, (size_t)st.st_size);
        return NULL;
    }
    cs_map_hint_huge(p, (size_t)st.st_size);
    f->map = p;
    f->size = (size_t)st.st_size;
    cs_log(pc->log, CS_LOG_DEBUG, "%s tower: %s packing mapped from the cache", pc->tower,
           layout->kind);
    return kept;
}

void cs_pack_unmap(cs_pack_file *f) {
    if (f && f->map) munmap(f->map, f->size);
    if (f) f->map = NULL, f->size = 0;
}

static int write_all(int fd, const void *data, size_t n, off_t at) {
    const uint8_t *p = data;
    while (n > 0) {
        size_t piece = n < WRITE_PIECE ? n : WRITE_PIECE;
        ssize_t w = pwrite(fd, p, piece, at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w, n -= (size_t)w, at += w;
    }
    return 0;
}

void cs_pack_store(const cs_pack_cache *pc, const cs_pack_layout *layout, const void *data,
                   size_t bytes) {
    char path[4096], tmp[4200];
    if (!pc || !pc->dir || !pc->source || !file_name(pc, layout, path, sizeof path)) return;
    cs_error err;
    if (cs_mkdirs(pc->dir, &err) != CS_OK) {
        cs_log(pc->log, CS_LOG_DEBUG, "packed weights not kept: %s", err.message);
        return;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        cs_log(pc->log, CS_LOG_DEBUG, "%s: packed weights not kept: %s", tmp, strerror(errno));
        return;
    }
    pack_header h;
    make_header(pc, layout, bytes, &h);
    char page[HEADER_BYTES] = {0};
    memcpy(page, &h, sizeof h);
    /* synced before the rename: a crash leaves no file, or a whole one */
    int bad = write_all(fd, page, sizeof page, 0) || write_all(fd, data, bytes, PAYLOAD_AT) ||
              fsync(fd) != 0;
    int e = errno;
    if (close(fd) != 0 && !bad) bad = 1, e = errno;
    if (!bad && rename(tmp, path) != 0) bad = 1, e = errno;
    if (bad) {
        unlink(tmp);
        cs_log(pc->log, CS_LOG_WARN, "%s: packed weights not kept: %s", path, strerror(e));
        return;
    }
    cs_log(pc->log, CS_LOG_DEBUG, "%s: packed weights kept (%zu bytes)", path, bytes);
}
