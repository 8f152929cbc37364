/* index/query.c - queries as weighted lists of terms, and the rclip-style
 * command-line syntax: "2:golden retriever" + ./dog.jpg - "grass". */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/db_internal.h"
#include "index/walk.h"

struct cs_query {
    cs_query_term *terms; /* each term's text and data are owned copies */
    int n, cap;
};

cs_query *cs_query_new(void) {
    return calloc(1, sizeof(cs_query));
}

void cs_query_free(cs_query *q) {
    if (!q) return;
    for (int i = 0; i < q->n; i++) {
        free((char *)q->terms[i].text);
        free((void *)q->terms[i].data);
    }
    free(q->terms);
    free(q);
}

int cs_query_count(const cs_query *q) {
    return q ? q->n : 0;
}

const cs_query_term *cs_query_term_at(const cs_query *q, int i) {
    return q && i >= 0 && i < q->n ? &q->terms[i] : NULL;
}

cs_status cs_query_add(cs_query *q, const cs_query_term *term, cs_error *err) {
    int needs_text = term->kind == CS_QUERY_TEXT || term->kind == CS_QUERY_IMAGE_FILE;
    if (term->kind > CS_QUERY_EMBEDDING || (needs_text && (!term->text || !*term->text)) ||
        (!needs_text && (!term->data || !term->size)))
        return cs_fail(err, CS_EINVAL, "query term %d: missing its text, path or data", q->n + 1);
    if (!isfinite(term->weight) || fabsf(term->weight) > 1e6f)
        return cs_fail(err, CS_EINVAL, "query term %d: weight %g is out of range", q->n + 1,
                       (double)term->weight);
    if (q->n == q->cap) {
        int cap = q->cap ? 2 * q->cap : 4;
        cs_query_term *grown = realloc(q->terms, (size_t)cap * sizeof *grown);
        if (!grown) return cs_fail(err, CS_ENOMEM, "out of memory");
        q->terms = grown;
        q->cap = cap;
    }
    cs_query_term t = *term;
    t.text = NULL;
    t.data = NULL;
    size_t bytes = term->kind == CS_QUERY_EMBEDDING ? term->size * sizeof(float) : term->size;
    if (needs_text && !(t.text = strdup(term->text)))
        return cs_fail(err, CS_ENOMEM, "out of memory");
    if (!needs_text) {
        void *d = malloc(bytes);
        if (!d) return cs_fail(err, CS_ENOMEM, "out of memory");
        memcpy(d, term->data, bytes);
        t.data = d;
    }
    q->terms[q->n++] = t;
    return CS_OK;
}

/* "2:golden retriever" -> weight 2, "golden retriever". The number is
 * digits with at most one '.', as rclip reads it. */
static const char *split_weight(const char *s, float *weight) {
    const char *p = s;
    int digits = 0, dots = 0;
    for (; isdigit((unsigned char)*p) || *p == '.'; p++) {
        if (*p == '.')
            dots++;
        else
            digits++;
    }
    if (*p != ':' || !digits || dots > 1 || !p[1]) return s;
    *weight = strtof(s, NULL);
    return p + 1;
}

/* "./dog.jpg", "dog.JPG": what a person types for an image file. */
static int looks_like_path(const char *s) {
    return !strchr(s, ' ') && cs_walk_image_extension(s);
}

/* 1 when s names something in the file system that is not a folder reached
 * by a bare word: "/etc/passwd", "./notes.txt", "README" (a file here). A
 * bare word naming a folder ("photos") stays text. */
static int names_a_file(const char *s) {
    struct stat st;
    if (stat(s, &st) != 0) return 0;
    return !S_ISDIR(st.st_mode) || strchr(s, '/') != NULL;
}

static const char *not_image_reason(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return "cannot be read";
    if (S_ISDIR(st.st_mode)) return "a folder, not an image file";
    if (!S_ISREG(st.st_mode)) return "not a regular file, so not an image";
    if (access(path, R_OK) != 0) return "cannot be read (permission denied)";
    return "not an image (its bytes are no JPEG, PNG, GIF, WebP, BMP, TIFF, HEIC or AVIF)";
}

/* Adds the words [from, to) as one term with the given sign. */
static cs_status add_words(cs_query *q, const char *const *words, int from, int to, float sign,
                           int flags, int (*is_image_file)(const char *), cs_error *err) {
    size_t len = 0;
    for (int i = from; i < to; i++) len += strlen(words[i]) + 1;
    char *joined = malloc(len + 1);
    if (!joined) return cs_fail(err, CS_ENOMEM, "out of memory");
    joined[0] = '\0';
    for (int i = from; i < to; i++) {
        if (i > from) strcat(joined, " ");
        strcat(joined, words[i]);
    }
    float weight = 1;
    const char *text = split_weight(joined, &weight);
    cs_query_term t = {.kind = CS_QUERY_TEXT, .weight = sign * weight, .text = text};
    cs_status st = CS_OK;
    if (flags & CS_QUERY_PARSE_IMAGE)
        t.kind = CS_QUERY_IMAGE_FILE;
    else if (!(flags & CS_QUERY_PARSE_TEXT) && is_image_file && is_image_file(text))
        t.kind = CS_QUERY_IMAGE_FILE;
    else if (!(flags & CS_QUERY_PARSE_TEXT) && looks_like_path(text) && access(text, F_OK) != 0)
        /* "./dog.jpg" that is not there is a typo, not a text to search for */
        st = cs_fail(err, CS_ENOTFOUND, "%s: no such image file", text);
    else if (!(flags & CS_QUERY_PARSE_TEXT) &&
             (looks_like_path(text) || (is_image_file && names_a_file(text))))
        /* a file that is there but not an image: searching its name as
         * words is never what was meant (the caller hints at --text) */
        st = cs_fail(err, CS_EFORMAT, "%s: %s", text, not_image_reason(text));
    if (!st) st = cs_query_add(q, &t, err);
    free(joined);
    return st;
}

cs_status cs_query_parse_with(cs_query *q, const char *const *words, int n, int flags,
                              int (*is_image_file)(const char *), cs_error *err) {
    float sign = 1;
    int start = 0, added = 0;
    for (int i = 0; i <= n; i++) {
        int op = i < n && (!strcmp(words[i], "+") || !strcmp(words[i], "-"));
        if (i < n && !op) continue;
        if (i > start) {
            cs_status st = add_words(q, words, start, i, sign, flags, is_image_file, err);
            if (st) return st;
            added++;
        } else if (i > 0 || (i == n && !added)) {
            if (i == n && !added) return cs_fail(err, CS_EINVAL, "empty query");
            return cs_fail(err, CS_EINVAL, "query: '%s' needs a term after it", words[i - 1]);
        }
        if (op) sign = words[i][0] == '-' ? -1.0f : 1.0f;
        start = i + 1;
    }
    return CS_OK;
}

cs_status cs_query_parse_text(cs_query *q, const char *text, float weight, cs_error *err) {
    /* the words of the text, as a shell would have split them */
    char *copy = strdup(text);
    const char **words = malloc((strlen(text) / 2 + 1) * sizeof *words);
    if (!copy || !words) {
        free(copy);
        free(words);
        return cs_fail(err, CS_ENOMEM, "out of memory");
    }
    int n = 0, first = q->n;
    for (char *save = NULL, *w = strtok_r(copy, " \t\n\r\f\v", &save); w;
         w = strtok_r(NULL, " \t\n\r\f\v", &save))
        words[n++] = w;
    cs_status st = cs_query_parse_with(q, words, n, CS_QUERY_PARSE_TEXT, NULL, err);
    for (int i = first; !st && i < q->n; i++) {
        q->terms[i].weight *= weight;
        if (!isfinite(q->terms[i].weight) || fabsf(q->terms[i].weight) > 1e6f)
            st = cs_fail(err, CS_EINVAL, "query term %d: weight %g is out of range", i + 1,
                         (double)q->terms[i].weight);
    }
    free(words);
    free(copy);
    return st;
}

cs_status cs_query_embed_with(const cs_query *q, int dim, cs_query_embed_fn fn, void *user,
                              float *out, cs_error *err) {
    int n = cs_query_count(q);
    if (n == 0) return cs_fail(err, CS_EINVAL, "empty query");
    float *e = malloc((size_t)dim * sizeof *e);
    if (!e) return cs_fail(err, CS_ENOMEM, "out of memory");
    memset(out, 0, (size_t)dim * sizeof *out);
    cs_status st = CS_OK;
    /* q = normalise(sum_i w_i * normalise(e_i)) */
    for (int i = 0; i < n && !st; i++) {
        const cs_query_term *t = cs_query_term_at(q, i);
        st = fn(user, t, e, err);
        if (st) break;
        double ss = 0;
        for (int j = 0; j < dim; j++) ss += (double)e[j] * e[j];
        if (!(ss > 0) || !isfinite(ss)) {
            st = cs_fail(err, CS_EINVAL, "query term %d: a zero or non-finite embedding", i + 1);
            break;
        }
        cs_db_normalize(e, dim);
        for (int j = 0; j < dim; j++) out[j] += t->weight * e[j];
    }
    free(e);
    if (st) return st;
    double ss = 0;
    for (int j = 0; j < dim; j++) ss += (double)out[j] * out[j];
    if (!(ss > 1e-12)) return cs_fail(err, CS_EINVAL, "the query's terms cancel out");
    cs_db_normalize(out, dim);
    return CS_OK;
}
