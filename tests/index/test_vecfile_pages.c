/* tests/index/test_vecfile_pages.c - the vector file is written in large
 * aligned pieces, so that the page cache keeps it in large folios and a cold
 * search maps it with few page-table entries (vecfile.c, tmp_open).
 *
 * What the kernel reports is the measure: after prefaulting a mapping of
 * the file, /proc/self/smaps shows how much of it is mapped by PMD entries
 * (FilePmdMapped). A control file written with 4 MiB write() calls in the
 * same folder tells whether this kernel and file system do that at all;
 * where they do not, the test is skipped (77). Both files are written both
 * ways: from the handle's snapshot and streamed from SQLite.
 *
 * Then the page cache drops the file (POSIX_FADV_DONTNEED) and a reader
 * maps it again: its mapping asks for 2 MiB folios (cs_map_hint_huge), so
 * the pages read back from disk are again mapped by PMDs - checked against
 * a control file read back the same way with the hint (skipped where the
 * kernel ignores the hint, e.g. transparent huge pages "never"). */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/file.h"
#include "index/db_internal.h"
#include "test.h"
#include "synth_rows.h"

#define DIM  512
#define ROWS 6000 /* 12 MB of vectors */

/* Drops path's pages from the page cache (they are clean after fsync). */
static void drop_cache(const char *path) {
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
    close(fd);
}

/* Maps path, prefaults it, returns the kB mapped by PMDs. */
static long mapped_large(const char *path) {
    cs_map m;
    cs_error err;
    CHECK_OK(cs_map_file(path, &m, &err), &err);
    if (!m.data) return -1;
    cs_prefault(m.data, m.size, 0);
    long kb = cs_test_pmd_mapped_kb(m.data);
    cs_unmap(&m);
    return kb;
}

static void write_control(const char *path, size_t bytes) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    char *buf = calloc(1, 4u << 20);
    for (size_t off = 0; fd >= 0 && buf && off < bytes; off += 4u << 20) {
        memset(buf, (int)(off >> 20) + 1, 4u << 20);
        CHECK(write(fd, buf, 4u << 20) == (ssize_t)(4u << 20));
    }
    free(buf);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* A check of kb, the large-mapped part of a file just written: it must be
 * >= 4096 unless this kernel, right now, maps no freshly written file that
 * way (large folios need free 2 MiB blocks, which a busy machine's memory
 * may lack for a moment: then a new control file written the same way
 * tells, and the check is noted instead). */
static void check_large(const char *what, long kb, long base, const char *dir) {
    if (kb >= 4096) return;
    char again[1024];
    snprintf(again, sizeof again, "%s/control2.bin", dir);
    write_control(again, 16u << 20);
    long now = mapped_large(again);
    unlink(again);
    if (now < 4096) {
        printf("note: %s: %ld kB mapped by PMDs, and a control written now %ld kB (at the start "
               "%ld): the kernel had no large folios to give\n",
               what, kb, now, base);
        return;
    }
    CHECK_MSG(0, "%s: %ld kB mapped by PMDs (control: %ld at the start, %ld now)", what, kb, base,
              now);
}

int main(void) {
    const char *dir = cs_test_tmpdir();
    char control[1024], path[1024], vec[1100];
    snprintf(control, sizeof control, "%s/control.bin", dir);
    snprintf(path, sizeof path, "%s/catalog.db", dir);
    snprintf(vec, sizeof vec, "%s.vectors", path);
    write_control(control, 16u << 20);
    long base = mapped_large(control);
    if (base <= 0) {
        printf("SKIP: this kernel or file system maps no file with PMDs (%ld kB)\n", base);
        return 77;
    }

    cs_error err;
    cs_db *db = NULL;
    cs_db_opts o = {
        .model_id = "test-model", .dim = DIM, .model_name = "test", .flags = CS_DB_CREATE};
    CHECK_OK(cs_db_open(path, &o, &db, &err), &err);
    if (!db) return cs_test_done("index.vecfile_pages");
    cs_test_rows rows;
    cs_test_rows_make(&rows, ROWS, DIM);
    CHECK_OK(cs_db_put(db, rows.e, ROWS, &err), &err);

    /* streamed from SQLite (no snapshot in the handle yet) */
    CHECK_OK(cs_db_write_vectors(db, &err), &err);
    check_large("written from SQLite", mapped_large(vec), base, dir);

    /* from the snapshot: a row changed, the snapshot caught up, the file
     * rewritten from it */
    cs_vecs *v = NULL;
    CHECK_OK(cs_db_vectors(db, &v, &err), &err);
    cs_vecs_release(v);
    rows.emb[0] = 1000;
    rows.e[0].size++;
    CHECK_OK(cs_db_put(db, rows.e, 1, &err), &err);
    CHECK_OK(cs_db_write_vectors(db, &err), &err);
    check_large("written from the snapshot", mapped_large(vec), base, dir);

    cs_db_close(db);

    /* read back from disk: the control with the hint, then the reader's map */
    drop_cache(control);
    cs_map m;
    long hinted = -1;
    if (cs_map_file(control, &m, &err) == CS_OK && m.data) {
        cs_map_hint_huge(m.data, m.size);
        cs_prefault(m.data, m.size, 0);
        hinted = cs_test_pmd_mapped_kb(m.data);
        cs_unmap(&m);
    }
    if (hinted > 0) {
        drop_cache(vec);
        o.flags = CS_DB_READONLY;
        CHECK_OK(cs_db_open(path, &o, &db, &err), &err);
        v = NULL;
        if (db) CHECK_OK(cs_db_vectors(db, &v, &err), &err);
        long back = v && v->map.data ? cs_test_pmd_mapped_kb(v->map.data) : -1;
        CHECK_MSG(back >= 4096, "read back from disk: %ld kB mapped by PMDs (control: %ld)", back,
                  hinted);
        cs_vecs_release(v);
        cs_db_close(db);
    } else {
        printf("note: this kernel reads files back in small folios even when asked (%ld kB)\n",
               hinted);
    }
    cs_test_rows_free(&rows);
    return cs_test_done("index.vecfile_pages");
}
