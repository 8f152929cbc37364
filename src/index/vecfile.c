/* index/vecfile.c - DB.vectors, the vector snapshot as a file: checked and
 * mapped, or written from a snapshot or straight from SQLite.
 *
 * Reading 100k embeddings out of SQLite takes far longer than a cold search
 * may take in all (docs/catalog.md), so the rows are also kept in a flat file
 * that is memory-mapped as is:
 *
 *   offset 0   header (64 bytes, little-endian):
 *              magic "CSVECS1\0", u32 version (1), u32 dim, u64 count,
 *              u64 generation, char uuid[16] (raw bytes of the database's
 *              uuid), u64 ids_offset, u64 vectors_offset
 *   ids_offset      int64 ids[count], ascending
 *   vectors_offset  float vectors[count][dim] (64-byte aligned), L2-normalised
 *
 * It is a cache: written atomically (temporary file, fsync, rename) after
 * each indexing run, and trusted only when its uuid and generation equal the
 * database's; otherwise the rows come from SQLite and the file is rewritten
 * when the database is writable. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/checked.h"
#include "index/db_internal.h"

#define VEC_MAGIC    "CSVECS1"
#define WRITE_BUFFER (4u << 20)

typedef struct vec_header {
    char magic[8];
    uint32_t version, dim;
    uint64_t count, generation;
    uint8_t uuid[16];
    uint64_t ids_offset, vectors_offset;
} vec_header;

_Static_assert(sizeof(vec_header) == CS_VECFILE_HEADER, "vector file header is 64 bytes");

static void uuid_bytes(const char *hex, uint8_t out[16]) {
    for (int i = 0; i < 16; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

uint64_t cs_vecfile_vectors_offset(uint64_t count) {
    uint64_t off = CS_VECFILE_HEADER + count * sizeof(int64_t);
    return (off + 63) & ~(uint64_t)63;
}

/* 1 when the header describes a file of exactly `size` bytes holding the
 * database's current vectors. Every size is computed with overflow checks:
 * the fields are whatever the file says (a huge count once wrapped
 * vectors_offset + count * dim * 4 to the file's size). */
static int header_ok(const vec_header *h, uint64_t size, int dim, uint64_t gen,
                     const uint8_t uuid[16]) {
    uint64_t ids_bytes, ids_end, voff, vbytes, end;
    if (memcmp(h->magic, VEC_MAGIC, 8) != 0 || h->version != 1 || h->dim != (uint32_t)dim ||
        h->generation != gen || memcmp(h->uuid, uuid, 16) != 0 ||
        h->ids_offset != CS_VECFILE_HEADER)
        return 0;
    if (!cs_mul_u64(h->count, sizeof(int64_t), &ids_bytes) ||
        !cs_add_u64(CS_VECFILE_HEADER, ids_bytes, &ids_end) || !cs_align_u64(ids_end, 64, &voff) ||
        h->vectors_offset != voff || !cs_mul3_u64(h->count, h->dim, sizeof(float), &vbytes) ||
        !cs_add_u64(voff, vbytes, &end) || end != size || h->count > (uint64_t)INT64_MAX)
        return 0;
    return 1;
}

/* 1 when the ids strictly ascend (the snapshot's lookups bisect them). */
static int ids_ascending(const int64_t *ids, uint64_t n) {
    for (uint64_t i = 1; i < n; i++)
        if (ids[i] <= ids[i - 1]) return 0;
    return 1;
}

int cs_vecfile_check(const void *data, size_t size, int dim, uint64_t gen,
                     const char uuid_hex[33]) {
    vec_header h;
    uint8_t uuid[16];
    if (size < CS_VECFILE_HEADER) return 0;
    uuid_bytes(uuid_hex, uuid);
    memcpy(&h, data, sizeof h);
    return header_ok(&h, size, dim, gen, uuid) &&
           ids_ascending((const int64_t *)((const uint8_t *)data + CS_VECFILE_HEADER), h.count);
}

cs_vecs *cs_vecfile_map(cs_db *db, uint64_t gen, int populate) {
    cs_map m = {0};
    cs_error e;
    int fd = -1;
    if (db->vec_file_bad) return NULL;
    if (cs_map_file_fd(db->vec_path, &m, &fd, &e) != CS_OK) return NULL;
    /* before the first read: pages the page cache has to read from disk
     * (it dropped them) come back as 2 MiB folios */
    cs_map_hint_huge(m.data, m.size);
    vec_header h;
    if (!m.data || !cs_vecfile_check(m.data, m.size, db->dim, gen, db->uuid)) goto stale;
    memcpy(&h, m.data, sizeof h);
    cs_vecs *v = calloc(1, sizeof *v);
    if (!v) goto stale;
    atomic_init(&v->refs, 1);
    v->generation = gen;
    v->n = (int64_t)h.count;
    v->dim = db->dim;
    v->map = m;
    v->fd = fd;
    v->source = VECS_FILE;
    v->ids = (const int64_t *)(m.data + h.ids_offset);
    v->vectors = (const float *)(m.data + h.vectors_offset);
    if (populate) cs_prefault(m.data, m.size, 0);
    return v;
stale:
    cs_log(&db->log, CS_LOG_DEBUG, "%s: stale or unreadable, reading vectors from the database",
           db->vec_path);
    cs_unmap(&m);
    close(fd);
    return NULL;
}

/* The vector file is written to a temporary file beside it through a large
 * buffer (see tmp_open), then fsync'd and renamed over it: readers see the
 * old file or the new one, never a mix. */
typedef struct out_file {
    char *tmp;
    FILE *f;
    char *buf;
} out_file;

static cs_status tmp_open(cs_db *db, out_file *o, cs_error *err) {
    size_t plen = strlen(db->vec_path);
    memset(o, 0, sizeof *o);
    o->tmp = malloc(plen + 8);
    o->buf = malloc(WRITE_BUFFER);
    if (!o->tmp || !o->buf) {
        free(o->tmp);
        free(o->buf);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", db->vec_path);
    }
    memcpy(o->tmp, db->vec_path, plen);
    memcpy(o->tmp + plen, ".XXXXXX", 8);
    int fd = mkstemp(o->tmp);
    if (fd >= 0 && !(o->f = fdopen(fd, "wb"))) close(fd);
    if (!o->f) {
        cs_status st = cs_fail(err, CS_EIO, "%s: %s", o->tmp, strerror(errno));
        if (fd >= 0) unlink(o->tmp);
        free(o->tmp);
        free(o->buf);
        return st;
    }
    /* Whole buffers of 4 MiB go out at 4 MiB-aligned offsets (stdio flushes
     * only full buffers; a larger fwrite goes out directly from such an
     * offset). On Linux with large folios (ext4, xfs, tmpfs) the page cache
     * then holds the file in 2 MiB folios, which a search maps with one
     * page-table entry each: prefaulting the 205 MB of 100k vectors took
     * 0.1 ms instead of 8 (written in 4 KiB pieces), unmapping it at exit
     * 0.05 ms instead of 3. glibc ignores the size unless given the buffer. */
    setvbuf(o->f, o->buf, _IOFBF, WRITE_BUFFER);
    return CS_OK;
}

static cs_status tmp_finish(cs_db *db, out_file *o, cs_status st, cs_error *err) {
    if (!st && (fflush(o->f) != 0 || ferror(o->f)))
        st = cs_fail(err, CS_EIO, "%s: write: %s", o->tmp, strerror(errno));
    if (!st && fsync(fileno(o->f)) != 0)
        st = cs_fail(err, CS_EIO, "%s: fsync: %s", o->tmp, strerror(errno));
    if (fclose(o->f) != 0 && !st)
        st = cs_fail(err, CS_EIO, "%s: close: %s", o->tmp, strerror(errno));
    if (!st && rename(o->tmp, db->vec_path) != 0)
        st = cs_fail(err, CS_EIO, "%s: rename: %s", db->vec_path, strerror(errno));
    if (!st) db->vec_file_bad = 0; /* rewritten from SQLite: trusted again */
    if (st) unlink(o->tmp);
    free(o->tmp);
    free(o->buf);
    return st;
}

static vec_header make_header(cs_db *db, int64_t n, uint64_t gen) {
    vec_header h = {.magic = VEC_MAGIC,
                    .version = 1,
                    .dim = (uint32_t)db->dim,
                    .count = (uint64_t)n,
                    .generation = gen,
                    .ids_offset = CS_VECFILE_HEADER,
                    .vectors_offset = cs_vecfile_vectors_offset((uint64_t)n)};
    uuid_bytes(db->uuid, h.uuid);
    return h;
}

static void write_pad(FILE *f, int64_t n) {
    static const uint8_t zeros[64];
    fwrite(zeros, 1,
           (size_t)cs_vecfile_vectors_offset((uint64_t)n) - CS_VECFILE_HEADER -
               (size_t)n * sizeof(int64_t),
           f);
}

cs_status cs_vecfile_write(cs_db *db, const cs_vecs *v, cs_error *err) {
    out_file o;
    cs_status st = tmp_open(db, &o, err);
    if (st) return st;
    FILE *f = o.f;
    vec_header h = make_header(db, v->n, v->generation);
    fwrite(&h, sizeof h, 1, f);
    fwrite(v->ids, sizeof(int64_t), (size_t)v->n, f);
    write_pad(f, v->n);
    fwrite(v->vectors, sizeof(float) * (size_t)v->dim, (size_t)v->n, f);
    return tmp_finish(db, &o, CS_OK, err);
}

cs_status cs_vecfile_write_sql(cs_db *db, cs_error *err) {
    out_file o;
    cs_status st = tmp_open(db, &o, err);
    if (st) return st;
    FILE *f = o.f;
    uint64_t gen = 0;
    int64_t count = 0, n = 0;
    size_t row = (size_t)db->dim * sizeof(float);
    sqlite3_stmt *s = NULL;
    st = cs_db_begin_read(db, &gen, &count, err);
    vec_header h = make_header(db, count, gen);
    if (!st) fwrite(&h, sizeof h, 1, f);
    /* two passes in id order: the ids, then the vectors */
    for (int pass = 0; pass < 2 && !st; pass++) {
        if (sqlite3_prepare_v2(db->sql,
                               pass ? "SELECT embedding FROM images ORDER BY id"
                                    : "SELECT id FROM images ORDER BY id",
                               -1, &s, NULL)) {
            st = cs_db_sql_fail(db, err, "reading vectors");
            break;
        }
        int rc;
        for (n = 0; (rc = sqlite3_step(s)) == SQLITE_ROW && n < count; n++) {
            if (!pass) {
                int64_t id = sqlite3_column_int64(s, 0);
                fwrite(&id, sizeof id, 1, f);
            } else if ((size_t)sqlite3_column_bytes(s, 0) == row) {
                fwrite(sqlite3_column_blob(s, 0), 1, row, f);
            } else {
                st = cs_fail(err, CS_EFORMAT, "%s: a vector of the wrong size", db->path);
                break;
            }
        }
        if (!st && (rc != SQLITE_DONE || n != count))
            st = cs_db_sql_fail(db, err, "reading vectors");
        sqlite3_finalize(s);
        s = NULL;
        if (!pass) write_pad(f, count);
    }
    sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL);
    return tmp_finish(db, &o, st, err);
}
