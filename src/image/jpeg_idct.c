/* image/jpeg_idct.c - jpeg_fast.c's pixels: libjpeg's reduced IDCTs
 * (jidctred.c's arithmetic: the same constants, roundings and limits), its
 * h2v1 upsampling (jdsample.c's) and its YCbCr -> RGB rule (jdcolor.c's).
 * jpeg_idct_avx2.c does the 2x2, the 4x4, the upsampling and the colour
 * with AVX2, to the same bits. */
#include "image/jpeg_idct.h"

static inline int descale(int64_t x, int n) {
    return (int)((x + ((int64_t)1 << (n - 1))) >> n);
}
static inline uint8_t clamp255(int x) {
    return (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : x);
}
/* the 1x1 IDCT's table lookup: the low 10 bits, then the limit */
static inline uint8_t wrap_limit(int x) {
    return clamp255((((x & 1023) ^ 512) - 512) + 128);
}

int cs_jpeg_idct_1x1(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    (void)stride;
    out[0] = wrap_limit(descale((int64_t)c[0] * q[0], 3));
    return 1;
}

/* jidctred.c's 2x2: the odd part of two 4-sample averages. Columns and rows
 * 2, 4, 6 do not reach this output. */
int cs_jpeg_idct_2x2(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    int ws[2][8];
    for (int x = 0; x < 8; x++) {
        if (x == 2 || x == 4 || x == 6) continue;
        if (!(c[8 + x] | c[24 + x] | c[40 + x] | c[56 + x])) { /* what the sums below give then */
            ws[0][x] = ws[1][x] = (int)((int64_t)c[x] * q[x] * 4);
            continue;
        }
        int64_t dc = (int64_t)c[x] * q[x] * 32768; /* << CONST_BITS + 2 */
        int64_t odd =
            (int64_t)c[56 + x] * q[56 + x] * -5906 + (int64_t)c[40 + x] * q[40 + x] * 6967 +
            (int64_t)c[24 + x] * q[24 + x] * -10426 + (int64_t)c[8 + x] * q[8 + x] * 29692;
        ws[0][x] = descale(dc + odd, 13);
        ws[1][x] = descale(dc - odd, 13);
    }
    for (int y = 0; y < 2; y++) {
        const int *w = ws[y];
        int64_t dc = (int64_t)w[0] * 32768;
        int64_t odd = (int64_t)w[7] * -5906 + (int64_t)w[5] * 6967 + (int64_t)w[3] * -10426 +
                      (int64_t)w[1] * 29692;
        out[y * stride] = clamp255(descale(dc + odd, 20) + 128);
        out[y * stride + 1] = clamp255(descale(dc - odd, 20) + 128);
    }
    return 1;
}

/* jidctred.c's 4x4 (LL&M's 8-point IDCT folded to the averages of pairs);
 * column and row 4 do not reach it. */
int cs_jpeg_idct_4x4(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    int ws[4][8];
    for (int x = 0; x < 8; x++) {
        if (x == 4) continue;
        if (!(c[8 + x] | c[16 + x] | c[24 + x] | c[40 + x] | c[48 + x] | c[56 + x])) {
            ws[0][x] = ws[1][x] = ws[2][x] = ws[3][x] = (int)((int64_t)c[x] * q[x] * 4);
            continue;
        }
        int64_t d[8];
        for (int y = 0; y < 8; y++) d[y] = (int64_t)c[y * 8 + x] * q[y * 8 + x];
        int64_t t0 = d[0] * 16384; /* << CONST_BITS + 1 */
        int64_t t2 = d[2] * 15137 + d[6] * -6270;
        int64_t t10 = t0 + t2, t12 = t0 - t2;
        int64_t o0 = d[7] * -1730 + d[5] * 11893 + d[3] * -17799 + d[1] * 8697;
        int64_t o2 = d[7] * -4176 + d[5] * -4926 + d[3] * 7373 + d[1] * 20995;
        ws[0][x] = descale(t10 + o2, 12);
        ws[3][x] = descale(t10 - o2, 12);
        ws[1][x] = descale(t12 + o0, 12);
        ws[2][x] = descale(t12 - o0, 12);
    }
    for (int y = 0; y < 4; y++) {
        const int *w = ws[y];
        int64_t t0 = (int64_t)w[0] * 16384;
        int64_t t2 = (int64_t)w[2] * 15137 + (int64_t)w[6] * -6270;
        int64_t t10 = t0 + t2, t12 = t0 - t2;
        int64_t o0 = (int64_t)w[7] * -1730 + (int64_t)w[5] * 11893 + (int64_t)w[3] * -17799 +
                     (int64_t)w[1] * 8697;
        int64_t o2 = (int64_t)w[7] * -4176 + (int64_t)w[5] * -4926 + (int64_t)w[3] * 7373 +
                     (int64_t)w[1] * 20995;
        uint8_t *o = out + y * stride;
        o[0] = clamp255(descale(t10 + o2, 19) + 128);
        o[3] = clamp255(descale(t10 - o2, 19) + 128);
        o[1] = clamp255(descale(t12 + o0, 19) + 128);
        o[2] = clamp255(descale(t12 - o0, 19) + 128);
    }
    return 1;
}

/* ---- jidctint.c's other sizes --------------------------------------------
 * libjpeg-turbo computes these in C: CONST_BITS 13, PASS1_BITS 2, 64-bit
 * sums, the outputs through its range table (wrap_limit). Each is a 1-D
 * IDCT (x[0] shifted up with the pass's rounding, to the sums in output
 * order) run down the columns, then along the rows (idct_2d). pass1: the
 * column pass's form, in which some sizes shift an output early. */
typedef void (*idct_1d_fn)(const int64_t *x, int64_t *s, int pass1);

static void idct3_1d(const int64_t *x, int64_t *s, int pass1) {
    (void)pass1;
    int64_t t12 = x[2] * 5793, t10 = x[0] + t12, o = x[1] * 10033; /* c2, c1 */
    s[0] = t10 + o, s[2] = t10 - o, s[1] = x[0] - t12 - t12;
}

static void idct5_1d(const int64_t *x, int64_t *s, int pass1) {
    (void)pass1;
    int64_t z1 = (x[2] + x[4]) * 6476, z2 = (x[2] - x[4]) * 2896; /* (c2+c4)/2, (c2-c4)/2 */
    int64_t z3 = x[0] + z2, t10 = z3 + z1, t11 = z3 - z1, t12 = x[0] - z2 * 4;
    int64_t w = (x[1] + x[3]) * 6810;                    /* c3 */
    int64_t o0 = w + x[1] * 4209, o1 = w - x[3] * 17828; /* c1-c3, c1+c3 */
    s[0] = t10 + o0, s[4] = t10 - o0, s[1] = t11 + o1, s[3] = t11 - o1, s[2] = t12;
}

/* outputs 1 and 4 come out of the column pass shifted */
static void idct6_1d(const int64_t *x, int64_t *s, int pass1) {
    int64_t t10 = x[4] * 5793, t1 = x[0] + t10, t11 = x[0] - t10 - t10; /* c4 */
    int64_t t2 = x[2] * 10033, e0 = t1 + t2, e2 = t1 - t2;              /* c2 */
    int64_t z = (x[1] + x[5]) * 2998;                                   /* c5 */
    int64_t o0 = z + (x[1] + x[3]) * 8192, o2 = z + (x[5] - x[3]) * 8192;
    int64_t o1 = x[1] - x[3] - x[5];
    if (pass1)
        t11 >>= 11, o1 *= 4; /* << PASS1_BITS */
    else
        o1 *= 8192; /* << CONST_BITS */
    s[0] = e0 + o0, s[5] = e0 - o0, s[1] = t11 + o1, s[4] = t11 - o1;
    s[2] = e2 + o2, s[3] = e2 - o2;
}

/* 10 outputs from 8 inputs; 2 and 7 come out of the column pass shifted */
static void idct10_1d(const int64_t *x, int64_t *s, int pass1) {
    int64_t z3 = x[0], z1 = x[4] * 9373, z2 = x[4] * 3580; /* c4, c8 */
    int64_t t10 = z3 + z1, t11 = z3 - z2, t22 = z3 - (z1 - z2) * 2;
    int64_t w = (x[2] + x[6]) * 6810;                      /* c6 */
    int64_t t12 = w + x[2] * 4209, t13 = w - x[6] * 17828; /* c2-c6, c2+c6 */
    int64_t t20 = t10 + t12, t24 = t10 - t12, t21 = t11 + t13, t23 = t11 - t13;
    int64_t a = x[1], b = x[3], c = x[5], d = x[7];
    int64_t p = b + d, m = b - d, h = m * 2531;            /* (c3-c7)/2 */
    int64_t c5 = c * 8192, u = p * 7791, v = c5 + h;       /* (c3+c7)/2 */
    int64_t o0 = a * 11443 + u + v, o4 = a * 1812 - u + v; /* c1, c9 */
    u = p * 4815, v = c5 - h - m * 4096;                   /* (c1-c9)/2 */
    int64_t o1 = a * 10323 - u - v, o3 = a * 5260 - u + v; /* c3, c7 */
    int64_t o2 = (a - m - c) * (pass1 ? 4 : 8192);
    if (pass1) t22 >>= 11;
    s[0] = t20 + o0, s[9] = t20 - o0, s[1] = t21 + o1, s[8] = t21 - o1;
    s[2] = t22 + o2, s[7] = t22 - o2, s[3] = t23 + o3, s[6] = t23 - o3;
    s[4] = t24 + o4, s[5] = t24 - o4;
}

/* 12 outputs from 8 inputs */
static void idct12_1d(const int64_t *x, int64_t *s, int pass1) {
    (void)pass1;
    int64_t z3 = x[0], z4 = x[4] * 10033; /* c4 */
    int64_t t10 = z3 + z4, t11 = z3 - z4;
    int64_t c2 = x[2] * 11190, z1 = x[2] * 8192, z2 = x[6] * 8192; /* c2 */
    int64_t t21 = z3 + (z1 - z2), t24 = z3 - (z1 - z2);
    int64_t t20 = t10 + (c2 + z2), t25 = t10 - (c2 + z2);
    int64_t t22 = t11 + (c2 - z1 - z2), t23 = t11 - (c2 - z1 - z2);
    int64_t a = x[1], b = x[3], c = x[5], d = x[7];
    int64_t o1 = b * 10703, o4 = b * -4433;           /* c3, -c9 */
    int64_t o5 = (a + c + d) * 7053;                  /* c7 */
    int64_t o2 = o5 + (a + c) * 2139;                 /* c5-c7 */
    int64_t o0 = o2 + o1 + a * 2295;                  /* c1-c5 */
    int64_t o3 = (c + d) * -8565;                     /* -(c7+c11) */
    o2 += o3 + o4 - c * 12112;                        /* c1+c5-c7-c11 */
    o3 += o5 - o1 + d * 12998;                        /* c1+c11 */
    o5 += o4 - a * 5540 - d * 16244;                  /* c7-c11, c5+c7 */
    int64_t p = a - d, r = b - c, z = (p + r) * 4433; /* c9 */
    o1 = z + p * 6270, o4 = z - r * 15137;            /* c3-c9, c3+c9 */
    s[0] = t20 + o0, s[11] = t20 - o0, s[1] = t21 + o1, s[10] = t21 - o1;
    s[2] = t22 + o2, s[9] = t22 - o2, s[3] = t23 + o3, s[8] = t23 - o3;
    s[4] = t24 + o4, s[7] = t24 - o4, s[5] = t25 + o5, s[6] = t25 - o5;
}

/* n x n pixels from the first min(n, 8) rows and columns of coefficients;
 * shifted: the column pass's outputs f leaves shifted (a bit each). */
static int idct_2d(const int16_t *c, const int32_t *q, uint8_t *out, int stride, int n,
                   idct_1d_fn f, unsigned shifted) {
    int k = n < 8 ? n : 8, ws[12][8];
    for (int x = 0; x < k; x++) {
        int64_t d[8], s[12];
        for (int y = 0; y < k; y++) d[y] = (int64_t)c[y * 8 + x] * q[y * 8 + x];
        d[0] = d[0] * 8192 + 1024; /* << CONST_BITS, + rounding */
        f(d, s, 1);
        for (int y = 0; y < n; y++) ws[y][x] = (int)(shifted >> y & 1 ? s[y] : s[y] >> 11);
    }
    for (int y = 0; y < n; y++) {
        int64_t w[8], s[12];
        for (int x = 0; x < k; x++) w[x] = ws[y][x];
        w[0] = (w[0] + 16) * 8192;
        f(w, s, 0);
        for (int x = 0; x < n; x++) out[y * stride + x] = wrap_limit((int)(s[x] >> 18));
    }
    return 1;
}

int cs_jpeg_idct_3x3(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    return idct_2d(c, q, out, stride, 3, idct3_1d, 0);
}

int cs_jpeg_idct_5x5(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    return idct_2d(c, q, out, stride, 5, idct5_1d, 0);
}

int cs_jpeg_idct_6x6(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    return idct_2d(c, q, out, stride, 6, idct6_1d, 1u << 1 | 1u << 4);
}

/* 4:2:0's chroma at 5/8 */
int cs_jpeg_idct_10x10(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    return idct_2d(c, q, out, stride, 10, idct10_1d, 1u << 2 | 1u << 7);
}

/* 4:2:0's chroma at 6/8 */
int cs_jpeg_idct_12x12(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    return idct_2d(c, q, out, stride, 12, idct12_1d, 0);
}

/* jidctint.c's 8-point IDCT (LL&M) on x[0..7], its sums before the final
 * shift in output order. */
static void islow_1d(const int64_t x[8], int64_t s[8]) {
    int64_t z1 = (x[2] + x[6]) * 4433;
    int64_t e2 = z1 + x[6] * -15137, e3 = z1 + x[2] * 6270;
    int64_t e0 = (x[0] + x[4]) * 8192, e1 = (x[0] - x[4]) * 8192;
    int64_t t10 = e0 + e3, t13 = e0 - e3, t11 = e1 + e2, t12 = e1 - e2;
    int64_t y1 = x[7] + x[1], y2 = x[5] + x[3], y3 = x[7] + x[3], y4 = x[5] + x[1];
    int64_t z5 = (y3 + y4) * 9633;
    y1 *= -7373, y2 *= -20995, y3 = y3 * -16069 + z5, y4 = y4 * -3196 + z5;
    int64_t o0 = x[7] * 2446 + y1 + y3, o1 = x[5] * 16819 + y2 + y4;
    int64_t o2 = x[3] * 25172 + y2 + y3, o3 = x[1] * 12299 + y1 + y4;
    s[0] = t10 + o3, s[7] = t10 - o3, s[1] = t11 + o2, s[6] = t11 - o2;
    s[2] = t12 + o1, s[5] = t12 - o1, s[3] = t13 + o0, s[4] = t13 - o0;
}

/* jidctint.c's full 8x8 ("islow"), which libjpeg-turbo runs in SIMD with
 * 16-bit lanes: dequantised values and work rows saturate to 16 bits there
 * and the outputs clamp, where the C code keeps 32 bits and wraps through
 * its range table. The two agree while the dequantised values and the
 * work rows fit 16 bits and the outputs lie within 511 of the centre,
 * as a photograph's do; outside that this returns 0 and the caller leaves
 * the file to libjpeg. The last check decides: the transform keeps a
 * block's energy, so values or work rows past 16 bits give outputs far
 * past 511 (the first two only stop early); tests/image/test_jpeg_fast.c
 * tries the outputs' limit from both sides. */
int cs_jpeg_idct_8x8(const int16_t *c, const int32_t *q, uint8_t *out, int stride) {
    int ws[8][8];
    for (int x = 0; x < 8; x++) {
        int64_t d[8], s[8];
        for (int y = 0; y < 8; y++) {
            d[y] = (int64_t)c[y * 8 + x] * q[y * 8 + x];
            if (d[y] < -32768 || d[y] > 32767) return 0;
        }
        islow_1d(d, s);
        for (int y = 0; y < 8; y++) {
            int64_t v = (s[y] + 1024) >> 11; /* CONST_BITS - PASS1_BITS */
            if (v < -32768 || v > 32767) return 0;
            ws[y][x] = (int)v;
        }
    }
    for (int y = 0; y < 8; y++) {
        int64_t w[8], s[8];
        for (int x = 0; x < 8; x++) w[x] = ws[y][x];
        islow_1d(w, s);
        for (int x = 0; x < 8; x++) {
            int64_t v = (s[x] + (1 << 17)) >> 18; /* CONST_BITS + PASS1_BITS + 3 */
            if (v < -511 || v > 511) return 0;
            out[y * stride + x] = clamp255((int)v + 128);
        }
    }
    return 1;
}

void cs_jpeg_h2v1_from(const uint8_t *in, unsigned n, unsigned from, uint8_t *out) {
    out[0] = in[0];
    out[1] = (uint8_t)((in[0] * 3 + in[1] + 2) >> 2);
    for (unsigned i = from > 1 ? from : 1; i + 1 < n; i++) {
        int v = in[i] * 3;
        out[2 * i] = (uint8_t)((v + in[i - 1] + 1) >> 2);
        out[2 * i + 1] = (uint8_t)((v + in[i + 1] + 2) >> 2);
    }
    out[2 * n - 2] = (uint8_t)((in[n - 1] * 3 + in[n - 2] + 1) >> 2);
    out[2 * n - 1] = in[n - 1];
}

void cs_jpeg_h2v1(const uint8_t *in, unsigned n, int fancy, uint8_t *out) {
    if (fancy) {
        cs_jpeg_h2v1_from(in, n, 1, out);
        return;
    }
    for (unsigned i = 0; i < n; i++) out[2 * i] = out[2 * i + 1] = in[i];
}

/* jdcolor.c's YCbCr -> RGB: 16-bit fixed point, rounding as its tables do */
void cs_jpeg_ycc_row(const uint8_t *y, const uint8_t *cb, const uint8_t *cr, uint8_t *rgb, int w) {
    for (int i = 0; i < w; i++) {
        int b = cb[i] - 128, r = cr[i] - 128;
        rgb[3 * i + 0] = clamp255(y[i] + ((91881 * r + 32768) >> 16));
        rgb[3 * i + 1] = clamp255(y[i] + ((-22554 * b - 46802 * r + 32768) >> 16));
        rgb[3 * i + 2] = clamp255(y[i] + ((116130 * b + 32768) >> 16));
    }
}
