/* tests/text/test_cache.c - .tokenizer.json.cscache, the binary copy of
 * tokenizer.json's tables (text/tokcache.c): written on the first load,
 * used on the next, and never trusted when stale (tokenizer.json edited,
 * even with its size and modification time put back; another folder's
 * cache), corrupt, truncated or extended - each time the ids are those of
 * Hugging Face's tokenizer (../shared/oracle/tokens.json) and the cache is
 * rebuilt. A folder read-only by its mode bits gets no cache. */
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "test.h"
#include "text/text.h"

static json_t *cases;

/* Loads dir's tokenizer; checks where its tables came from and that every
 * oracle string gives the oracle's ids. */
static void check_load(const char *dir, bool want_cache, const char *what) {
    cs_error err;
    cs_tokenizer *tok = NULL;
    CHECK_OK(cs_tokenizer_load(dir, 77, &tok, &err), &err);
    if (!tok) return;
    CHECK_MSG(tok->from_cache == want_cache, "%s: from_cache %d", what, tok->from_cache);
    int bad = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        json_t *text = json_object_get(c, "text"), *ids = json_object_get(c, "ids");
        int32_t got[77];
        int n = 0;
        cs_status st = cs_tokenizer_encode(tok, json_string_value(text), json_string_length(text),
                                           got, &n, &err);
        bool same = st == CS_OK && (size_t)n == json_array_size(ids);
        for (int k = 0; same && k < n; k++)
            same = got[k] == (int32_t)json_integer_value(json_array_get(ids, k));
        bad += !same;
    }
    CHECK_MSG(bad == 0, "%s: %d strings differ from Hugging Face's ids", what, bad);
    cs_tokenizer_free(tok);
}

static char *read_all(const char *path, size_t *n) {
    char *buf = NULL;
    cs_error err;
    CHECK_OK(cs_read_file(path, 64u << 20, &buf, n, &err), &err);
    return buf;
}

static void write_all(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

static off_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* The ids of one text. */
static int32_t first_id(const char *dir, const char *text) {
    cs_error err;
    cs_tokenizer *tok = NULL;
    CHECK_OK(cs_tokenizer_load(dir, 77, &tok, &err), &err);
    int32_t ids[77] = {0};
    int n = 0;
    if (tok) CHECK_OK(cs_tokenizer_encode(tok, text, strlen(text), ids, &n, &err), &err);
    cs_tokenizer_free(tok);
    return n == 3 ? ids[1] : -1;
}

/* A fresh folder holding a copy of tokenizer.json: its paths. */
static void new_folder(char dir[1024], char tj[1100], char cache[1100], const char *json,
                       size_t n_json) {
    snprintf(dir, 1024, "%s", cs_test_tmpdir());
    snprintf(tj, 1100, "%s/tokenizer.json", dir);
    snprintf(cache, 1100, "%s/.tokenizer.json.cscache", dir);
    write_all(tj, json, n_json);
}

int main(void) {
    cs_test_oracle();
    json_error_t je;
    cases = json_load_file(cs_test_oracle_path("tokens.json"), JSON_ALLOW_NUL, &je);
    CHECK(cases && json_array_size(cases) >= 100);
    if (!cases) return cs_test_done("text.cache");
    size_t n_json = 0;
    char *json = read_all(cs_test_oracle_path("tokenizer/tokenizer.json"), &n_json);
    if (!json) return cs_test_done("text.cache");

    char dir[1024], tj[1100], cache[1100];
    new_folder(dir, tj, cache, json, n_json);

    check_load(dir, false, "first load");
    CHECK_MSG(file_size(cache) > 1000000, "no cache written (%lld bytes)",
              (long long)file_size(cache));
    check_load(dir, true, "second load");

    /* corrupt: one byte of the tables changed */
    size_t n_cache = 0;
    char *good = read_all(cache, &n_cache);
    if (!good) return cs_test_done("text.cache");
    char *bad = malloc(n_cache + 16);
    memcpy(bad, good, n_cache);
    bad[n_cache / 2] ^= 0x10;
    write_all(cache, bad, n_cache);
    check_load(dir, false, "corrupt cache");
    check_load(dir, true, "cache rewritten after corruption");

    /* truncated anywhere, or extended */
    const size_t cuts[] = {0, 7, 40, 88, 88 + 4000, n_cache / 2, n_cache - 8, n_cache - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "cache truncated to %zu bytes", cuts[i]);
        write_all(cache, good, cuts[i]);
        check_load(dir, false, what);
    }
    memcpy(bad, good, n_cache);
    memset(bad + n_cache, 0, 16);
    write_all(cache, bad, n_cache + 16);
    check_load(dir, false, "cache with bytes appended");
    /* a wrong header (another version of the format) */
    memcpy(bad, good, n_cache);
    bad[8] ^= 1;
    write_all(cache, bad, n_cache);
    check_load(dir, false, "cache of another format version");
    check_load(dir, true, "cache rewritten");

    /* stale: tokenizer.json edited ("ball</w>" and "cat</w>" swap ids), same
     * size, modification time put back: the ids must be the new file's */
    struct stat before;
    CHECK(stat(tj, &before) == 0);
    char *edited = malloc(n_json);
    memcpy(edited, json, n_json);
    char *ball = strstr(edited, "\"ball</w>\": 1069"), *cat = strstr(edited, "\"cat</w>\": 2368");
    CHECK(ball && cat);
    if (ball && cat) {
        memcpy(ball + 12, "2368", 4);
        memcpy(cat + 11, "1069", 4);
    }
    int fd = open(tj, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, edited, n_json, 0) == (ssize_t)n_json);
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    CHECK(fd >= 0 && futimens(fd, times) == 0);
    if (fd >= 0) close(fd);
    CHECK_EQ_INT(first_id(dir, "ball"), 2368);
    CHECK_EQ_INT(first_id(dir, "cat"), 1069);
    write_all(tj, json, n_json); /* back to the original */
    check_load(dir, false, "tokenizer.json restored");

    /* another folder's cache, its tokenizer.json a copy with the same times */
    char dir2[1024], tj2[1100], cache2[1100];
    new_folder(dir2, tj2, cache2, json, n_json);
    struct stat st1;
    CHECK(stat(tj, &st1) == 0);
    struct timespec t1[2] = {st1.st_atim, st1.st_mtim};
    CHECK(utimensat(AT_FDCWD, tj2, t1, 0) == 0);
    free(good);
    good = read_all(cache, &n_cache);
    if (good) write_all(cache2, good, n_cache);
    check_load(dir2, false, "another folder's cache");

    /* a folder read-only by its mode bits: no cache, even for root */
    char dir3[1024], tj3[1100], cache3[1100];
    new_folder(dir3, tj3, cache3, json, n_json);
    CHECK(chmod(dir3, 0555) == 0);
    check_load(dir3, false, "read-only folder");
    CHECK_MSG(access(cache3, F_OK) != 0, "a cache was written in a read-only folder");
    chmod(dir3, 0755);

    free(good);
    free(bad);
    free(edited);
    free(json);
    json_decref(cases);
    return cs_test_done("text.cache");
}
