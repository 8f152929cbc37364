/* Duplicates: the exact pair scan against a brute force in double
 * precision, the IVF pass's recall against the same, the k limit, chains
 * (components) against complete linkage (strict), and cs_db_duplicates on a
 * catalogue of imported vectors: keeper rule, order, scores, rows removed,
 * bad options. Vectors are synthetic. */
#include <math.h>

#include "core/pool.h"
#include "index/dups_internal.h"
#include "test.h"

static uint64_t rng = 88172645463325252ull;
static double uniform(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static double gauss(void) {
    double u = uniform() + 1e-12, v = uniform();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}
static void unit(float *v, int dim) {
    double s = 0;
    for (int j = 0; j < dim; j++) s += (double)v[j] * v[j];
    for (int j = 0; j < dim; j++) v[j] = (float)(v[j] / sqrt(s));
}

/* n unit rows in a cone (unrelated rows at cosine ~0.3, as CLIP's are);
 * every 10th row after the first half is a near copy of a row of the first
 * half (noise `eps`). */
static float *make_rows(int64_t n, int dim, double eps) {
    float *x = malloc((size_t)n * dim * sizeof *x);
    float *mean = malloc((size_t)dim * sizeof *mean);
    for (int j = 0; j < dim; j++) mean[j] = (float)gauss();
    unit(mean, dim);
    for (int64_t i = 0; i < n; i++) {
        float *v = x + i * dim;
        if (i >= n / 2 && i % 10 == 0) {
            const float *src = x + (int64_t)(uniform() * (double)(n / 2)) * dim;
            for (int j = 0; j < dim; j++) v[j] = src[j] + (float)(eps * gauss());
        } else {
            for (int j = 0; j < dim; j++) v[j] = 0.6f * mean[j] + (float)(gauss() / sqrt(dim));
        }
        unit(v, dim);
    }
    free(mean);
    return x;
}

static double dot64(const float *x, int dim, int64_t a, int64_t b) {
    double s = 0;
    for (int j = 0; j < dim; j++) s += (double)x[a * dim + j] * x[b * dim + j];
    return s;
}

/* 1 when the links hold pair (a, b). */
static int has_link(const cs_dup_link *l, int64_t n, int64_t a, int64_t b) {
    for (int64_t i = 0; i < n; i++)
        if (l[i].a == a && l[i].b == b) return 1;
    return 0;
}

/* The pairs a source found, checked against every pair in double precision:
 * none below T (or with a wrong score), and the share of true pairs found. */
static double check_links(const float *x, int64_t n, int dim, float t, cs_dups_method method,
                          cs_pool *pool, int64_t *n_true) {
    cs_error err;
    cs_dup_lists *l = cs_dup_lists_new(n, 255);
    CHECK_OK(cs_dups_find(pool, x, n, dim, t, method, l, &err), &err);
    cs_dup_link *links = NULL;
    int64_t nl = 0;
    CHECK_OK(cs_dup_lists_links(l, &links, &nl, &err), &err);
    for (int64_t i = 0; i < nl; i++) {
        CHECK(links[i].a < links[i].b);
        CHECK(links[i].score >= t);
        CHECK(fabs(links[i].score - dot64(x, dim, links[i].a, links[i].b)) < 1e-4);
    }
    int64_t truth = 0, found = 0;
    for (int64_t a = 0; a < n; a++)
        for (int64_t b = a + 1; b < n; b++) {
            double s = dot64(x, dim, a, b);
            if (s < t + 1e-5) continue; /* float rounding may put these either side */
            truth++;
            found += has_link(links, nl, a, b);
        }
    *n_true = truth;
    free(links);
    cs_dup_lists_free(l);
    return truth ? (double)found / (double)truth : 1.0;
}

static void test_sources(void) {
    const int dim = 48;
    const int64_t n = 3000;
    float *x = make_rows(n, dim, 0.02);
    cs_pool *pool = cs_pool_create(3);
    int64_t truth;
    /* exact: every pair, with one thread and with three */
    CHECK(check_links(x, n, dim, 0.9f, CS_DUPS_EXACT, NULL, &truth) == 1.0);
    CHECK(truth >= 140);
    CHECK(check_links(x, n, dim, 0.9f, CS_DUPS_EXACT, pool, &truth) == 1.0);
    /* IVF: near copies are found (recall is measured at scale in bench/) */
    double r = check_links(x, n, dim, 0.9f, CS_DUPS_IVF, pool, &truth);
    CHECK_MSG(r >= 0.97, "IVF recall %.4f of %lld pairs", r, (long long)truth);
    cs_pool_free(pool);
    free(x);
}

/* One row with 20 near copies, k = 3: each row keeps its 3 best, so the
 * links are fewer than the 210 pairs, and yet all 21 rows are one group. */
static void test_k_limit(void) {
    const int dim = 16, n = 40;
    float x[40 * 16];
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < dim; j++) x[i * dim + j] = (float)gauss();
        if (i <= 20)
            for (int j = 0; j < dim; j++)
                x[i * dim + j] = (j == 0 ? 10.0f : 0.0f) + 0.2f * x[i * dim + j];
        unit(x + i * dim, dim);
    }
    cs_error err;
    cs_dup_lists *l = cs_dup_lists_new(n, 3);
    CHECK_OK(cs_dups_find_exact(NULL, x, n, dim, 0.9f, l, &err), &err);
    cs_dup_link *links;
    int64_t nl;
    CHECK_OK(cs_dup_lists_links(l, &links, &nl, &err), &err);
    CHECK(nl >= 20 && nl <= 21 * 3);
    cs_dup_groups g;
    CHECK_OK(cs_dups_make_groups(links, nl, n, x, dim, 0.9f, 0, &g, &err), &err);
    CHECK_EQ_INT(g.n_groups, 1);
    CHECK_EQ_INT(g.start[1] - g.start[0], 21);
    cs_dup_groups_clear(&g);
    free(links);
    cs_dup_lists_free(l);
}

/* A chain A-B-C (A.B and B.C >= T, A.C < T) and a separate pair D-E. */
static void chain_rows(float *x, int dim) {
    memset(x, 0, sizeof(float) * 5 * dim);
    double th = acos(0.90); /* A.C = 0.90, A.B = B.C = cos(th / 2) = 0.9747 */
    x[0 * dim + 0] = 1;
    x[1 * dim + 0] = (float)cos(th / 2), x[1 * dim + 1] = (float)sin(th / 2);
    x[2 * dim + 0] = (float)cos(th), x[2 * dim + 1] = (float)sin(th);
    x[3 * dim + 2] = 1;
    x[4 * dim + 2] = 0.99f, x[4 * dim + 3] = (float)sqrt(1 - 0.99 * 0.99);
}

static void test_chain(void) {
    const int dim = 8;
    float x[5 * 8];
    chain_rows(x, dim);
    cs_error err;
    cs_dup_lists *l = cs_dup_lists_new(5, 10);
    CHECK_OK(cs_dups_find_exact(NULL, x, 5, dim, 0.95f, l, &err), &err);
    cs_dup_link *links;
    int64_t nl;
    CHECK_OK(cs_dup_lists_links(l, &links, &nl, &err), &err);
    CHECK_EQ_INT(nl, 3); /* A-B, B-C, D-E */
    cs_dup_groups g;
    CHECK_OK(cs_dups_make_groups(links, nl, 5, x, dim, 0.95f, 0, &g, &err), &err);
    CHECK_EQ_INT(g.n_groups, 2);
    CHECK_EQ_INT(g.start[1], 3); /* A, B, C together */
    CHECK(g.rows[0] == 0 && g.rows[1] == 1 && g.rows[2] == 2 && g.rows[3] == 3 && g.rows[4] == 4);
    cs_dup_groups_clear(&g);
    /* strict: A-C fails, so the chain splits; B goes with one end */
    CHECK_OK(cs_dups_make_groups(links, nl, 5, x, dim, 0.95f, 1, &g, &err), &err);
    CHECK_EQ_INT(g.n_groups, 2);
    CHECK_EQ_INT(g.start[1] - g.start[0], 2);
    CHECK(g.rows[g.start[0] + 1] == 1); /* {A, B} or... */
    CHECK(g.rows[g.start[1]] == 3 && g.rows[g.start[1] + 1] == 4);
    for (int64_t k = 0; k < g.n_groups; k++) /* every pair of a strict group passes */
        for (int64_t i = g.start[k]; i < g.start[k + 1]; i++)
            for (int64_t j = i + 1; j < g.start[k + 1]; j++)
                CHECK(cs_dups_dot(x, dim, g.rows[i], g.rows[j]) >= 0.95f);
    cs_dup_groups_clear(&g);
    free(links);
    cs_dup_lists_free(l);
}

/* ---- through the catalogue -------------------------------------------------- */

static void put(cs_db *db, const char *path, const float *v, int w, int h, int64_t size,
                int64_t mtime) {
    cs_db_entry e = {
        .path = path, .size = size, .mtime_ns = mtime, .width = w, .height = h, .embedding = v};
    cs_hash128(path, strlen(path), e.hash);
    cs_error err;
    CHECK_OK(cs_db_put(db, &e, 1, &err), &err);
}

static int member_is(const cs_dups *d, int64_t g, int i, const char *path) {
    const cs_dup_member *m = cs_dups_member(d, g, i);
    return m && !strcmp(m->path, path);
}

static void test_catalog(void) {
    const int dim = 8;
    char path[512];
    snprintf(path, sizeof path, "%s/dups.db", cs_test_tmpdir());
    cs_db_opts o = {.model_id = "test", .dim = dim, .flags = CS_DB_CREATE};
    cs_db *db;
    cs_error err;
    CHECK_OK(cs_db_open(path, &o, &db, &err), &err);
    cs_dups *d = NULL;
    CHECK_OK(cs_db_duplicates(db, NULL, &d, &err), &err); /* empty: no groups */
    CHECK_EQ_INT(cs_dups_count(d), 0);
    cs_dups_free(d);

    float x[5 * 8], other[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    chain_rows(x, dim);
    /* the chain: B has the most pixels; D and E tie on pixels, E is larger */
    put(db, "/p/a.jpg", x + 0 * dim, 100, 100, 5000, 300);
    put(db, "/p/b.png", x + 1 * dim, 200, 100, 100, 200);
    put(db, "/p/c.webp", x + 2 * dim, 100, 100, 9000, 100);
    put(db, "/p/d.jpg", x + 3 * dim, 50, 50, 10, 0);
    put(db, "/p/e.jpg", x + 4 * dim, 50, 50, 20, 0);
    put(db, "/p/lonely.jpg", other, 10, 10, 1, 1);
    cs_dups_opts so = {.threshold = 0.95f};
    CHECK_OK(cs_db_duplicates(db, &so, &d, &err), &err);
    CHECK_EQ_INT(cs_dups_count(d), 2);
    /* groups best score first: D-E (0.99) before the chain (0.9747) */
    CHECK_EQ_INT(cs_dups_size(d, 0), 2);
    CHECK(member_is(d, 0, 0, "/p/e.jpg")); /* same pixels, larger file */
    CHECK(member_is(d, 0, 1, "/p/d.jpg"));
    CHECK(fabsf(cs_dups_member(d, 0, 1)->score - 0.99f) < 1e-5);
    CHECK_EQ_INT(cs_dups_size(d, 1), 3);
    CHECK(member_is(d, 1, 0, "/p/b.png")); /* most pixels */
    const cs_dup_member *k = cs_dups_member(d, 1, 0);
    CHECK(k->width == 200 && k->height == 100 && k->size == 100 && k->mtime_ns == 200);
    /* a chain: the ends score below the threshold with each other */
    int ia = member_is(d, 1, 1, "/p/a.jpg") ? 1 : 2, ic = 3 - ia;
    CHECK(member_is(d, 1, ic, "/p/c.webp"));
    CHECK(fabsf(cs_dups_score(d, 1, ia, ic) - 0.90f) < 1e-5);
    CHECK(cs_dups_score(d, 1, 0, ia) >= 0.95f && cs_dups_score(d, 1, 0, ic) >= 0.95f);
    CHECK(cs_dups_score(d, 1, ia, ic) == cs_dups_score(d, 1, ic, ia));
    CHECK(isnan(cs_dups_score(d, 1, 0, 3)) && !cs_dups_member(d, 1, 3) && !cs_dups_member(d, 2, 0));
    cs_dups_free(d);

    /* strict: {B with one end}, {D, E} */
    so.strict = 1;
    CHECK_OK(cs_db_duplicates(db, &so, &d, &err), &err);
    CHECK_EQ_INT(cs_dups_count(d), 2);
    CHECK_EQ_INT(cs_dups_size(d, 1), 2);
    CHECK(member_is(d, 1, 0, "/p/b.png"));
    cs_dups_free(d);

    /* keeper ties down to the date: same pixels and bytes, the older wins;
     * an unknown date (0) counts as newest */
    put(db, "/p/d.jpg", x + 3 * dim, 50, 50, 20, 0);
    put(db, "/p/e.jpg", x + 4 * dim, 50, 50, 20, 7);
    so.strict = 0;
    CHECK_OK(cs_db_duplicates(db, &so, &d, &err), &err);
    CHECK(member_is(d, 0, 0, "/p/e.jpg"));
    cs_dups_free(d);

    /* a row removed is no longer grouped */
    const char *gone = "/p/d.jpg";
    CHECK_OK(cs_db_remove(db, &gone, 1, &err), &err);
    CHECK_OK(cs_db_duplicates(db, &so, &d, &err), &err);
    CHECK_EQ_INT(cs_dups_count(d), 1);
    cs_dups_free(d);

    so.threshold = 1.5f;
    CHECK(cs_db_duplicates(db, &so, &d, &err) == CS_EINVAL && !d);
    CHECK(strstr(err.message, "threshold"));
    so.threshold = 0.9f;
    so.k = 300;
    CHECK(cs_db_duplicates(db, &so, &d, &err) == CS_EINVAL);
    cs_db_close(db);
}

int main(void) {
    test_sources();
    test_k_limit();
    test_chain();
    test_catalog();
    return cs_test_done("index.dups");
}
