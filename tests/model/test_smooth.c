/* tests/model/test_smooth.c - outlier channels of a layer norm moved into
 * the next matrix for the int8 kernels (model/smooth.c): the scales pick
 * exactly the channels far above the median size, by sqrt of their ratio;
 * and where two such channels cost the int8 product x W^T accuracy, the
 * product of the moved pair, (x / s) (W diag(s))^T, wins most of it back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm_lp.h"
#include "model/smooth.h"
#include "test.h"

enum { M = 24, N = 96, D = 512 };

static uint32_t rng = 99;
static float frand(void) { /* about N(0, 1): a sum of four uniforms */
    float s = 0;
    for (int i = 0; i < 4; i++) {
        rng = rng * 1664525u + 1013904223u;
        s += (float)((rng >> 8) / 16777216.0 - 0.5);
    }
    return s * 1.7320508f;
}

typedef struct wsrc {
    const float *w;
} wsrc;

static void get_row(const void *ctx, int r, float *out) {
    memcpy(out, ((const wsrc *)ctx)->w + (size_t)r * D, D * sizeof(float));
}

/* The relative error (Frobenius) of the int8 product x W^T against the
 * exact one, ref. */
static double int8_error(const float *x, const float *w, const double *ref) {
    cs_lp_panels pk;
    uint8_t *panels = aligned_alloc(64, cs_lp_bytes(CS_LP_I8, N, D));
    float *row = malloc(2 * D * sizeof(float)), *y = malloc(M * N * sizeof(float));
    wsrc s = {w};
    cs_lp_pack(CS_LP_I8, N, D, get_row, &s, row, panels, &pk);
    cs_error err;
    CHECK_OK(cs_gemm_lp(NULL, M, x, D, &pk, NULL, y, N, 0, &err), &err);
    double num = 0, den = 0;
    for (int i = 0; i < M * N; i++)
        num += (y[i] - ref[i]) * (y[i] - ref[i]), den += ref[i] * ref[i];
    free(panels), free(row), free(y);
    return sqrt(num / den);
}

static void check_scales(void) {
    static float g[D], b[D], s[D];
    for (int p = 0; p < D; p++) g[p] = 1.0f + 0.1f * (float)(p % 5) / 5, b[p] = 0.01f;
    g[3] = 10.0f, g[40] = -20.0f, b[7] = 15.0f; /* sizes 2|g| + |b| of 20, 40, 17 */
    CHECK_EQ_INT(cs_smooth_scales(g, b, D, s), 3);
    float median = 2.0f * 1.04f + 0.01f; /* of the ordinary channels' 2|g| + |b| */
    CHECK(fabsf(s[3] - sqrtf(20.01f / median)) < 1e-4f);
    CHECK(fabsf(s[40] - sqrtf(40.01f / median)) < 1e-4f);
    CHECK(fabsf(s[7] - sqrtf((2 * g[7] + 15.0f) / median)) < 1e-4f);
    for (int p = 0; p < D; p++)
        if (p != 3 && p != 40 && p != 7) CHECK_MSG(s[p] == 1.0f, "channel %d moved", p);
    for (int p = 0; p < D; p++) g[p] = 1.0f, b[p] = 0.0f;
    CHECK_EQ_INT(cs_smooth_scales(g, b, D, s), 0); /* nothing stands out */
}

/* x = n g + b (n about N(0, 1)) and x W^T exactly, in ref. */
static void norm_output(const float *n, const float *g, const float *b, const float *w, float *x,
                        double *ref) {
    for (int i = 0; i < M * D; i++) x[i] = n[i] * g[i % D] + b[i % D];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double a = 0;
            for (int p = 0; p < D; p++) a += (double)x[i * D + p] * w[j * D + p];
            ref[i * N + j] = a;
        }
}

/* Two outlier channels cost int8 accuracy; moved, most of it comes back. */
static void check_product(void) {
    static float n[M * D], g[D], b[D], s[D], x[M * D], w[N * D], xs[M * D], ws[N * D];
    static double ref[M * N];
    for (int i = 0; i < M * D; i++) n[i] = frand();
    for (int i = 0; i < N * D; i++) w[i] = 0.05f * frand();
    for (int p = 0; p < D; p++) g[p] = 0.8f + 0.4f * (float)(p % 7) / 7, b[p] = 0.05f * frand();
    norm_output(n, g, b, w, x, ref);
    double none = int8_error(x, w, ref);
    g[17] = 12.0f, g[301] = -9.0f; /* two outlier channels, as trained norms make */
    norm_output(n, g, b, w, x, ref);
    CHECK_EQ_INT(cs_smooth_scales(g, b, D, s), 2);
    for (int i = 0; i < M * D; i++) xs[i] = x[i] / s[i % D];
    for (int i = 0; i < N * D; i++) ws[i] = w[i] * s[i % D];
    double before = int8_error(x, w, ref), after = int8_error(xs, ws, ref);
    printf("int8 relative error: %.5f without outliers; with two, %.5f as they are, %.5f moved\n",
           none, before, after);
    CHECK_MSG(before > 1.3 * none, "the outliers should cost accuracy (%.5f, %.5f)", none, before);
    CHECK_MSG(after - none < 0.5 * (before - none),
              "moving the outliers won back less than half of what they cost (%.5f -> %.5f, "
              "%.5f without)",
              before, after, none);
}

int main(void) {
    check_scales();
    check_product();
    return cs_test_done("model.smooth");
}
