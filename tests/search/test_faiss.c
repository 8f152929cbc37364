/* tests/search/test_faiss.c - FAISS interchange through our bridge: what we
 * write reads back as the same vectors, ids and neighbours (cs_search_flat is
 * the reference for flat indexes), factory types, .paths files, and errors
 * reported as statuses rather than exceptions or crashes. */
#include <dirent.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/faiss_bridge.h"
#include "index/search_internal.h"
#include "test.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static float rng_gauss(void) { /* sum of uniforms, close enough to normal */
    float s = 0;
    for (int i = 0; i < 4; i++) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        s += (float)((rng_state * 0x2545f4914f6cdd1dull) >> 40) / 16777216.0f - 0.5f;
    }
    return s;
}

/* n x dim random rows, each L2-normalised like CLIP embeddings. */
static float *random_unit(int64_t n, int dim) {
    float *v = malloc((size_t)(n * dim + 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        double norm = 0;
        for (int j = 0; j < dim; j++) {
            v[i * dim + j] = rng_gauss();
            norm += (double)v[i * dim + j] * v[i * dim + j];
        }
        for (int j = 0; j < dim; j++) v[i * dim + j] /= (float)sqrt(norm);
    }
    return v;
}

static const char *tmp_path(const char *dir, const char *name) {
    static char buf[8][1024];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", dir, name);
    return b;
}

/* Files in dir other than those named: a failed or finished write must leave
 * no temporary file behind. */
static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

/* Flat export: exact vectors, ids 0..n-1, and FAISS's neighbours = ours. */
static void check_flat(const char *dir, int64_t n, int dim) {
    float *v = random_unit(n, dim);
    const char *path = tmp_path(dir, "flat.faiss");
    cs_error err = {0};
    CHECK_OK(cs_faiss_export(path, v, n, dim, NULL, &err), &err);
    cs_faiss_index *ix = NULL;
    CHECK_OK(cs_faiss_open(path, &ix, &err), &err);
    if (!ix) {
        free(v);
        return;
    }
    CHECK_EQ_INT(cs_faiss_ntotal(ix), n);
    CHECK_EQ_INT(cs_faiss_dim(ix), dim);
    CHECK(cs_faiss_is_inner_product(ix));
    float *back = malloc((size_t)(n * dim + 1) * sizeof *back);
    int64_t *ids = malloc((size_t)(n + 1) * sizeof *ids);
    CHECK_OK(cs_faiss_read_vectors(ix, back, ids, &err), &err);
    CHECK(n == 0 || memcmp(back, v, (size_t)(n * dim) * sizeof *v) == 0);
    for (int64_t i = 0; i < n; i++) CHECK_EQ_INT(ids[i], i);

    int k = 10;
    cs_hit ours[10], theirs[10];
    for (int qi = 0; qi < 5; qi++) {
        float *q = random_unit(1, dim);
        int64_t got = -1;
        int64_t want = cs_search_flat(NULL, v, n, dim, q, k, ours);
        CHECK_OK(cs_faiss_search(ix, q, k, theirs, &got, &err), &err);
        CHECK_EQ_INT(got, want);
        for (int64_t i = 0; i < got && i < want; i++) {
            CHECK(fabsf(ours[i].score - theirs[i].score) < 1e-5f);
            /* the same row, or a tie within rounding */
            CHECK_MSG(ours[i].id == theirs[i].id || fabsf(ours[i].score - theirs[i].score) < 1e-6f,
                      "n=%lld dim=%d hit %lld: ours %lld, FAISS %lld", (long long)n, dim,
                      (long long)i, (long long)ours[i].id, (long long)theirs[i].id);
        }
        free(q);
    }
    cs_faiss_close(ix);
    free(ids);
    free(back);
    free(v);
}

/* Factory strings: trained types, an id map, errors. */
static void check_factories(const char *dir) {
    int64_t n = 2000;
    int dim = 16;
    float *v = random_unit(n, dim);
    cs_error err = {0};
    const char *path = tmp_path(dir, "ivf.faiss");
    CHECK_OK(cs_faiss_export(path, v, n, dim, "IVF8,Flat", &err), &err);
    cs_faiss_index *ix = NULL;
    CHECK_OK(cs_faiss_open(path, &ix, &err), &err);
    if (ix) {
        CHECK_EQ_INT(cs_faiss_ntotal(ix), n);
        CHECK(cs_faiss_is_inner_product(ix));
        /* IVF,Flat stores the vectors as they are, in list order: read back by id */
        float *back = malloc((size_t)(n * dim) * sizeof *back);
        CHECK_OK(cs_faiss_read_vectors(ix, back, NULL, &err), &err);
        CHECK(memcmp(back, v, (size_t)(n * dim) * sizeof *v) == 0);
        /* a stored vector is its own nearest neighbour (nprobe 1 finds its list) */
        cs_hit h[3];
        int64_t got = 0;
        CHECK_OK(cs_faiss_search(ix, v + 123 * dim, 3, h, &got, &err), &err);
        CHECK(got == 3 && h[0].id == 123);
        free(back);
        cs_faiss_close(ix);
    }

    path = tmp_path(dir, "idmap.faiss");
    CHECK_OK(cs_faiss_export(path, v, n, dim, "IDMap,Flat", &err), &err);
    CHECK_OK(cs_faiss_open(path, &ix, &err), &err);
    if (ix) {
        int64_t *ids = malloc((size_t)n * sizeof *ids);
        CHECK_OK(cs_faiss_read_vectors(ix, NULL, ids, &err), &err);
        for (int64_t i = 0; i < n; i++) CHECK_EQ_INT(ids[i], i);
        free(ids);
        cs_faiss_close(ix);
    }

    /* compressed types with few training points: FAISS would warn on stderr;
     * the library must stay silent (stderr captured into a file). "np": no
     * polysemous training, FAISS's default for PQ, which takes minutes. */
    const char *err_file = tmp_path(dir, "stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    FILE *capture = fopen(err_file, "w");
    dup2(fileno(capture), 2);
    static const char *const compressed[] = {"IVF8,PQ4np", "PQ4np", "IVF16,SQ8"};
    cs_status sts[3];
    for (int i = 0; i < 3; i++)
        sts[i] = cs_faiss_export(tmp_path(dir, "pq.faiss"), v, 300, dim, compressed[i], &err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(capture);
    for (int i = 0; i < 3; i++) CHECK_MSG(sts[i] == CS_OK, "%s: %s", compressed[i], err.message);
    size_t printed = 0;
    free(cs_test_read(err_file, &printed));
    CHECK_MSG(printed == 0, "FAISS printed %zu bytes on stderr", printed);
    unlink(err_file);
    CHECK_OK(cs_faiss_open(tmp_path(dir, "pq.faiss"), &ix, &err), &err);
    if (ix) {
        cs_hit h[5];
        int64_t got = 0;
        CHECK_OK(cs_faiss_search(ix, v, 5, h, &got, &err), &err);
        CHECK_EQ_INT(got, 5);
        cs_faiss_close(ix);
    }

    int before = count_files(dir);
    path = tmp_path(dir, "bad.faiss");
    cs_status st = cs_faiss_export(path, v, n, dim, "NoSuchIndex,Flat", &err);
    CHECK(st != CS_OK);
    CHECK_MSG(strstr(err.message, "bad.faiss") && strstr(err.message, "FAISS"), "message: %s",
              err.message);
    /* IVF with more lists than vectors cannot be trained */
    st = cs_faiss_export(path, v, 10, dim, "IVF64,Flat", &err);
    CHECK(st != CS_OK);
    CHECK_EQ_INT(count_files(dir), before); /* no temporary file left behind */
    free(v);
}

static void check_paths(const char *dir) {
    const char *names[] = {"/photos/a b.jpg", "relative/ünïcödé.png", "", "/x/y/z.webp"};
    float *v = random_unit(4, 8);
    cs_error err = {0};
    const char *path = tmp_path(dir, "with paths.faiss");
    CHECK_OK(cs_faiss_export_paths(path, v, names, 4, 8, NULL, &err), &err);
    char **back = NULL;
    int64_t n = 0;
    CHECK_OK(cs_faiss_read_paths(path, &back, &n, &err), &err);
    CHECK_EQ_INT(n, 4);
    for (int64_t i = 0; i < n && i < 4; i++) CHECK(strcmp(back[i], names[i]) == 0);
    cs_faiss_paths_free(back, n);
    size_t size = 0;
    char *text = cs_test_read(tmp_path(dir, "with paths.faiss.paths"), &size);
    CHECK(strcmp(text, "/photos/a b.jpg\nrelative/ünïcödé.png\n\n/x/y/z.webp\n") == 0);
    free(text);

    /* a mixed pair (what a crash between the renames would leave): the
     * .paths of one export beside the index of another is refused, each way */
    char other[600], cmd[1400];
    snprintf(other, sizeof other, "%s", tmp_path(dir, "other.faiss"));
    CHECK_OK(cs_faiss_export_paths(other, v, names, 3, 8, NULL, &err), &err);
    snprintf(cmd, sizeof cmd, "cp '%s.paths' '%s.paths'", other, path);
    CHECK(system(cmd) == 0);
    CHECK(cs_faiss_read_paths(path, &back, &n, &err) == CS_EFORMAT);
    CHECK_MSG(strstr(err.message, "export again") != NULL, "message: %s", err.message);
    CHECK_OK(cs_faiss_export_paths(path, v, names, 4, 8, NULL, &err), &err);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", other, path);
    CHECK(system(cmd) == 0);
    CHECK(cs_faiss_read_paths(path, &back, &n, &err) == CS_EFORMAT);
    /* without a manifest (another tool wrote them) the files are taken as is */
    snprintf(cmd, sizeof cmd, "rm '%s.manifest'", path);
    CHECK(system(cmd) == 0);
    CHECK_OK(cs_faiss_read_paths(path, &back, &n, &err), &err);
    if (back) cs_faiss_paths_free(back, n);

    const char *bad[] = {"ok.jpg", "two\nlines.jpg"};
    path = tmp_path(dir, "newline.faiss");
    CHECK(cs_faiss_export_paths(path, v, bad, 2, 8, NULL, &err) == CS_EINVAL);
    CHECK(strstr(err.message, "line break") != NULL);
    struct stat sb;
    CHECK(stat(path, &sb) != 0); /* refused before writing anything */
    free(v);
}

static void check_errors(const char *dir) {
    cs_error err = {0};
    cs_faiss_index *ix = (cs_faiss_index *)1;
    CHECK(cs_faiss_open(tmp_path(dir, "absent.faiss"), &ix, &err) == CS_ENOTFOUND);
    CHECK(ix == NULL);
    const char *junk = tmp_path(dir, "junk.faiss");
    FILE *f = fopen(junk, "wb");
    fputs("this is not a FAISS index", f);
    fclose(f);
    CHECK(cs_faiss_open(junk, &ix, &err) != CS_OK);
    CHECK_MSG(strstr(err.message, "junk.faiss") != NULL, "message: %s", err.message);
    CHECK(cs_faiss_export(tmp_path(dir, "x.faiss"), NULL, 3, 8, NULL, &err) == CS_EINVAL);
    CHECK(cs_faiss_export(tmp_path(dir, "x.faiss"), NULL, 0, 0, NULL, &err) == CS_EINVAL);
    float v[8] = {0};
    CHECK(cs_faiss_export(tmp_path(dir, "no/such/dir.faiss"), v, 1, 8, NULL, &err) == CS_EIO);
    CHECK(strstr(err.message, "no/such/dir.faiss") != NULL);
}

static void remove_dir(const char *dir) { /* flat: files only */
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(tmp_path(dir, e->d_name));
    if (d) closedir(d);
    rmdir(dir);
}

/* seeds/faiss/<seed> with the 8 bytes at `at` replaced by v (or its first
 * `keep` bytes only, when v is ~0), opened: the status, err holds why */
static cs_status open_patched(const char *dir, const char *seed, size_t at, uint64_t v, size_t keep,
                              cs_error *err) {
    char path[700], out[700];
    snprintf(path, sizeof path, "%s/seeds/faiss/%s", dir, seed);
    snprintf(out, sizeof out, "%s/patched-%s", dir, seed);
    size_t size = 0;
    uint8_t *b = (uint8_t *)cs_test_read(path, &size);
    if (!b || size < at + 8) {
        free(b);
        return CS_EIO;
    }
    if (v != ~(uint64_t)0) memcpy(b + at, &v, 8);
    FILE *f = fopen(out, "wb");
    fwrite(b, 1, v == ~(uint64_t)0 ? keep : size, f);
    if (v == ~(uint64_t)0 && keep > size) fwrite("junk", 1, 4, f); /* bytes after the end */
    fclose(f);
    free(b);
    cs_faiss_index *ix = NULL;
    cs_status st = cs_faiss_open(out, &ix, err);
    cs_faiss_close(ix);
    return st;
}

/* Counts FAISS would allocate before reading what they count, or divide
 * by, refused from the file's layout before FAISS reads it. Offsets: the
 * index header is fourcc, d, ntotal, two dummies, is_trained, metric (37
 * bytes); a flat index's code count follows it, as do a PQ's d, M, nbits. */
static void check_layout(const char *dir) {
    cs_error err;
    /* 2^39 floats announced in a 1.3 KB file: FAISS asked for 2 TiB */
    CHECK(open_patched(dir, "flat_ip", 37, (uint64_t)1 << 39, 0, &err) == CS_EFORMAT);
    CHECK_MSG(strstr(err.message, "patched-flat_ip") && strstr(err.message, "past the end"),
              "message: %s", err.message);
    /* a product quantizer of M = 0 sub-quantizers: FAISS computed d % M */
    CHECK(open_patched(dir, "pq", 45, 0, 0, &err) == CS_EFORMAT);
    CHECK_MSG(strstr(err.message, "product quantizer"), "message: %s", err.message);
    /* nbits 40: FAISS sized the centroids as d << nbits before reading them */
    CHECK(open_patched(dir, "pq", 53, 40, 0, &err) == CS_EFORMAT);
    size_t size = 0;
    char path[700];
    snprintf(path, sizeof path, "%s/seeds/faiss/flat_ip", dir);
    free(cs_test_read(path, &size));
    /* cut short anywhere, or with bytes after its end: refused */
    for (size_t keep = 0; keep < size; keep += 97)
        CHECK(open_patched(dir, "flat_ip", 0, ~(uint64_t)0, keep, &err) == CS_EFORMAT);
    CHECK(open_patched(dir, "flat_ip", 0, ~(uint64_t)0, size + 1, &err) == CS_EFORMAT);
    CHECK_MSG(strstr(err.message, "after the end"), "message: %s", err.message);
}

/* Every type we read, as Python's faiss writes it, passes the checks made
 * after read_index (faiss_bridge.cpp); a count that disagrees does not. */
static void check_python_types(const char *dir) {
    const char *src = getenv("CS_SOURCE_DIR");
    char cmd[1200], path[700];
    if (!src || system("/usr/bin/python3 -c 'import faiss, numpy' 2>/dev/null") != 0) {
        printf("python3-faiss absent: the types Python writes are not checked\n");
        return;
    }
    snprintf(cmd, sizeof cmd, "bash '%s/tests/fuzz/make_seeds_index.sh' '%s/seeds' >/dev/null 2>&1",
             src, dir);
    CHECK(system(cmd) == 0);
    static const char *const types[] = {
        "flat_ip",        "flat_l2", "idmap_flat", "idmap2_flat", "ivf_flat", "ivf_pq",
        "ivf_direct_map", "ivf_sq",  "pq",         "sq",          "hnsw"};
    cs_error err;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        snprintf(path, sizeof path, "%s/seeds/faiss/%s", dir, types[i]);
        cs_faiss_index *ix = NULL;
        CHECK_MSG(cs_faiss_open(path, &ix, &err) == CS_OK, "%s: %s", types[i], err.message);
        if (ix) CHECK_EQ_INT(cs_faiss_ntotal(ix), 40);
        cs_faiss_close(ix);
    }
    /* a graph link past the nodes, which faiss.read_index takes: refused */
    snprintf(path, sizeof path, "%s/seeds/hnsw_bad_link", dir);
    cs_faiss_index *ix = NULL;
    CHECK(cs_faiss_open(path, &ix, &err) == CS_EFORMAT);
    CHECK_MSG(strstr(err.message, "hnsw_bad_link") && strstr(err.message, "graph link"),
              "message: %s", err.message);
    cs_faiss_close(ix);
    /* a graph whose search width asks for 2^31 heap entries per query */
    snprintf(path, sizeof path, "%s/seeds/hnsw_wide", dir);
    CHECK(cs_faiss_open(path, &ix, &err) == CS_EFORMAT);
    CHECK_MSG(strstr(err.message, "search width"), "message: %s", err.message);
    cs_faiss_close(ix);
    check_layout(dir);
    /* a negative id in an inverted list: FAISS would answer it as a hit */
    snprintf(path, sizeof path, "%s/seeds/ivf_negative_id", dir);
    CHECK(cs_faiss_open(path, &ix, &err) == CS_EFORMAT);
    CHECK_MSG(strstr(err.message, "negative id"), "message: %s", err.message);
    cs_faiss_close(ix);
    /* ids 1000..1039 in an IVF index: its vectors are not rows 0..39 (FAISS
     * would leave the rows untouched), so reading them is refused */
    snprintf(path, sizeof path, "%s/seeds/ivf_custom_ids", dir);
    CHECK_OK(cs_faiss_open(path, &ix, &err), &err);
    if (ix) {
        float v[40 * 8];
        CHECK(cs_faiss_read_vectors(ix, v, NULL, &err) != CS_OK);
        CHECK_MSG(strstr(err.message, "not 0..ntotal-1"), "message: %s", err.message);
        cs_faiss_close(ix);
    }
    /* a direct map entry past its list (FAISS's single reconstruct would
     * follow it): the vectors read back are those of the intact file */
    char good[700];
    snprintf(good, sizeof good, "%s/seeds/faiss/ivf_direct_map", dir);
    snprintf(path, sizeof path, "%s/seeds/ivf_bad_direct_map", dir);
    cs_faiss_index *a = NULL, *b = NULL;
    CHECK_OK(cs_faiss_open(good, &a, &err), &err);
    CHECK_OK(cs_faiss_open(path, &b, &err), &err);
    if (a && b) {
        float va[40 * 8], vb[40 * 8];
        CHECK_OK(cs_faiss_read_vectors(a, va, NULL, &err), &err);
        CHECK_OK(cs_faiss_read_vectors(b, vb, NULL, &err), &err);
        CHECK(memcmp(va, vb, sizeof va) == 0);
    }
    cs_faiss_close(a);
    cs_faiss_close(b);
    /* a metric FAISS has no scanner for: refused, not searched */
    snprintf(path, sizeof path, "%s/seeds/ivf_bad_metric", dir);
    CHECK(cs_faiss_open(path, &ix, &err) == CS_EFORMAT);
    CHECK_MSG(strstr(err.message, "ivf_bad_metric") && strstr(err.message, "metric"), "message: %s",
              err.message);
    if (ix) {
        cs_hit h[3];
        int64_t got = 0;
        float q[8] = {1};
        cs_faiss_search(ix, q, 3, h, &got, &err);
        cs_faiss_close(ix);
    }
}

int main(void) {
    /* FAISS's OpenMP barriers spin: on a loaded 2-core test machine two
     * threads make k-means training take minutes instead of a second. */
    cs_fb_set_threads(1);
    const char *dir = cs_test_tmpdir();
    check_flat(dir, 0, 8);
    check_flat(dir, 1, 3);
    check_flat(dir, 1000, 48);
    check_flat(dir, 3000, 515);
    check_flat(dir, 5000, 512);
    check_factories(dir);
    check_paths(dir);
    check_errors(dir);
    check_python_types(dir);
    remove_dir(dir);
    return cs_test_done("faiss");
}
