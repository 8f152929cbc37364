/* text/normalize.c - UTF-8 checks and the CLIP normalizer.
 *
 * tokenizer.json declares Sequence[NFC, Replace(\s+ -> " "), Lowercase].
 * The Unicode data comes from libutf8proc; what follows matches the Rust
 * library rule by rule:
 *  - NFC: utf8proc's canonical decomposition, reordering and composition;
 *  - \s is Oniguruma's white space: U+0009..U+000D, U+0085 and the Zs, Zl,
 *    Zp categories (the White_Space property);
 *  - Lowercase is NormalizedString::lowercase, which maps each char with
 *    char::to_lowercase: full lowercase, but per character, so there is no
 *    final-sigma rule (str::to_lowercase has one, this does not: "ΟΣ" ->
 *    "οσ"). The only multi-character full lowercase mapping in Unicode is
 *    U+0130 -> "i" U+0307; every other one is the simple mapping utf8proc
 *    gives. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/error.h"
#include "text/text.h"

size_t cs_utf8_check(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF)
            n = 2, cp = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 3, cp = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 4, cp = c & 0x07, min = 0x10000;
        else
            return i;
        if (len - i < n) return i;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += n;
    }
    return len;
}

int cs_utf8_put(int32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

bool cs_cpbuf_reserve(cs_cpbuf *b, size_t n) {
    if (n <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < n) cap *= 2;
    int32_t *p = realloc(b->cp, cap * sizeof *p);
    if (!p) return false;
    b->cp = p;
    b->cap = cap;
    return true;
}

bool cs_is_space(int32_t cp) {
    if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20;
    if (cp == 0x85) return true;
    utf8proc_category_t c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

bool cs_is_letter(int32_t cp) {
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    utf8proc_category_t c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

bool cs_is_number(int32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    utf8proc_category_t c = utf8proc_category(cp);
    return c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO;
}

/* NFC of valid UTF-8 into b. ASCII is its own NFC, the common case. */
static cs_status nfc(const char *s, size_t len, cs_cpbuf *b, cs_error *err) {
    bool ascii = true;
    for (size_t i = 0; i < len && ascii; i++) ascii = (unsigned char)s[i] < 0x80;
    if (ascii) {
        if (!cs_cpbuf_reserve(b, len + 1)) return cs_fail(err, CS_ENOMEM, "out of memory");
        for (size_t i = 0; i < len; i++) b->cp[i] = (unsigned char)s[i];
        b->n = len;
        return CS_OK;
    }
    const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    /* A canonical decomposition is at most 3 code points per 2 bytes. */
    if (!cs_cpbuf_reserve(b, len * 2 + 8)) return cs_fail(err, CS_ENOMEM, "out of memory");
    for (;;) {
        utf8proc_ssize_t n =
            utf8proc_decompose_custom((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, b->cp,
                                      (utf8proc_ssize_t)b->cap, opt, NULL, NULL);
        if (n < 0) return cs_fail(err, CS_EINTERNAL, "NFC: %s", utf8proc_errmsg(n));
        if ((size_t)n > b->cap) {
            if (!cs_cpbuf_reserve(b, (size_t)n)) return cs_fail(err, CS_ENOMEM, "out of memory");
            continue;
        }
        n = utf8proc_normalize_utf32(b->cp, n, opt);
        if (n < 0) return cs_fail(err, CS_EINTERNAL, "NFC: %s", utf8proc_errmsg(n));
        b->n = (size_t)n;
        return CS_OK;
    }
}

static int32_t lower1(int32_t cp) {
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    return utf8proc_tolower(cp);
}

cs_status cs_normalize(const char *s, size_t len, cs_cpbuf *out, cs_cpbuf *tmp, cs_error *err) {
    cs_status st = nfc(s, len, tmp, err);
    if (st) return st;
    /* Lowercasing U+0130 doubles it: room for twice the NFC text. */
    if (!cs_cpbuf_reserve(out, tmp->n * 2 + 1)) return cs_fail(err, CS_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < tmp->n; i++) {
        int32_t cp = tmp->cp[i];
        if (cs_is_space(cp)) {
            while (i + 1 < tmp->n && cs_is_space(tmp->cp[i + 1])) i++;
            out->cp[n++] = ' ';
        } else if (cp == 0x130) {
            out->cp[n++] = 'i';
            out->cp[n++] = 0x307;
        } else {
            out->cp[n++] = lower1(cp);
        }
    }
    out->n = n;
    return CS_OK;
}
