/* index/dups_group.c - from links to groups.
 *
 * Default: connected components (union-find). A component is everything
 * reachable by links >= T, so a chain A-B-C where A and C score below T is
 * one group; its members' pairwise scores show it (cs_dups_score).
 *
 * strict: each component is cut into complete-linkage groups, in which
 * every pair scores >= T. Up to STRICT_EXACT_MAX members this is
 * agglomerative complete linkage: repeatedly merge the two clusters whose
 * worst cross pair is best, while that pair is >= T. Bigger components
 * (only at thresholds far below "the same picture") are cut greedily:
 * each member, in row order, joins the first group it passes with every
 * member of, else starts one; that is O(m^2) instead of O(m^3). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/dups_internal.h"

enum { STRICT_EXACT_MAX = 256 };

float cs_dups_dot(const float *vectors, int dim, int64_t a, int64_t b) {
    const float *x = vectors + a * dim, *y = vectors + b * dim;
    float acc[8] = {0};
    int j = 0;
    for (; j + 8 <= dim; j += 8)
        for (int l = 0; l < 8; l++) acc[l] += x[j + l] * y[j + l];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; j < dim; j++) s += x[j] * y[j];
    return s;
}

static int64_t find_root(int64_t *parent, int64_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]]; /* path halving */
        x = parent[x];
    }
    return x;
}

/* A growing list of groups, each a run of rows. */
typedef struct builder {
    int64_t *rows, *start;
    int64_t n_rows, n_groups, cap_groups;
} builder;

/* Appends rows[0..m) as a group (sorted ascending first). */
static int add_group(builder *b, int64_t *rows, int64_t m);

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int add_group(builder *b, int64_t *rows, int64_t m) {
    if (m < 2) return 1;
    if (b->n_groups + 2 > b->cap_groups) {
        int64_t cap = b->cap_groups ? 2 * b->cap_groups : 64;
        int64_t *s = realloc(b->start, (size_t)cap * sizeof *s);
        if (!s) return 0;
        b->start = s;
        b->cap_groups = cap;
    }
    qsort(rows, (size_t)m, sizeof *rows, cmp_i64);
    memmove(b->rows + b->n_rows, rows, (size_t)m * sizeof *rows);
    b->start[b->n_groups++] = b->n_rows;
    b->n_rows += m;
    b->start[b->n_groups] = b->n_rows;
    return 1;
}

/* Complete linkage on m rows: cluster of each member into label[]. */
static int strict_exact(const float *v, int dim, float t, const int64_t *rows, int m, int *label) {
    float *L = malloc((size_t)m * m * sizeof *L);
    if (!L) return 0;
    for (int i = 0; i < m; i++) {
        label[i] = i;
        for (int j = 0; j < m; j++)
            L[i * m + j] = i == j ? 1.0f : cs_dups_dot(v, dim, rows[i], rows[j]);
    }
    /* active clusters are those with label[c] == c; L[p][q] is their linkage */
    for (;;) {
        int bp = -1, bq = -1;
        float best = t;
        for (int p = 0; p < m; p++) {
            if (label[p] != p) continue;
            for (int q = p + 1; q < m; q++)
                if (label[q] == q && L[p * m + q] >= best && (bp < 0 || L[p * m + q] > best)) {
                    best = L[p * m + q];
                    bp = p;
                    bq = q;
                }
        }
        if (bp < 0) break;
        for (int r = 0; r < m; r++) {
            float s = L[bp * m + r] < L[bq * m + r] ? L[bp * m + r] : L[bq * m + r];
            L[bp * m + r] = L[r * m + bp] = s;
        }
        for (int i = 0; i < m; i++)
            if (label[i] == bq) label[i] = bp;
    }
    free(L);
    return 1;
}

/* The greedy cut for big components (see the top of the file). */
static int strict_greedy(const float *v, int dim, float t, const int64_t *rows, int m, int *label) {
    int *heads = malloc((size_t)m * sizeof *heads); /* first member of each group */
    if (!heads) return 0;
    int n_heads = 0;
    for (int i = 0; i < m; i++) {
        label[i] = -1;
        for (int g = 0; g < n_heads && label[i] < 0; g++) {
            int ok = 1;
            for (int j = heads[g]; j < i && ok; j++)
                if (label[j] == heads[g]) ok = cs_dups_dot(v, dim, rows[i], rows[j]) >= t;
            if (ok) label[i] = heads[g];
        }
        if (label[i] < 0) label[i] = heads[n_heads++] = i;
    }
    free(heads);
    return 1;
}

/* Cuts one component (rows[0..m), ascending) into strict groups. */
static int split_strict(builder *b, const float *v, int dim, float t, int64_t *rows, int64_t m) {
    int *label = malloc((size_t)m * sizeof *label);
    int64_t *part = malloc((size_t)m * sizeof *part);
    int ok = label && part;
    if (ok)
        ok = m <= STRICT_EXACT_MAX ? strict_exact(v, dim, t, rows, (int)m, label)
                                   : strict_greedy(v, dim, t, rows, (int)m, label);
    /* clusters in the order of their first member */
    for (int64_t c = 0; ok && c < m; c++) {
        if (label[c] < 0) continue;
        int lab = label[c];
        int64_t k = 0;
        for (int64_t i = c; i < m; i++)
            if (label[i] == lab) {
                part[k++] = rows[i];
                label[i] = -1;
            }
        ok = add_group(b, part, k);
    }
    free(label);
    free(part);
    return ok;
}

/* Rows of each component of size >= 2, by first row: members[] holds them,
 * comp_start[c] where component c begins. */
static int components(const cs_dup_link *links, int64_t n_links, int64_t n, int64_t **members,
                      int64_t **comp_start, int64_t *n_comp) {
    int64_t *parent = malloc((size_t)(n ? n : 1) * sizeof *parent);
    int64_t *size = calloc((size_t)(n ? n : 1), sizeof *size);
    int64_t *slot = NULL;
    *members = *comp_start = NULL;
    *n_comp = 0;
    if (!parent || !size) goto fail;
    for (int64_t i = 0; i < n; i++) parent[i] = i;
    for (int64_t e = 0; e < n_links; e++) {
        int64_t ra = find_root(parent, links[e].a), rb = find_root(parent, links[e].b);
        if (ra != rb) parent[ra > rb ? ra : rb] = ra < rb ? ra : rb; /* the lower row is root */
    }
    for (int64_t i = 0; i < n; i++) size[find_root(parent, i)]++;
    /* the root is each component's lowest row, so numbering roots in row
     * order numbers components by their first row */
    int64_t total = 0, nc = 0;
    for (int64_t i = 0; i < n; i++)
        if (parent[i] == i && size[i] >= 2) {
            nc++;
            total += size[i];
        }
    *members = malloc((size_t)(total ? total : 1) * sizeof **members);
    *comp_start = malloc((size_t)(nc + 1) * sizeof **comp_start);
    slot = size; /* reused: a root's next free position in members */
    if (!*members || !*comp_start) goto fail;
    int64_t pos = 0, c = 0;
    for (int64_t i = 0; i < n; i++)
        if (parent[i] == i && size[i] >= 2) {
            (*comp_start)[c++] = pos;
            int64_t s = size[i];
            slot[i] = pos;
            pos += s;
        } else if (parent[i] == i) {
            slot[i] = -1;
        }
    (*comp_start)[nc] = pos;
    for (int64_t i = 0; i < n; i++) {
        int64_t r = find_root(parent, i);
        if (slot[r] >= 0) (*members)[slot[r]++] = i;
    }
    *n_comp = nc;
    free(parent);
    free(size);
    return 1;
fail:
    free(parent);
    free(size);
    free(*members);
    free(*comp_start);
    *members = *comp_start = NULL;
    return 0;
}

cs_status cs_dups_make_groups(const cs_dup_link *links, int64_t n_links, int64_t n,
                              const float *vectors, int dim, float threshold, int strict,
                              cs_dup_groups *out, cs_error *err) {
    memset(out, 0, sizeof *out);
    int64_t *members, *cstart, nc;
    if (!components(links, n_links, n, &members, &cstart, &nc))
        return cs_fail(err, CS_ENOMEM, "duplicates: out of memory for the groups");
    builder b = {0};
    b.rows = malloc((size_t)(cstart[nc] ? cstart[nc] : 1) * sizeof *b.rows);
    int ok = b.rows != NULL;
    for (int64_t c = 0; ok && c < nc; c++) {
        int64_t *rows = members + cstart[c], m = cstart[c + 1] - cstart[c];
        ok = strict ? split_strict(&b, vectors, dim, threshold, rows, m) : add_group(&b, rows, m);
    }
    free(members);
    free(cstart);
    if (!ok) {
        free(b.rows);
        free(b.start);
        return cs_fail(err, CS_ENOMEM, "duplicates: out of memory for the groups");
    }
    if (!b.start && !(b.start = calloc(1, sizeof *b.start))) {
        free(b.rows);
        return cs_fail(err, CS_ENOMEM, "duplicates: out of memory for the groups");
    }
    out->rows = b.rows;
    out->start = b.start;
    out->n_groups = b.n_groups;
    return CS_OK;
}

void cs_dup_groups_clear(cs_dup_groups *g) {
    free(g->rows);
    free(g->start);
    memset(g, 0, sizeof *g);
}
