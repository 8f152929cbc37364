/* dist/wire.c - see wire.h. */
#include "dist/wire.h"

#include <stdlib.h>
#include <string.h>

void cs_w_bytes(cs_wbuf *w, const void *p, size_t n) {
    if (w->oom) return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n) cap *= 2;
        uint8_t *grown = realloc(w->data, cap);
        if (!grown) {
            w->oom = 1;
            return;
        }
        w->data = grown;
        w->cap = cap;
    }
    if (n) memcpy(w->data + w->len, p, n);
    w->len += n;
}

void cs_w_u32(cs_wbuf *w, uint32_t v) {
    cs_w_bytes(w, &v, sizeof v);
}

void cs_w_i64(cs_wbuf *w, int64_t v) {
    cs_w_bytes(w, &v, sizeof v);
}

void cs_w_str(cs_wbuf *w, const char *s) {
    size_t n = strlen(s);
    cs_w_u32(w, (uint32_t)n);
    cs_w_bytes(w, s, n);
}

void cs_wbuf_free(cs_wbuf *w) {
    free(w->data);
    *w = (cs_wbuf){0};
}

const void *cs_r_view(cs_rbuf *r, size_t n) {
    if (r->bad || n > r->left) {
        r->bad = 1;
        return NULL;
    }
    const void *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

void cs_r_bytes(cs_rbuf *r, void *out, size_t n) {
    const void *p = cs_r_view(r, n);
    if (p)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

uint32_t cs_r_u32(cs_rbuf *r) {
    uint32_t v;
    cs_r_bytes(r, &v, sizeof v);
    return v;
}

int64_t cs_r_i64(cs_rbuf *r) {
    int64_t v;
    cs_r_bytes(r, &v, sizeof v);
    return v;
}

char *cs_r_str(cs_rbuf *r) {
    uint32_t n = cs_r_u32(r);
    const char *p = cs_r_view(r, n);
    if (!p) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = 1;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}
