/* index/content_hash.c - cs_hash128: a fast 128-bit hash of file contents.
 *
 * The catalogue uses it to recognise a file whose bytes it has already
 * embedded (renamed, copied, touched). It needs speed (it reads every new or
 * changed photo) and a negligible chance of two different photos colliding,
 * not resistance to an adversary. Design: four independent multiply-rotate
 * lanes over 32-byte stripes (the multiplies pipeline, so it runs at several
 * bytes per cycle), the tail folded into a fifth lane, then each 64-bit half
 * of the result mixed from all lanes and the length with a strong finaliser. */
#include <string.h>

#include "clipsearch/index.h"
#include "index/content_hash.h"

#define P1 0x9e3779b185ebca87ull
#define P2 0xc2b2ae3d27d4eb4full
#define P3 0x165667b19e3779f9ull
#define P4 0xd6e8feb86659fd93ull

static inline uint64_t rotl(uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
}

/* Reads 8 bytes as a little-endian integer, so the hash (stored in
 * databases) is the same on every machine. */
static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint64_t lane(uint64_t acc, uint64_t v) {
    return rotl(acc + v * P2, 31) * P1;
}

/* A 64-bit finaliser: every input bit affects every output bit. */
static inline uint64_t fmix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* The four stripe lanes over whole 32-byte stripes. */
static void stripes(uint64_t lanes[4], const uint8_t *p, size_t n_stripes) {
    uint64_t a = lanes[0], b = lanes[1], c = lanes[2], d = lanes[3];
    for (; n_stripes; n_stripes--, p += 32) {
        a = lane(a, load64(p));
        b = lane(b, load64(p + 8));
        c = lane(c, load64(p + 16));
        d = lane(d, load64(p + 24));
    }
    lanes[0] = a, lanes[1] = b, lanes[2] = c, lanes[3] = d;
}

/* The tail (n < 32 bytes after the last stripe) and the final mix. */
static void finish(const uint64_t lanes[4], const uint8_t *p, size_t n, uint64_t size,
                   uint8_t out[16]) {
    uint64_t a = lanes[0], b = lanes[1], c = lanes[2], d = lanes[3];
    uint64_t e = P3 ^ size;
    for (; n >= 8; n -= 8, p += 8) e = rotl(e ^ lane(0, load64(p)), 27) * P1 + P4;
    if (n) {
        uint8_t tail[8] = {0};
        memcpy(tail, p, n);
        e = rotl(e ^ (load64(tail) * P1), 23) * P2 + P3 + n;
    }
    uint64_t h1 = fmix(rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18) + e);
    uint64_t h2 = fmix((a ^ P4) + rotl(b ^ e, 29) + rotl(c, 41) * P3 + rotl(d, 53) + size);
    h2 = fmix(h2 ^ h1);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(h1 >> (8 * i));
        out[8 + i] = (uint8_t)(h2 >> (8 * i));
    }
}

void cs_hash128(const void *data, size_t size, uint8_t out[16]) {
    uint64_t lanes[4] = {P1 + P2, P2, 0, (uint64_t)0 - P1};
    stripes(lanes, data, size / 32);
    size_t whole = size - size % 32;
    finish(lanes, (const uint8_t *)data + whole, size % 32, (uint64_t)size, out);
}

void cs_hash128_init(cs_hash128_state *s) {
    memset(s, 0, sizeof *s);
    s->lanes[0] = P1 + P2;
    s->lanes[1] = P2;
    s->lanes[3] = (uint64_t)0 - P1;
}

void cs_hash128_update(cs_hash128_state *s, const void *data, size_t size) {
    const uint8_t *p = data;
    if (!size) return;
    s->size += size;
    if (s->held) { /* complete the stripe left from the last call */
        size_t take = 32 - s->held < size ? 32 - s->held : size;
        memcpy(s->buf + s->held, p, take);
        s->held += take, p += take, size -= take;
        if (s->held < 32) return;
        stripes(s->lanes, s->buf, 1);
        s->held = 0;
    }
    stripes(s->lanes, p, size / 32);
    s->held = size % 32;
    memcpy(s->buf, p + (size - s->held), s->held);
}

void cs_hash128_final(const cs_hash128_state *s, uint8_t out[16]) {
    finish(s->lanes, s->buf, s->held, s->size, out);
}
