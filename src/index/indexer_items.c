/* index/indexer_items.c - the work on a batch's files that needs no
 * catalogue: read and hash them, decode and embed those the plan
 * (indexer.c, cs_index_job_plan) left to the model, and give copies their
 * source's vector. One process runs it on its batches; an MPI rank on the
 * chunks rank 0 sends (src/dist/). See indexer.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file.h"
#include "core/guard.h"
#include "core/pool.h"
#include "core/scratch.h"
#include "index/content_hash.h"
#include "index/indexer.h"

typedef cs_index_item item;

typedef struct items_job {
    const cs_index_backend *be;
    cs_file_guard *guard; /* the catalogue's own files, never read as images; may be NULL */
    item *items;
    int n, n_embed, more;
    int ready_task;  /* the task that calls be->ready: n, or -1 for none */
    item *ahead;     /* the next batch's items, hashed after the rest */
    int ahead_first; /* the task that hashes ahead[0] */
    float *inputs;
    cs_status ready; /* what be->ready returned, and why */
    cs_error ready_err;
} items_job;

/* Files up to this size are read into a buffer of the scratch cache
 * (core/scratch.h), reused file after file: kept in the heap, a photo's
 * buffer would still fault in as 4 KiB pages in each thread's arena
 * (docs/performance.md). Larger ones, rare, go through malloc and back,
 * rather than stay in the cache for good. */
#define POOLED_FILE_BYTES ((size_t)64 << 20)

/* Opens the item's file, with cs_guard_read_file's checks and messages
 * (guard may be NULL: any regular file): *n its size. */
static cs_status open_item(cs_file_guard *guard, item *it, int *fd, size_t *n) {
    struct stat st;
    cs_status s = cs_guard_open(guard, it->f->path, fd, &st, &it->error);
    if (s != CS_OK) return s;
    s = cs_check_file_size(it->f->path, &st, CS_INDEX_MAX_FILE_BYTES, &it->error);
    if (s != CS_OK) {
        close(*fd);
        return s;
    }
    *n = (size_t)st.st_size;
    return CS_OK;
}

static void release_item(char *data, size_t got) {
    if (got)
        cs_scratch_put(data, got);
    else
        free(data);
}

/* The item's file: its bytes (a NUL after them) in *data, and in *got the
 * size to give back to the cache with them (0: malloc'd), as release_item
 * does. */
static cs_status read_item(cs_file_guard *guard, item *it, char **data, size_t *size, size_t *got) {
    int fd;
    size_t n = 0;
    *data = NULL;
    *got = 0;
    cs_status s = open_item(guard, it, &fd, &n);
    if (s != CS_OK) return s;
    char *buf = n < POOLED_FILE_BYTES ? cs_scratch_get(n + 1, got) : malloc(n + 1);
    if (!buf) {
        close(fd);
        return cs_fail(&it->error, CS_ENOMEM, "%s: out of memory reading %zu bytes", it->f->path,
                       n);
    }
    s = cs_read_exact(fd, it->f->path, buf, n, &it->error);
    close(fd);
    if (s != CS_OK) {
        release_item(buf, *got);
        return s;
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return CS_OK;
}

/* The file's cs_hash128, read a chunk at a time into a buffer that stays in
 * the core's cache: read whole into fresh memory, a photo's bytes would go
 * out to memory and come back for the hash (docs/performance.md). The
 * checks and messages are read_item's (open_item, then a file that ends
 * before its size). */
static cs_status hash_file(cs_file_guard *guard, item *it) {
    int fd;
    size_t size = 0;
    cs_status s = open_item(guard, it, &fd, &size);
    if (s != CS_OK) return s;
    char chunk[1 << 16];
    cs_hash128_state hs;
    cs_hash128_init(&hs);
    for (size_t done = 0; done < size && s == CS_OK;) {
        size_t want = size - done < sizeof chunk ? size - done : sizeof chunk;
        s = cs_read_exact(fd, it->f->path, chunk, want, &it->error);
        if (s == CS_OK) cs_hash128_update(&hs, chunk, want);
        done += want;
    }
    close(fd);
    if (s == CS_OK) cs_hash128_final(&hs, it->hash);
    return s;
}

static void hash_item(cs_file_guard *guard, item *it) {
    if (it->act == CS_ACT_FAIL) return; /* already failed to be read */
    if (it->data)
        cs_hash128(it->data, it->data_size, it->hash);
    else if (hash_file(guard, it) != CS_OK)
        it->act = CS_ACT_FAIL;
}

static void hash_task(void *ctx, int task, int worker) {
    (void)worker;
    items_job *J = ctx;
    hash_item(J->guard, &J->items[task]);
}

void cs_index_hash_items(cs_pool *pool, cs_file_guard *guard, cs_index_item *items, int n) {
    items_job J = {.items = items, .guard = guard};
    cs_pool_for(pool, n, hash_task, &J);
}

static void prepare_task(void *ctx, int task, int worker) {
    (void)worker;
    items_job *J = ctx;
    if (task >= J->ahead_first) { /* the next batch's files, see below */
        hash_item(J->guard, &J->ahead[task - J->ahead_first]);
        return;
    }
    if (task == J->ready_task) { /* the model's tower, see below */
        J->ready = J->be->ready(J->be->user, J->n_embed, J->more, &J->ready_err);
        return;
    }
    item *it = &J->items[task];
    if (it->act != CS_ACT_EMBED) return;
    char *data = NULL;
    size_t size = it->data_size, got = 0;
    float *input = J->inputs + (size_t)it->slot * J->be->input_floats;
    const void *bytes = it->data;
    if (!bytes) {
        if (read_item(J->guard, it, &data, &size, &got) != CS_OK) {
            it->act = CS_ACT_FAIL;
            return;
        }
        bytes = data;
    }
    if (J->be->prepare(J->be->user, bytes, size, it->f->path, input, &it->width, &it->height,
                       &it->error) != CS_OK)
        it->act = CS_ACT_FAIL;
    if (data) release_item(data, got);
}

/* Moves the inputs of the files that decoded to the front, so the model
 * sees only those; returns their number and sets each item's vector. */
static int compact(const cs_index_backend *be, item *items, int n_items, int dim, float *inputs,
                   float *outputs) {
    size_t nf = be->input_floats;
    int n = 0;
    for (int i = 0; i < n_items; i++) {
        item *it = &items[i];
        if (it->act != CS_ACT_EMBED) continue;
        if (it->slot != n)
            memmove(inputs + (size_t)n * nf, inputs + (size_t)it->slot * nf, nf * sizeof(float));
        it->slot = n;
        it->vec = outputs + (size_t)n * dim;
        n++;
    }
    return n;
}

void cs_index_resolve_dups(cs_index_item *items, int n_items) {
    for (int i = 0; i < n_items; i++) {
        item *it = &items[i];
        if (it->act != CS_ACT_DUP) continue;
        const item *src = &items[it->slot];
        if (src->act == CS_ACT_FAIL) {
            /* the same bytes fail the same way, but the message names the
             * file it is about */
            const char *why = src->error.message;
            size_t n = strlen(src->f->path);
            if (!strncmp(why, src->f->path, n) && !strncmp(why + n, ": ", 2)) why += n + 2;
            it->act = CS_ACT_FAIL;
            cs_fail(&it->error, src->error.status, "%s: %s", it->f->path, why);
        } else {
            it->vec = src->vec;
            it->width = src->width;
            it->height = src->height;
            memcpy(it->precision, src->precision, sizeof it->precision);
        }
    }
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

cs_status cs_index_embed_items(const cs_index_backend *be, cs_file_guard *guard,
                               cs_index_item *items, int n, int n_embed, int more, int dim,
                               float *inputs, float *out, cs_index_item *ahead, int n_ahead,
                               double *decode_s, double *embed_s, cs_error *err) {
    double t = now_s();
    /* The files, then (be->ready) what the model needs before its first
     * call, then the next batch's files to hash. Handed out after the
     * files, the last two take the place of the wait for the batch's last
     * file: a thread with no file left builds the tower, or reads ahead,
     * while another decodes, instead of both waiting after the decoding
     * (docs/performance.md, "Indexing end to end"). */
    int ready_task = n_embed && be->ready ? n : -1;
    items_job J = {.be = be,
                   .guard = guard,
                   .items = items,
                   .n = n,
                   .n_embed = n_embed,
                   .more = more,
                   .ready_task = ready_task,
                   .ahead = ahead,
                   .ahead_first = n + (ready_task >= 0),
                   .inputs = inputs};
    if (!ahead) n_ahead = 0;
    if (n_embed || n_ahead) cs_pool_for(be->pool, J.ahead_first + n_ahead, prepare_task, &J);
    if (J.ready) {
        if (err) *err = J.ready_err;
        return J.ready;
    }
    int n_ok = compact(be, items, n, dim, inputs, out);
    if (decode_s) *decode_s += now_s() - t;
    t = now_s();
    if (n_ok) {
        cs_status st = be->embed(be->user, inputs, n_ok, more, out, err);
        if (st) return st;
        const char *precision = be->precision ? be->precision(be->user) : NULL;
        for (int i = 0; i < n; i++)
            if (items[i].act == CS_ACT_EMBED)
                snprintf(items[i].precision, sizeof items[i].precision, "%s",
                         precision ? precision : "");
    }
    if (embed_s) *embed_s += now_s() - t;
    cs_index_resolve_dups(items, n);
    return CS_OK;
}
