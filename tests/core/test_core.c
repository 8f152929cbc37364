/* tests/core/test_core.c - the thread pool, file helpers and errors. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file.h"
#include "core/pool.h"
#include "test.h"

typedef struct {
    atomic_int sum;
    atomic_int per_worker[8];
    cs_pool *pool;
} job;

static void add_task(void *ctx, int task, int worker) {
    job *j = ctx;
    atomic_fetch_add(&j->sum, task);
    if (worker >= 0 && worker < 8) atomic_fetch_add(&j->per_worker[worker], 1);
}

/* Nested jobs: every task runs once, on a worker index no other running
 * task holds at the same moment (per-worker scratch relies on it). */
typedef struct {
    cs_pool *pool;
    atomic_int busy[8]; /* 1 while a task runs under that worker index */
    atomic_int clash, sum, ran_elsewhere;
    int slow_owner; /* outer task 1 sleeps in each nested task */
} nest;

typedef struct {
    nest *n;
    int owner; /* the outer task's worker index */
    int depth;
} inner;

static void enter(nest *n, int worker) {
    if (worker < 0 || worker >= 8 || atomic_exchange(&n->busy[worker], 1))
        atomic_store(&n->clash, 1);
}
static void leave(nest *n, int worker) {
    if (worker >= 0 && worker < 8) atomic_store(&n->busy[worker], 0);
}

static void inner_task(void *ctx, int task, int worker) {
    inner *in = ctx;
    nest *n = in->n;
    enter(n, worker);
    if (in->depth == 0 && worker != in->owner) atomic_fetch_add(&n->ran_elsewhere, 1);
    if (in->depth == 1 && worker != in->owner) atomic_store(&n->clash, 1); /* must be inline */
    if (n->slow_owner) usleep(1000);
    leave(n, worker);
    if (in->depth == 0) { /* a job nested twice runs inline on this thread */
        inner deeper = {n, worker, 1};
        cs_pool_for(n->pool, 3, inner_task, &deeper);
    }
    atomic_fetch_add(&n->sum, task + 1);
}

static void outer_task(void *ctx, int task, int worker) {
    nest *n = ctx;
    if (n->slow_owner && task == 0) return; /* done at once: free to help task 1 */
    inner in = {n, worker, 0};
    cs_pool_for(n->pool, 40, inner_task, &in);
}

static void test_nested(cs_pool *p, int threads) {
    for (int slow = 0; slow < 2; slow++) {
        nest n = {.pool = p, .slow_owner = slow};
        for (int i = 0; i < 8; i++) atomic_init(&n.busy[i], 0);
        atomic_init(&n.clash, 0);
        atomic_init(&n.sum, 0);
        atomic_init(&n.ran_elsewhere, 0);
        int outer = slow ? 2 : 16;
        cs_pool_for(p, outer, outer_task, &n);
        /* each inner task adds task + 1 and its three inner-inner tasks 1 + 2 + 3 */
        int jobs = slow ? 1 : outer;
        CHECK_EQ_INT(atomic_load(&n.sum), jobs * (40 * 41 / 2 + 40 * 6));
        CHECK_EQ_INT(atomic_load(&n.clash), 0);
        /* a thread out of outer tasks takes nested ones (when it may spin:
         * no more threads than cores) */
        if (slow && threads > 1 && threads <= cs_cpu_count())
            CHECK(atomic_load(&n.ran_elsewhere) > 0);
        if (threads == 1) CHECK_EQ_INT(atomic_load(&n.ran_elsewhere), 0);
    }
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
    test_nested(p, threads);
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

    /* a file cut short after its size was taken (a photo re-saved while
     * indexing) fails with its name and why, and reads nothing past it */
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && truncate(path, 3) == 0);
    char five[6] = {0};
    CHECK_EQ_INT(cs_read_exact(fd, path, five, 5, &err), CS_EIO);
    CHECK(strstr(err.message, "a.bin: read: file shrank while reading") != NULL);
    CHECK(!memcmp(five, "hel", 3));
    close(fd);
    CHECK_OK(cs_write_file_atomic(path, "hello", 5, &err), &err);
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK_OK(cs_read_exact(fd, path, five, 5, &err), &err);
    CHECK(!memcmp(five, "hello", 5));
    close(fd);

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
    CHECK_EQ_INT(cs_fail_prefix(&err, CS_EFORMAT, "index"), CS_EFORMAT);
    CHECK(!strcmp(err.message, "index: x.png: bad header"));
    CHECK_EQ_INT(err.status, CS_EFORMAT);
    CHECK(!strcmp(cs_status_name(CS_ENOTFOUND), "not found"));
    CHECK_EQ_INT(cs_fail(NULL, CS_EIO, "ignored"), CS_EIO); /* NULL err is allowed */
    /* allowed, like cs_fail(NULL, ...): the status still comes back */
    CHECK_EQ_INT(cs_fail_prefix(NULL, CS_EIO, "index"), CS_EIO);
    /* the library's version is the header's */
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", CS_VERSION_MAJOR, CS_VERSION_MINOR, CS_VERSION_PATCH);
    CHECK(!strcmp(cs_version(), v));
    CHECK_EQ_INT(cs_version_number(), CS_VERSION_NUMBER);
    CHECK(CS_VERSION_NUMBER ==
          CS_VERSION_MAJOR * 10000 + CS_VERSION_MINOR * 100 + CS_VERSION_PATCH);
}

int main(void) {
    test_pool(1);
    test_pool(2);
    test_pool(4);
    test_files();
    test_errors();
    return cs_test_done("core");
}
