/* index/npy.c - see npy.h. The header is a Python dict literal,
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (1000, 512), }
 * read here by a small parser that accepts exactly these three keys (any
 * order, either quote) and nothing it does not understand. */
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/error.h"
#include "index/npy.h"

#define MAX_ROWS ((int64_t)1 << 40)
enum { MAX_COLS = 65536 };

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n')) c->p++;
}

static int eat(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string ('...' or "...", no escapes) into buf. */
static int read_str(cursor *c, char *buf, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return 0;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    buf[n] = '\0';
    return 1;
}

static int read_uint(cursor *c, int64_t *v) {
    skip_ws(c);
    int64_t x = 0;
    int digits = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (x > MAX_ROWS) return 0;
        x = x * 10 + (*c->p++ - '0');
        digits++;
    }
    if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2's long */
    *v = x;
    return digits > 0 && x <= MAX_ROWS;
}

/* (N, D) or (D,) -> dims, count. */
static int read_shape(cursor *c, int64_t dims[2], int *nd) {
    *nd = 0;
    if (!eat(c, '(')) return 0;
    while (!eat(c, ')')) {
        if (*nd == 2 || !read_uint(c, &dims[*nd])) return 0;
        (*nd)++;
        if (!eat(c, ',')) {
            if (!eat(c, ')')) return 0;
            break;
        }
    }
    return 1;
}

static cs_status bad(cs_error *err, const char *name, const char *why) {
    return cs_fail(err, CS_EFORMAT, "%s: not a usable .npy file: %s", name, why);
}

cs_status cs_npy_parse(const uint8_t *b, size_t size, const char *name, cs_npy *out,
                       cs_error *err) {
    if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0) return bad(err, name, "no .npy signature");
    int major = b[6];
    size_t hlen, hoff;
    if (major == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        hoff = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return bad(err, name, "truncated header");
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        hoff = 12;
    } else {
        return bad(err, name, "unknown format version");
    }
    if (hlen > size - hoff) return bad(err, name, "truncated header");
    cursor c = {(const char *)b + hoff, (const char *)b + hoff + hlen};
    char key[32], descr[16] = "";
    int fortran = -1, nd = -1;
    int64_t dims[2] = {0, 0};
    if (!eat(&c, '{')) return bad(err, name, "header is not a dict");
    while (!eat(&c, '}')) {
        if (!read_str(&c, key, sizeof key) || !eat(&c, ':'))
            return bad(err, name, "malformed header");
        if (!strcmp(key, "descr")) {
            if (!read_str(&c, descr, sizeof descr)) return bad(err, name, "malformed dtype");
        } else if (!strcmp(key, "fortran_order")) {
            skip_ws(&c);
            size_t left = (size_t)(c.end - c.p);
            if (left >= 5 && !memcmp(c.p, "False", 5))
                fortran = 0, c.p += 5;
            else if (left >= 4 && !memcmp(c.p, "True", 4))
                fortran = 1, c.p += 4;
            else
                return bad(err, name, "malformed fortran_order");
        } else if (!strcmp(key, "shape")) {
            if (!read_shape(&c, dims, &nd)) return bad(err, name, "malformed shape");
        } else {
            return bad(err, name, "unknown key in the header");
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}')) return bad(err, name, "malformed header");
            break;
        }
    }
    if (!*descr || fortran < 0 || nd < 0) return bad(err, name, "header lacks a key");
    int f16;
    if (!strcmp(descr, "<f4"))
        f16 = 0;
    else if (!strcmp(descr, "<f2"))
        f16 = 1;
    else
        return cs_fail(err, CS_EFORMAT,
                       "%s: dtype %s: only float32 ('<f4') and float16 ('<f2') "
                       "embeddings can be read",
                       name, descr);
    if (fortran) return bad(err, name, "Fortran order (save a C-ordered array)");
    if (nd != 1 && nd != 2)
        return cs_fail(err, CS_EFORMAT, "%s: a %d-dimensional array; embeddings are N x D", name,
                       nd);
    int64_t rows = nd == 2 ? dims[0] : 1, cols = nd == 2 ? dims[1] : dims[0];
    if (cols < 1 || cols > MAX_COLS)
        return cs_fail(err, CS_EFORMAT, "%s: %lld columns: not embeddings", name, (long long)cols);
    uint64_t need, have = size - hoff - hlen;
    if (!cs_mul3_u64((uint64_t)rows, (uint64_t)cols, f16 ? 2u : 4u, &need))
        return cs_fail(err, CS_EFORMAT, "%s: %lld x %lld values: too many", name, (long long)rows,
                       (long long)cols);
    if (have < need)
        return cs_fail(err, CS_EFORMAT,
                       "%s: truncated: %lld x %lld values need %llu bytes of data, the file has "
                       "%llu",
                       name, (long long)rows, (long long)cols, (unsigned long long)need,
                       (unsigned long long)have);
    if (have > need)
        return cs_fail(err, CS_EFORMAT, "%s: %llu bytes after the %lld x %lld values", name,
                       (unsigned long long)(have - need), (long long)rows, (long long)cols);
    out->rows = rows;
    out->cols = (int)cols;
    out->f16 = f16;
    out->data = b + hoff + hlen;
    return CS_OK;
}

cs_status cs_npy_open(const char *path, cs_npy *out, cs_error *err) {
    memset(out, 0, sizeof *out);
    cs_status st = cs_map_file(path, &out->map, err);
    if (st) return st;
    st = cs_npy_parse(out->map.data, out->map.size, path, out, err);
    if (st) cs_unmap(&out->map);
    return st;
}

void cs_npy_close(cs_npy *n) {
    cs_unmap(&n->map);
    memset(n, 0, sizeof *n);
}

float cs_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (e == 0x1f) {
        bits = sign | 0x7f800000u | (m << 13); /* inf, NaN */
    } else if (e) {
        bits = sign | ((e + 112) << 23) | (m << 13);
    } else if (m) { /* subnormal: normalise */
        e = 113;
        while (!(m & 0x400)) m <<= 1, e--;
        bits = sign | (e << 23) | ((m & 0x3ff) << 13);
    } else {
        bits = sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void cs_npy_row(const cs_npy *n, int64_t r, float *out) {
    const uint8_t *p = n->data + (size_t)r * (size_t)n->cols * (n->f16 ? 2 : 4);
    if (!n->f16) {
        memcpy(out, p, (size_t)n->cols * sizeof *out);
        return;
    }
    for (int i = 0; i < n->cols; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        out[i] = cs_half_to_float(h);
    }
}
