/* cli/dups_move.c - moving duplicates aside without losing or doubling a
 * file, whenever the process dies.
 *
 * Each move is written to a journal in DIR (.clipsearch-moves: records
 * "M\0SRC\0DST\0" before, "D\0SRC\0DST\0" after) and the intent is synced
 * before anything is touched. Then:
 *  - same filesystem: rename(2) with RENAME_NOREPLACE (atomic: the file is
 *    at SRC or at DST, never both, never neither; an existing DST is never
 *    replaced);
 *  - another filesystem (EXDEV): copy to DST.clipsearch-part, fsync,
 *    compare with SRC byte for byte, rename to DST, sync the folder, then
 *    unlink SRC. A crash can leave a partial copy (removed on recovery) or
 *    both files complete (recovery compares them and removes SRC);
 *  - then the row of SRC is removed from the catalogue, and "D" appended.
 * cli_dups_recover reads the journal at the start of the next run with the
 * same DIR and finishes each move that has no "D": whatever state the kill
 * left, the file ends in exactly one place and the catalogue agrees.
 *
 * CLIPSEARCH_MOVE_COPY=1 takes the copy path even on one filesystem (tests
 * exercise it without a second filesystem). */

#include "dups_move.h"

#include "cli_db.h"
#include "index/db_internal.h" /* cs_db_own_file */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL  ".clipsearch-moves"
#define PART_EXT ".clipsearch-part"

/* ---- small file helpers ------------------------------------------------------ */

static int fsync_dir_of(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* mkdir -p of the folder holding path. */
static int make_parents(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* 1 when both files hold the same bytes. */
static int same_bytes(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    static char ba[1 << 16], bb[1 << 16];
    while (same) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        same = na == nb && !memcmp(ba, bb, na);
        if (na < sizeof ba) break;
    }
    same = same && !ferror(fa) && !ferror(fb);
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* Copies src to dst (created, never replaced) and syncs it. */
static int copy_synced(const char *src, const char *dst) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int ok = in >= 0 && out >= 0;
    static char buf[1 << 16];
    while (ok) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        for (ssize_t done = 0; ok && done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR) continue;
            ok = w > 0;
            done += w > 0 ? w : 0;
        }
    }
    struct stat st;
    if (ok && fstat(in, &st) == 0) fchmod(out, st.st_mode & 07777);
    ok = ok && fsync(out) == 0;
    int saved = errno;
    if (in >= 0) close(in);
    if (out >= 0 && close(out) != 0) ok = 0;
    errno = saved;
    return ok ? 0 : -1;
}

/* ---- the journal ------------------------------------------------------------- */

typedef struct journal {
    char path[4096];
    int fd;
} journal;

static int journal_add(journal *j, char tag, const char *src, const char *dst, int sync) {
    size_t ls = strlen(src) + 1, ld = strlen(dst) + 1;
    char *rec = malloc(2 + ls + ld);
    if (!rec) return -1;
    rec[0] = tag;
    rec[1] = 0;
    memcpy(rec + 2, src, ls);
    memcpy(rec + 2 + ls, dst, ld);
    ssize_t w = write(j->fd, rec, 2 + ls + ld);
    free(rec);
    if (w != (ssize_t)(2 + ls + ld)) return -1;
    return sync ? fsync(j->fd) : 0;
}

static int journal_open(journal *j, const char *dir) {
    snprintf(j->path, sizeof j->path, "%s/" JOURNAL, dir);
    j->fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (j->fd < 0) return -1;
    return fsync_dir_of(j->path);
}

/* Every move done: the journal has nothing left to say. */
static void journal_close(journal *j, int remove_it) {
    if (j->fd >= 0) close(j->fd);
    j->fd = -1;
    if (remove_it && unlink(j->path) == 0) fsync_dir_of(j->path);
}

/* ---- one move ---------------------------------------------------------------- */

static int force_copy(void) {
    const char *e = getenv("CLIPSEARCH_MOVE_COPY");
    return e && *e && strcmp(e, "0") != 0;
}

/* The copy path (see the top of the file). */
static int move_by_copy(const char *src, const char *dst) {
    char part[4200];
    snprintf(part, sizeof part, "%s" PART_EXT, dst);
    if (copy_synced(src, part) != 0) {
        int e = errno;
        unlink(part);
        errno = e;
        return -1;
    }
    if (!same_bytes(src, part)) {
        unlink(part);
        errno = EIO;
        return -1;
    }
    if (renameat2(AT_FDCWD, part, AT_FDCWD, dst, RENAME_NOREPLACE) != 0) {
        int e = errno;
        unlink(part);
        errno = e;
        return -1;
    }
    if (fsync_dir_of(dst) != 0 || unlink(src) != 0) return -1;
    fsync_dir_of(src);
    return 0;
}

/* Moves src to dst (dst must not exist). */
static int move_file(const char *src, const char *dst) {
    if (make_parents(dst) != 0) return -1;
    if (!force_copy()) {
        if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0) {
            fsync_dir_of(dst);
            fsync_dir_of(src);
            return 0;
        }
        if (errno != EXDEV) return -1;
    }
    return move_by_copy(src, dst);
}

static int drop_row(cs_db *db, const char *src) {
    cs_error err;
    if (cs_db_remove(db, &src, 1, &err) == CS_OK) return 0;
    cli_fail(&err);
    return -1;
}

/* ---- recovery ---------------------------------------------------------------- */

/* Finishes one move that has no "done" record. */
static int finish_move(cs_db *db, const char *src, const char *dst) {
    char part[4200];
    snprintf(part, sizeof part, "%s" PART_EXT, dst);
    unlink(part); /* a copy cut short; the original is still at src */
    int s = exists(src), d = exists(dst);
    if (s && !d) return 0; /* never moved: the file and its row stay */
    if (s && d) {          /* copied and renamed, not yet unlinked */
        if (!same_bytes(src, dst)) {
            cli_error("duplicates: %s and %s both exist and differ; left as they are", src, dst);
            return -1;
        }
        if (unlink(src) != 0) {
            cli_error("duplicates: %s: %s", src, strerror(errno));
            return -1;
        }
        fsync_dir_of(src);
    }
    if (!s && !d) {
        cli_error("duplicates: an interrupted move found neither %s nor %s", src, dst);
        return -1;
    }
    fprintf(stderr, "clipsearch: finished an interrupted move: %s -> %s\n", src, dst);
    return drop_row(db, src);
}

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        char *p = realloc(buf, cap *= 2);
        if (!p) {
            free(buf);
            buf = NULL;
        }
        buf = p;
    }
    fclose(f);
    *n = len;
    return buf;
}

/* The next record at *pos: 1 and its parts, or 0 at the end (a record cut
 * short by a crash counts as absent: its move was never started). */
static int next_record(const char *buf, size_t n, size_t *pos, char *tag, const char **src,
                       const char **dst) {
    size_t p = *pos;
    const char *parts[3];
    for (int i = 0; i < 3; i++) {
        const char *end = p < n ? memchr(buf + p, 0, n - p) : NULL;
        if (!end) return 0;
        parts[i] = buf + p;
        p = (size_t)(end - buf) + 1;
    }
    *tag = parts[0][0];
    *src = parts[1];
    *dst = parts[2];
    *pos = p;
    return 1;
}

int cli_dups_recover(cs_db *db, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/" JOURNAL, dir);
    size_t n = 0;
    char *buf = read_all(path, &n);
    if (!buf)
        return errno == ENOENT ? CLI_OK : (cli_error("%s: %s", path, strerror(errno)), CLI_FAIL);
    int failed = 0;
    size_t pos = 0;
    char tag;
    const char *src, *dst;
    while (next_record(buf, n, &pos, &tag, &src, &dst)) {
        if (tag != 'M') continue;
        /* done if a later record says so */
        size_t q = pos;
        char t2;
        const char *s2, *d2;
        int done = 0;
        while (!done && next_record(buf, n, &q, &t2, &s2, &d2))
            done = t2 == 'D' && !strcmp(s2, src) && !strcmp(d2, dst);
        if (!done && finish_move(db, src, dst) != 0) failed = 1;
    }
    free(buf);
    if (failed) {
        cli_error("duplicates: %s kept: fix the files named above and run again", path);
        return CLI_FAIL;
    }
    if (unlink(path) == 0) fsync_dir_of(path);
    return CLI_OK;
}

/* ---- planning ---------------------------------------------------------------- */

typedef struct root_scan {
    char *prefix; /* the common folder, without a trailing '/'; "" for "/" */
    size_t len;
    int any;
} root_scan;

/* Shrinks the common folder to one that holds path too. */
static int shrink_root(void *user, int64_t id, const char *path, const float *vector) {
    (void)id;
    (void)vector;
    root_scan *r = user;
    if (!r->any) {
        r->any = 1;
        r->prefix = strdup(path);
        if (!r->prefix) return 1;
        char *slash = strrchr(r->prefix, '/');
        r->len = slash ? (size_t)(slash - r->prefix) : 0;
        return 0;
    }
    while (r->len > 0 && !(strncmp(path, r->prefix, r->len) == 0 && path[r->len] == '/')) {
        while (r->len > 0 && r->prefix[--r->len] != '/') {
        }
    }
    return 0;
}

/* The folder every catalogued image lies under. */
static char *catalogue_root(cs_db *db) {
    root_scan r = {0};
    cs_error err;
    if (cs_db_foreach(db, shrink_root, &r, &err) != CS_OK) {
        cli_fail(&err);
        free(r.prefix);
        return NULL;
    }
    if (!r.prefix) return strdup("");
    r.prefix[r.len] = 0;
    return r.prefix;
}

#define ROOT_FILE ".clipsearch-root"

/* The root a previous run into dir used (so that a later run, after rows
 * were dropped, keeps the same layout), else the catalogue's, remembered
 * in dir unless dry_run. */
static char *default_root(cs_db *db, const char *dir, int dry_run) {
    char path[4200], buf[4097];
    snprintf(path, sizeof path, "%s/" ROOT_FILE, dir);
    FILE *f = fopen(path, "rb");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        if (n && buf[n - 1] == '\n') {
            buf[n - 1] = 0;
            return strdup(buf);
        }
    }
    char *root = catalogue_root(db);
    if (root && !dry_run && (f = fopen(path, "wb"))) {
        fprintf(f, "%s\n", root);
        fflush(f);
        fsync(fileno(f));
        fclose(f);
    }
    return root;
}

/* The folder as stored paths spell it: absolute, resolved; "/" as "". */
static char *folder(const char *path) {
    char *r = realpath(path, NULL);
    if (r && !strcmp(r, "/")) r[0] = 0;
    return r;
}

static int under(const char *path, const char *dir) {
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && (path[n] == '/' || (n > 0 && dir[n - 1] == '/'));
}

/* "moved SRC -> DST", names quoted as the CLI quotes them (cli_put_path). */
static void print_move(const char *what, const char *src, const char *dst) {
    printf("%s ", what);
    cli_put_path(src, stdout);
    fputs(" -> ", stdout);
    cli_put_path(dst, stdout);
    putchar('\n');
    fflush(stdout);
}

int cli_dups_move(cs_db *db, const cs_dups *d, const char *dir_in, const char *root_in,
                  int dry_run) {
    if (!dry_run && mkdir(dir_in, 0777) != 0 && errno != EEXIST) {
        cli_error("duplicates: cannot create %s: %s", dir_in, strerror(errno));
        return CLI_FAIL;
    }
    char *dir = exists(dir_in) ? folder(dir_in) : strdup(dir_in);
    char *root = root_in ? folder(root_in) : default_root(db, dir, dry_run);
    if (!dir || !root) {
        cli_error("duplicates: %s: %s", !dir ? dir_in : root_in, strerror(errno));
        free(dir);
        free(root);
        return CLI_FAIL;
    }
    if (*root && under(dir, root))
        fprintf(stderr,
                "clipsearch: warning: %s is inside %s: indexing that folder again adds the moved "
                "files back\n",
                dir, root);
    journal j = {.fd = -1};
    if (!dry_run && journal_open(&j, dir) != 0) {
        cli_error("duplicates: %s: %s", j.path, strerror(errno));
        free(dir);
        free(root);
        return CLI_FAIL;
    }
    int64_t moved = 0, bytes = 0, failed = 0;
    int unsure = 0; /* a move failed half way: keep the journal for the next run */
    cs_db_file_guard(db);
    for (int64_t g = 0; g < cs_dups_count(d); g++)
        for (int i = 1; i < cs_dups_size(d, g); i++) {
            const cs_dup_member *m = cs_dups_member(d, g, i);
            if (under(m->path, dir)) continue; /* set aside already */
            if (*root && !under(m->path, root)) {
                cli_error("duplicates: %s is not under %s (--root): not moved", m->path, root);
                failed++;
                continue;
            }
            /* an indexed path since linked to the database: moving it would
             * set the live catalogue aside, and the copy path opens and
             * closes it, which drops this process's SQLite locks */
            if (cs_db_own_file(db, m->path)) {
                cli_error("duplicates: %s: not moved: the catalogue's own file", m->path);
                failed++;
                continue;
            }
            char dst[8192];
            snprintf(dst, sizeof dst, "%s/%s", dir, m->path + strlen(root) + 1);
            if (dry_run) {
                print_move("would move", m->path, dst);
                moved++;
                bytes += m->size;
                continue;
            }
            if (!exists(m->path) || exists(dst)) {
                cli_error("duplicates: %s: not moved: %s", m->path,
                          !exists(m->path) ? "the file is missing" : "the destination exists");
                failed++;
                continue;
            }
            if (journal_add(&j, 'M', m->path, dst, 1) != 0) {
                cli_error("duplicates: %s: %s", j.path, strerror(errno));
                journal_close(&j, 0);
                free(dir);
                free(root);
                return CLI_FAIL;
            }
            if (move_file(m->path, dst) != 0) {
                cli_error("duplicates: %s: not moved: %s", m->path, strerror(errno));
                failed++;
                unsure = 1;
                continue;
            }
            if (drop_row(db, m->path) != 0) {
                journal_close(&j, 0); /* the next run drops the row */
                free(dir);
                free(root);
                return CLI_FAIL;
            }
            journal_add(&j, 'D', m->path, dst, 0);
            print_move("moved", m->path, dst);
            moved++;
            bytes += m->size;
        }
    if (!dry_run) journal_close(&j, !unsure);
    char b[32];
    cli_format_bytes(bytes, b, sizeof b);
    fprintf(stderr, "clipsearch: %s %lld files (%s) into %s%s\n", dry_run ? "would move" : "moved",
            (long long)moved, b, dir, failed ? "; some were not moved (see above)" : "");
    free(dir);
    free(root);
    return failed ? CLI_PARTIAL : CLI_OK;
}
