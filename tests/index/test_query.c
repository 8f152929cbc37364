/* Query parsing, rclip's syntax: words joined into terms, "+"/"-" operators,
 * "W:" weights, image paths recognised, errors for dangling operators and
 * missing image files; terms copied on add; one text in the same syntax
 * (what the server gets); the weighted sum of the terms' embeddings. */
#include <math.h>

#include "index/db_internal.h"
#include "test.h"

static int fake_is_image(const char *path) {
    size_t n = strlen(path);
    return n > 4 && !strcmp(path + n - 4, ".img");
}

/* The fake embedder: term i's text names a row of this table. */
static const float rows[3][4] = {{1, 0, 0, 0}, {0, 3, 4, 0}, {1, 1, 1, 1}};

static cs_status fake_embed(void *user, const cs_query_term *t, float *out, cs_error *err) {
    (void)user;
    if (t->kind == CS_QUERY_EMBEDDING) {
        memcpy(out, t->data, 4 * sizeof *out);
        return CS_OK;
    }
    int r = t->text[0] - 'a';
    if (r < 0 || r > 2) return cs_fail(err, CS_ENOTFOUND, "no row %s", t->text);
    memcpy(out, rows[r], sizeof rows[r]);
    return CS_OK;
}

/* cs_query_embed_with: normalise(sum w_i normalise(e_i)), computed in
 * double here; a zero part and parts that cancel out are refused. */
static void check_embed_with(void) {
    cs_error err;
    cs_query *q = cs_query_new();
    CHECK_OK(cs_query_parse_text(q, "a + 2:b - 0.5:c", 1, &err), &err);
    float got[4];
    CHECK_OK(cs_query_embed_with(q, 4, fake_embed, NULL, got, &err), &err);
    double want[4] = {0}, ss = 0;
    const double w[3] = {1, 2, -0.5};
    for (int i = 0; i < 3; i++) {
        double n = 0;
        for (int j = 0; j < 4; j++) n += (double)rows[i][j] * rows[i][j];
        for (int j = 0; j < 4; j++) want[j] += w[i] * rows[i][j] / sqrt(n);
    }
    for (int j = 0; j < 4; j++) ss += want[j] * want[j];
    for (int j = 0; j < 4; j++)
        CHECK_MSG(fabs(got[j] - want[j] / sqrt(ss)) < 1e-6, "component %d: %g, want %g", j, got[j],
                  want[j] / sqrt(ss));
    cs_query_free(q);

    q = cs_query_new();
    CHECK_OK(cs_query_parse_text(q, "b - b", 1, &err), &err);
    CHECK(cs_query_embed_with(q, 4, fake_embed, NULL, got, &err) == CS_EINVAL);
    CHECK(strstr(err.message, "cancel out") != NULL);
    cs_query_free(q);

    q = cs_query_new();
    float zero[4] = {0};
    cs_query_term t = {.kind = CS_QUERY_EMBEDDING, .weight = 1, .data = zero, .size = 4};
    CHECK_OK(cs_query_add(q, &t, &err), &err);
    CHECK(cs_query_embed_with(q, 4, fake_embed, NULL, got, &err) == CS_EINVAL);
    cs_query_free(q);

    q = cs_query_new();
    CHECK_OK(cs_query_parse_text(q, "z", 1, &err), &err);
    CHECK(cs_query_embed_with(q, 4, fake_embed, NULL, got, &err) == CS_ENOTFOUND);
    cs_query_free(q);
}

static cs_query *parse(int flags, cs_status want, int n, const char *const *words) {
    cs_query *q = cs_query_new();
    cs_error err;
    cs_status st = cs_query_parse_with(q, words, n, flags, fake_is_image, &err);
    CHECK_MSG(st == want, "status %d, want %d (%s)", st, want, st ? err.message : "");
    return q;
}

static void check_term(const cs_query *q, int i, cs_query_kind kind, float weight,
                       const char *text) {
    const cs_query_term *t = cs_query_term_at(q, i);
    CHECK_MSG(t != NULL, "term %d missing", i);
    if (!t) return;
    CHECK_EQ_INT(t->kind, kind);
    CHECK_MSG(fabsf(t->weight - weight) < 1e-6f, "term %d weight %g, want %g", i, t->weight,
              weight);
    CHECK_MSG(!strcmp(t->text, text), "term %d text '%s', want '%s'", i, t->text, text);
}

int main(void) {
    const char *w1[] = {"a", "ball"};
    cs_query *q = parse(0, CS_OK, 2, w1);
    CHECK_EQ_INT(cs_query_count(q), 1);
    check_term(q, 0, CS_QUERY_TEXT, 1, "a ball");
    cs_query_free(q);

    const char *w2[] = {"2:golden retriever", "+", "./dog.img", "-", "grass", "on", "a", "field"};
    q = parse(0, CS_OK, 8, w2);
    CHECK_EQ_INT(cs_query_count(q), 3);
    check_term(q, 0, CS_QUERY_TEXT, 2, "golden retriever");
    check_term(q, 1, CS_QUERY_IMAGE_FILE, 1, "./dog.img");
    check_term(q, 2, CS_QUERY_TEXT, -1, "grass on a field");
    cs_query_free(q);

    const char *w3[] = {"-", "0.5:grass", "+", ".25:sky"};
    q = parse(0, CS_OK, 4, w3);
    check_term(q, 0, CS_QUERY_TEXT, -0.5f, "grass");
    check_term(q, 1, CS_QUERY_TEXT, 0.25f, "sky");
    cs_query_free(q);

    /* not weights: no digits, two dots, nothing after the colon */
    const char *w4[] = {"x:y", "+", "1.2.3:z", "+", "3:"};
    q = parse(0, CS_OK, 5, w4);
    check_term(q, 0, CS_QUERY_TEXT, 1, "x:y");
    check_term(q, 1, CS_QUERY_TEXT, 1, "1.2.3:z");
    check_term(q, 2, CS_QUERY_TEXT, 1, "3:");
    cs_query_free(q);

    /* flags force the kind */
    const char *w5[] = {"photo.img"};
    q = parse(CS_QUERY_PARSE_TEXT, CS_OK, 1, w5);
    check_term(q, 0, CS_QUERY_TEXT, 1, "photo.img");
    cs_query_free(q);
    const char *w6[] = {"some", "file"};
    q = parse(CS_QUERY_PARSE_IMAGE, CS_OK, 2, w6);
    check_term(q, 0, CS_QUERY_IMAGE_FILE, 1, "some file");
    cs_query_free(q);

    /* a missing image file is an error, not a text; AC/DC is a text */
    const char *w7[] = {"./no/such/dog.jpg"};
    cs_query_free(parse(0, CS_ENOTFOUND, 1, w7));
    const char *w8[] = {"AC/DC"};
    q = parse(0, CS_OK, 1, w8);
    check_term(q, 0, CS_QUERY_TEXT, 1, "AC/DC");
    cs_query_free(q);

    /* dangling operators and empty queries */
    const char *w9[] = {"a", "+"};
    cs_query_free(parse(0, CS_EINVAL, 2, w9));
    const char *w10[] = {"a", "+", "-", "b"};
    cs_query_free(parse(0, CS_EINVAL, 4, w10));
    cs_query_free(parse(0, CS_EINVAL, 0, NULL));

    /* add copies the term's bytes */
    q = cs_query_new();
    float e[3] = {1, 2, 3};
    cs_query_term t = {.kind = CS_QUERY_EMBEDDING, .weight = 1, .data = e, .size = 3};
    cs_error err;
    CHECK_OK(cs_query_add(q, &t, &err), &err);
    e[0] = 9;
    CHECK(((const float *)cs_query_term_at(q, 0)->data)[0] == 1);
    cs_query_term bad = {.kind = CS_QUERY_TEXT, .weight = 1, .text = ""};
    CHECK(cs_query_add(q, &bad, &err) == CS_EINVAL);
    CHECK(cs_query_term_at(q, 1) == NULL);
    cs_query_free(q);

    /* one text in the same syntax: "+"/"-" between spaces, weights scaled */
    q = cs_query_new();
    CHECK_OK(cs_query_parse_text(q, "  golden   retriever + 2:dog\t-  .5:grass ", 2, &err), &err);
    CHECK_EQ_INT(cs_query_count(q), 3);
    check_term(q, 0, CS_QUERY_TEXT, 2, "golden retriever");
    check_term(q, 1, CS_QUERY_TEXT, 4, "dog");
    check_term(q, 2, CS_QUERY_TEXT, -1, "grass");
    CHECK(cs_query_parse_text(q, "cat -", 1, &err) == CS_EINVAL);       /* dangling */
    CHECK(cs_query_parse_text(q, "   ", 1, &err) == CS_EINVAL);         /* nothing */
    CHECK(cs_query_parse_text(q, "1e9:cat", 1, &err) == CS_OK);         /* not a weight */
    CHECK(cs_query_parse_text(q, "999999:cat", 10, &err) == CS_EINVAL); /* out of range */
    cs_query_free(q);

    check_embed_with();
    return cs_test_done("index.query");
}
