/* core/guard.c - see guard.h. */
#include "core/guard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file.h"

void cs_guard_init(cs_file_guard *g) {
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->lock, NULL);
}

void cs_guard_release(cs_file_guard *g) {
    for (int i = 0; i < g->n_parked; i++) close(g->parked[i]);
    free(g->parked);
    pthread_mutex_destroy(&g->lock);
    memset(g, 0, sizeof *g);
}

/* Adds the file at path (followed) to a list of ids, unless it is there. */
static void add_id(cs_file_guard *list, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return;
    int known = 0;
    for (int i = 0; i < list->n && !known; i++)
        known = list->ids[i].dev == st.st_dev && list->ids[i].ino == st.st_ino;
    if (!known && list->n < CS_GUARD_MAX) {
        list->ids[list->n].dev = st.st_dev;
        list->ids[list->n].ino = st.st_ino;
        list->n++;
    }
}

void cs_guard_add(cs_file_guard *g, const char *path) {
    pthread_mutex_lock(&g->lock);
    add_id(g, path);
    pthread_mutex_unlock(&g->lock);
}

void cs_guard_set_family(cs_file_guard *g, const char *path) {
    static const char *const known[] = {"", "-wal", "-shm", "-journal", ".vectors"};
    /* gathered aside and swapped in at once: threads that check files
     * meanwhile (a server's) never see an empty list */
    cs_file_guard *fresh = calloc(1, sizeof *fresh);
    if (!fresh) return; /* the files guarded before stay guarded */
    char buf[4096 + 256 + 2];
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        snprintf(buf, sizeof buf, "%s%s", path, known[i]);
        add_id(fresh, buf);
    }
    /* the others beside it, whatever they are called after the name */
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) : 0, blen = strlen(base);
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)(dlen ? dlen : 1), slash ? path : ".");
    DIR *d = opendir(dir);
    for (struct dirent *de; d && (de = readdir(d));) {
        const char *nm = de->d_name;
        if (strncmp(nm, base, blen) != 0 || (nm[blen] != '.' && nm[blen] != '-')) continue;
        snprintf(buf, sizeof buf, "%s/%s", dir, nm);
        add_id(fresh, buf);
    }
    if (d) closedir(d);
    pthread_mutex_lock(&g->lock);
    memcpy(g->ids, fresh->ids, sizeof g->ids);
    g->n = fresh->n;
    pthread_mutex_unlock(&g->lock);
    free(fresh);
}

int cs_guard_has(cs_file_guard *g, const struct stat *st) {
    if (!g) return 0;
    pthread_mutex_lock(&g->lock);
    int hit = 0;
    for (int i = 0; i < g->n && !hit; i++)
        hit = g->ids[i].dev == st->st_dev && g->ids[i].ino == st->st_ino;
    pthread_mutex_unlock(&g->lock);
    return hit;
}

int cs_guard_close(cs_file_guard *g, int fd) {
    struct stat st;
    if (!g || fstat(fd, &st) != 0 || !cs_guard_has(g, &st)) {
        close(fd);
        return 0;
    }
    pthread_mutex_lock(&g->lock);
    if (g->n_parked == g->cap_parked) {
        int cap = g->cap_parked ? 2 * g->cap_parked : 4;
        int *grown = realloc(g->parked, (size_t)cap * sizeof *grown);
        if (grown) {
            g->parked = grown;
            g->cap_parked = cap;
        }
    }
    /* out of memory: the descriptor stays open for good, a smaller harm
     * than dropping the database's locks */
    if (g->n_parked < g->cap_parked) g->parked[g->n_parked++] = fd;
    pthread_mutex_unlock(&g->lock);
    return 1;
}

cs_status cs_guard_open(cs_file_guard *g, const char *path, int *fd, struct stat *st,
                        cs_error *err) {
    *fd = -1;
    /* checked before opening: most of the time nothing is opened at all */
    if (stat(path, st) == 0 && cs_guard_has(g, st))
        return cs_fail(err, CS_EINVAL, "%s: the catalogue's own file, not an image", path);
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (f < 0)
        return cs_fail(err, errno == ENOENT ? CS_ENOTFOUND : CS_EIO, "%s: %s", path,
                       strerror(errno));
    if (fstat(f, st) != 0 || !S_ISREG(st->st_mode)) {
        cs_guard_close(g, f);
        return cs_fail(err, CS_EIO, "%s: not a regular file", path);
    }
    if (cs_guard_has(g, st)) { /* swapped in since the check */
        cs_guard_close(g, f);
        return cs_fail(err, CS_EINVAL, "%s: the catalogue's own file, not an image", path);
    }
    *fd = f;
    return CS_OK;
}

cs_status cs_guard_read_file(cs_file_guard *g, const char *path, size_t max_bytes, char **out,
                             size_t *size, cs_error *err) {
    int fd;
    struct stat st;
    cs_status s = cs_guard_open(g, path, &fd, &st, err);
    if (s != CS_OK) return s;
    return cs_read_fd(fd, path, &st, max_bytes, out, size, err);
}
