/* image/jpeg_idct_avx2.c - jpeg_fast.c's reduced IDCTs, h2v1 upsampling and
 * YCbCr -> RGB with AVX2: the same arithmetic as the portable ones
 * (jpeg_idct.c), in 32-bit lanes as libjpeg-turbo's own SIMD versions
 * compute it (16-bit for the upsampling, whose sums stay below 1024). The
 * 3x3, 5x5, 6x6, 10x10 and 12x12, which libjpeg-turbo computes in C with
 * 64-bit sums, and the 8x8, hand the rare block whose 32-bit sums could
 * overflow to the portable code.
 *
 * The column pass runs all eight columns at once (a lane each); the
 * portable code skips the columns the row pass ignores, which changes
 * nothing. The row pass of the 4x4 runs on the transposed columns, four rows
 * in four lanes; that of the 2x2 is four 8-term dot products, summed by
 * horizontal adds. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "image/jpeg_idct.h"

#define K(x)      _mm256_set1_epi32(x)
#define ADD       _mm256_add_epi32
#define SUB       _mm256_sub_epi32
#define MUL(v, k) _mm256_mullo_epi32(v, K(k))

/* coefficient row r, dequantised, one column a lane */
static inline __m256i dq_row(const int16_t *c, const int32_t *q, int r) {
    __m256i v = _mm256_cvtepi16_epi32(_mm_load_si128((const __m128i *)(c + 8 * r)));
    return _mm256_mullo_epi32(v, _mm256_loadu_si256((const __m256i *)(q + 8 * r)));
}

static inline __m256i descale8(__m256i x, int n) {
    return _mm256_srai_epi32(_mm256_add_epi32(x, K(1 << (n - 1))), n);
}

static inline __m128i descale4(__m128i x, int n) {
    return _mm_srai_epi32(_mm_add_epi32(x, _mm_set1_epi32(1 << (n - 1))), n);
}

static inline __m128i mul4(__m128i a, int k) {
    return _mm_mullo_epi32(a, _mm_set1_epi32(k));
}

int cs_jpeg_idct_4x4_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    __m256i d0 = dq_row(c, q, 0), d1 = dq_row(c, q, 1), d2 = dq_row(c, q, 2);
    __m256i d3 = dq_row(c, q, 3), d5 = dq_row(c, q, 5), d6 = dq_row(c, q, 6);
    __m256i d7 = dq_row(c, q, 7);
    __m256i t0 = _mm256_slli_epi32(d0, 14);
    __m256i t2 =
        _mm256_add_epi32(_mm256_mullo_epi32(d2, K(15137)), _mm256_mullo_epi32(d6, K(-6270)));
    __m256i t10 = _mm256_add_epi32(t0, t2), t12 = _mm256_sub_epi32(t0, t2);
    __m256i o0 = _mm256_add_epi32(
        _mm256_add_epi32(_mm256_mullo_epi32(d7, K(-1730)), _mm256_mullo_epi32(d5, K(11893))),
        _mm256_add_epi32(_mm256_mullo_epi32(d3, K(-17799)), _mm256_mullo_epi32(d1, K(8697))));
    __m256i o2 = _mm256_add_epi32(
        _mm256_add_epi32(_mm256_mullo_epi32(d7, K(-4176)), _mm256_mullo_epi32(d5, K(-4926))),
        _mm256_add_epi32(_mm256_mullo_epi32(d3, K(7373)), _mm256_mullo_epi32(d1, K(20995))));
    __m256i w0 = descale8(_mm256_add_epi32(t10, o2), 12);
    __m256i w3 = descale8(_mm256_sub_epi32(t10, o2), 12);
    __m256i w1 = descale8(_mm256_add_epi32(t12, o0), 12);
    __m256i w2 = descale8(_mm256_sub_epi32(t12, o0), 12);

    /* transpose: column x of the work rows, rows 0-3 in the lanes */
    __m256i a = _mm256_unpacklo_epi32(w0, w1), b = _mm256_unpackhi_epi32(w0, w1);
    __m256i e = _mm256_unpacklo_epi32(w2, w3), f = _mm256_unpackhi_epi32(w2, w3);
    __m256i c04 = _mm256_unpacklo_epi64(a, e), c15 = _mm256_unpackhi_epi64(a, e);
    __m256i c26 = _mm256_unpacklo_epi64(b, f), c37 = _mm256_unpackhi_epi64(b, f);
    __m128i x0 = _mm256_castsi256_si128(c04), x1 = _mm256_castsi256_si128(c15);
    __m128i x2 = _mm256_castsi256_si128(c26), x3 = _mm256_castsi256_si128(c37);
    __m128i x5 = _mm256_extracti128_si256(c15, 1), x6 = _mm256_extracti128_si256(c26, 1);
    __m128i x7 = _mm256_extracti128_si256(c37, 1);

    __m128i s0 = _mm_slli_epi32(x0, 14);
    __m128i s2 = _mm_add_epi32(mul4(x2, 15137), mul4(x6, -6270));
    __m128i s10 = _mm_add_epi32(s0, s2), s12 = _mm_sub_epi32(s0, s2);
    __m128i p0 = _mm_add_epi32(_mm_add_epi32(mul4(x7, -1730), mul4(x5, 11893)),
                               _mm_add_epi32(mul4(x3, -17799), mul4(x1, 8697)));
    __m128i p2 = _mm_add_epi32(_mm_add_epi32(mul4(x7, -4176), mul4(x5, -4926)),
                               _mm_add_epi32(mul4(x3, 7373), mul4(x1, 20995)));
    __m128i bias = _mm_set1_epi32(128);
    __m128i y0 =
        _mm_add_epi32(descale4(_mm_add_epi32(s10, p2), 19), bias); /* column 0 of rows 0-3 */
    __m128i y1 = _mm_add_epi32(descale4(_mm_add_epi32(s12, p0), 19), bias);
    __m128i y2 = _mm_add_epi32(descale4(_mm_sub_epi32(s12, p0), 19), bias);
    __m128i y3 = _mm_add_epi32(descale4(_mm_sub_epi32(s10, p2), 19), bias);
    /* clamp to bytes (saturating packs), then columns -> rows with one shuffle */
    __m128i bytes = _mm_packus_epi16(_mm_packs_epi32(y0, y1), _mm_packs_epi32(y2, y3));
    bytes = _mm_shuffle_epi8(bytes,
                             _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
    uint32_t rows[4];
    _mm_storeu_si128((__m128i *)rows, bytes);
    for (int y = 0; y < 4; y++) memcpy(out + (size_t)y * (size_t)stride, &rows[y], 4);
    return 1;
}

int cs_jpeg_idct_2x2_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    __m256i d0 = dq_row(c, q, 0), d1 = dq_row(c, q, 1), d3 = dq_row(c, q, 3);
    __m256i d5 = dq_row(c, q, 5), d7 = dq_row(c, q, 7);
    __m256i dc = _mm256_slli_epi32(d0, 15);
    __m256i odd = _mm256_add_epi32(
        _mm256_add_epi32(_mm256_mullo_epi32(d7, K(-5906)), _mm256_mullo_epi32(d5, K(6967))),
        _mm256_add_epi32(_mm256_mullo_epi32(d3, K(-10426)), _mm256_mullo_epi32(d1, K(29692))));
    __m256i w0 = descale8(_mm256_add_epi32(dc, odd), 13);
    __m256i w1 = descale8(_mm256_sub_epi32(dc, odd), 13);
    /* the row pass as dot products: columns 2, 4, 6 weigh nothing */
    const __m256i plus = _mm256_setr_epi32(32768, 29692, 0, -10426, 0, 6967, 0, -5906);
    const __m256i minus = _mm256_setr_epi32(32768, -29692, 0, 10426, 0, -6967, 0, 5906);
    __m256i p = _mm256_hadd_epi32(_mm256_mullo_epi32(w0, plus), _mm256_mullo_epi32(w0, minus));
    __m256i m = _mm256_hadd_epi32(_mm256_mullo_epi32(w1, plus), _mm256_mullo_epi32(w1, minus));
    __m256i pm = _mm256_hadd_epi32(p, m); /* per half: row 0 +, row 0 -, row 1 +, row 1 - */
    __m128i sums = _mm_add_epi32(_mm256_castsi256_si128(pm), _mm256_extracti128_si256(pm, 1));
    __m128i y = _mm_add_epi32(descale4(sums, 20), _mm_set1_epi32(128));
    __m128i bytes = _mm_packus_epi16(_mm_packs_epi32(y, y), _mm_setzero_si128());
    uint32_t four = (uint32_t)_mm_cvtsi128_si32(bytes);
    memcpy(out, &four, 2);
    memcpy(out + stride, (const uint8_t *)&four + 2, 2);
    return 1;
}

/* 8x8 int32 transpose: v[i] lane j -> v[j] lane i */
static inline void transpose8(__m256i v[8]) {
    __m256i a[8], b[8];
    for (int i = 0; i < 8; i += 2) {
        a[i] = _mm256_unpacklo_epi32(v[i], v[i + 1]);
        a[i + 1] = _mm256_unpackhi_epi32(v[i], v[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        b[i] = _mm256_unpacklo_epi64(a[i], a[i + 2]);
        b[i + 1] = _mm256_unpackhi_epi64(a[i], a[i + 2]);
        b[i + 2] = _mm256_unpacklo_epi64(a[i + 1], a[i + 3]);
        b[i + 3] = _mm256_unpackhi_epi64(a[i + 1], a[i + 3]);
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_permute2x128_si256(b[i], b[i + 4], 0x20);
        v[i + 4] = _mm256_permute2x128_si256(b[i], b[i + 4], 0x31);
    }
}

/* any lane of v[0..n) beyond +-limit */
static inline int beyond(const __m256i *v, int n, int limit) {
    __m256i big = _mm256_setzero_si256();
    for (int i = 0; i < n; i++)
        big = _mm256_or_si256(big, _mm256_cmpgt_epi32(_mm256_abs_epi32(v[i]), K(limit)));
    return !_mm256_testz_si256(big, big);
}

/* jidctint.c's range table on the final sums: their bits 18-27, as a
 * signed 10-bit value, + 128, then clamped (by the packs that follow) */
static inline __m256i wrap18(__m256i s) {
    __m256i x = _mm256_and_si256(_mm256_srai_epi32(s, 18), K(1023));
    return _mm256_add_epi32(_mm256_sub_epi32(_mm256_xor_si256(x, K(512)), K(512)), K(128));
}

/* The 6-point IDCT of jidctint.c on six vectors (a lane each; x[0] shifted
 * up with the pass's rounding by the caller), to its sums in output order.
 * pass1: the column pass's form, whose outputs 1 and 4 come out final. */
static inline void idct6(const __m256i x[6], __m256i y[6], int pass1) {
    __m256i t10 = _mm256_mullo_epi32(x[4], K(5793)); /* c4 */
    __m256i t1 = _mm256_add_epi32(x[0], t10);
    __m256i t11 = _mm256_sub_epi32(_mm256_sub_epi32(x[0], t10), t10);
    __m256i t2 = _mm256_mullo_epi32(x[2], K(10033)); /* c2 */
    __m256i e0 = _mm256_add_epi32(t1, t2), e2 = _mm256_sub_epi32(t1, t2);
    __m256i z = _mm256_mullo_epi32(_mm256_add_epi32(x[1], x[5]), K(2998)); /* c5 */
    __m256i o0 = _mm256_add_epi32(z, _mm256_slli_epi32(_mm256_add_epi32(x[1], x[3]), 13));
    __m256i o2 = _mm256_add_epi32(z, _mm256_slli_epi32(_mm256_sub_epi32(x[5], x[3]), 13));
    __m256i o1 = _mm256_sub_epi32(_mm256_sub_epi32(x[1], x[3]), x[5]);
    if (pass1) {
        t11 = _mm256_srai_epi32(t11, 11);
        o1 = _mm256_slli_epi32(o1, 2);
    } else {
        o1 = _mm256_slli_epi32(o1, 13);
    }
    y[0] = _mm256_add_epi32(e0, o0), y[5] = _mm256_sub_epi32(e0, o0);
    y[1] = _mm256_add_epi32(t11, o1), y[4] = _mm256_sub_epi32(t11, o1);
    y[2] = _mm256_add_epi32(e2, o2), y[3] = _mm256_sub_epi32(e2, o2);
}

/* jidctint.c computes the 6x6 in 64 bits. In 32-bit lanes its column pass
 * is exact while every dequantised coefficient fits 16 bits (no sum then
 * passes 1.53e9, checked over every sign pattern; a photograph's stay far
 * below); the row pass needs only bits 18-27 of its sums, which wrapping
 * keeps. Other blocks go to the portable code. */
int cs_jpeg_idct_6x6_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    __m256i d[6];
    for (int r = 0; r < 6; r++) d[r] = dq_row(c, q, r);
    if (beyond(d, 6, 32767)) return cs_jpeg_idct_6x6(c, q, out, stride);
    d[0] = _mm256_add_epi32(_mm256_slli_epi32(d[0], 13), K(1024)); /* << CONST_BITS, rounding */
    __m256i w[8], v[6], y[6];
    idct6(d, w, 1);
    for (int r = 0; r < 6; r++)
        if (r != 1 && r != 4) w[r] = _mm256_srai_epi32(w[r], 11);
    w[6] = w[7] = _mm256_setzero_si256();
    transpose8(w); /* w[x]: column x of the work rows, rows in the lanes */
    for (int x = 0; x < 6; x++) v[x] = w[x];
    v[0] = _mm256_slli_epi32(_mm256_add_epi32(v[0], K(16)), 13);
    idct6(v, y, 0);
    __m256i o[8];
    for (int x = 0; x < 6; x++) o[x] = wrap18(y[x]);
    o[6] = o[7] = _mm256_setzero_si256();
    transpose8(o); /* o[r]: output row r, a pixel a lane */
    for (int r = 0; r < 6; r += 2) {
        __m256i p = _mm256_packs_epi32(o[r], o[r + 1]); /* r 0-3, r+1 0-3, r 4-7, r+1 4-7 */
        __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        uint8_t t[16]; /* r 0-3, r+1 0-3, r 4-7, r+1 4-7 */
        _mm_storeu_si128((__m128i *)t, b);
        uint8_t *a = out + (size_t)r * (size_t)stride, *n = a + stride;
        memcpy(a, t, 4), memcpy(a + 4, t + 8, 2);
        memcpy(n, t + 4, 4), memcpy(n + 4, t + 12, 2);
    }
    return 1;
}

/* The 3x3 of jidctint.c, exact as the 6x6 is (the same bound). The column
 * pass runs on the columns in lanes; the row pass on two rows at a time
 * (lanes 0-2 and 4-6), each output lane weighing the row's three work
 * values by its own constants. */
int cs_jpeg_idct_3x3_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    __m256i d[3] = {dq_row(c, q, 0), dq_row(c, q, 1), dq_row(c, q, 2)};
    if (beyond(d, 3, 32767)) return cs_jpeg_idct_3x3(c, q, out, stride);
    __m256i t0 = _mm256_add_epi32(_mm256_slli_epi32(d[0], 13), K(1024));
    __m256i t12 = _mm256_mullo_epi32(d[2], K(5793)); /* c2 */
    __m256i t10 = _mm256_add_epi32(t0, t12);
    __m256i t2 = _mm256_sub_epi32(_mm256_sub_epi32(t0, t12), t12);
    __m256i o = _mm256_mullo_epi32(d[1], K(10033)); /* c1 */
    __m256i w[3] = {_mm256_srai_epi32(_mm256_add_epi32(t10, o), 11), _mm256_srai_epi32(t2, 11),
                    _mm256_srai_epi32(_mm256_sub_epi32(t10, o), 11)};
    const __m256i even = _mm256_setr_epi32(5793, -11586, 5793, 0, 5793, -11586, 5793, 0);
    const __m256i odd = _mm256_setr_epi32(10033, 0, -10033, 0, 10033, 0, -10033, 0);
    __m256i rows[2] = {_mm256_permute2x128_si256(w[0], w[1], 0x20), w[2]}, y[2];
    for (int i = 0; i < 2; i++) {
        __m256i a = _mm256_permutevar8x32_epi32(rows[i], _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
        __m256i b = _mm256_permutevar8x32_epi32(rows[i], _mm256_setr_epi32(1, 1, 1, 1, 5, 5, 5, 5));
        __m256i e = _mm256_permutevar8x32_epi32(rows[i], _mm256_setr_epi32(2, 2, 2, 2, 6, 6, 6, 6));
        __m256i s = _mm256_slli_epi32(_mm256_add_epi32(a, K(16)), 13);
        s = _mm256_add_epi32(s, _mm256_mullo_epi32(e, even));
        y[i] = wrap18(_mm256_add_epi32(s, _mm256_mullo_epi32(b, odd)));
    }
    __m256i p = _mm256_packs_epi32(y[0], y[1]); /* row 0, row 2 | row 1, (none) */
    __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    uint8_t t[16]; /* row 0 at 0, row 2 at 4, row 1 at 8 */
    _mm_storeu_si128((__m128i *)t, bytes);
    memcpy(out, t, 3);
    memcpy(out + stride, t + 8, 3);
    memcpy(out + 2 * (size_t)stride, t + 4, 3);
    return 1;
}

/* idct12_1d of jpeg_idct.c on eight vectors, in 32-bit lanes */
static inline void idct12(const __m256i x[8], __m256i s[12]) {
    __m256i z3 = x[0], z4 = MUL(x[4], 10033);
    __m256i t10 = ADD(z3, z4), t11 = SUB(z3, z4);
    __m256i c2 = MUL(x[2], 11190), z1 = _mm256_slli_epi32(x[2], 13),
            z2 = _mm256_slli_epi32(x[6], 13);
    __m256i e = SUB(z1, z2), f = ADD(c2, z2), g = SUB(SUB(c2, z1), z2);
    __m256i t21 = ADD(z3, e), t24 = SUB(z3, e), t20 = ADD(t10, f), t25 = SUB(t10, f);
    __m256i t22 = ADD(t11, g), t23 = SUB(t11, g);
    __m256i a = x[1], b = x[3], c = x[5], d = x[7];
    __m256i o1 = MUL(b, 10703), o4 = MUL(b, -4433);
    __m256i o5 = MUL(ADD(ADD(a, c), d), 7053);
    __m256i o2 = ADD(o5, MUL(ADD(a, c), 2139));
    __m256i o0 = ADD(ADD(o2, o1), MUL(a, 2295));
    __m256i o3 = MUL(ADD(c, d), -8565);
    o2 = SUB(ADD(o2, ADD(o3, o4)), MUL(c, 12112));
    o3 = ADD(o3, ADD(SUB(o5, o1), MUL(d, 12998)));
    o5 = SUB(SUB(ADD(o5, o4), MUL(a, 5540)), MUL(d, 16244));
    __m256i p = SUB(a, d), r = SUB(b, c), z = MUL(ADD(p, r), 4433);
    o1 = ADD(z, MUL(p, 6270)), o4 = SUB(z, MUL(r, 15137));
    s[0] = ADD(t20, o0), s[11] = SUB(t20, o0), s[1] = ADD(t21, o1), s[10] = SUB(t21, o1);
    s[2] = ADD(t22, o2), s[9] = SUB(t22, o2), s[3] = ADD(t23, o3), s[8] = SUB(t23, o3);
    s[4] = ADD(t24, o4), s[7] = SUB(t24, o4), s[5] = ADD(t25, o5), s[6] = SUB(t25, o5);
}

/* n rows (8 at most) of a 10- or 12-wide output from its columns, each a
 * vector over those rows (bytes after the range table's +128). */
static inline void store_wide(const __m256i *col, int ncols, int n, uint8_t *out, int stride) {
    __m256i lo[8], hi[8];
    for (int i = 0; i < 8; i++)
        lo[i] = col[i], hi[i] = 8 + i < ncols ? col[8 + i] : _mm256_setzero_si256();
    transpose8(lo); /* lo[r]: columns 0-7 of row r */
    transpose8(hi); /* hi[r]: columns 8.. of row r */
    for (int r = 0; r < n; r++) {
        __m256i p = _mm256_packs_epi32(lo[r], hi[r]); /* 0-3, 8-11 | 4-7, - */
        __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        uint8_t t[16]; /* 0-3 at 0, 8-11 at 4, 4-7 at 8 */
        _mm_storeu_si128((__m128i *)t, b);
        uint8_t *o = out + (size_t)r * (size_t)stride;
        memcpy(o, t, 4), memcpy(o + 4, t + 8, 4), memcpy(o + 8, t + 4, (size_t)(ncols - 8));
    }
}

/* The row pass of an n x n block (10 or 12) whose column pass left the
 * work rows w[0..n): rows 0-7, then the rest, each column a vector. */
static inline void rows_wide(const __m256i *w, int n, void (*idct)(const __m256i *, __m256i *),
                             uint8_t *out, int stride) {
    for (int r0 = 0; r0 < n; r0 += 8) {
        __m256i x[8], s[12];
        for (int i = 0; i < 8; i++) x[i] = r0 + i < n ? w[r0 + i] : _mm256_setzero_si256();
        transpose8(x); /* x[k]: column k of the work rows, a row a lane */
        x[0] = _mm256_slli_epi32(_mm256_add_epi32(x[0], K(16)), 13);
        idct(x, s);
        for (int k = 0; k < n; k++) s[k] = wrap18(s[k]);
        store_wide(s, n, n - r0 < 8 ? n - r0 : 8, out + (size_t)r0 * (size_t)stride, stride);
    }
}

/* jidctint.c's 12x12 (4:2:0's chroma at 6/8), exact as the 6x6 is: the
 * column pass while the dequantised values stay within 2^14 (no sum then
 * passes 1.25e9, checked over every sign pattern), the row pass wrapping. */
int cs_jpeg_idct_12x12_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    __m256i d[8], w[12];
    for (int r = 0; r < 8; r++) d[r] = dq_row(c, q, r);
    if (beyond(d, 8, 16383)) return cs_jpeg_idct_12x12(c, q, out, stride);
    d[0] = _mm256_add_epi32(_mm256_slli_epi32(d[0], 13), K(1024));
    idct12(d, w);
    for (int r = 0; r < 12; r++) w[r] = _mm256_srai_epi32(w[r], 11);
    rows_wide(w, 12, idct12, out, stride);
    return 1;
}

/* idct10_1d of jpeg_idct.c: the row pass's form, and the column pass's */
static inline void idct10_pass(const __m256i x[8], __m256i s[10], int pass1) {
    __m256i z3 = x[0], z1 = MUL(x[4], 9373), z2 = MUL(x[4], 3580);
    __m256i t10 = ADD(z3, z1), t11 = SUB(z3, z2);
    __m256i t22 = SUB(z3, _mm256_slli_epi32(SUB(z1, z2), 1));
    __m256i w = MUL(ADD(x[2], x[6]), 6810);
    __m256i t12 = ADD(w, MUL(x[2], 4209)), t13 = SUB(w, MUL(x[6], 17828));
    __m256i t20 = ADD(t10, t12), t24 = SUB(t10, t12), t21 = ADD(t11, t13), t23 = SUB(t11, t13);
    __m256i a = x[1], b = x[3], c = x[5], d = x[7];
    __m256i p = ADD(b, d), m = SUB(b, d), h = MUL(m, 2531);
    __m256i c5 = _mm256_slli_epi32(c, 13), u = MUL(p, 7791), v = ADD(c5, h);
    __m256i o0 = ADD(ADD(MUL(a, 11443), u), v), o4 = ADD(SUB(MUL(a, 1812), u), v);
    u = MUL(p, 4815), v = SUB(SUB(c5, h), _mm256_slli_epi32(m, 12));
    __m256i o1 = SUB(SUB(MUL(a, 10323), u), v), o3 = ADD(SUB(MUL(a, 5260), u), v);
    __m256i o2 = _mm256_slli_epi32(SUB(SUB(a, m), c), pass1 ? 2 : 13);
    if (pass1) t22 = _mm256_srai_epi32(t22, 11);
    s[0] = ADD(t20, o0), s[9] = SUB(t20, o0), s[1] = ADD(t21, o1), s[8] = SUB(t21, o1);
    s[2] = ADD(t22, o2), s[7] = SUB(t22, o2), s[3] = ADD(t23, o3), s[6] = SUB(t23, o3);
    s[4] = ADD(t24, o4), s[5] = SUB(t24, o4);
}

static void idct10_rows(const __m256i *x, __m256i *s) {
    idct10_pass(x, s, 0);
}

/* jidctint.c's 10x10 (4:2:0's chroma at 5/8), the same way (1.16e9 at
 * most while the dequantised values stay within 2^14). */
int cs_jpeg_idct_10x10_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    __m256i d[8], w[10];
    for (int r = 0; r < 8; r++) d[r] = dq_row(c, q, r);
    if (beyond(d, 8, 16383)) return cs_jpeg_idct_10x10(c, q, out, stride);
    d[0] = _mm256_add_epi32(_mm256_slli_epi32(d[0], 13), K(1024));
    idct10_pass(d, w, 1);
    for (int r = 0; r < 10; r++)
        if (r != 2 && r != 7) w[r] = _mm256_srai_epi32(w[r], 11);
    rows_wide(w, 10, idct10_rows, out, stride);
    return 1;
}

/* jidctint.c's 5x5, as the 6x6 (1.28e9 at most while the dequantised
 * values fit 16 bits): rows and columns 0-4. */
int cs_jpeg_idct_5x5_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    __m256i d[5];
    for (int r = 0; r < 5; r++) d[r] = dq_row(c, q, r);
    if (beyond(d, 5, 32767)) return cs_jpeg_idct_5x5(c, q, out, stride);
    __m256i x[8], y[8];
    for (int pass = 0; pass < 2; pass++) {
        __m256i *in = pass ? x : d;
        in[0] = pass ? _mm256_slli_epi32(_mm256_add_epi32(in[0], K(16)), 13)
                     : _mm256_add_epi32(_mm256_slli_epi32(in[0], 13), K(1024));
        __m256i z1 = _mm256_mullo_epi32(_mm256_add_epi32(in[2], in[4]), K(6476));
        __m256i z2 = _mm256_mullo_epi32(_mm256_sub_epi32(in[2], in[4]), K(2896));
        __m256i z3 = _mm256_add_epi32(in[0], z2);
        __m256i t10 = _mm256_add_epi32(z3, z1), t11 = _mm256_sub_epi32(z3, z1);
        __m256i t12 = _mm256_sub_epi32(in[0], _mm256_slli_epi32(z2, 2));
        __m256i w = _mm256_mullo_epi32(_mm256_add_epi32(in[1], in[3]), K(6810));
        __m256i o0 = _mm256_add_epi32(w, _mm256_mullo_epi32(in[1], K(4209)));
        __m256i o1 = _mm256_sub_epi32(w, _mm256_mullo_epi32(in[3], K(17828)));
        y[0] = _mm256_add_epi32(t10, o0), y[4] = _mm256_sub_epi32(t10, o0);
        y[1] = _mm256_add_epi32(t11, o1), y[3] = _mm256_sub_epi32(t11, o1), y[2] = t12;
        y[5] = y[6] = y[7] = _mm256_setzero_si256();
        for (int i = 0; i < 5; i++) y[i] = pass ? wrap18(y[i]) : _mm256_srai_epi32(y[i], 11);
        transpose8(y); /* pass 0: x[k] column k of the work rows; pass 1: output rows */
        for (int i = 0; i < 8; i++) x[i] = y[i];
    }
    for (int r = 0; r < 5; r++) {
        __m256i p = _mm256_packs_epi32(x[r], _mm256_setzero_si256()); /* 0-3, - | 4-7, - */
        __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        uint8_t t[16]; /* columns 0-3 at 0, 4-7 at 8 */
        _mm_storeu_si128((__m128i *)t, b);
        uint8_t *o = out + (size_t)r * (size_t)stride;
        memcpy(o, t, 4), o[4] = t[8];
    }
    return 1;
}

/* islow_1d of jpeg_idct.c on eight vectors, in 32-bit lanes */
static inline void islow8(const __m256i x[8], __m256i s[8]) {
    __m256i z1 = MUL(ADD(x[2], x[6]), 4433);
    __m256i e2 = ADD(z1, MUL(x[6], -15137)), e3 = ADD(z1, MUL(x[2], 6270));
    __m256i e0 = _mm256_slli_epi32(ADD(x[0], x[4]), 13),
            e1 = _mm256_slli_epi32(SUB(x[0], x[4]), 13);
    __m256i t10 = ADD(e0, e3), t13 = SUB(e0, e3), t11 = ADD(e1, e2), t12 = SUB(e1, e2);
    __m256i y1 = ADD(x[7], x[1]), y2 = ADD(x[5], x[3]), y3 = ADD(x[7], x[3]), y4 = ADD(x[5], x[1]);
    __m256i z5 = MUL(ADD(y3, y4), 9633);
    y1 = MUL(y1, -7373), y2 = MUL(y2, -20995);
    y3 = ADD(MUL(y3, -16069), z5), y4 = ADD(MUL(y4, -3196), z5);
    __m256i o0 = ADD(MUL(x[7], 2446), ADD(y1, y3)), o1 = ADD(MUL(x[5], 16819), ADD(y2, y4));
    __m256i o2 = ADD(MUL(x[3], 25172), ADD(y2, y3)), o3 = ADD(MUL(x[1], 12299), ADD(y1, y4));
    s[0] = ADD(t10, o3), s[7] = SUB(t10, o3), s[1] = ADD(t11, o2), s[6] = SUB(t11, o2);
    s[2] = ADD(t12, o1), s[5] = SUB(t12, o1), s[3] = ADD(t13, o0), s[4] = SUB(t13, o0);
}

/* The 8x8 in 32-bit lanes: no sum passes 2^31 while the dequantised values
 * stay within 2^12 and the work rows within 2^14 (the largest sum of the
 * weights of an output is 61,214; a photograph's values are far smaller).
 * Blocks beyond that go to the portable code, which also says where
 * libjpeg-turbo's SIMD and C disagree. */
int cs_jpeg_idct_8x8_avx2(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    __m256i d[8], s[8], w[8];
    for (int r = 0; r < 8; r++) d[r] = dq_row(c, q, r);
    if (beyond(d, 8, 4095)) return cs_jpeg_idct_8x8(c, q, out, stride);
    islow8(d, s);
    for (int r = 0; r < 8; r++) w[r] = descale8(s[r], 11);
    if (beyond(w, 8, 16383)) return cs_jpeg_idct_8x8(c, q, out, stride);
    transpose8(w); /* w[x]: column x of the work rows, rows in the lanes */
    islow8(w, s);
    __m256i o[8];
    for (int x = 0; x < 8; x++) o[x] = descale8(s[x], 18);
    if (beyond(o, 8, 511)) return 0;
    for (int x = 0; x < 8; x++) o[x] = _mm256_add_epi32(o[x], K(128));
    transpose8(o); /* o[r]: output row r */
    const __m128i order = _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15);
    for (int r = 0; r < 8; r += 2) {
        __m256i p = _mm256_packs_epi32(o[r], o[r + 1]); /* r 0-3, r+1 0-3 | r 4-7, r+1 4-7 */
        __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        b = _mm_shuffle_epi8(b, order); /* row r, row r+1 */
        _mm_storel_epi64((__m128i *)(out + (size_t)r * (size_t)stride), b);
        _mm_storel_epi64((__m128i *)(out + (size_t)(r + 1) * (size_t)stride), _mm_srli_si128(b, 8));
    }
    return 1;
}

/* 16 pixels' R, G or B as int32 (two halves of 8) to 16 bytes, clamped */
static inline __m128i to_bytes(__m256i lo, __m256i hi) {
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
    __m128i a = _mm256_castsi256_si128(w), b = _mm256_extracti128_si256(w, 1);
    return _mm_packus_epi16(a, b);
}

/* the mask placing channel ch of 16 pixels at bytes 16k .. 16k + 15 of RGBRGB... */
static inline __m128i place(int k, int ch) {
    int8_t m[16];
    for (int j = 0; j < 16; j++) {
        int g = 16 * k + j;
        m[j] = g % 3 == ch ? (int8_t)(g / 3) : (int8_t)-128;
    }
    return _mm_loadu_si128((const __m128i *)m);
}

void cs_jpeg_ycc_row_avx2(const uint8_t *y, const uint8_t *cb, const uint8_t *cr, uint8_t *rgb,
                          int w) {
    __m128i mask[3][3];
    for (int k = 0; k < 3; k++)
        for (int ch = 0; ch < 3; ch++) mask[k][ch] = place(k, ch);
    const __m256i half = K(32768), c128 = K(128);
    int i = 0;
    for (; i + 16 <= w; i += 16) {
        __m256i r32[2], g32[2], b32[2];
        for (int h = 0; h < 2; h++) {
            __m256i yy = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(y + i + 8 * h)));
            __m256i b = _mm256_sub_epi32(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(cb + i + 8 * h))), c128);
            __m256i r = _mm256_sub_epi32(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(cr + i + 8 * h))), c128);
            __m256i gsum = _mm256_add_epi32(_mm256_mullo_epi32(b, K(-22554)),
                                            _mm256_mullo_epi32(r, K(-46802)));
            r32[h] = _mm256_add_epi32(
                yy, _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(r, K(91881)), half), 16));
            g32[h] = _mm256_add_epi32(yy, _mm256_srai_epi32(_mm256_add_epi32(gsum, half), 16));
            b32[h] = _mm256_add_epi32(
                yy,
                _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(b, K(116130)), half), 16));
        }
        __m128i R = to_bytes(r32[0], r32[1]), G = to_bytes(g32[0], g32[1]);
        __m128i B = to_bytes(b32[0], b32[1]);
        for (int k = 0; k < 3; k++) {
            __m128i v = _mm_or_si128(
                _mm_or_si128(_mm_shuffle_epi8(R, mask[k][0]), _mm_shuffle_epi8(G, mask[k][1])),
                _mm_shuffle_epi8(B, mask[k][2]));
            _mm_storeu_si128((__m128i *)(rgb + 3 * i + 16 * k), v);
        }
    }
    if (i < w) cs_jpeg_ycc_row(y + i, cb + i, cr + i, rgb + 3 * i, w - i);
}

void cs_jpeg_h2v1_avx2(const uint8_t *in, unsigned n, int fancy, uint8_t *out) {
    if (!fancy || n < 18) {
        cs_jpeg_h2v1(in, n, fancy, out);
        return;
    }
    /* the middle 16 samples a step: 3 x the sample + its left (+1) or its
     * right (+2) neighbour, / 4; the ends and the rest as jpeg_idct.c does
     * them */
    const __m256i one = _mm256_set1_epi16(1), two = _mm256_set1_epi16(2);
    const __m256i pairs = _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15, 0,
                                           8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    unsigned i = 1;
    for (; i + 17 <= n; i += 16) {
        __m256i cur = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(in + i)));
        __m256i left = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(in + i - 1)));
        __m256i right = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(in + i + 1)));
        __m256i three = _mm256_add_epi16(_mm256_add_epi16(cur, cur), cur);
        __m256i even = _mm256_srli_epi16(_mm256_add_epi16(_mm256_add_epi16(three, left), one), 2);
        __m256i odd = _mm256_srli_epi16(_mm256_add_epi16(_mm256_add_epi16(three, right), two), 2);
        /* per 128-bit half: 8 even then 8 odd bytes, paired by one shuffle */
        __m256i bytes = _mm256_shuffle_epi8(_mm256_packus_epi16(even, odd), pairs);
        _mm256_storeu_si256((__m256i *)(out + 2 * i), bytes);
    }
    cs_jpeg_h2v1_from(in, n, i, out);
}
