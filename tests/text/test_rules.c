/* tests/text/test_rules.c - each rule of the CLIP pipeline on its own, with
 * the real CLIP vocabulary (../shared/oracle/tokenizer). Expected ids come
 * from vocab.json itself (the id of "hello</w>") or from an input that the
 * rule says is equivalent (NFC forms, case, white space variants). */
#include <jansson.h>
#include <stdbool.h>

#include "test.h"

static cs_tokenizer *tok;
static json_t *vocab;

typedef struct ids {
    int n;
    int32_t v[80];
} ids;

static ids enc(const char *s, size_t len) {
    ids r = {0, {0}};
    cs_error err;
    if (cs_tokenizer_encode(tok, s, len, r.v, &r.n, &err) != CS_OK) {
        fprintf(stderr, "encode failed: %s\n", err.message);
        r.n = -1;
    }
    return r;
}
#define E(lit) enc(lit, sizeof lit - 1)

/* The vocabulary id of a token as written in vocab.json (byte-level form). */
static int32_t v(const char *token) {
    json_t *id = json_object_get(vocab, token);
    if (!json_is_integer(id)) {
        fprintf(stderr, "token '%s' is not in vocab.json\n", token);
        cs_test_failures++;
        return -2;
    }
    return (int32_t)json_integer_value(id);
}

static bool same(ids a, ids b) {
    return a.n == b.n && a.n >= 0 && !memcmp(a.v, b.v, (size_t)a.n * sizeof a.v[0]);
}

/* [bos, t1, ..., eos] */
static bool is(ids a, int n, const int32_t *want) {
    if (a.n != n + 2 || a.v[0] != 49406 || a.v[n + 1] != 49407) return false;
    return !memcmp(a.v + 1, want, (size_t)n * sizeof *want);
}
#define IS(a, ...)                                                                                 \
    is(a, (int)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)), (int32_t[]){__VA_ARGS__})

static void test_nfc(void) {
    CHECK(same(E("cafe\xcc\x81"), E("caf\xc3\xa9")));     /* e + U+0301 = é */
    CHECK(same(E("A\xcc\x8angstr"), E("\xc3\x85ngstr"))); /* A + ring = Å */
    CHECK(same(E("\xe2\x84\xab"), E("\xc3\xa5")));        /* U+212B ANGSTROM SIGN -> å */
    /* canonical reordering: dot below (ccc 220) before dot above (ccc 230) */
    CHECK(same(E("a\xcc\x87\xcc\xa3"), E("a\xcc\xa3\xcc\x87")));
    /* NFC, not NFKC: the fi ligature and full-width letters stay */
    CHECK(!same(E("\xef\xac\x81"), E("fi")));
    CHECK(!same(E("\xef\xbc\xa6"), E("f")));
}

static void test_whitespace(void) {
    CHECK(IS(E("a b"), v("a</w>"), v("b</w>")));
    CHECK(same(E("a \t\n\r\v\f b"), E("a b")));
    CHECK(same(E("  a b  "), E("a b")));
    CHECK(same(E("a\xc2\x85"
                 "b"),
               E("a b"))); /* U+0085 NEL */
    CHECK(same(E("a\xc2\xa0"
                 "b"),
               E("a b"))); /* U+00A0 NO-BREAK SPACE */
    CHECK(same(E("a\xe3\x80\x80"
                 "b"),
               E("a b"))); /* U+3000 IDEOGRAPHIC SPACE */
    CHECK(same(E("a\xe2\x80\xa8"
                 "b"),
               E("a b"))); /* U+2028 LINE SEPARATOR */
    CHECK(same(E("a\xe2\x80\xaf"
                 "b"),
               E("a b"))); /* U+202F NARROW NBSP */
    /* not white space: zero width space (Cf), BOM */
    CHECK(!same(E("a\xe2\x80\x8b"
                  "b"),
                E("a b")));
    CHECK(!same(E("a\xef\xbb\xbf"
                  "b"),
                E("a b")));
    CHECK(E(" \t\n ").n == 2);
    CHECK(E("").n == 2);
    CHECK(enc(NULL, 0).n == 2);
}

static void test_lowercase(void) {
    CHECK(IS(E("HELLO"), v("hello</w>")));
    CHECK(same(E("HeLLo WoRLD"), E("hello world")));
    CHECK(same(E("\xc3\x84PFEL"), E("\xc3\xa4pfel")));                         /* Ä */
    CHECK(same(E("\xd0\x9f\xd0\xa0\xd0\x98"), E("\xd0\xbf\xd1\x80\xd0\xb8"))); /* ПРИ */
    /* U+0130 İ lowercases to i + U+0307 (full mapping, not the simple 'i') */
    CHECK(same(E("\xc4\xb0"), E("i\xcc\x87")));
    CHECK(!same(E("\xc4\xb0"), E("i")));
    /* per character: no final sigma, ΟΣ -> οσ, not ος */
    CHECK(same(E("\xce\x9f\xce\xa3"), E("\xce\xbf\xcf\x83")));
    CHECK(!same(E("\xce\x9f\xce\xa3"), E("\xce\xbf\xcf\x82")));
    /* title-case digraph U+01C5 -> U+01C6; ẞ U+1E9E -> ß */
    CHECK(same(E("\xc7\x85"), E("\xc7\x86")));
    CHECK(same(E("\xe1\xba\x9e"), E("\xc3\x9f")));
    /* ß stays ß (lowercase does not case-fold to ss) */
    CHECK(!same(E("\xc3\x9f"), E("ss")));
}

static void test_added_tokens(void) {
    CHECK(IS(E("<|endoftext|>"), 49407));
    CHECK(IS(E("<|startoftext|>"), 49406));
    CHECK(IS(E("a<|startoftext|>b"), v("a</w>"), 49406, v("b</w>")));
    CHECK(IS(E("a <|endoftext|> b"), v("a</w>"), 49407, v("b</w>")));
    CHECK(IS(E("<|endoftext|><|endoftext|>"), 49407, 49407));
    /* <|startoftext|> is matched after normalization, so case does not matter */
    CHECK(IS(E("<|STARTOFTEXT|>"), 49406));
    /* <|endoftext|> is matched on the raw text: in capitals it is plain text */
    ids up = E("<|ENDOFTEXT|>");
    CHECK(up.n > 3);
    for (int i = 1; i + 1 < up.n; i++) CHECK(up.v[i] != 49407 && up.v[i] != 49406);
    /* ... and split as "<|", "endoftext", "|>" by the pre-tokenizers */
    ids pieces = E("<| endoftext |>");
    CHECK(same(up, pieces));
    /* NUL is text, not a terminator */
    CHECK(E("a\0b").n > E("a").n);
}

static void test_split(void) {
    CHECK(IS(E("it's"), v("it</w>"), v("'s</w>")));
    CHECK(IS(E("we're"), v("we</w>"), v("'re</w>")));
    CHECK(IS(E("'stop"), v("'s</w>"), v("top</w>")));
    CHECK(IS(E("123"), v("1</w>"), v("2</w>"), v("3</w>")));
    CHECK(IS(E("a1b"), v("a</w>"), v("1</w>"), v("b</w>")));
    CHECK(IS(E("!!"), v("!!</w>")));
    CHECK(IS(E("a!b"), v("a</w>"), v("!</w>"), v("b</w>")));
    CHECK(same(E("x.y"), E("x . y")));
    /* U+00BD ½ is \p{N}: alone; U+0301 (a mark) is neither L nor N */
    CHECK(same(E("1\xc2\xbd"), E("1 \xc2\xbd")));
    CHECK(same(E("\xce\xb1\xcc\x88"
                 "b"),
               E("\xce\xb1 \xcc\x88 b")));
}

static void test_byte_level(void) {
    /* bytes without a printable character map to U+0100 + n, in order */
    CHECK(IS(E("\x01"), v("\xc4\x81</w>"))); /* 0x01 -> U+0101 ā */
    CHECK(IS(E("\x7f"), v("\xc4\xa1</w>"))); /* 0x7F -> U+0121 */
    /* U+00AD is C2 AD; C2 -> U+00C2, AD -> U+0143; the vocabulary has the pair whole */
    CHECK(IS(E("\xc2\xad"), v("\xc3\x82\xc5\x83</w>")));
    CHECK(IS(E("~"), v("~</w>")));
}

static void test_truncation(void) {
    char text[1000] = "";
    for (int i = 0; i < 100; i++) strcat(text, "a ");
    ids r = enc(text, strlen(text));
    CHECK_EQ_INT(r.n, 77);
    CHECK(r.v[0] == 49406 && r.v[76] == 49407);
    for (int i = 1; i < 76; i++) CHECK(r.v[i] == v("a</w>"));
    text[75 * 2] = 0; /* exactly 75 words fit */
    CHECK_EQ_INT(enc(text, strlen(text)).n, 77);
    text[74 * 2] = 0;
    CHECK_EQ_INT(enc(text, strlen(text)).n, 76);
    /* an added token past the limit is cut like any other id */
    char end[1100];
    snprintf(end, sizeof end, "%s%s<|endoftext|>", text, "a a");
    r = enc(end, strlen(end));
    CHECK(r.n == 77 && r.v[75] == v("a</w>"));

    cs_error err;
    cs_tokenizer *small = NULL;
    CHECK_OK(cs_tokenizer_load(cs_test_oracle_path("tokenizer"), 5, &small, &err), &err);
    if (small) {
        int32_t out[5];
        int n = 0;
        CHECK_OK(cs_tokenizer_encode(small, "a b c d e", 9, out, &n, &err), &err);
        CHECK(n == 5 && out[0] == 49406 && out[1] == v("a</w>") && out[3] == v("c</w>") &&
              out[4] == 49407);
        cs_tokenizer_free(small);
    }
}

static void test_invalid_utf8(void) {
    static const struct {
        const char *s;
        size_t len, at;
    } bad[] = {
        {"\xff", 1, 0},
        {"ab\xc3", 3, 2},
        {"\xc0\xaf", 2, 0},
        {"x\xed\xa0\x80", 4, 1},
        {"\xf4\x90\x80\x80", 4, 0},
        {"ok\x80", 3, 2},
        {"\xe2\x82", 2, 0},
        {"\xf8\x88\x80\x80\x80", 5, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t out[77];
        int n = 99;
        cs_error err;
        cs_status st = cs_tokenizer_encode(tok, bad[i].s, bad[i].len, out, &n, &err);
        CHECK_EQ_INT(st, CS_EFORMAT);
        char want[64];
        snprintf(want, sizeof want, "invalid UTF-8 at byte %zu", bad[i].at);
        CHECK_MSG(strstr(err.message, want), "case %zu: '%s'", i, err.message);
        CHECK_EQ_INT(n, 0);
    }
}

int main(void) {
    cs_test_oracle();
    json_error_t je;
    vocab = json_load_file(cs_test_oracle_path("tokenizer/vocab.json"), 0, &je);
    if (!vocab) {
        fprintf(stderr, "vocab.json: %s\n", je.text);
        return 1;
    }
    cs_error err;
    CHECK_OK(cs_tokenizer_load(cs_test_oracle_path("tokenizer"), 0, &tok, &err), &err);
    if (!tok) return cs_test_done("test_rules");
    test_nfc();
    test_whitespace();
    test_lowercase();
    test_added_tokens();
    test_split();
    test_byte_level();
    test_truncation();
    test_invalid_utf8();
    cs_tokenizer_free(tok);
    json_decref(vocab);
    return cs_test_done("test_rules");
}
