/* tests/text/test_bpe.c - BPE merge order and the loaders, on a hand-made
 * model whose results follow from the BPE definition by hand; loader errors
 * name the file; and, with the oracle, both loaders build the same tables. */
#include <unistd.h>

#include "test.h"
#include "text/text.h"

/* ids: a b c d = 0..3, with </w> = 4..7, then the merge results. */
static const char *VOCAB =
    "{\"a\": 0, \"b\": 1, \"c\": 2, \"d\": 3, \"a</w>\": 4, \"b</w>\": 5, \"c</w>\": 6,\n"
    " \"d</w>\": 7, \"ab\": 8, \"bc</w>\": 9, \"bb\": 10, \"abc</w>\": 11, \"dd\": 12,\n"
    " \"<|startoftext|>\": 13, \"<|endoftext|>\": 14}\n";
static const char *MERGES = "#version: 0.2\r\na b\r\nb c</w>\r\nb b\r\nab c</w>\r\nd d\r\n";
/* The same, read as CLIPTokenizer reads it: line 1 dropped whatever it says,
 * tokens split on any white space, blank lines at the end ignored. */
static const char *MERGES_LOOSE = "a a\na\tb\n  b c</w> \nb  b\nab c</w>\nd d\n\n\n";

/* The same model as tokenizer.json: merges first (legal JSON order), in the
 * legacy "a b" form, and escapes in keys. */
static const char *TOKENIZER_JSON =
    "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null,\n"
    " \"added_tokens\": [\n"
    "  {\"id\": 13, \"content\": \"<|startoftext|>\", \"single_word\": false, \"lstrip\": false,\n"
    "   \"rstrip\": false, \"normalized\": true, \"special\": true},\n"
    "  {\"id\": 14, \"content\": \"<|endoftext|>\", \"single_word\": false, \"lstrip\": false,\n"
    "   \"rstrip\": false, \"normalized\": false, \"special\": true}],\n"
    " \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"},\n"
    "   {\"type\": \"Replace\", \"pattern\": {\"Regex\": \"\\\\s+\"}, \"content\": \" \"},\n"
    "   {\"type\": \"%s\"}]},\n"
    " \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [\n"
    "   {\"type\": \"Split\", \"pattern\": {\"Regex\": "
    "\"<\\\\|startoftext\\\\|>|<\\\\|endoftext\\\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\\\p{L}]+|"
    "[\\\\p{N}]|[^\\\\s\\\\p{L}\\\\p{N}]+\"},\n"
    "    \"behavior\": \"Removed\", \"invert\": true},\n"
    "   {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true,\n"
    "    \"use_regex\": true}]},\n"
    " \"post_processor\": {\"type\": \"RobertaProcessing\", \"sep\": [\"<|endoftext|>\", 14],\n"
    "   \"cls\": [\"<|startoftext|>\", 13], \"trim_offsets\": false, \"add_prefix_space\": "
    "false},\n"
    " \"decoder\": null,\n"
    " \"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": \"<|endoftext|>\",\n"
    "   \"continuing_subword_prefix\": \"\", \"end_of_word_suffix\": \"</w>\",\n"
    "   \"fuse_unk\": false, \"byte_fallback\": false,\n"
    "   \"merges\": [\"#version: 0.2\", \"a b\", \"b c</w>\", \"b b\", \"ab c</w>\", \"d d\"],\n"
    "   \"vocab\": {\"\\u0061\": 0, \"b\": 1, \"c\": 2, \"d\": 3, \"a</w>\": 4, \"b</w>\": 5,\n"
    "     \"c</w>\": 6, \"d</w>\": 7, \"ab\": 8, \"bc</w>\": 9, \"bb\": 10, \"abc</w>\": 11,\n"
    "     \"dd\": 12, \"<|startoftext|>\": 13, \"<|endoftext|>\": 14}}}\n";

static char dir[256];

static void put(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!text) {
        unlink(path);
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void put_tokenizer_json(const char *lowercase_type) {
    char buf[8192];
    snprintf(buf, sizeof buf, TOKENIZER_JSON, lowercase_type);
    put("tokenizer.json", buf);
}

static bool encodes(cs_tokenizer *tok, const char *text, int n, const int32_t *want) {
    int32_t got[77];
    int n_got = 0;
    cs_error err;
    if (cs_tokenizer_encode(tok, text, strlen(text), got, &n_got, &err) != CS_OK) {
        fprintf(stderr, "'%s': %s\n", text, err.message);
        return false;
    }
    bool ok = n_got == n + 2 && got[0] == 13 && got[n + 1] == 14 &&
              !memcmp(got + 1, want, (size_t)n * sizeof *want);
    if (!ok) {
        fprintf(stderr, "'%s' gave:", text);
        for (int i = 0; i < n_got; i++) fprintf(stderr, " %d", (int)got[i]);
        fputc('\n', stderr);
    }
    return ok;
}
#define ENC(tok, text, ...)                                                                        \
    CHECK(encodes(tok, text, (int)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)),            \
                  (int32_t[]){__VA_ARGS__}))

static void merge_rules(const char *how) {
    cs_error err;
    cs_tokenizer *tok = NULL;
    CHECK_OK(cs_tokenizer_load(dir, 0, &tok, &err), &err);
    if (!tok) return;
    fprintf(stderr, "merge rules with %s\n", how);
    CHECK_EQ_INT(cs_tokenizer_bos(tok), 13);
    CHECK_EQ_INT(cs_tokenizer_eos(tok), 14);
    CHECK_EQ_INT(cs_tokenizer_context_length(tok), 77);
    ENC(tok, "a", 4);              /* the last symbol carries </w> */
    ENC(tok, "ba", 1, 4);          /* no merge (b, a</w>) */
    ENC(tok, "bc", 9);             /* b + c</w> */
    ENC(tok, "abc", 11);           /* a b (rank 0), then ab c</w> (rank 3) */
    ENC(tok, "bbbc", 10, 9);       /* b c</w> (rank 1) first, then the leftmost b b */
    ENC(tok, "ddda", 12, 3, 4);    /* equal ranks: the leftmost pair merges first */
    ENC(tok, "dddd", 12, 3, 7);    /* (dd, d) and (d, d</w>) are no merges */
    ENC(tok, "axa", 0, 14, 4);     /* x is not in the vocabulary: unk, one per character */
    ENC(tok, "ABC  ab", 11, 0, 5); /* lowercase; each word ends with </w> */
    ENC(tok, "a<|endoftext|>b", 4, 14, 5);
    ENC(tok, "<|StartOfText|>", 13);
    cs_tokenizer_free(tok);
}

static void expect_error(cs_status want, const char *needle1, const char *needle2) {
    cs_error err = {0, ""};
    cs_tokenizer *tok = (cs_tokenizer *)1;
    cs_status st = cs_tokenizer_load(dir, 0, &tok, &err);
    CHECK_MSG(st == want, "status %d, want %d (%s)", st, want, err.message);
    CHECK(tok == NULL);
    CHECK_MSG(strstr(err.message, needle1), "'%s' lacks '%s'", err.message, needle1);
    if (needle2) CHECK_MSG(strstr(err.message, needle2), "'%s' lacks '%s'", err.message, needle2);
    if (st == CS_OK) cs_tokenizer_free(tok);
}

static void loader_errors(void) {
    put("tokenizer.json", NULL);
    put("vocab.json", NULL);
    expect_error(CS_ENOTFOUND, "vocab.json", NULL);
    put("vocab.json", "{\"a\": 0,\n \"b\" 1}");
    expect_error(CS_EFORMAT, "vocab.json", "line 2");
    put("vocab.json", "{\"a\": 1.5}");
    expect_error(CS_EFORMAT, "vocab.json", "integer");
    put("vocab.json", "{\"a\": 0} x");
    expect_error(CS_EFORMAT, "vocab.json", NULL);
    put("vocab.json", "{\"a\xff\": 0}");
    expect_error(CS_EFORMAT, "vocab.json", "UTF-8");
    put("vocab.json", VOCAB);
    put("merges.txt", NULL);
    expect_error(CS_ENOTFOUND, "merges.txt", NULL);
    put("merges.txt", "#version: 0.2\na b\na b c\n");
    expect_error(CS_EFORMAT, "merges.txt", "line 3");
    put("merges.txt", "#version: 0.2\na q\n");
    expect_error(CS_EFORMAT, "merges.txt", "'q'");
    put("merges.txt", "#version: 0.2\na c\n"); /* "ac" is not a token */
    expect_error(CS_EFORMAT, "merges.txt", "'ac'");
    put("merges.txt", MERGES);
    put("config.json", "{\"text_config\": {\"max_position_embeddings\": 16,}}");
    expect_error(CS_EFORMAT, "config.json", NULL);
    put("config.json", "{\"text_config\": {\"max_position_embeddings\": 16}}");
    cs_error err;
    cs_tokenizer *tok = NULL;
    CHECK_OK(cs_tokenizer_load(dir, 0, &tok, &err), &err);
    CHECK(tok && cs_tokenizer_context_length(tok) == 16);
    cs_tokenizer_free(tok);
    tok = NULL;
    CHECK_OK(cs_tokenizer_load(dir, 9, &tok, &err), &err); /* the caller's value wins */
    CHECK(tok && cs_tokenizer_context_length(tok) == 9);
    cs_tokenizer_free(tok);
    put("config.json", NULL);

    put_tokenizer_json("Strip");
    expect_error(CS_EUNSUPPORTED, "tokenizer.json", "normalizer");
    put("tokenizer.json", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [");
    expect_error(CS_EFORMAT, "tokenizer.json", "line 1");
    put("tokenizer.json", "");
    expect_error(CS_EFORMAT, "tokenizer.json", NULL);
    put("tokenizer.json", NULL);
}

/* With the oracle: tokenizer.json and vocab.json + merges.txt give the same
 * vocabulary and the same merge table, entry for entry. */
static void same_tables(void) {
    const char *oracle = getenv("CS_ORACLE");
    char tj[4096], src[4200], dst[512];
    snprintf(tj, sizeof tj, "%s/tokenizer", oracle ? oracle : "/nonexistent");
    if (access(tj, R_OK) != 0) {
        printf("(no oracle: table comparison skipped)\n");
        return;
    }
    put("config.json", NULL);
    const char *files[] = {"vocab.json", "merges.txt"};
    for (int f = 0; f < 2; f++) {
        snprintf(src, sizeof src, "%s/%s", tj, files[f]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[f]);
        unlink(dst);
        CHECK(symlink(src, dst) == 0);
    }
    cs_error err;
    cs_tokenizer *a = NULL, *b = NULL;
    CHECK_OK(cs_tokenizer_load(tj, 0, &a, &err), &err);
    CHECK_OK(cs_tokenizer_load(dir, 0, &b, &err), &err);
    if (a && b) {
        CHECK_EQ_INT(a->bpe.vocab.n, 49408);
        CHECK_EQ_INT(a->bpe.vocab.n, b->bpe.vocab.n);
        size_t diff = 0;
        for (size_t i = 0; i < a->bpe.vocab.n_slots; i++) {
            const cs_vocab *va = &a->bpe.vocab;
            const cs_vocab_slot *e = &va->slots[i];
            if (e->off == UINT32_MAX) continue;
            diff += cs_vocab_get(&b->bpe.vocab, cs_vocab_slot_key(va, e),
                                 cs_vocab_slot_len(va, e)) != cs_vocab_slot_id(va, e);
        }
        CHECK_EQ_INT(diff, 0);
        CHECK_EQ_INT(a->bpe.merges.n, 48894);
        CHECK_EQ_INT(a->bpe.merges.n, b->bpe.merges.n);
        for (size_t i = 0; i < a->bpe.merges.n_slots; i++) {
            const cs_merge_slot *s = &a->bpe.merges.slots[i], *t;
            if (s->key == UINT64_MAX) continue;
            t = cs_merges_get(&b->bpe.merges, (int32_t)(s->key >> 32), (int32_t)s->key);
            diff += !t || t->rank != s->rank || t->id != s->id;
        }
        CHECK_EQ_INT(diff, 0);
        CHECK(!memcmp(a->bpe.byte_id, b->bpe.byte_id, sizeof a->bpe.byte_id));
        CHECK(!memcmp(a->bpe.byte_eow_id, b->bpe.byte_eow_id, sizeof a->bpe.byte_eow_id));
        CHECK_EQ_INT(a->bpe.unk_id, b->bpe.unk_id);
        CHECK_EQ_INT(a->n_added, b->n_added);
    }
    cs_tokenizer_free(a);
    cs_tokenizer_free(b);
    for (int f = 0; f < 2; f++) {
        snprintf(dst, sizeof dst, "%s/%s", dir, files[f]);
        unlink(dst);
    }
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", cs_test_tmpdir());
    put("vocab.json", VOCAB);
    put("merges.txt", MERGES);
    merge_rules("vocab.json + merges.txt");
    put("merges.txt", MERGES_LOOSE);
    merge_rules("merges.txt with other white space");
    put("merges.txt", MERGES);
    put_tokenizer_json("Lowercase");
    merge_rules("tokenizer.json");
    loader_errors();
    same_tables();
    put("vocab.json", NULL);
    put("merges.txt", NULL);
    rmdir(dir);
    return cs_test_done("test_bpe");
}
