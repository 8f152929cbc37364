/* tests/text/test_random.c - random bytes and random valid Unicode through
 * the tokenizer (run under ASan/UBSan in the sanitizer build).
 *
 * For every input: invalid UTF-8 is refused with CS_EFORMAT at the offset an
 * independent RFC 3629 check finds, valid text always encodes, and the
 * result is well formed ([bos] ids [eos], at most 77, ids in the vocabulary).
 * Rules that hold for any text are checked too: trailing white space changes
 * nothing, encoding twice (cache hit) gives the same ids, and many threads
 * encoding at once give the same ids as one thread. */
#include <stdbool.h>

#include "core/pool.h"
#include "test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* RFC 3629, table 3-7 of the Unicode standard: the first offset that does
 * not start a well-formed sequence, or len. */
static size_t first_invalid(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        unsigned lo = 0x80, hi = 0xBF;
        size_t n;
        if (c <= 0x7F)
            n = 1;
        else if (c >= 0xC2 && c <= 0xDF)
            n = 2;
        else if (c == 0xE0)
            n = 3, lo = 0xA0;
        else if (c == 0xED)
            n = 3, hi = 0x9F;
        else if (c >= 0xE1 && c <= 0xEF)
            n = 3;
        else if (c == 0xF0)
            n = 4, lo = 0x90;
        else if (c == 0xF4)
            n = 4, hi = 0x8F;
        else if (c >= 0xF1 && c <= 0xF3)
            n = 4;
        else
            return i;
        if (len - i < n) return i;
        for (size_t k = 1; k < n; k++) {
            unsigned b = s[i + k];
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return i;
        }
        i += n;
    }
    return len;
}

static size_t put_utf8(uint32_t cp, unsigned char *o) {
    if (cp < 0x80) return o[0] = (unsigned char)cp, 1;
    if (cp < 0x800) return o[0] = (unsigned char)(0xC0 | cp >> 6), o[1] = 0x80 | (cp & 0x3F), 2;
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = 0x80 | (cp >> 6 & 0x3F);
        o[2] = 0x80 | (cp & 0x3F);
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = 0x80 | (cp >> 12 & 0x3F);
    o[2] = 0x80 | (cp >> 6 & 0x3F);
    o[3] = 0x80 | (cp & 0x3F);
    return 4;
}

/* A code point from ranges that exercise each rule. */
static uint32_t random_cp(void) {
    static const uint32_t ranges[][2] = {
        {0x20, 0x7E},       {0x00, 0x20},        {0x80, 0x24F},    {0x300, 0x36F},
        {0x370, 0x3FF},     {0x400, 0x4FF},      {0x900, 0x97F},   {0x1100, 0x11FF},
        {0x1E00, 0x1FFF},   {0x2000, 0x206F},    {0x3000, 0x30FF}, {0x4E00, 0x4E80},
        {0xAC00, 0xAD00},   {0xFB00, 0xFB4F},    {0xFE00, 0xFFFF}, {0x1F300, 0x1F64F},
        {0x1D400, 0x1D7FF}, {0x10000, 0x10FFFF}, {0x130, 0x130},   {0x3A3, 0x3A3},
    };
    const uint32_t *r = ranges[next() % (sizeof ranges / sizeof ranges[0])];
    uint32_t cp = r[0] + next() % (r[1] - r[0] + 1);
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
    return cp;
}

#define MAX_TEXT 2048
typedef struct sample {
    unsigned char text[MAX_TEXT + 8];
    size_t len;
    int n;
    int32_t ids[77];
} sample;

static void check_shape(const int32_t *ids, int n, const char *what) {
    CHECK_MSG(n >= 2 && n <= 77, "%s: %d ids", what, n);
    if (n < 2 || n > 77) return;
    CHECK_MSG(ids[0] == 49406 && ids[n - 1] == 49407, "%s: not [bos] ... [eos]", what);
    for (int i = 0; i < n; i++) CHECK_MSG(ids[i] >= 0 && ids[i] < 49408, "%s: id %d", what, ids[i]);
}

static void random_bytes(cs_tokenizer *tok, int rounds) {
    unsigned char buf[300];
    for (int r = 0; r < rounds; r++) {
        size_t len = next() % sizeof buf;
        bool ascii_heavy = r % 2;
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)(ascii_heavy && next() % 4 ? next() % 128 : next());
        int32_t ids[77];
        int n = -1;
        cs_error err;
        cs_status st = cs_tokenizer_encode(tok, (const char *)buf, len, ids, &n, &err);
        size_t bad = first_invalid(buf, len);
        if (bad == len) {
            CHECK_MSG(st == CS_OK, "valid bytes refused: %s", err.message);
            if (st == CS_OK) check_shape(ids, n, "random bytes");
        } else {
            char want[64];
            snprintf(want, sizeof want, "invalid UTF-8 at byte %zu", bad);
            CHECK_MSG(st == CS_EFORMAT && strstr(err.message, want), "want '%s', got %d '%s'", want,
                      st, st ? err.message : "");
        }
    }
}

static void make_unicode(sample *s) {
    static const char *const splice[] = {
        "<|endoftext|>", "<|startoftext|>", "<|ENDOFTEXT|>", "'s", "'ll", "  ", "\t\n", "</w>"};
    size_t target = next() % 8 == 0 ? MAX_TEXT - 8 : next() % 200;
    s->len = 0;
    while (s->len < target) {
        if (next() % 16 == 0) {
            const char *p = splice[next() % (sizeof splice / sizeof splice[0])];
            size_t k = strlen(p);
            if (s->len + k > MAX_TEXT) break;
            memcpy(s->text + s->len, p, k);
            s->len += k;
        } else {
            s->len += put_utf8(random_cp(), s->text + s->len);
        }
    }
}

typedef struct job {
    cs_tokenizer *tok;
    sample *samples;
    int n;
    int mismatches;
} job;

static void encode_all(void *ctx, int task, int worker) {
    (void)worker;
    job *j = ctx;
    for (int k = 0; k < j->n; k++) {
        int i = (k + task * 37) % j->n; /* each task starts elsewhere */
        int32_t ids[77];
        int n = 0;
        cs_error err;
        sample *s = &j->samples[i];
        if (cs_tokenizer_encode(j->tok, (const char *)s->text, s->len, ids, &n, &err) != CS_OK ||
            n != s->n || memcmp(ids, s->ids, (size_t)n * sizeof *ids))
            __atomic_fetch_add(&j->mismatches, 1, __ATOMIC_RELAXED);
    }
}

static void random_unicode(cs_tokenizer *tok, int n) {
    sample *samples = calloc((size_t)n, sizeof *samples);
    for (int i = 0; i < n; i++) {
        sample *s = &samples[i];
        make_unicode(s);
        CHECK(first_invalid(s->text, s->len) == s->len);
        cs_error err;
        cs_status st = cs_tokenizer_encode(tok, (const char *)s->text, s->len, s->ids, &s->n, &err);
        CHECK_MSG(st == CS_OK, "valid text refused: %s", err.message);
        if (st) continue;
        check_shape(s->ids, s->n, "random unicode");
        /* trailing white space never adds a token */
        unsigned char *t = s->text;
        memcpy(t + s->len, " \t", 2);
        int32_t ids2[77];
        int n2 = 0;
        CHECK_OK(cs_tokenizer_encode(tok, (const char *)t, s->len + 2, ids2, &n2, &err), &err);
        CHECK(n2 == s->n && !memcmp(ids2, s->ids, (size_t)n2 * sizeof *ids2));
        /* again: now from the cache */
        CHECK_OK(cs_tokenizer_encode(tok, (const char *)t, s->len, ids2, &n2, &err), &err);
        CHECK(n2 == s->n && !memcmp(ids2, s->ids, (size_t)n2 * sizeof *ids2));
    }
    /* many threads, one tokenizer, the same answers */
    cs_pool *pool = cs_pool_create(4);
    job j = {tok, samples, n, 0};
    cs_pool_for(pool, 16, encode_all, &j);
    CHECK_EQ_INT(j.mismatches, 0);
    cs_pool_free(pool);
    free(samples);
}

/* Big inputs stay linear: one 1 MB word (BPE on all of it) and 1 MB of short
 * words (stops at the context length). */
static void big_inputs(cs_tokenizer *tok) {
    size_t len = 1 << 20;
    char *big = malloc(len);
    for (size_t i = 0; i < len; i++) big[i] = (char)('a' + next() % 26);
    int32_t ids[77];
    int n = 0;
    cs_error err;
    CHECK_OK(cs_tokenizer_encode(tok, big, len, ids, &n, &err), &err);
    CHECK_EQ_INT(n, 77);
    for (size_t i = 1; i < len; i += 2) big[i] = ' ';
    CHECK_OK(cs_tokenizer_encode(tok, big, len, ids, &n, &err), &err);
    CHECK_EQ_INT(n, 77);
    free(big);
}

int main(void) {
    cs_test_oracle();
    cs_error err;
    cs_tokenizer *tok = NULL;
    CHECK_OK(cs_tokenizer_load(cs_test_oracle_path("tokenizer"), 0, &tok, &err), &err);
    if (!tok) return cs_test_done("test_random");
    random_bytes(tok, 20000);
    random_unicode(tok, 3000);
    big_inputs(tok);
    cs_tokenizer_free(tok);
    return cs_test_done("test_random");
}
