/* tests/core/test_core.c - the thread pool, file helpers and errors. */
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file.h"
#include "core/pool.h"
#include "test.h"

typedef struct {
    atomic_int sum;
    atomic_int per_worker[8];
    int nested_ok;
    cs_pool *pool;
} job;

static void add_task(void *ctx, int task, int worker) {
    job *j = ctx;
    atomic_fetch_add(&j->sum, task);
    if (worker >= 0 && worker < 8) atomic_fetch_add(&j->per_worker[worker], 1);
}

static void nested_inner(void *ctx, int task, int worker) {
    (void)task;
    int *w = ctx;
    if (*w != worker) *w = -100; /* nested tasks keep the outer worker slot */
}

static void nested_task(void *ctx, int task, int worker) {
    job *j = ctx;
    (void)task;
    int w = worker;
    cs_pool_for(j->pool, 3, nested_inner, &w);
    if (w != worker) j->nested_ok = 0;
}

static void test_pool(int threads) {
    cs_pool *p = cs_pool_create(threads);
    CHECK(p != NULL);
    CHECK_EQ_INT(cs_pool_threads(p), threads);
    for (int round = 0; round < 50; round++) {
        job j = {.pool = p};
        atomic_init(&j.sum, 0);
        for (int i = 0; i < 8; i++) atomic_init(&j.per_worker[i], 0);
        int n = 1 + round * 7;
        cs_pool_for(p, n, add_task, &j);
        CHECK_EQ_INT(atomic_load(&j.sum), (long long)n * (n - 1) / 2);
        int total = 0;
        for (int i = 0; i < 8; i++) {
            total += atomic_load(&j.per_worker[i]);
            if (i >= threads) CHECK_EQ_INT(atomic_load(&j.per_worker[i]), 0);
        }
        CHECK_EQ_INT(total, n);
    }
    job j = {.pool = p, .nested_ok = 1};
    atomic_init(&j.sum, 0);
    cs_pool_for(p, 16, nested_task, &j);
    CHECK(j.nested_ok);
    cs_pool_free(p);
}

static void test_files(void) {
    cs_error err = {0};
    const char *dir = cs_test_tmpdir();
    char path[512];
    CHECK_OK(cs_path_join(path, sizeof path, dir, "a.bin", &err), &err);
    CHECK_OK(cs_write_file_atomic(path, "hello", 5, &err), &err);

    char *buf = NULL;
    size_t n = 0;
    CHECK_OK(cs_read_file(path, 100, &buf, &n, &err), &err);
    CHECK_EQ_INT(n, 5);
    CHECK(buf && !strcmp(buf, "hello"));
    free(buf);

    /* the size limit is checked before reading */
    CHECK_EQ_INT(cs_read_file(path, 4, &buf, &n, &err), CS_ELIMIT);
    CHECK(strstr(err.message, "a.bin") != NULL);

    cs_map m;
    CHECK_OK(cs_map_file(path, &m, &err), &err);
    CHECK_EQ_INT(m.size, 5);
    CHECK(m.data && !memcmp(m.data, "hello", 5));
    cs_unmap(&m);

    /* missing files name themselves */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    CHECK_EQ_INT(cs_map_file(missing, &m, &err), CS_ENOTFOUND);
    CHECK(strstr(err.message, "nope") != NULL);
    CHECK_EQ_INT(cs_read_file(dir, 100, &buf, &n, &err), CS_EIO); /* a folder */

    /* A FIFO (no writer will ever come) is refused at once, not waited on:
     * alarm() ends the test if opening it blocks. */
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s/pipe.jpg", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    alarm(20);
    CHECK_EQ_INT(cs_read_file(fifo, 100, &buf, &n, &err), CS_EIO);
    CHECK(strstr(err.message, "pipe.jpg: not a regular file") != NULL);
    CHECK_EQ_INT(cs_map_file(fifo, &m, &err), CS_EIO);
    alarm(0);
    unlink(fifo);

    /* too-long paths are refused, not truncated */
    char small[8];
    CHECK_EQ_INT(cs_path_join(small, sizeof small, "abcd", "efgh", &err), CS_ELIMIT);
    unlink(path);
    rmdir(dir);
}

static void test_errors(void) {
    cs_error err;
    CHECK_EQ_INT(cs_fail(&err, CS_EFORMAT, "x.png: bad %s", "header"), CS_EFORMAT);
    CHECK(!strcmp(err.message, "x.png: bad header"));
    cs_fail_prefix(&err, "index");
    CHECK(!strcmp(err.message, "index: x.png: bad header"));
    CHECK_EQ_INT(err.status, CS_EFORMAT);
    CHECK(!strcmp(cs_status_name(CS_ENOTFOUND), "not found"));
    CHECK_EQ_INT(cs_fail(NULL, CS_EIO, "ignored"), CS_EIO); /* NULL err is allowed */
    CHECK(strlen(cs_version()) > 0);
}

int main(void) {
    test_pool(1);
    test_pool(2);
    test_pool(4);
    test_files();
    test_errors();
    return cs_test_done("core");
}
