/* The folder walk on its own: byte order of names, hidden names, exclude
 * globs on names and on relative paths, images by content or extension,
 * symbolic links skipped or followed (with a loop), a single file as root,
 * a missing root. */
#include <sys/stat.h>
#include <unistd.h>

#include "index/walk.h"
#include "test.h"

static char root[512];

static void put(const char *rel, const char *bytes) {
    char path[1024], cmd[1200];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    if (system(cmd) != 0) exit(1);
    FILE *f = fopen(path, "wb");
    fputs(bytes, f);
    fclose(f);
}

static int is_img(const uint8_t *head, size_t n) {
    return n >= 3 && !memcmp(head, "IMG", 3);
}

typedef struct seen {
    char list[4096];
    int n;
} seen;

/* Records "rel;" per file found. */
static int on_file(void *user, const cs_walk_entry *e) {
    seen *s = user;
    const char *rel = e->path + strlen(root) + 1;
    strncat(s->list, rel, sizeof s->list - strlen(s->list) - 2);
    strcat(s->list, ";");
    s->n++;
    CHECK(e->size > 0 && e->mtime_ns > 0);
    return 0;
}

static seen walk(const char *start, const char *const *ex, int n_ex, int follow, int hidden) {
    seen s = {{0}, 0};
    cs_walk_opts o = {.excludes = ex,
                      .n_excludes = n_ex,
                      .follow_symlinks = follow,
                      .include_hidden = hidden,
                      .is_image = is_img};
    cs_error err;
    CHECK_OK(cs_walk(start, &o, on_file, NULL, &s, &err), &err);
    return s;
}

#define CHECK_LIST(s, want) CHECK_MSG(!strcmp((s).list, want), "got %s\n want %s", (s).list, want)

int main(void) {
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", cs_test_tmpdir());
    snprintf(root, sizeof root, "%s/r", tmp);
    put("b.jpg", "not really a jpeg"); /* by extension: reported, the indexer says why */
    put("a/z.dat", "IMG data");        /* by content */
    put("a/y.txt", "text");            /* neither: ignored */
    put("a/B.PNG", "x");               /* extensions ignore case */
    put(".hid/c.jpg", "x");
    put(".d.jpg", "x");
    put("raw/one.jpg", "x");
    put("raw/deep/two.jpg", "x");
    put("keep/raw.jpg", "x");
    put("x.tmp", "IMG");
    char target[1024], link[1024];
    snprintf(target, sizeof target, "%s/keep", root);
    snprintf(link, sizeof link, "%s/a/link", root);
    CHECK(symlink(target, link) == 0);
    snprintf(link, sizeof link, "%s/keep/loop", root);
    CHECK(symlink(root, link) == 0);

    /* byte order ("B.PNG" < "link" < "y" < "z"), hidden and links skipped */
    seen s = walk(root, NULL, 0, 0, 0);
    CHECK_LIST(s, "a/B.PNG;a/z.dat;b.jpg;keep/raw.jpg;raw/deep/two.jpg;raw/one.jpg;x.tmp;");
    /* a glob on names, and one on relative paths (covering everything below) */
    const char *ex[] = {"*.tmp", "raw/*"};
    s = walk(root, ex, 2, 0, 0);
    CHECK_LIST(s, "a/B.PNG;a/z.dat;b.jpg;keep/raw.jpg;");
    const char *ex_name[] = {"raw"}; /* the folder "raw", not the file "raw.jpg" */
    s = walk(root, ex_name, 1, 0, 0);
    CHECK_LIST(s, "a/B.PNG;a/z.dat;b.jpg;keep/raw.jpg;x.tmp;");
    /* hidden names included on request */
    s = walk(root, ex, 2, 0, 1);
    CHECK_LIST(s, ".d.jpg;.hid/c.jpg;a/B.PNG;a/z.dat;b.jpg;keep/raw.jpg;");
    /* links followed: a/link/ is keep/, and keep/loop (back to the root) is
     * walked once below keep/ but never re-enters a folder being walked */
    s = walk(root, ex, 2, 1, 0);
    CHECK(strstr(s.list, "a/link/raw.jpg;") != NULL);
    CHECK(strstr(s.list, "keep/loop/a/") == NULL);
    CHECK_MSG(s.n < 20, "%d files: the loop was followed", s.n);

    /* a single file as root is reported whatever its name or bytes */
    char file[1024];
    snprintf(file, sizeof file, "%s/a/y.txt", root);
    s = walk(file, NULL, 0, 0, 0);
    CHECK_EQ_INT(s.n, 1);

    cs_error err;
    snprintf(file, sizeof file, "%s/missing", root);
    CHECK(cs_walk(file, NULL, on_file, NULL, &s, &err) == CS_ENOTFOUND);
    CHECK(strstr(err.message, "missing") != NULL);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return cs_test_done("index.walk");
}
