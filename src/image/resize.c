/* image/resize.c - Pillow's BICUBIC resize (Image.resize(size, BICUBIC) with
 * no box and no reducing_gap), reproduced bit for bit.
 *
 * Pillow (libImaging/Resample.c) works in two separable passes, horizontal
 * first and only over the source rows the vertical pass will read, each pass
 * rounding to 8 bits. Per output sample it sums input * weight where:
 *  - the filter is Keys' cubic with a = -0.5, support 2;
 *  - when reducing, the filter is stretched by scale = in / out (support
 *    2 * scale), so every input pixel contributes;
 *  - the taps are computed in double, normalised to sum 1, then turned into
 *    fixed point with PRECISION_BITS = 32 - 8 - 2 = 22 fractional bits,
 *    rounding half away from zero;
 *  - the sum starts at 1 << 21 (rounding) and is clipped to 0..255 after an
 *    arithmetic shift by 22.
 * Every floating-point step below is written in the same order as Pillow's,
 * so the doubles, hence the integer weights, are identical. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "image/image_internal.h"
#include "image/resize_internal.h"

#if defined(__x86_64__) || defined(_M_X64)
#define CS_HAVE_SIMD_PASSES 1
#endif

#define PRECISION_BITS (32 - 8 - 2)

/* Keys' cubic convolution kernel, a = -0.5. */
static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* The taps of some outputs o0 + i of one pass (i < n): inputs first[i] ..
 * first[i]+count[i]-1 with weights w[i * ksize ..]. Each output's taps
 * depend on its own index only, so any range is computed exactly. */
typedef struct taps {
    int ksize;
    int *first, *count;
    int32_t *w;
} taps;

static void taps_free(taps *t) {
    free(t->first);
    free(t->count);
    free(t->w);
    t->first = t->count = NULL;
    t->w = NULL;
}

static int taps_make(int in_size, int out_size, int o0, int n, taps *t) {
    const double support_base = 2.0;
    double scale = (double)(float)in_size / out_size; /* Pillow: (in1 - in0) in float */
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = support_base * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    t->ksize = ksize;
    t->first = malloc(sizeof(int) * (size_t)n);
    t->count = malloc(sizeof(int) * (size_t)n);
    t->w = malloc(sizeof(int32_t) * (size_t)n * (size_t)ksize);
    double *k = malloc(sizeof(double) * (size_t)ksize);
    if (!t->first || !t->count || !t->w || !k) {
        free(k);
        taps_free(t);
        return -1;
    }
    const double ss = 1.0 / filterscale;
    for (int xx = o0; xx < o0 + n; xx++) {
        double center = 0.0 + (xx + 0.5) * scale;
        double ww = 0.0;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            double v = bicubic((x + xmin - center + 0.5) * ss);
            k[x] = v;
            ww += v;
        }
        int32_t *wi = t->w + (size_t)(xx - o0) * ksize;
        for (int x = 0; x < ksize; x++) {
            double v = x < xmax ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
            wi[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
                          : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        t->first[xx - o0] = xmin;
        t->count[xx - o0] = xmax;
    }
    free(k);
    return 0;
}

static inline uint8_t clip8(int32_t v) {
    if (v >= (1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* rows [y0, y0 + rows) of src (w_in wide) -> dst, one pixel per tap set
 * (w_out of them) */
static void pass_horizontal(const uint8_t *src, int w_in, int y0, int rows, const taps *t,
                            int w_out, uint8_t *dst) {
    for (int y = 0; y < rows; y++) {
        const uint8_t *row = src + (size_t)(y0 + y) * w_in * 3;
        uint8_t *o = dst + (size_t)y * w_out * 3;
        for (int xx = 0; xx < w_out; xx++, o += 3) {
            const int32_t *k = t->w + (size_t)xx * t->ksize;
            const uint8_t *p = row + (size_t)t->first[xx] * 3;
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < t->count[xx]; x++, p += 3) {
                s0 += p[0] * k[x];
                s1 += p[1] * k[x];
                s2 += p[2] * k[x];
            }
            o[0] = clip8(s0);
            o[1] = clip8(s1);
            o[2] = clip8(s2);
        }
    }
}

/* The SIMD horizontal pass where core/cpu.h allows it (same integers, same
 * result): AVX-512's quads of taps, else AVX2's pairs. Returns 0 when it
 * did not run. CLIPSEARCH_CPU=generic forces the scalar pass (for tests
 * and comparisons). */
static int horizontal_simd(const uint8_t *src, int w_in, int y0, int rows, const taps *t, int w_out,
                           uint8_t *dst) {
#ifdef CS_HAVE_SIMD_PASSES
    cs_cpu_level level = cs_cpu_level_get();
    if (level < CS_CPU_AVX2) return 0;
    const int group = level >= CS_CPU_AVX512 ? 4 : 2;
    const size_t groups = (size_t)(t->ksize + group - 1) / (size_t)group;
    int32_t *wide = malloc(sizeof(int32_t) * 4 * (size_t)group * groups * (size_t)w_out);
    if (!wide) return 0;
    cs_resize_widen_taps(t->w, t->ksize, t->count, w_out, group, wide);
    if (group == 4)
        cs_resize_horizontal_avx512(src, w_in, y0, rows, t->ksize, t->first, t->count, wide, w_out,
                                    dst);
    else
        cs_resize_horizontal_avx2(src, w_in, y0, rows, t->ksize, t->first, t->count, wide, w_out,
                                  dst);
    free(wide);
    return 1;
#else
    (void)src, (void)w_in, (void)y0, (void)rows, (void)t, (void)w_out, (void)dst;
    return 0;
#endif
}

/* The vertical pass with AVX2, one output row at a time, where core/cpu.h
 * allows it; returns 0 when it did not run. */
static int vertical_simd(const uint8_t *src, int src_w, int col0, int ncols, int y0, const taps *t,
                         int h_out, uint8_t *dst) {
#ifdef CS_HAVE_SIMD_PASSES
    if (cs_cpu_level_get() < CS_CPU_AVX2) return 0;
    const uint8_t **rows = malloc(sizeof *rows * (size_t)t->ksize);
    if (!rows) return 0;
    const size_t stride = (size_t)src_w * 3, n = (size_t)ncols * 3;
    for (int yy = 0; yy < h_out; yy++) {
        for (int y = 0; y < t->count[yy]; y++)
            rows[y] = src + (size_t)(t->first[yy] - y0 + y) * stride + (size_t)col0 * 3;
        cs_resize_vertical_avx2(rows, t->w + (size_t)yy * t->ksize, t->count[yy], n,
                                dst + (size_t)yy * n);
    }
    free(rows);
    return 1;
#else
    (void)src, (void)src_w, (void)col0, (void)ncols, (void)y0, (void)t, (void)h_out, (void)dst;
    return 0;
#endif
}

/* The vertical pass (h_out tap sets) over columns
 * [col0, col0 + ncols) of src (src_w pixels wide, its first row being source
 * row y0) -> dst, ncols wide. Sums a whole output row at once in acc so the
 * source is read row by row; each sum still adds its terms in Pillow's
 * order (and integer sums do not depend on it anyway). */
static void pass_vertical(const uint8_t *src, int src_w, int col0, int ncols, int y0, const taps *t,
                          int h_out, int32_t *acc, uint8_t *dst) {
    const size_t stride = (size_t)src_w * 3, n = (size_t)ncols * 3;
    for (int yy = 0; yy < h_out; yy++) {
        const int32_t *k = t->w + (size_t)yy * t->ksize;
        const uint8_t *row = src + (size_t)(t->first[yy] - y0) * stride + (size_t)col0 * 3;
        for (size_t i = 0; i < n; i++) acc[i] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < t->count[yy]; y++, row += stride) {
            const int32_t ky = k[y];
            for (size_t i = 0; i < n; i++) acc[i] += row[i] * ky;
        }
        uint8_t *o = dst + (size_t)yy * n;
        for (size_t i = 0; i < n; i++) o[i] = clip8(acc[i]);
    }
}

cs_status cs_resize_bicubic_box(const cs_image *in, int out_w, int out_h, int bx, int by, int bw,
                                int bh, cs_image *out, cs_error *err) {
    out->rgb = NULL;
    if (out_w <= 0 || out_h <= 0 || in->width <= 0 || in->height <= 0 || bx < 0 || by < 0 ||
        bw <= 0 || bh <= 0 || bx > out_w - bw || by > out_h - bh)
        return cs_fail(err, CS_EINVAL, "cannot resize %dx%d to %dx%d (box %d,%d %dx%d)", in->width,
                       in->height, out_w, out_h, bx, by, bw, bh);
    const int need_h = out_w != in->width, need_v = out_h != in->height;
    taps th = {0}, tv = {0};
    uint8_t *tmp = NULL, *res = NULL;
    int32_t *acc = NULL;
    if (taps_make(in->width, out_w, bx, bw, &th) || taps_make(in->height, out_h, by, bh, &tv))
        goto nomem;

    /* the source rows the vertical pass reads for the box's rows */
    const int y_first = tv.first[0];
    const int y_last = tv.first[bh - 1] + tv.count[bh - 1];
    const uint8_t *cur = in->rgb;
    int cur_w = in->width, cur_col0 = bx, cur_y0 = 0;
    if (need_h) {
        tmp = malloc((size_t)bw * (size_t)(y_last - y_first) * 3);
        if (!tmp) goto nomem;
        if (!horizontal_simd(in->rgb, in->width, y_first, y_last - y_first, &th, bw, tmp))
            pass_horizontal(in->rgb, in->width, y_first, y_last - y_first, &th, bw, tmp);
        cur = tmp;
        cur_w = bw;
        cur_col0 = 0;
        cur_y0 = y_first;
    }
    res = malloc((size_t)bw * (size_t)bh * 3);
    if (!res) goto nomem;
    if (need_v) {
        if (!vertical_simd(cur, cur_w, cur_col0, bw, cur_y0, &tv, bh, res)) {
            acc = malloc(sizeof(int32_t) * (size_t)bw * 3); /* the scalar pass's sums */
            if (!acc) goto nomem;
            pass_vertical(cur, cur_w, cur_col0, bw, cur_y0, &tv, bh, acc, res);
        }
    } else
        for (int yy = by; yy < by + bh; yy++)
            memcpy(res + (size_t)(yy - by) * bw * 3,
                   cur + ((size_t)(yy - cur_y0) * cur_w + cur_col0) * 3, (size_t)bw * 3);
    free(tmp);
    free(acc);
    taps_free(&th);
    taps_free(&tv);
    out->rgb = res;
    out->width = bw;
    out->height = bh;
    return CS_OK;
nomem:
    free(tmp);
    free(acc);
    free(res);
    taps_free(&th);
    taps_free(&tv);
    return cs_fail(err, CS_ENOMEM, "out of memory resizing %dx%d to %dx%d", in->width, in->height,
                   out_w, out_h);
}

cs_status cs_resize_bicubic(const cs_image *in, int out_w, int out_h, cs_image *out,
                            cs_error *err) {
    return cs_resize_bicubic_box(in, out_w, out_h, 0, 0, out_w, out_h, out, err);
}
