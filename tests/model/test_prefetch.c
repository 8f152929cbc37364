/* tests/model/test_prefetch.c - cs_model_prefetch: the weight matrices of
 * the towers asked for are mapped in the page table afterwards (the
 * kernel's word: /proc/self/pagemap), it runs beside the tokenizer's load
 * on another thread (they must not wait for each other's lock), and the
 * embeddings are the same bits as without it. And cs_model_ready_images. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/pool.h"
#include "model/model_internal.h"
#include "test.h"

static const int32_t cat[] = {49406, 320, 1125, 539, 320, 2368, 49407};

/* Pages of [p, p + len) present in the page table; -1 without pagemap. */
static long absent_pages(const void *p, size_t len) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long absent = 0;
    for (uintptr_t v = (uintptr_t)p / page; v <= ((uintptr_t)p + len - 1) / page; v++) {
        uint64_t e = 0;
        if (pread(fd, &e, sizeof e, (off_t)(v * sizeof e)) != (ssize_t)sizeof e) {
            absent = -1;
            break;
        }
        absent += !(e >> 63 & 1);
    }
    close(fd);
    return absent;
}

static long tower_absent(const cs_tower *T) {
    long absent = 0;
    for (int l = 0; l < T->cfg->layers; l++) {
        const cs_layer_weights *L = &T->layers[l];
        const cs_weight *w[] = {&L->q, &L->k, &L->v, &L->o, &L->fc1, &L->fc2, &T->proj};
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
            long a = absent_pages(w[i]->data,
                                  (size_t)w[i]->n * (size_t)w[i]->k * cs_dtype_size(w[i]->dtype));
            if (a < 0) return -1;
            absent += a;
        }
    }
    return absent;
}

typedef struct side {
    cs_model *m;
    int prefetch; /* else: load the tokenizer */
    cs_status st;
} side;

static void *run_side(void *arg) {
    side *s = arg;
    cs_error err;
    if (s->prefetch)
        s->st = cs_model_prefetch(s->m, CS_PREFETCH_TEXT, 0, 1, &err);
    else
        s->st = cs_model_tokenizer(s->m, &err) ? CS_OK : err.status;
    return NULL;
}

static void check_model(const char *dir) {
    cs_error err = {0};
    cs_model *m = NULL, *plain = NULL;
    CHECK_OK(cs_model_open(cs_test_oracle_path(dir), NULL, &m, &err), &err);
    CHECK_OK(cs_model_open(cs_test_oracle_path(dir), NULL, &plain, &err), &err);
    if (!m || !plain) goto done;

    /* the prefetch and the tokenizer load at once, on two threads */
    side a = {m, 1, CS_EINTERNAL}, b = {m, 0, CS_EINTERNAL};
    pthread_t ta, tb;
    CHECK(pthread_create(&ta, NULL, run_side, &a) == 0);
    CHECK(pthread_create(&tb, NULL, run_side, &b) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_EQ_INT(a.st, CS_OK);
    CHECK_EQ_INT(b.st, CS_OK);
    CHECK(m->have_text);
    long absent = tower_absent(&m->text);
    CHECK_MSG(absent == 0 || absent == -1, "%s: %ld pages of the text tower not mapped", dir,
              absent);
    /* in slices, as threads share it: all of them together do it all */
    for (int part = 0; part < 3; part++)
        CHECK_OK(cs_model_prefetch(m, CS_PREFETCH_VISION, part, 3, &err), &err);
    absent = tower_absent(&m->vision);
    CHECK_MSG(absent == 0 || absent == -1, "%s: %ld pages of the vision tower not mapped", dir,
              absent);

    /* the same bits with and without */
    const int32_t *ids = cat;
    int n = 7;
    float e1[64], e2[64];
    CHECK_OK(cs_embed_tokens(m, &ids, &n, 1, 0, e1, &err), &err);
    CHECK_OK(cs_embed_tokens(plain, &ids, &n, 1, 0, e2, &err), &err);
    cs_model_info mi;
    cs_model_get_info(m, &mi);
    CHECK(!memcmp(e1, e2, (size_t)mi.embed_dim * sizeof(float)));
    CHECK_OK(cs_model_prefetch(m, 0, 0, 1, &err), &err); /* nothing asked: nothing done */
done:
    cs_model_close(m);
    cs_model_close(plain);
}

/* cs_model_ready_images from a task of a pool: the model's own builds the
 * tower, another leaves it to the first embed call. */
typedef struct ready_in {
    cs_model *m;
    atomic_int st;
} ready_in;

static void ready_task(void *ctx, int task, int worker) {
    (void)worker;
    ready_in *r = ctx;
    cs_error err;
    if (task == 0) atomic_store(&r->st, cs_model_ready_images(r->m, 2, 0, &err));
}

static void check_ready_in_pools(const char *dir) {
    cs_error err = {0};
    cs_pool *mine = cs_pool_create(2), *other = cs_pool_create(2);
    cs_model_opts o = {.pool = mine, .precision = CS_PRECISION_INT8};
    cs_model *m = NULL;
    CHECK_OK(cs_model_open(cs_test_oracle_path(dir), &o, &m, &err), &err);
    if (m && mine && other) {
        ready_in r = {m, CS_EINTERNAL};
        cs_pool_for(other, 2, ready_task, &r);
        CHECK_EQ_INT(atomic_load(&r.st), CS_OK);
        CHECK(!m->have_vision); /* another pool's task: left for later */
        cs_pool_for(mine, 2, ready_task, &r);
        CHECK_EQ_INT(atomic_load(&r.st), CS_OK);
        CHECK(m->have_vision);
    }
    cs_model_close(m);
    cs_pool_free(mine);
    cs_pool_free(other);
}

/* cs_model_ready_images: a tower built for a batch of n, so that a part of
 * it embedded alone (one image) gets the batch's bits; without it, a first
 * call of one image builds a query's tower (fp32 from the map, the
 * precision asked for being int8). */
static void check_ready(const char *dir) {
    cs_error err = {0};
    cs_model_opts o = {.precision = CS_PRECISION_INT8};
    cs_model *batch = NULL, *ready = NULL, *lone = NULL;
    CHECK_OK(cs_model_open(cs_test_oracle_path(dir), &o, &batch, &err), &err);
    CHECK_OK(cs_model_open(cs_test_oracle_path(dir), &o, &ready, &err), &err);
    CHECK_OK(cs_model_open(cs_test_oracle_path(dir), &o, &lone, &err), &err);
    if (!batch || !ready || !lone) goto done;
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s", cs_test_oracle_path("images/chelsea.png"));
    snprintf(b, sizeof b, "%s", cs_test_oracle_path("images/rocket.jpg"));
    const char *both[] = {a, b};
    float rows[2][64], one[64], first[64];
    cs_status sts[2];
    cs_model_info mi;
    cs_model_get_info(batch, &mi);
    CHECK(mi.embed_dim <= 64);
    CHECK_OK(cs_embed_image_files(batch, both, 2, 0, &rows[0][0], sts, NULL, &err), &err);
    CHECK_OK(cs_model_ready_images(ready, 2, 0, &err), &err);
    CHECK(ready->have_vision);
    CHECK_OK(cs_model_ready_images(ready, 1, 0, &err), &err); /* built: nothing to do */
    CHECK_OK(cs_embed_image_file(ready, a, 0, one, &err), &err);
    CHECK_MSG(!memcmp(one, rows[0], (size_t)mi.embed_dim * sizeof(float)),
              "%s: one image after cs_model_ready_images is not the batch's first row", dir);
    CHECK_OK(cs_embed_image_file(lone, a, 0, first, &err), &err);
    cs_model_get_info(batch, &mi);
    if (!strcmp(mi.precision, "int8")) /* the CPU runs int8 products */
        CHECK_MSG(memcmp(first, rows[0], (size_t)mi.embed_dim * sizeof(float)) != 0,
                  "%s: a lone first image computed at int8", dir);
    CHECK_EQ_INT(cs_model_ready_images(ready, 0, 0, &err), CS_EINVAL);
done:
    cs_model_close(batch);
    cs_model_close(ready);
    cs_model_close(lone);
}

int main(void) {
    cs_test_oracle();
    check_ready("models/tiny");
    check_ready_in_pools("models/tiny");
    check_model("models/tiny");
    check_model("models/tiny-f16");
    check_model("models/tiny-bin"); /* weights from a torch zip */
    cs_error err;
    CHECK_EQ_INT(cs_model_prefetch(NULL, CS_PREFETCH_TEXT, 0, 1, &err), CS_EINVAL);
    CHECK_EQ_INT(cs_model_ready_images(NULL, 1, 0, &err), CS_EINVAL);
    return cs_test_done("model.prefetch");
}
