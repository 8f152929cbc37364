/* image/jpeg_huff.c - baseline JPEG entropy decoding (see jpeg_huff.h).
 *
 * Why not libjpeg-turbo's: at 1/4 scale a 12 MP photograph's decoding is
 * nearly all Huffman decoding (4M symbols), and libjpeg-turbo spends about
 * 20 cycles on each. Its chain from one symbol to the next runs through a
 * refill that tests for markers and a lookup of the code alone, then a
 * second read of the value bits. Here the data is unstuffed ahead of time,
 * so the refill is branch-free, and one lookup gives the code, its value
 * and often the next symbol too: the chain is one shift, one load and one
 * more shift per one or two coefficients. */
#include <string.h>

#include "image/jpeg_huff.h"

static inline uint64_t huff_be64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

/* A value of `size` bits (1..15) as JPEG codes it: a leading 0 marks a
 * negative one. */
static inline int huff_extend(uint32_t v, int size) {
    return v < (1u << (size - 1)) ? (int)v - (1 << size) + 1 : (int)v;
}

/* The natural-order place of zigzag position k. Runs past the end land in
 * slot 65, which a valid stream never writes (block() checks it). */
static const uint8_t natural[144] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48, 41, 34,
    27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63, 65, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
    65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65};

_Static_assert(5 * HUFF_LOOKUP_BITS <= 56, "five lookups a refill");

#define EOB_ADVANCE 80 /* lands past every run's reach: the block ends, slot 65 untouched */

/* libjpeg's checks (jpeg_make_d_derived_tbl) and the canonical codes. */
static int build_codes(const uint8_t bits[17], const uint8_t *val, int max_size, huff_codes *h) {
    int32_t code = 0;
    int n = 0;
    for (int len = 1; len <= 16; len++) {
        int count = bits[len];
        if (n + count > 256) return 0;
        h->offset[len] = n - code;
        h->maxcode[len] = count ? code + count - 1 : -1;
        code += count;
        n += count;
        if (code >= (1 << len)) return 0; /* the all-ones code is reserved */
        code <<= 1;
    }
    h->maxcode[17] = INT32_MAX;
    if (n == 0) return 0;
    memset(h->val, 0, sizeof h->val);
    memcpy(h->val, val, (size_t)n);
    for (int i = 0; i < n; i++)
        if ((val[i] & 15) > max_size || (max_size == 11 && val[i] > 15)) return 0;
    return 1;
}

/* The code at the top of the `avail`-bit window w: its length (0 when none
 * fits) and symbol. */
static int code_at(const huff_codes *h, uint32_t w, int avail, int *sym) {
    for (int len = 1; len <= avail && len <= 16; len++) {
        int32_t c = (int32_t)(w >> (avail - len));
        if (c <= h->maxcode[len]) {
            *sym = h->val[c + h->offset[len]];
            return len;
        }
    }
    return 0;
}

int cs_huff_build_dc(const uint8_t bits[17], const uint8_t *val, huff_dc *t) {
    if (!build_codes(bits, val, 11, &t->codes)) return 0;
    for (uint32_t w = 0; w < (1u << HUFF_LOOKUP_BITS); w++) {
        int size, len = code_at(&t->codes, w, HUFF_LOOKUP_BITS, &size);
        uint32_t e = 0;
        if (len && len + size <= HUFF_LOOKUP_BITS) {
            int rest = HUFF_LOOKUP_BITS - len - size;
            int diff = size ? huff_extend((w >> rest) & ((1u << size) - 1), size) : 0;
            e = HUFF_FULL | (uint32_t)(len + size) | (uint32_t)(uint16_t)diff << 16;
        } else if (len) {
            e = (uint32_t)len | (uint32_t)size << 8;
        }
        t->fast[w] = e;
    }
    return 1;
}

/* One AC symbol at bit `at` of the lookup window: its bits (code and
 * value), or minus the code's length when the value does not fit, or 0. */
static int ac_symbol(const huff_codes *h, uint32_t w, int at, int *advance, int *value, int *sym) {
    int avail = HUFF_LOOKUP_BITS - at;
    int len = code_at(h, w & ((1u << avail) - 1), avail, sym);
    if (!len) return 0;
    int run = *sym >> 4, size = *sym & 15;
    if (!size) { /* ZRL, or EOB (libjpeg takes any other run with size 0 as EOB too) */
        *advance = run == 15 ? 16 : EOB_ADVANCE;
        *value = 0;
        return len;
    }
    if (len + size > avail) return -len;
    *advance = run + 1;
    *value = huff_extend((w >> (avail - len - size)) & ((1u << size) - 1), size);
    return len + size;
}

int cs_huff_build_ac(const uint8_t bits[17], const uint8_t *val, huff_ac *t) {
    if (!build_codes(bits, val, 10, &t->codes)) return 0;
    for (uint32_t w = 0; w < (1u << HUFF_LOOKUP_BITS); w++) {
        int adv1, v1, sym, adv2 = 0, v2, sym2;
        int n1 = ac_symbol(&t->codes, w, 0, &adv1, &v1, &sym);
        if (n1 <= 0) {
            t->fast[w] = n1 ? (uint64_t)-n1 | (uint64_t)sym << 24 : 0;
            continue;
        }
        int n2 = 0;
        if (adv1 != EOB_ADVANCE) n2 = ac_symbol(&t->codes, w, n1, &adv2, &v2, &sym2);
        if (n2 <= 0) adv2 = 0, v2 = v1, n2 = 0;
        t->fast[w] = (uint64_t)(n1 + n2) | HUFF_FULL | (uint64_t)adv1 << 6 | (uint64_t)adv2 << 13 |
                     (uint64_t)n1 << 20 | (uint64_t)(uint16_t)v1 << 32 |
                     (uint64_t)(uint16_t)v2 << 48;
    }
    return 1;
}

/* ---- the window over the coded data ------------------------------------ */

/* Unstuffs until the window is full or the interval's marker. FF followed
 * by FF is fill (libjpeg skips it too); FF 00 is a data byte FF. */
static void unstuff(huff_reader *r) {
    uint8_t *stop = r->win + HUFF_WINDOW;
    while (r->lim < stop && !r->marker) {
        size_t room = (size_t)(stop - r->lim), left = (size_t)(r->end - r->src);
        size_t n = left < room ? left : room;
        const uint8_t *ff = memchr(r->src, 0xFF, n);
        size_t plain = ff ? (size_t)(ff - r->src) : n;
        memcpy(r->lim, r->src, plain);
        r->lim += plain;
        r->src += plain;
        if (!ff) {
            if (r->src == r->end) r->marker = -1;
            continue;
        }
        const uint8_t *p = ff + 1;
        while (p < r->end && *p == 0xFF) p++;
        if (p == r->end) {
            r->marker = -1;
        } else if (*p == 0) {
            *r->lim++ = 0xFF;
            r->src = p + 1;
        } else {
            r->marker = *p;
            r->src = p + 1;
        }
    }
    if (r->marker) memset(r->lim, 0, HUFF_SLACK + 64);
}

void cs_huff_start(huff_reader *r, const uint8_t *src, const uint8_t *end) {
    r->bits = 0;
    r->cnt = 0;
    r->src = src;
    r->end = end;
    r->marker = 0;
    r->q = r->lim = r->win;
    unstuff(r);
}

int cs_huff_keep_ahead(huff_reader *r) {
    if (r->marker) return r->q <= r->lim + 8;
    if (r->q < r->win + HUFF_WINDOW - HUFF_SLACK) return 1;
    size_t keep = (size_t)(r->lim - r->q);
    memmove(r->win, r->q, keep);
    r->q = r->win;
    r->lim = r->win + keep;
    unstuff(r);
    return 1;
}

int cs_huff_within(const huff_reader *r) {
    uint64_t taken = 8 * (uint64_t)(r->q - r->win) - (uint64_t)r->cnt;
    return taken <= 8 * (uint64_t)(r->lim - r->win);
}

int cs_huff_marker(huff_reader *r) {
    while (!r->marker) {
        r->lim = r->win;
        unstuff(r);
    }
    return r->marker;
}

/* ---- one block ----------------------------------------------------------- */

/* A code longer than the lookup: libjpeg's search, on the peeked 16 bits. */
static int long_code(const huff_codes *h, uint64_t bits, int *sym) {
    for (int len = HUFF_LOOKUP_BITS + 1; len <= 16; len++) {
        int32_t c = (int32_t)(bits >> (64 - len));
        if (c <= h->maxcode[len]) {
            *sym = h->val[c + h->offset[len]];
            return len;
        }
    }
    return 0;
}

/* One block: the DC difference added to *pred, then the AC coefficients
 * into blk (natural order, zeroed first). The reader's state lives in the
 * caller's registers: *bits, *cnt, *q. Returns 0 for a code no table holds
 * or a run past the block's end. */
static inline __attribute__((always_inline)) int block(uint64_t *bitsp, int *cntp,
                                                       const uint8_t **qp, const huff_dc *dc,
                                                       const huff_ac *ac, uint32_t *pred,
                                                       int16_t *blk) {
    uint64_t bits = *bitsp;
    int cnt = *cntp;
    const uint8_t *q = *qp;
    int ok = 0;
    /* REFILL leaves at least 56 valid bits. The bytes behind the valid bits
     * are read again by the next refill: OR-ing the same bits into the same
     * places changes nothing, so no branch decides whether to refill. */
#define REFILL() (bits |= huff_be64(q) >> cnt, q += (63 - cnt) >> 3, cnt |= 56)
#define SKIP(n)  (bits <<= (n), cnt -= (n))
#define PEEK()   (bits >> (64 - HUFF_LOOKUP_BITS))

    /* 144 bytes in nine vector stores (a memset of this size compiles to
     * rep stosq, which costs more than a typical block's first symbols) */
    typedef int16_t v8 __attribute__((vector_size(16), aligned(16)));
    for (int i = 0; i < HUFF_BLOCK; i += 8) *(v8 *)(blk + i) = (v8){0};

    REFILL();
    uint32_t d = dc->fast[PEEK()];
    if (d & HUFF_FULL) {
        SKIP((int)(d & 31));
        *pred += (uint32_t)(int32_t)(int16_t)(d >> 16);
    } else {
        int size = 0, len = d ? (int)(d & 31) : long_code(&dc->codes, bits, &size);
        if (!len) goto out;
        if (d) size = (int)(d >> 8) & 15;
        SKIP(len);
        if (size) {
            *pred += (uint32_t)huff_extend((uint32_t)(bits >> (64 - size)), size);
            SKIP(size);
        }
    }
    blk[0] = (int16_t)(uint16_t)*pred;

    /* k: the next zigzag position. A lookup's entry moves it by a run + 1
     * per coefficient and stores the coefficient there; 56 bits last for
     * five lookups of at most 11. */
    for (int k = 1; k < 64;) {
        REFILL();
        uint64_t e = ac->fast[PEEK()];
        if (e & HUFF_FULL) {
            for (int i = 0; i < 5; i++) {
                k += (int)(e >> 6) & 127;
                blk[natural[k - 1]] = (int16_t)(e >> 32);
                if (k >= 64) {
                    SKIP((int)(e >> 20) & 15);
                    goto done;
                }
                SKIP((int)(e & 31));
                k += (int)(e >> 13) & 127;
                blk[natural[k - 1]] = (int16_t)(e >> 48);
                if (k >= 64) goto done;
                e = ac->fast[PEEK()];
                if (!(e & HUFF_FULL)) break;
            }
            continue;
        }
        int sym = 0, len = e ? (int)(e & 31) : long_code(&ac->codes, bits, &sym);
        if (!len) goto out;
        if (e) sym = (int)(e >> 24) & 255;
        SKIP(len);
        int run = sym >> 4, size = sym & 15;
        if (!size) {
            if (run != 15) break; /* EOB */
            k += 16;
            continue;
        }
        k += run;
        blk[natural[k]] = (int16_t)huff_extend((uint32_t)(bits >> (64 - size)), size);
        SKIP(size);
        k++;
    }
done:
    ok = blk[65] == 0; /* a run that passed position 63 wrote there */
out:
    *bitsp = bits;
    *cntp = cnt;
    *qp = q;
    return ok;
#undef REFILL
#undef SKIP
#undef PEEK
}

int cs_huff_mcu(huff_reader *r, const huff_mcu *m, uint32_t *pred, int16_t (*blk)[HUFF_BLOCK]) {
    uint64_t bits = r->bits;
    int cnt = r->cnt;
    const uint8_t *q = r->q;
    int ok = 1;
    for (int i = 0; i < m->blocks && ok; i++)
        ok = block(&bits, &cnt, &q, m->dc[i], m->ac[i], &pred[m->comp[i]], blk[i]);
    r->bits = bits;
    r->cnt = cnt;
    r->q = q;
    return ok;
}
