/* index/faiss_io.c - FAISS interchange, the public side (clipsearch/search.h):
 * argument checks, the .paths file, and the handle over faiss_bridge.cpp. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file.h"
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

cs_status cs_faiss_export(const char *path, const float *vectors, int64_t n, int dim,
                          const char *factory, cs_error *err) {
    cs_status st = check_export_args(path, vectors, n, dim, err);
    if (st != CS_OK) return st;
    return cs_fb_build_write(path, vectors, n, dim, factory, err);
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

cs_status cs_faiss_export_paths(const char *path, const float *vectors, const char *const *paths,
                                int64_t n, int dim, const char *factory, cs_error *err) {
    cs_status st = check_export_args(path, vectors, n, dim, err);
    if (st != CS_OK) return st;
    if (n > 0 && !paths) return cs_fail(err, CS_EINVAL, "%s: no paths to export", path);
    char paths_file[4096];
    if (snprintf(paths_file, sizeof paths_file, "%s.paths", path) >= (int)sizeof paths_file)
        return cs_fail(err, CS_ELIMIT, "%s: path too long", path);
    char *buf = NULL;
    size_t size = 0;
    st = join_paths(path, paths, n, &buf, &size, err);
    if (st != CS_OK) return st;
    /* The paths first: a reader that finds the new index also finds its paths
     * (the reverse order could pair a new index with old paths). */
    st = cs_write_file_atomic(paths_file, buf, size, err);
    free(buf);
    if (st != CS_OK) return st;
    return cs_fb_build_write(path, vectors, n, dim, factory, err);
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
        cs_fail_prefix(err, index->path);
    }
    free(d);
    free(ids);
    return st;
}

cs_status cs_faiss_read_vectors(cs_faiss_index *index, float *vectors, int64_t *ids,
                                cs_error *err) {
    if (!index) return cs_fail(err, CS_EINVAL, "FAISS read: no index");
    cs_status st = cs_fb_reconstruct_all(index->fb, vectors, ids, err);
    if (st != CS_OK) cs_fail_prefix(err, index->path);
    return st;
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
