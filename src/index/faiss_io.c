/* index/faiss_io.c - FAISS interchange, the public side (clipsearch/search.h):
 * argument checks, the .paths file, and the handle over faiss_bridge.cpp. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file.h"
#include "hub/sha256.h"
#include "index/faiss_bridge.h"

#include "clipsearch/search.h"

struct cs_faiss_index {
    cs_fb_index *fb;
    char *path; /* for messages */
};

enum { MAX_PATHS_FILE = 1 << 30 }; /* 1 GiB of paths is ~10 million files */

static cs_status check_export_args(const char *path, const float *vectors, int64_t n, int dim,
                                   cs_error *err) {
    if (!path || !*path) return cs_fail(err, CS_EINVAL, "FAISS export: no output path");
    if (n < 0 || dim <= 0 || (n > 0 && !vectors))
        return cs_fail(err, CS_EINVAL, "%s: cannot export %lld vectors of %d dimensions", path,
                       (long long)n, dim);
    return CS_OK;
}

/* A destination is replaced by rename: one that is there must be a regular
 * file (renaming over /dev/full, a folder's link or a FIFO is never what was
 * meant). */
static cs_status check_destination(const char *path, cs_error *err) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return CS_OK;
        return cs_fail(err, CS_EIO, "%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return cs_fail(err, CS_EINVAL, "%s: not a regular file (%s); refusing to replace it", path,
                       S_ISDIR(st.st_mode)   ? "a folder"
                       : S_ISLNK(st.st_mode) ? "a symbolic link"
                       : S_ISCHR(st.st_mode) ? "a device"
                                             : "a special file");
    return CS_OK;
}

/* Writes size bytes to a new temporary file beside `path` (its name into
 * tmp), fsync'd, hashing them. */
static cs_status write_tmp(const char *path, const void *data, size_t size, char *tmp, size_t cap,
                           uint8_t sha[32], cs_error *err) {
    if (snprintf(tmp, cap, "%s.XXXXXX", path) >= (int)cap)
        return cs_fail(err, CS_ELIMIT, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return cs_fail(err, CS_EIO, "%s: cannot create a temporary file beside it: %s", path,
                       strerror(errno));
    fchmod(fd, 0644);
    cs_status st = CS_OK;
    for (size_t done = 0; done < size && !st;) {
        ssize_t w = write(fd, (const char *)data + done, size - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            st = cs_fail(err, CS_EIO, "%s: cannot write: %s", tmp, strerror(errno));
        else
            done += (size_t)w;
    }
    if (!st && fsync(fd) != 0)
        st = cs_fail(err, CS_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (close(fd) != 0 && !st)
        st = cs_fail(err, CS_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (st) {
        unlink(tmp);
        return st;
    }
    if (sha) {
        cs_sha256 s;
        cs_sha256_init(&s);
        cs_sha256_update(&s, data, size);
        cs_sha256_final(&s, sha);
    }
    return CS_OK;
}

cs_status cs_faiss_export(const char *path, const float *vectors, int64_t n, int dim,
                          const char *factory, cs_error *err) {
    cs_status st = check_export_args(path, vectors, n, dim, err);
    if (!st) st = check_destination(path, err);
    cs_fb_index *ix = NULL;
    if (!st && (st = cs_fb_build(vectors, n, dim, factory, &ix, err)))
        st = cs_fail_prefix(err, st, path);
    char tmp[4200];
    uint8_t sha[32];
    if (!st) st = cs_fb_write_tmp(ix, path, tmp, sizeof tmp, sha, err);
    if (!st && rename(tmp, path) != 0) {
        st =
            cs_fail(err, CS_EIO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
        unlink(tmp);
    }
    if (ix) cs_fb_free(ix);
    return st;
}

/* paths joined by '\n' into one malloc'd buffer. */
static cs_status join_paths(const char *out_path, const char *const *paths, int64_t n, char **buf,
                            size_t *size, cs_error *err) {
    size_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!paths[i])
            return cs_fail(err, CS_EINVAL, "%s.paths: path %lld is missing", out_path,
                           (long long)i);
        if (strpbrk(paths[i], "\n\r"))
            return cs_fail(err, CS_EINVAL,
                           "%s.paths: the path \"%.200s\" contains a line break, which a .paths "
                           "file cannot hold",
                           out_path, paths[i]);
        total += strlen(paths[i]) + 1;
    }
    char *b = malloc(total ? total : 1);
    if (!b) return cs_fail(err, CS_ENOMEM, "%s.paths: out of memory", out_path);
    size_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t len = strlen(paths[i]);
        memcpy(b + at, paths[i], len);
        b[at + len] = '\n';
        at += len + 1;
    }
    *buf = b;
    *size = total;
    return CS_OK;
}

/* The manifest: what ties OUT and OUT.paths together (see search.h). */
static char *manifest_text(int64_t n, int dim, const uint8_t ish[32], const uint8_t psh[32]) {
    char ih[65], ph[65];
    cs_sha256_hex(ish, ih);
    cs_sha256_hex(psh, ph);
    char *m = malloc(512);
    if (m)
        snprintf(m, 512,
                 "{\"format\": \"clipsearch-faiss-export\", \"version\": 1, \"count\": %lld, "
                 "\"dim\": %d, \"index_sha256\": \"%s\", \"paths_sha256\": \"%s\"}\n",
                 (long long)n, dim, ih, ph);
    return m;
}

cs_status cs_faiss_export_paths(const char *path, const float *vectors, const char *const *paths,
                                int64_t n, int dim, const char *factory, cs_error *err) {
    cs_status st = check_export_args(path, vectors, n, dim, err);
    if (st != CS_OK) return st;
    if (n > 0 && !paths) return cs_fail(err, CS_EINVAL, "%s: no paths to export", path);
    char names[3][4200], tmps[3][4200];
    if (snprintf(names[0], sizeof names[0], "%s", path) >= (int)sizeof names[0] ||
        snprintf(names[1], sizeof names[1], "%s.paths", path) >= (int)sizeof names[1] ||
        snprintf(names[2], sizeof names[2], "%s.manifest", path) >= (int)sizeof names[2])
        return cs_fail(err, CS_ELIMIT, "%s: path too long", path);
    for (int i = 0; i < 3 && !st; i++) st = check_destination(names[i], err);
    char *buf = NULL, *manifest = NULL;
    size_t size = 0;
    if (!st) st = join_paths(path, paths, n, &buf, &size, err);
    /* everything that can be refused is refused before anything is written:
     * the factory string, the training set */
    cs_fb_index *ix = NULL;
    if (!st && (st = cs_fb_build(vectors, n, dim, factory, &ix, err)))
        st = cs_fail_prefix(err, st, path);
    uint8_t ish[32], psh[32];
    int made = 0; /* temporary files written */
    if (!st && !(st = cs_fb_write_tmp(ix, path, tmps[0], sizeof tmps[0], ish, err))) made = 1;
    if (!st && !(st = write_tmp(names[1], buf, size, tmps[1], sizeof tmps[1], psh, err))) made = 2;
    if (!st && !(manifest = manifest_text(n, dim, ish, psh)))
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
    if (!st &&
        !(st = write_tmp(names[2], manifest, strlen(manifest), tmps[2], sizeof tmps[2], NULL, err)))
        made = 3;
    /* All three are on disk; the renames cannot run out of space. A crash
     * between them leaves files whose manifest does not match: readers
     * refuse the pair (cs_faiss_read_paths) instead of mixing them. */
    for (int i = 0; i < 3 && !st; i++)
        if (rename(tmps[i], names[i]) != 0)
            st = cs_fail(err, CS_EIO, "%s: cannot rename %s into place: %s", names[i], tmps[i],
                         strerror(errno));
        else
            tmps[i][0] = '\0';
    for (int i = 0; i < made; i++)
        if (st && tmps[i][0]) unlink(tmps[i]);
    free(buf);
    free(manifest);
    if (ix) cs_fb_free(ix);
    return st;
}

cs_status cs_faiss_open(const char *path, cs_faiss_index **out, cs_error *err) {
    *out = NULL;
    if (!path) return cs_fail(err, CS_EINVAL, "FAISS open: no path");
    FILE *f = fopen(path, "rb"); /* a clear message for the common mistake */
    if (!f) return cs_fail(err, CS_ENOTFOUND, "%s: cannot open: %s", path, strerror(errno));
    fclose(f);
    cs_faiss_index *h = calloc(1, sizeof *h);
    if (!h || !(h->path = strdup(path))) {
        free(h);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", path);
    }
    cs_status st = cs_fb_read(path, &h->fb, err);
    if (st != CS_OK) {
        cs_faiss_close(h);
        return st;
    }
    *out = h;
    return CS_OK;
}

void cs_faiss_close(cs_faiss_index *index) {
    if (!index) return;
    if (index->fb) cs_fb_free(index->fb);
    free(index->path);
    free(index);
}

int64_t cs_faiss_ntotal(const cs_faiss_index *index) {
    return index ? cs_fb_ntotal(index->fb) : 0;
}

int cs_faiss_dim(const cs_faiss_index *index) {
    return index ? cs_fb_dim(index->fb) : 0;
}

int cs_faiss_is_inner_product(const cs_faiss_index *index) {
    return index ? cs_fb_is_inner_product(index->fb) : 0;
}

cs_status cs_faiss_search(const cs_faiss_index *index, const float *query, int k, cs_hit *hits,
                          int64_t *count, cs_error *err) {
    *count = 0;
    if (!index || !query || !hits || k <= 0)
        return cs_fail(err, CS_EINVAL, "FAISS search: bad arguments (k = %d)", k);
    float *d = malloc((size_t)k * sizeof *d);
    int64_t *ids = malloc((size_t)k * sizeof *ids);
    if (!d || !ids) {
        free(d);
        free(ids);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory for %d results", index->path, k);
    }
    cs_status st = cs_fb_search(index->fb, 1, query, k, d, ids, err);
    if (st == CS_OK) {
        int64_t n = 0;
        for (int i = 0; i < k; i++)
            if (ids[i] >= 0) hits[n++] = (cs_hit){ids[i], d[i]}; /* -1: no such neighbour */
        *count = n;
    } else {
        st = cs_fail_prefix(err, st, index->path);
    }
    free(d);
    free(ids);
    return st;
}

cs_status cs_faiss_read_vectors(cs_faiss_index *index, float *vectors, int64_t *ids,
                                cs_error *err) {
    if (!index) return cs_fail(err, CS_EINVAL, "FAISS read: no index");
    cs_status st = cs_fb_reconstruct_all(index->fb, vectors, ids, err);
    if (st != CS_OK) st = cs_fail_prefix(err, st, index->path);
    return st;
}

/* SHA-256 of a whole file, as hex. */
static cs_status sha_file(const char *path, char hex[65], cs_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return cs_fail(err, CS_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    cs_sha256 s;
    cs_sha256_init(&s);
    cs_status r = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
                      ? cs_fail(err, CS_EIO, "%s: not a regular file", path)
                      : cs_sha256_fd(&s, fd, (uint64_t)st.st_size, path, err);
    close(fd);
    if (r) return r;
    uint8_t d[32];
    cs_sha256_final(&s, d);
    cs_sha256_hex(d, hex);
    return CS_OK;
}

/* With OUT.manifest beside them (written by cs_faiss_export_paths), OUT and
 * OUT.paths must be the pair it describes; without one (another tool wrote
 * them) they are taken as they are. */
static cs_status check_manifest(const char *index_path, const char *paths_file,
                                const char *paths_text, size_t paths_size, int64_t lines,
                                cs_error *err) {
    char file[4200];
    snprintf(file, sizeof file, "%s.manifest", index_path);
    char *m = NULL;
    cs_status st = cs_read_file(file, 4096, &m, NULL, err);
    if (st == CS_ENOTFOUND) return CS_OK;
    if (st) return st;
    long long count = -1;
    int dim = 0;
    char ih[65] = "", ph[65] = "", want_i[65], want_p[65];
    const char *c = strstr(m, "\"count\": "), *i = strstr(m, "\"index_sha256\": \""),
               *p = strstr(m, "\"paths_sha256\": \"");
    if (!strstr(m, "\"clipsearch-faiss-export\"") || !c || !i || !p ||
        sscanf(c, "\"count\": %lld", &count) != 1 ||
        sscanf(i, "\"index_sha256\": \"%64[0-9a-f]\"", ih) != 1 ||
        sscanf(p, "\"paths_sha256\": \"%64[0-9a-f]\"", ph) != 1 || strlen(ih) != 64 ||
        strlen(ph) != 64)
        st = cs_fail(err, CS_EFORMAT, "%s: not a manifest of clipsearch export", file);
    (void)dim;
    free(m);
    if (st) return st;
    cs_sha256 s;
    uint8_t d[32];
    cs_sha256_init(&s);
    cs_sha256_update(&s, paths_text, paths_size);
    cs_sha256_final(&s, d);
    cs_sha256_hex(d, want_p);
    if (count != lines || strcmp(ph, want_p) != 0)
        return cs_fail(err, CS_EFORMAT,
                       "%s: does not match %s (%lld lines, the manifest says %lld): the export "
                       "was interrupted or the files were mixed; export again",
                       paths_file, file, (long long)lines, count);
    st = sha_file(index_path, want_i, err);
    if (st) return st;
    if (strcmp(ih, want_i) != 0)
        return cs_fail(err, CS_EFORMAT,
                       "%s: does not match %s: the export was interrupted or the files were "
                       "mixed; export again",
                       index_path, file);
    return CS_OK;
}

cs_status cs_faiss_read_paths(const char *index_path, char ***paths, int64_t *n, cs_error *err) {
    *paths = NULL;
    *n = 0;
    char file[4096];
    if (snprintf(file, sizeof file, "%s.paths", index_path) >= (int)sizeof file)
        return cs_fail(err, CS_ELIMIT, "%s: path too long", index_path);
    char *text = NULL;
    size_t size = 0;
    cs_status st = cs_read_file(file, MAX_PATHS_FILE, &text, &size, err);
    if (st != CS_OK) return st;
    int64_t lines = 0;
    for (size_t i = 0; i < size; i++) lines += text[i] == '\n';
    if (size > 0 && text[size - 1] != '\n') lines++; /* a last line without '\n' */
    st = check_manifest(index_path, file, text, size, lines, err);
    if (st != CS_OK) {
        free(text);
        return st;
    }
    char **out = calloc((size_t)(lines ? lines : 1), sizeof *out);
    if (!out) {
        free(text);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", file);
    }
    char *line = text;
    for (int64_t i = 0; i < lines; i++) {
        char *end = memchr(line, '\n', size - (size_t)(line - text));
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > 0 && line[len - 1] == '\r') len--;
        out[i] = strndup(line, len);
        if (!out[i]) {
            cs_faiss_paths_free(out, i);
            free(text);
            return cs_fail(err, CS_ENOMEM, "%s: out of memory", file);
        }
        line = end ? end + 1 : line + len;
    }
    free(text);
    *paths = out;
    *n = lines;
    return CS_OK;
}

void cs_faiss_paths_free(char **paths, int64_t n) {
    if (!paths) return;
    for (int64_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
}
