/* index/walk.c - see walk.h. */
#include "index/walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/guard.h"

#define MAX_DEPTH 256

typedef struct walker {
    const cs_walk_opts *o;
    cs_walk_file_fn fn;
    cs_walk_error_fn on_error;
    void *user;
    size_t root_len;
    char path[4096];
    /* the folders being walked, for loop detection when following links */
    dev_t devs[MAX_DEPTH];
    ino_t inos[MAX_DEPTH];
    int depth;
    int stop;
} walker;

int cs_walk_image_extension(const char *name) {
    static const char *const exts[] = {"jpg", "jpeg", "jpe", "jfif", "png",  "gif",  "webp",
                                       "bmp", "dib",  "tif", "tiff", "heic", "heif", "avif"};
    const char *dot = strrchr(name, '.');
    if (!dot || strchr(dot, '/')) return 0;
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
        if (!strcasecmp(dot + 1, exts[i])) return 1;
    return 0;
}

static void report(walker *w, cs_status st, const char *fmt, const char *detail) {
    if (!w->on_error) return;
    cs_error e;
    cs_fail(&e, st, fmt, w->path, detail);
    w->on_error(w->user, w->path, &e);
}

static int excluded(const walker *w, const char *name) {
    const char *rel = w->path + w->root_len + 1;
    for (int i = 0; i < w->o->n_excludes; i++) {
        const char *pat = w->o->excludes[i];
        if (fnmatch(pat, name, 0) == 0 || fnmatch(pat, rel, 0) == 0) return 1;
    }
    return 0;
}

static int looks_like_image(const walker *w, const char *name) {
    if (cs_walk_image_extension(name)) return 1;
    if (!w->o->is_image) return 0;
    int fd = open(w->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return 0; /* unreadable and not named like an image: not ours */
    uint8_t head[16];
    ssize_t n = read(fd, head, sizeof head);
    if (cs_guard_close(w->o->guard, fd)) return 0; /* swapped for a guarded file */
    return n > 0 && w->o->is_image(head, (size_t)n);
}

static int64_t mtime_ns(const struct stat *st) {
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void emit(walker *w, const struct stat *st) {
    cs_walk_entry e = {w->path, (int64_t)st->st_size, mtime_ns(st)};
    if (w->fn(w->user, &e)) w->stop = 1;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk_dir(walker *w, const struct stat *dst);

/* One entry of a folder; w->path already holds its full path. */
static void visit(walker *w, const char *name) {
    struct stat st;
    if (lstat(w->path, &st) != 0) {
        report(w, CS_EIO, "%s: %s", strerror(errno));
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        if (!w->o->follow_symlinks) return;
        if (stat(w->path, &st) != 0) {
            report(w, CS_EIO, "%s: broken symbolic link (%s)", strerror(errno));
            return;
        }
    }
    if (cs_guard_has(w->o->guard, &st)) return; /* the catalogue's own: never opened */
    if (S_ISDIR(st.st_mode))
        walk_dir(w, &st);
    else if (S_ISREG(st.st_mode) && looks_like_image(w, name))
        emit(w, &st);
}

static void walk_dir(walker *w, const struct stat *dst) {
    for (int i = 0; i < w->depth; i++)
        if (w->devs[i] == dst->st_dev && w->inos[i] == dst->st_ino) return; /* a loop */
    if (w->depth == MAX_DEPTH) {
        report(w, CS_ELIMIT, "%s: folders nested too deep%s", "");
        return;
    }
    DIR *d = opendir(w->path);
    if (!d) {
        report(w, CS_EIO, "%s: cannot read folder: %s", strerror(errno));
        return;
    }
    /* names first, sorted, then visited: a stable order, and no open
     * directory handles piling up with the depth */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, "..")) continue;
        if (nm[0] == '.' && !w->o->include_hidden) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) break;
            names = grown;
        }
        if (!(names[n] = strdup(nm))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_names); /* names is NULL when n is 0 */
    w->devs[w->depth] = dst->st_dev;
    w->inos[w->depth] = dst->st_ino;
    w->depth++;
    size_t len = strlen(w->path);
    for (size_t i = 0; i < n && !w->stop; i++) {
        int m = snprintf(w->path + len, sizeof w->path - len, "/%s", names[i]);
        if (m < 0 || (size_t)m >= sizeof w->path - len) {
            report(w, CS_ELIMIT, "%s%s: path too long", "");
        } else if (!excluded(w, names[i])) {
            visit(w, names[i]);
        }
        w->path[len] = '\0';
    }
    w->depth--;
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

cs_status cs_walk(const char *root, const cs_walk_opts *opts, cs_walk_file_fn fn,
                  cs_walk_error_fn on_error, void *user, cs_error *err) {
    static const cs_walk_opts none;
    walker *w = calloc(1, sizeof *w);
    if (!w) return cs_fail(err, CS_ENOMEM, "%s: out of memory", root);
    w->o = opts ? opts : &none;
    w->fn = fn;
    w->on_error = on_error;
    w->user = user;
    int n = snprintf(w->path, sizeof w->path, "%s", root);
    while (n > 1 && w->path[n - 1] == '/') w->path[--n] = '\0';
    w->root_len = (size_t)n;
    struct stat st;
    cs_status status = CS_OK;
    if (n <= 0 || (size_t)n >= sizeof w->path)
        status = cs_fail(err, CS_ELIMIT, "%s: path too long", root);
    else if (stat(w->path, &st) != 0)
        status =
            cs_fail(err, errno == ENOENT ? CS_ENOTFOUND : CS_EIO, "%s: %s", root, strerror(errno));
    else if (cs_guard_has(w->o->guard, &st))
        status = cs_fail(err, CS_EINVAL, "%s: the catalogue's own file, not an image", root);
    else if (S_ISDIR(st.st_mode))
        walk_dir(w, &st);
    else if (S_ISREG(st.st_mode))
        emit(w, &st);
    else
        status = cs_fail(err, CS_EINVAL, "%s: not a folder or a regular file", root);
    free(w);
    return status;
}
