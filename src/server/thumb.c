/* server/thumb.c - the thumbnail resize (see thumb.h). */
#include "server/thumb.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* ---- resizing ----------------------------------------------------------------
 * Separable resampling: every output sample of a pass is a weighted sum of a
 * window of input samples. The windows and their weights are computed once
 * per pass (not in the pixel loop). */

typedef struct window {
    int start, n; /* input samples [start, start + n) */
    int off;      /* where its n weights start in the weight array */
} window;

/* Windows for resampling `in` samples to `out` (out <= in): a triangle filter
 * whose support grows with the reduction factor (an area-like average). */
static int make_windows(int in, int out, window **wins, float **weights) {
    double scale = (double)in / out;
    double support = scale > 1.0 ? scale : 1.0;
    int max_n = (int)ceil(support) * 2 + 1;
    *wins = malloc(sizeof(window) * (size_t)out);
    *weights = malloc(sizeof(float) * (size_t)out * (size_t)max_n);
    if (!*wins || !*weights) return 0;
    for (int o = 0; o < out; o++) {
        double centre = (o + 0.5) * scale;
        int lo = (int)floor(centre - support), hi = (int)ceil(centre + support);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        if (hi - lo > max_n) hi = lo + max_n;
        float *w = *weights + (size_t)o * (size_t)max_n;
        double sum = 0;
        for (int i = lo; i < hi; i++) {
            double d = fabs((i + 0.5 - centre) / support);
            double v = d < 1.0 ? 1.0 - d : 0.0;
            w[i - lo] = (float)v;
            sum += v;
        }
        if (sum <= 0) { /* cannot happen for out <= in, but never divide by 0 */
            w[0] = 1.0f;
            hi = lo + 1;
            sum = 1.0;
        }
        for (int i = lo; i < hi; i++) w[i - lo] = (float)(w[i - lo] / sum);
        (*wins)[o] = (window){lo, hi - lo, o * max_n};
    }
    return 1;
}

static uint8_t clamp_u8(float v) {
    return v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)(v + 0.5f);
}

cs_status cs_srv_image_fit(const cs_image *in, int max_side, cs_image *out, cs_error *err) {
    memset(out, 0, sizeof *out);
    if (!in->rgb || in->width <= 0 || in->height <= 0 || max_side <= 0)
        return cs_fail(err, CS_EINVAL, "thumbnail: empty image");
    int w = in->width, h = in->height;
    int ow = w, oh = h;
    if (w > max_side || h > max_side) {
        if (w >= h) {
            ow = max_side;
            oh = (int)((double)h * max_side / w + 0.5);
        } else {
            oh = max_side;
            ow = (int)((double)w * max_side / h + 0.5);
        }
        if (ow < 1) ow = 1;
        if (oh < 1) oh = 1;
    }
    window *wx = NULL, *wy = NULL;
    float *kx = NULL, *ky = NULL;
    float *tmp = malloc(sizeof(float) * 3 * (size_t)ow * (size_t)h); /* h x ow x 3 */
    uint8_t *dst = malloc(3 * (size_t)ow * (size_t)oh);
    cs_status st = CS_OK;
    if (!tmp || !dst || !make_windows(w, ow, &wx, &kx) || !make_windows(h, oh, &wy, &ky)) {
        st = cs_fail(err, CS_ENOMEM, "thumbnail: out of memory for %dx%d", w, h);
        goto done;
    }
    /* horizontal: in (h x w x 3, u8) -> tmp (h x ow x 3, float) */
    for (int y = 0; y < h; y++) {
        const uint8_t *row = in->rgb + (size_t)y * (size_t)w * 3;
        float *trow = tmp + (size_t)y * (size_t)ow * 3;
        for (int x = 0; x < ow; x++) {
            const window *win = &wx[x];
            const float *k = kx + win->off;
            float r = 0, g = 0, b = 0;
            for (int i = 0; i < win->n; i++) {
                const uint8_t *p = row + (size_t)(win->start + i) * 3;
                r += k[i] * p[0];
                g += k[i] * p[1];
                b += k[i] * p[2];
            }
            trow[3 * x] = r, trow[3 * x + 1] = g, trow[3 * x + 2] = b;
        }
    }
    /* vertical: tmp (h x ow x 3) -> dst (oh x ow x 3, u8) */
    for (int y = 0; y < oh; y++) {
        const window *win = &wy[y];
        const float *k = ky + win->off;
        uint8_t *drow = dst + (size_t)y * (size_t)ow * 3;
        for (int x = 0; x < 3 * ow; x++) {
            float v = 0;
            for (int i = 0; i < win->n; i++)
                v += k[i] * tmp[(size_t)(win->start + i) * (size_t)ow * 3 + (size_t)x];
            drow[x] = clamp_u8(v);
        }
    }
    out->width = ow;
    out->height = oh;
    out->rgb = dst;
    dst = NULL;
done:
    free(tmp);
    free(dst);
    free(wx);
    free(wy);
    free(kx);
    free(ky);
    return st;
}
