/* tests/text/test_oracle.c - every string of ../shared/oracle/tokens.json
 * (the ids Hugging Face's fast CLIP tokenizer gives, truncated to 77) must
 * come out identical, whichever way the tokenizer is loaded: tokenizer.json,
 * vocab.json + merges.txt, and a model folder with config.json. */
#include <jansson.h>
#include <unistd.h>

#include "test.h"

static void print_ids(const char *label, const int32_t *ids, size_t n) {
    fprintf(stderr, "  %s:", label);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", (int)ids[i]);
    fputc('\n', stderr);
}

/* Returns the number of strings that differ. */
static int run_all(const char *dir, json_t *cases) {
    cs_error err;
    cs_tokenizer *tok = NULL;
    CHECK_OK(cs_tokenizer_load(dir, 0, &tok, &err), &err);
    if (!tok) return 1;
    CHECK_EQ_INT(cs_tokenizer_context_length(tok), 77);
    CHECK_EQ_INT(cs_tokenizer_bos(tok), 49406);
    CHECK_EQ_INT(cs_tokenizer_eos(tok), 49407);
    int32_t got[77], want[200];
    int bad = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        json_t *text = json_object_get(c, "text"), *ids = json_object_get(c, "ids");
        size_t n_want = json_array_size(ids);
        if (!json_is_string(text) || n_want == 0 || n_want > 200) {
            CHECK_MSG(0, "tokens.json entry %zu is malformed", i);
            continue;
        }
        for (size_t k = 0; k < n_want; k++)
            want[k] = (int32_t)json_integer_value(json_array_get(ids, k));
        int n_got = 0;
        cs_status st = cs_tokenizer_encode(tok, json_string_value(text), json_string_length(text),
                                           got, &n_got, &err);
        if (st != CS_OK || (size_t)n_got != n_want || memcmp(got, want, n_want * sizeof *got)) {
            bad++;
            fprintf(stderr, "%s: entry %zu differs: %s\n", dir, i,
                    st ? err.message : json_string_value(text));
            print_ids("want", want, n_want);
            print_ids("got ", got, st ? 0 : (size_t)n_got);
        }
    }
    cs_tokenizer_free(tok);
    return bad;
}

int main(void) {
    cs_test_oracle();
    json_error_t je;
    json_t *cases = json_load_file(cs_test_oracle_path("tokens.json"), JSON_ALLOW_NUL, &je);
    if (!cases) {
        fprintf(stderr, "tokens.json: %s\n", je.text);
        return 1;
    }
    CHECK(json_array_size(cases) >= 100);

    char tj[4096], tiny[4096];
    snprintf(tj, sizeof tj, "%s", cs_test_oracle_path("tokenizer"));
    snprintf(tiny, sizeof tiny, "%s", cs_test_oracle_path("models/tiny"));

    /* The fallback: a folder with only vocab.json and merges.txt. */
    const char *vm = cs_test_tmpdir();
    char src[4200], dst[4200];
    const char *files[] = {"vocab.json", "merges.txt"};
    for (int f = 0; f < 2; f++) {
        snprintf(src, sizeof src, "%s/%s", tj, files[f]);
        snprintf(dst, sizeof dst, "%s/%s", vm, files[f]);
        CHECK(symlink(src, dst) == 0);
    }

    int bad_tj = run_all(tj, cases), bad_vm = run_all(vm, cases), bad_tiny = run_all(tiny, cases);
    CHECK_MSG(bad_tj == 0, "%d strings differ with tokenizer.json", bad_tj);
    CHECK_MSG(bad_vm == 0, "%d strings differ with vocab.json + merges.txt", bad_vm);
    CHECK_MSG(bad_tiny == 0, "%d strings differ with models/tiny", bad_tiny);

    for (int f = 0; f < 2; f++) {
        snprintf(dst, sizeof dst, "%s/%s", vm, files[f]);
        unlink(dst);
    }
    rmdir(vm);
    json_decref(cases);
    return cs_test_done("test_oracle");
}
