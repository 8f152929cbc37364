/* index/dups.c - cs_db_duplicates: the catalogue's vector snapshot ->
 * links (dups_exact.c or dups_ivf.c) -> groups (dups_group.c) -> members
 * with their rows from SQLite, a keeper and scores.
 *
 * The result keeps a reference to the snapshot it was computed from, so
 * cs_dups_score reads the members' vectors on demand instead of storing
 * every group's m x m scores. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/db_internal.h"
#include "index/dups_internal.h"

enum { DEFAULT_K = 10, BEST_EXACT_MAX = 512 };

typedef struct group {
    int64_t first; /* into members / rows */
    int size;
    float best;
} group;

struct cs_dups {
    cs_vecs *vecs; /* the flat snapshot the rows index */
    group *groups;
    int64_t n_groups;
    cs_dup_member *members;
    int64_t *rows; /* the snapshot row of each member */
};

cs_status cs_dups_find(cs_pool *pool, const float *vectors, int64_t n, int dim, float threshold,
                       cs_dups_method method, cs_dup_lists *l, cs_error *err) {
    if (method == CS_DUPS_AUTO) method = n <= CS_DUPS_EXACT_MAX ? CS_DUPS_EXACT : CS_DUPS_IVF;
    return method == CS_DUPS_EXACT ? cs_dups_find_exact(pool, vectors, n, dim, threshold, l, err)
                                   : cs_dups_find_ivf(pool, vectors, n, dim, threshold, l, err);
}

/* 1 when a should be kept rather than b (the rule in index.h). */
static int better_keeper(const cs_dup_member *a, const cs_dup_member *b) {
    int64_t pa = (int64_t)a->width * a->height, pb = (int64_t)b->width * b->height;
    if (pa != pb) return pa > pb;
    if (a->size != b->size) return a->size > b->size;
    int ka = a->mtime_ns > 0, kb = b->mtime_ns > 0; /* a known date beats none */
    if (ka != kb) return ka;
    if (a->mtime_ns != b->mtime_ns) return a->mtime_ns < b->mtime_ns;
    return a->id < b->id;
}

static float row_dot(const cs_vecs *v, int64_t a, int64_t b) {
    return cs_dups_dot(v->vectors, v->dim, a, b);
}

/* Each member's best score inside its group: from the vectors for groups
 * of up to BEST_EXACT_MAX, else from its links (a row's best neighbour is
 * always among its k kept, so only strict groups cut from a huge component
 * can differ, and then by missing a pair no link kept). */
static void best_scores(cs_dups *d, group *g) {
    cs_dup_member *m = d->members + g->first;
    const int64_t *rows = d->rows + g->first;
    for (int i = 0; i < g->size; i++) m[i].score = -INFINITY;
    if (g->size > BEST_EXACT_MAX) return; /* best_from_links */
    for (int i = 0; i < g->size; i++)
        for (int j = i + 1; j < g->size; j++) {
            float s = row_dot(d->vecs, rows[i], rows[j]);
            if (s > m[i].score) m[i].score = s;
            if (s > m[j].score) m[j].score = s;
        }
}

/* Link-based best scores for the big groups (one pass over the links). */
static void best_from_links(cs_dups *d, const cs_dup_link *links, int64_t n_links,
                            const int64_t *group_of_row, const int64_t *member_of_row) {
    for (int64_t e = 0; e < n_links; e++) {
        int64_t ga = group_of_row[links[e].a];
        if (ga < 0 || ga != group_of_row[links[e].b] || d->groups[ga].size <= BEST_EXACT_MAX)
            continue;
        cs_dup_member *a = &d->members[member_of_row[links[e].a]];
        cs_dup_member *b = &d->members[member_of_row[links[e].b]];
        if (links[e].score > a->score) a->score = links[e].score;
        if (links[e].score > b->score) b->score = links[e].score;
    }
}

typedef struct member_row {
    cs_dup_member m;
    int64_t row;
} member_row;

/* Best score first, then lower id. */
static int cmp_member(const void *x, const void *y) {
    const cs_dup_member *a = &((const member_row *)x)->m, *b = &((const member_row *)y)->m;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Puts the keeper first and the others in order; rows follow members. */
static void order_group(cs_dups *d, group *g) {
    cs_dup_member *m = d->members + g->first;
    int64_t *rows = d->rows + g->first;
    int k = 0;
    for (int i = 1; i < g->size; i++)
        if (better_keeper(&m[i], &m[k])) k = i;
    cs_dup_member tm = m[0];
    m[0] = m[k];
    m[k] = tm;
    int64_t tr = rows[0];
    rows[0] = rows[k];
    rows[k] = tr;
    /* the others in order, each with its row (out of memory: left as they are) */
    member_row *p = malloc((size_t)g->size * sizeof *p);
    if (p) {
        for (int i = 1; i < g->size; i++) p[i] = (member_row){m[i], rows[i]};
        qsort(p + 1, (size_t)g->size - 1, sizeof *p, cmp_member);
        for (int i = 1; i < g->size; i++) {
            m[i] = p[i].m;
            rows[i] = p[i].row;
        }
        free(p);
    }
    g->best = -INFINITY;
    for (int i = 0; i < g->size; i++)
        if (m[i].score > g->best) g->best = m[i].score;
}

static int cmp_group(const void *x, const void *y) {
    const group *a = x, *b = y;
    if (a->best != b->best) return a->best > b->best ? -1 : 1;
    return (a->first > b->first) - (a->first < b->first);
}

/* The members of the groups, from SQLite; rows gone since the snapshot
 * was taken are left out (and a group left with one member is dropped). */
static cs_status fill(cs_db *db, cs_dups *d, const cs_dup_groups *gr, cs_error *err) {
    int64_t total = gr->start[gr->n_groups];
    d->members = calloc((size_t)(total ? total : 1), sizeof *d->members);
    d->rows = malloc((size_t)(total ? total : 1) * sizeof *d->rows);
    d->groups = calloc((size_t)(gr->n_groups ? gr->n_groups : 1), sizeof *d->groups);
    if (!d->members || !d->rows || !d->groups)
        return cs_fail(err, CS_ENOMEM, "%s: out of memory for the groups", db->path);
    int64_t pos = 0;
    for (int64_t g = 0; g < gr->n_groups; g++) {
        group *out = &d->groups[d->n_groups];
        out->first = pos;
        for (int64_t i = gr->start[g]; i < gr->start[g + 1]; i++) {
            int64_t row = gr->rows[i];
            cs_db_image img;
            cs_error e;
            cs_status st = cs_db_get(db, d->vecs->ids[row], &img, &e);
            if (st == CS_ENOTFOUND) continue;
            if (st != CS_OK) {
                for (int64_t j = out->first; j < pos; j++) free((char *)d->members[j].path);
                if (err) *err = e;
                return st;
            }
            d->members[pos] =
                (cs_dup_member){img.id, img.path, img.size, img.mtime_ns, img.width, img.height, 0};
            d->rows[pos++] = row;
        }
        out->size = (int)(pos - out->first);
        if (out->size >= 2) {
            d->n_groups++;
        } else {
            for (int64_t i = out->first; i < pos; i++) free((char *)d->members[i].path);
            pos = out->first;
        }
    }
    return CS_OK;
}

/* Scores, keepers and the order of groups. */
static cs_status finish(cs_dups *d, int64_t n_rows, const cs_dup_link *links, int64_t n_links,
                        cs_error *err) {
    int64_t *group_of_row = malloc((size_t)(n_rows ? n_rows : 1) * sizeof *group_of_row);
    int64_t *member_of_row = malloc((size_t)(n_rows ? n_rows : 1) * sizeof *member_of_row);
    if (!group_of_row || !member_of_row) {
        free(group_of_row);
        free(member_of_row);
        return cs_fail(err, CS_ENOMEM, "duplicates: out of memory");
    }
    for (int64_t r = 0; r < n_rows; r++) group_of_row[r] = -1;
    for (int64_t g = 0; g < d->n_groups; g++)
        for (int i = 0; i < d->groups[g].size; i++) {
            group_of_row[d->rows[d->groups[g].first + i]] = g;
            member_of_row[d->rows[d->groups[g].first + i]] = d->groups[g].first + i;
        }
    for (int64_t g = 0; g < d->n_groups; g++) best_scores(d, &d->groups[g]);
    best_from_links(d, links, n_links, group_of_row, member_of_row);
    free(group_of_row);
    free(member_of_row);
    for (int64_t g = 0; g < d->n_groups; g++) order_group(d, &d->groups[g]);
    qsort(d->groups, (size_t)d->n_groups, sizeof *d->groups, cmp_group);
    return CS_OK;
}

/* The flat snapshot: the catalogue's own when it has no pending changes,
 * else a merged copy. */
static cs_status flat_vectors(cs_db *db, cs_vecs **out, cs_error *err) {
    cs_vecs *v = NULL;
    cs_status st = cs_db_vectors(db, &v, err);
    if (st) return st;
    if (v->base || v->n_delta || v->n_masked) {
        cs_vecs *f = cs_vecs_flatten(v);
        cs_vecs_release(v);
        if (!f) return cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
        v = f;
    }
    *out = v;
    return CS_OK;
}

cs_status cs_db_duplicates(cs_db *db, const cs_dups_opts *opts, cs_dups **out, cs_error *err) {
    *out = NULL;
    cs_dups_opts o = {0};
    if (opts) o = *opts;
    if (o.threshold == 0) o.threshold = CS_DUPS_DEFAULT_THRESHOLD;
    if (!(o.threshold > 0 && o.threshold <= 1))
        return cs_fail(err, CS_EINVAL, "duplicates: the threshold must be in (0, 1], not %g",
                       (double)o.threshold);
    if (o.k == 0) o.k = DEFAULT_K;
    if (o.k < 1 || o.k > 255)
        return cs_fail(err, CS_EINVAL, "duplicates: k must be from 1 to 255, not %d", o.k);
    cs_dups *d = calloc(1, sizeof *d);
    if (!d) return cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
    cs_status st = flat_vectors(db, &d->vecs, err);
    cs_dup_lists *lists = NULL;
    cs_dup_link *links = NULL;
    int64_t n_links = 0;
    cs_dup_groups gr = {0};
    if (!st) {
        lists = cs_dup_lists_new(d->vecs->n, o.k);
        if (!lists) st = cs_fail(err, CS_ENOMEM, "%s: out of memory", db->path);
    }
    if (!st)
        st = cs_dups_find(o.pool, d->vecs->vectors, d->vecs->n, d->vecs->dim, o.threshold,
                          CS_DUPS_AUTO, lists, err);
    if (!st) st = cs_dup_lists_links(lists, &links, &n_links, err);
    cs_dup_lists_free(lists);
    if (!st)
        st = cs_dups_make_groups(links, n_links, d->vecs->n, d->vecs->vectors, d->vecs->dim,
                                 o.threshold, o.strict, &gr, err);
    if (!st) st = fill(db, d, &gr, err);
    if (!st) st = finish(d, d->vecs->n, links, n_links, err);
    free(links);
    cs_dup_groups_clear(&gr);
    if (st) {
        cs_dups_free(d);
        return st;
    }
    *out = d;
    return CS_OK;
}

int64_t cs_dups_count(const cs_dups *d) {
    return d ? d->n_groups : 0;
}

int cs_dups_size(const cs_dups *d, int64_t g) {
    return d && g >= 0 && g < d->n_groups ? d->groups[g].size : 0;
}

const cs_dup_member *cs_dups_member(const cs_dups *d, int64_t g, int i) {
    if (i < 0 || i >= cs_dups_size(d, g)) return NULL;
    return &d->members[d->groups[g].first + i];
}

float cs_dups_score(const cs_dups *d, int64_t g, int i, int j) {
    int m = cs_dups_size(d, g);
    if (i < 0 || j < 0 || i >= m || j >= m) return NAN;
    const int64_t *rows = d->rows + d->groups[g].first;
    return row_dot(d->vecs, rows[i], rows[j]);
}

void cs_dups_free(cs_dups *d) {
    if (!d) return;
    if (d->members)
        for (int64_t g = 0; g < d->n_groups; g++)
            for (int i = 0; i < d->groups[g].size; i++)
                free((char *)d->members[d->groups[g].first + i].path);
    free(d->members);
    free(d->rows);
    free(d->groups);
    cs_vecs_release(d->vecs);
    free(d);
}
