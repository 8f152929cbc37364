/* text/jscan.c - a strict JSON scanner for the tokenizer's big tables.
 *
 * Why not jansson for everything: tokenizer.json is 3.9 MB, ~50k vocab keys
 * and ~50k merge pairs; building a jansson tree of it costs tens of
 * milliseconds, most of a cold search's budget. This scanner walks the bytes
 * once, decodes strings into one reused buffer and lets the caller put them
 * straight into the tables. It accepts exactly RFC 8259 JSON (no comments,
 * no trailing commas, no lone surrogates, valid UTF-8); jansson still parses
 * the small configuration values (see tokenizer_json.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/text.h"

#define MAX_DEPTH 64

cs_status cs_js_fail(cs_jscan *j, cs_error *err, const char *what) {
    size_t line = 1, col = 1;
    for (const char *q = j->start; q < j->p && q < j->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return cs_fail(err, CS_EFORMAT, "%s: malformed JSON at line %zu, column %zu: %s", j->file, line,
                   col, what);
}

/* The scanner's hot path (tokenizer.json is 2.5 MB of indentation around
 * 200k short strings): small static inline helpers, no calls per byte. */
static inline void skip_ws(cs_jscan *j) {
    const char *p = j->p, *end = j->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    j->p = p;
}

static inline int peek(cs_jscan *j) {
    skip_ws(j);
    return j->p < j->end ? (unsigned char)*j->p : -1;
}

int cs_js_peek(cs_jscan *j) {
    return peek(j);
}

static cs_status expected(cs_jscan *j, char c, cs_error *err) {
    char what[32];
    snprintf(what, sizeof what, "expected '%c'", c);
    return cs_js_fail(j, err, what);
}

static inline cs_status expect(cs_jscan *j, char c, cs_error *err) {
    if (peek(j) != (unsigned char)c) return expected(j, c, err);
    j->p++;
    return CS_OK;
}

cs_status cs_js_expect(cs_jscan *j, char c, cs_error *err) {
    return expect(j, c, err);
}

static bool grow(cs_jscan *j, size_t n) {
    size_t cap = j->cap ? j->cap : 256;
    while (cap < j->len + n + 1) cap *= 2;
    char *b = realloc(j->buf, cap);
    if (!b) return false;
    j->buf = b;
    j->cap = cap;
    return true;
}

static inline bool put_bytes(cs_jscan *j, const char *s, size_t n) {
    if (j->len + n + 1 > j->cap && !grow(j, n)) return false;
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    return true;
}

static int hex4(const char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* One escape after the backslash; appends its UTF-8. */
static cs_status escape(cs_jscan *j, cs_error *err) {
    if (j->p >= j->end) return cs_js_fail(j, err, "unterminated string");
    char c = *j->p++, out[4];
    int32_t cp;
    switch (c) {
    case '"':
    case '\\':
    case '/':
        cp = c;
        break;
    case 'b':
        cp = '\b';
        break;
    case 'f':
        cp = '\f';
        break;
    case 'n':
        cp = '\n';
        break;
    case 'r':
        cp = '\r';
        break;
    case 't':
        cp = '\t';
        break;
    case 'u': {
        int v = j->end - j->p >= 4 ? hex4(j->p) : -1;
        if (v < 0) return cs_js_fail(j, err, "bad \\u escape");
        j->p += 4;
        cp = v;
        if (v >= 0xDC00 && v <= 0xDFFF) return cs_js_fail(j, err, "lone low surrogate");
        if (v >= 0xD800 && v <= 0xDBFF) {
            int lo = j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u' ? hex4(j->p + 2) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) return cs_js_fail(j, err, "lone high surrogate");
            j->p += 6;
            cp = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
        }
        break;
    }
    default:
        j->p--;
        return cs_js_fail(j, err, "bad escape");
    }
    if (!put_bytes(j, out, (size_t)cs_utf8_put(cp, out)))
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", j->file);
    return CS_OK;
}

cs_status cs_js_string(cs_jscan *j, cs_error *err) {
    cs_status st = expect(j, '"', err);
    if (st) return st;
    j->len = 0;
    for (;;) {
        /* A run of plain bytes: no quote, backslash or control character. */
        const char *run = j->p, *p = run, *end = j->end;
        unsigned high = 0;
        while (p < end) {
            unsigned char c = (unsigned char)*p;
            if (c == '"' || c == '\\' || c < 0x20) break;
            high |= c;
            p++;
        }
        j->p = p;
        size_t n = (size_t)(p - run);
        if ((high & 0x80) && cs_utf8_check(run, n) != n) {
            j->p = run + cs_utf8_check(run, n);
            return cs_js_fail(j, err, "invalid UTF-8 in string");
        }
        if (n && !put_bytes(j, run, n))
            return cs_fail(err, CS_ENOMEM, "%s: out of memory", j->file);
        if (j->p >= j->end) return cs_js_fail(j, err, "unterminated string");
        char c = *j->p++;
        if (c == '"') break;
        if (c != '\\') {
            j->p--;
            return cs_js_fail(j, err, "control character in string");
        }
        if ((st = escape(j, err))) return st;
    }
    if (!put_bytes(j, "", 0)) return cs_fail(err, CS_ENOMEM, "%s: out of memory", j->file);
    j->buf[j->len] = 0;
    return CS_OK;
}

cs_status cs_js_int(cs_jscan *j, int64_t *out, cs_error *err) {
    skip_ws(j);
    const char *p = j->p;
    bool neg = p < j->end && *p == '-';
    if (neg) p++;
    if (p >= j->end || *p < '0' || *p > '9') return cs_js_fail(j, err, "expected an integer");
    if (*p == '0' && p + 1 < j->end && p[1] >= '0' && p[1] <= '9')
        return cs_js_fail(j, err, "leading zero in number");
    int64_t v = 0;
    while (p < j->end && *p >= '0' && *p <= '9') {
        if (v > (INT64_MAX - 9) / 10) return cs_js_fail(j, err, "integer too large");
        v = v * 10 + (*p++ - '0');
    }
    if (p < j->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return cs_js_fail(j, err, "expected an integer, not a fraction");
    j->p = p;
    *out = neg ? -v : v;
    return CS_OK;
}

static cs_status skip_number(cs_jscan *j, cs_error *err) {
    const char *p = j->p;
    if (p < j->end && *p == '-') p++;
    if (p >= j->end || *p < '0' || *p > '9') return cs_js_fail(j, err, "bad value");
    if (*p == '0')
        p++;
    else
        while (p < j->end && *p >= '0' && *p <= '9') p++;
    if (p < j->end && *p == '.') {
        p++;
        if (p >= j->end || *p < '0' || *p > '9') return cs_js_fail(j, err, "bad number");
        while (p < j->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < j->end && (*p == '+' || *p == '-')) p++;
        if (p >= j->end || *p < '0' || *p > '9') return cs_js_fail(j, err, "bad number");
        while (p < j->end && *p >= '0' && *p <= '9') p++;
    }
    j->p = p;
    return CS_OK;
}

static cs_status skip_value(cs_jscan *j, int depth, cs_error *err) {
    if (depth > MAX_DEPTH) return cs_js_fail(j, err, "nested too deeply");
    int c = peek(j);
    cs_status st;
    if (c == '"') return cs_js_string(j, err);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        if (peek(j) == close) {
            j->p++;
            return CS_OK;
        }
        for (;;) {
            if (c == '{') {
                if ((st = cs_js_string(j, err)) || (st = expect(j, ':', err))) return st;
            }
            if ((st = skip_value(j, depth + 1, err))) return st;
            int d = peek(j);
            if (d == close) {
                j->p++;
                return CS_OK;
            }
            if ((st = expect(j, ',', err))) return st;
        }
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(j->end - j->p) >= n && !memcmp(j->p, words[i], n)) {
            j->p += n;
            return CS_OK;
        }
    }
    return skip_number(j, err);
}

cs_status cs_js_skip(cs_jscan *j, const char **from, const char **to, cs_error *err) {
    skip_ws(j);
    const char *start = j->p;
    cs_status st = skip_value(j, 0, err);
    if (from) *from = start;
    if (to) *to = j->p;
    return st;
}

cs_status cs_js_object(cs_jscan *j, cs_js_member_fn fn, void *ctx, cs_error *err) {
    cs_status st = expect(j, '{', err);
    if (st) return st;
    if (peek(j) == '}') {
        j->p++;
        return CS_OK;
    }
    for (;;) {
        if ((st = cs_js_string(j, err)) || (st = expect(j, ':', err))) return st;
        if ((st = fn(j, ctx, err))) return st;
        if (peek(j) == '}') {
            j->p++;
            return CS_OK;
        }
        if ((st = expect(j, ',', err))) return st;
    }
}

void cs_js_release(cs_jscan *j) {
    free(j->buf);
    j->buf = NULL;
    j->len = j->cap = 0;
}
