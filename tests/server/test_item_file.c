/* tests/server/test_item_file.c - opening an indexed image's file: no
 * symbolic link at any component (with openat2 and with the one-component-
 * at-a-time fallback), the checks of the opened file against its row, and
 * the catalogue's own files refused with their locks kept.
 * tests/server/test_swap.sh and test_own_files.sh do the same end to end
 * through the server. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clipsearch/index.h"
#include "server/item_file.h"
#include "test.h"

static char root[PATH_MAX / 2];

static void write_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

static void pathf(char *out, const char *rel) {
    size_t n = strlen(root);
    memcpy(out, root, n);
    out[n] = '/';
    snprintf(out + n + 1, PATH_MAX - n - 1, "%s", rel);
}

/* open_no_links(rel) in both modes: fd >= 0 or the errno. */
static void expect_open(const char *rel, int want_ok) {
    char p[PATH_MAX];
    pathf(p, rel);
    for (int mode = 0; mode < 2; mode++) {
        errno = 0;
        int fd = cs_srv_open_no_links(p, mode);
        CHECK_MSG((fd >= 0) == want_ok, "%s (openat2 %d): fd %d errno %d", rel, mode, fd, errno);
        if (!want_ok) CHECK_MSG(errno == ELOOP || errno == ENOTDIR, "%s: errno %d", rel, errno);
        if (fd >= 0) close(fd);
    }
}

static void test_no_links(void) {
    char p[PATH_MAX], q[PATH_MAX];
    pathf(p, "a/b");
    CHECK(mkdir(p, 0700) == 0);
    pathf(p, "a/b/f.png");
    write_file(p, "\x89PNG\r\n\x1A\nxxxx", 12);
    pathf(p, "secret");
    write_file(p, "root:secret\n", 12);

    expect_open("a/b/f.png", 1);
    /* the file itself a link */
    pathf(p, "secret"), pathf(q, "a/b/link.png");
    CHECK(symlink(p, q) == 0);
    expect_open("a/b/link.png", 0);
    /* a relative link, and a link to a folder at every level */
    pathf(q, "a/b/rel.png");
    CHECK(symlink("f.png", q) == 0);
    expect_open("a/b/rel.png", 0);
    pathf(p, "a/b"), pathf(q, "a/lb");
    CHECK(symlink(p, q) == 0);
    expect_open("a/lb/f.png", 0);
    pathf(p, "a"), pathf(q, "la");
    CHECK(symlink(p, q) == 0);
    expect_open("la/b/f.png", 0);
    /* a file where a folder was */
    pathf(p, "a/b/f.png/x");
    for (int mode = 0; mode < 2; mode++) CHECK(cs_srv_open_no_links(p, mode) < 0);
}

/* cs_srv_item_open / cs_srv_item_verify against a row. */
static void test_checks(void) {
    char p[PATH_MAX];
    pathf(p, "c.png");
    const char img[] = "\x89PNG\r\n\x1A\n-an-image-of-twenty";
    write_file(p, img, sizeof img - 1);
    struct stat st;
    CHECK(stat(p, &st) == 0);
    cs_srv_item it = {.id = 7, .size = (int64_t)st.st_size};
    it.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    cs_hash128(img, sizeof img - 1, it.hash);
    snprintf(it.path, sizeof it.path, "%s", p);

    cs_srv_item_file f;
    cs_error err = {0};
    CHECK_OK(cs_srv_item_open(&it, NULL, &f, &err), &err);
    CHECK(f.format == CS_FMT_PNG);
    CHECK_OK(cs_srv_item_verify(&it, &f, 1, 1 << 20, &err), &err);
    CHECK(f.data && !memcmp(f.data, img, sizeof img - 1));
    cs_srv_item_file_close(&f);
    /* over the byte limit */
    CHECK_OK(cs_srv_item_open(&it, NULL, &f, &err), &err);
    CHECK(cs_srv_item_verify(&it, &f, 1, 8, &err) == CS_ELIMIT);
    cs_srv_item_file_close(&f);

    /* each field of the row that no longer matches */
    cs_srv_item bad = it;
    bad.size++;
    CHECK(cs_srv_item_open(&bad, NULL, &f, &err) == CS_ENOTFOUND && strstr(err.message, "size"));
    bad = it;
    bad.mtime_ns++;
    CHECK(cs_srv_item_open(&bad, NULL, &f, &err) == CS_ENOTFOUND &&
          strstr(err.message, "modified"));
    bad = it;
    bad.hash[3] ^= 1;
    CHECK_OK(cs_srv_item_open(&bad, NULL, &f, &err), &err);
    CHECK(cs_srv_item_verify(&bad, &f, 0, 0, &err) == CS_ENOTFOUND &&
          strstr(err.message, "content"));
    cs_srv_item_file_close(&f);
    /* paths the indexer never writes */
    const char *odd[] = {"c.png", "/./c.png", "/tmp/../c.png", ""};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        bad = it;
        snprintf(bad.path, sizeof bad.path, "%s", odd[i]);
        CHECK(cs_srv_item_open(&bad, NULL, &f, &err) == CS_ENOTFOUND &&
              strstr(err.message, "canonical"));
    }
    /* not an image, though size and mtime match: refused without its bytes */
    pathf(p, "d.png");
    write_file(p, "root:x:0:0:secret:/root", 23);
    CHECK(stat(p, &st) == 0);
    bad = it;
    snprintf(bad.path, sizeof bad.path, "%s", p);
    bad.size = (int64_t)st.st_size;
    bad.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    CHECK(cs_srv_item_open(&bad, NULL, &f, &err) == CS_ENOTFOUND &&
          strstr(err.message, "not an image"));
    CHECK(!strstr(err.message, "root") && !strstr(err.message, "72 6f"));
}

/* 1 when another process sees a write lock held on path. */
static int locked_elsewhere(const char *path) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_RDWR);
        struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        _exit(fd >= 0 && fcntl(fd, F_GETLK, &l) == 0 && l.l_type != F_UNLCK ? 0 : 1);
    }
    int status = 0;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

/* An indexed path hard-linked to the catalogue's database: refused, and the
 * database's POSIX lock (what SQLite relies on) still held afterwards. */
static void test_own_files(void) {
    char db[PATH_MAX], photo[PATH_MAX];
    pathf(db, "catalog.db");
    pathf(photo, "a/photo.png");
    write_file(db, "SQLite format 3", 16);
    int fd = open(db, O_RDWR);
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    CHECK(fd >= 0 && fcntl(fd, F_SETLK, &l) == 0);
    CHECK(locked_elsewhere(db));
    CHECK(link(db, photo) == 0);
    cs_file_guard g;
    cs_guard_init(&g);
    cs_guard_add(&g, db);
    cs_srv_item it = {.id = 7, .size = 16};
    snprintf(it.path, sizeof it.path, "%s", photo);
    cs_srv_item_file f;
    cs_error err = {0};
    CHECK(cs_srv_item_open(&it, &g, &f, &err) == CS_ENOTFOUND && f.fd < 0);
    CHECK_MSG(strstr(err.message, "the catalogue's own file") != NULL, "%s", err.message);
    CHECK_MSG(locked_elsewhere(db), "the lock went with the refusal");
    /* without the guard it is opened (and refused only for what it holds),
     * and closing it drops the lock: what the guard is for */
    CHECK(cs_srv_item_open(&it, NULL, &f, &err) == CS_ENOTFOUND);
    CHECK(!locked_elsewhere(db));
    cs_guard_release(&g);
    close(fd);
}

int main(void) {
    char real[PATH_MAX];
    CHECK(realpath(cs_test_tmpdir(), real) != NULL && strlen(real) < sizeof root);
    snprintf(root, sizeof root, "%.*s", (int)(sizeof root - 1), real);
    char p[PATH_MAX];
    pathf(p, "a");
    CHECK(mkdir(p, 0700) == 0);
    test_no_links();
    test_checks();
    test_own_files();
    return cs_test_done("server.item_file");
}
