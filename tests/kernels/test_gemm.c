/* tests/kernels/test_gemm.c - every GEMM kernel this CPU runs (AVX-512, AVX2,
 * portable) against a float64 reference: F32/F16/BF16 weights, int8 with
 * a scale per row (cs_gemm_i8), both layouts, bias, accumulate, the small-m path, and shapes whose
 * edges are not multiples of the tiles; W packed beforehand (cs_gemm_pack) giving the same bits
 * as W packed per call, also when the kernel has changed since. Also the half-float conversion
 * on known bit patterns, and the activations at each level. */
#include <math.h>
#include <stdint.h>

#include "core/pool.h"
#include "core/cpu.h"
#include "kernels/dtype.h"
#include "kernels/gemm.h"
#include "kernels/gemm_kernel.h"
#include "kernels/vecops.h"
#include "test.h"

static uint32_t rng = 12345;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) / 16777216.0 - 0.5);
}

/* A random W of n*k elements of type wt; also its float value in wf (for
 * CS_DT_I8, before the row scales). */
static void *make_w(cs_dtype wt, size_t count, float *wf) {
    if (wt == CS_DT_I8) { /* -127..127 */
        int8_t *w = malloc(count);
        for (size_t i = 0; i < count; i++) {
            rng = rng * 1664525u + 1013904223u;
            w[i] = (int8_t)((int)((rng >> 8) % 255u) - 127);
            wf[i] = w[i];
        }
        return w;
    }
    if (wt == CS_DT_F32) {
        float *w = malloc(count * sizeof(float));
        for (size_t i = 0; i < count; i++) w[i] = wf[i] = frand();
        return w;
    }
    uint16_t *w = malloc(count * sizeof(uint16_t));
    for (size_t i = 0; i < count; i++) {
        rng = rng * 1664525u + 1013904223u;
        if (wt == CS_DT_F16) /* exponents 0..29: subnormals included, no inf/nan */
            w[i] = (uint16_t)((rng >> 16) & 0x8000) | (uint16_t)(((rng >> 8) % 30) << 10) |
                   (uint16_t)(rng & 0x3ff);
        else { /* bf16 of a value in [-0.5, 0.5) */
            union {
                float f;
                uint32_t u;
            } v = {.f = frand()};
            w[i] = (uint16_t)(v.u >> 16);
        }
        wf[i] = cs_gemm_load(w, wt, i);
    }
    return w;
}

static float *alloc_panels(int n, int k) { /* aligned_alloc wants whole 64-byte lines */
    return aligned_alloc(64, (cs_gemm_panels_floats(n, k) + 15) / 16 * 64);
}

/* W [n, k] packed beforehand gives y the same bits as cs_gemm(_i8) did
 * (y0: y before that call, yw: its result). */
static void check_packed(cs_pool *pool, int m, int n, int k, const float *x, size_t ldx,
                         const void *w, size_t ldw, cs_dtype wt, const float *scale, const float *b,
                         const float *y0, const float *yw, size_t ldy, int flags) {
    float *panels = alloc_panels(n, k);
    float *y = malloc((size_t)m * ldy * sizeof(float));
    memcpy(y, y0, (size_t)m * ldy * sizeof(float));
    cs_gemm_panels pk;
    cs_gemm_pack(n, k, w, ldw, wt, wt == CS_DT_I8 ? scale : NULL, panels, &pk);
    cs_error err = {0};
    CHECK_OK(cs_gemm_packed(pool, m, n, k, x, ldx, &pk, w, ldw, wt, wt == CS_DT_I8 ? scale : NULL,
                            b, y, ldy, flags, &err),
             &err);
    CHECK_MSG(!memcmp(y, yw, (size_t)m * ldy * sizeof(float)),
              "%s m=%d n=%d k=%d type=%d flags=%d: packed beforehand, other bits",
              cs_gemm_kernel_name(), m, n, k, wt, flags);
    free(panels), free(y);
}

static int check_case(cs_pool *pool, int m, int n, int k, cs_dtype wt, int flags, int bias) {
    size_t ldx = k + 3, ldy = n + 5, ldw = (flags & CS_GEMM_W_KN) ? n + 2 : k + 1;
    size_t wcount = (flags & CS_GEMM_W_KN) ? (size_t)k * ldw : (size_t)n * ldw;
    float *x = malloc((size_t)m * ldx * sizeof(float)), *wf = malloc(wcount * sizeof(float));
    float *b = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)m * ldy * sizeof(float));
    double *ref = malloc((size_t)m * n * sizeof(double)),
           *mag = malloc((size_t)m * n * sizeof(double));
    for (size_t i = 0; i < (size_t)m * ldx; i++) x[i] = frand();
    for (int j = 0; j < n; j++) b[j] = frand();
    for (size_t i = 0; i < (size_t)m * ldy; i++) y[i] = frand();
    void *w = make_w(wt, wcount, wf);
    float *scale = malloc((size_t)n * sizeof(float));
    for (int j = 0; j < n; j++) scale[j] = 0.001f + 0.01f * (frand() + 0.5f);
    if (wt == CS_DT_I8) /* the value the kernels use: float(q) * scale, in float */
        for (int j = 0; j < n; j++)
            for (int p = 0; p < k; p++) wf[(size_t)j * ldw + p] *= scale[j];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = bias ? b[j] : 0.0, a = fabs(s);
            if (flags & CS_GEMM_ACCUMULATE)
                s += y[(size_t)i * ldy + j], a += fabs(y[(size_t)i * ldy + j]);
            for (int p = 0; p < k; p++) {
                double wv =
                    (flags & CS_GEMM_W_KN) ? wf[(size_t)p * ldw + j] : wf[(size_t)j * ldw + p];
                s += (double)x[(size_t)i * ldx + p] * wv;
                a += fabs((double)x[(size_t)i * ldx + p] * wv);
            }
            if (flags & CS_GEMM_QUICK_GELU) s = s / (1.0 + exp(-1.702 * s));
            if (flags & CS_GEMM_GELU) s = 0.5 * s * (1.0 + erf(s / sqrt(2.0)));
            ref[(size_t)i * n + j] = s, mag[(size_t)i * n + j] = a;
        }
    float pad = y[(size_t)(m - 1) * ldy + n]; /* past the last column: must stay */
    float *y0 = malloc((size_t)m * ldy * sizeof(float));
    memcpy(y0, y, (size_t)m * ldy * sizeof(float));
    cs_error err = {0};
    if (wt == CS_DT_I8)
        CHECK_OK(
            cs_gemm_i8(pool, m, n, k, x, ldx, w, ldw, scale, bias ? b : NULL, y, ldy, flags, &err),
            &err);
    else
        CHECK_OK(cs_gemm(pool, m, n, k, x, ldx, w, ldw, wt, bias ? b : NULL, y, ldy, flags, &err),
                 &err);
    int bad = 0;
    for (int i = 0; i < m && !bad; i++)
        for (int j = 0; j < n && !bad; j++) {
            double d = fabs(y[(size_t)i * ldy + j] - ref[(size_t)i * n + j]);
            /* the activations' polynomial approximations: a few ulp */
            if (d > 1e-5 * mag[(size_t)i * n + j] + 1e-6 * fabs(ref[(size_t)i * n + j]) + 1e-30) {
                CHECK_MSG(0, "%s m=%d n=%d k=%d type=%d flags=%d bias=%d: y[%d,%d]=%g, want %g",
                          cs_gemm_kernel_name(), m, n, k, wt, flags, bias, i, j,
                          y[(size_t)i * ldy + j], ref[(size_t)i * n + j]);
                bad = 1;
            }
        }
    CHECK(y[(size_t)(m - 1) * ldy + n] == pad);
    if (!(flags & CS_GEMM_W_KN) && k > 0)
        check_packed(pool, m, n, k, x, ldx, w, ldw, wt, scale, bias ? b : NULL, y0, y, ldy, flags);
    free(x), free(wf), free(b), free(y), free(y0), free(ref), free(mag), free(w), free(scale);
    return bad;
}

/* y of rows 0..r-1 computed alone equals those rows computed among 40. */
static void check_invariant(cs_pool *pool, cs_dtype wt) {
    int m = 40, n = 100, k = 300;
    float *x = malloc((size_t)m * k * sizeof(float)), *wf = malloc((size_t)n * k * sizeof(float));
    float *b = malloc(n * sizeof(float)), *y = malloc((size_t)m * n * sizeof(float));
    float *y1 = malloc((size_t)m * n * sizeof(float));
    for (size_t i = 0; i < (size_t)m * k; i++) x[i] = frand();
    for (int j = 0; j < n; j++) b[j] = frand();
    void *w = make_w(wt, (size_t)n * k, wf);
    cs_error err = {0};
    for (int flags = 0; flags < 2; flags++) {
        for (size_t i = 0; i < (size_t)m * n; i++) y[i] = y1[i] = (float)i * 0.001f;
        CHECK_OK(cs_gemm(pool, m, n, k, x, k, w, k, wt, b, y, n, flags, &err), &err);
        for (int r = 1; r <= 8; r++) {
            for (size_t i = 0; i < (size_t)m * n; i++) y1[i] = (float)i * 0.001f;
            CHECK_OK(cs_gemm(NULL, r, n, k, x, k, w, k, wt, b, y1, n, flags, &err), &err);
            CHECK_MSG(!memcmp(y, y1, (size_t)r * n * sizeof(float)),
                      "%s: %d rows alone differ from the same rows among %d (type %d, flags %d)",
                      cs_gemm_kernel_name(), r, m, wt, flags);
        }
    }
    free(x), free(wf), free(b), free(y), free(y1), free(w);
}

/* A row to int8 at the current CPU level: its largest magnitude becomes
 * +-127, every value within half a step, NaN 0; an all-zero row gets scale
 * 1. q299 receives the row's result, which every level must give alike. */
static void check_quantize_row(int8_t q299[299]) {
    float w[299];
    int8_t q[299];
    uint32_t saved = rng;
    rng = 99;
    for (int i = 0; i < 299; i++) w[i] = frand() * 3.0f;
    rng = saved;
    w[17] = -2.54f; /* the largest */
    w[40] = NAN;
    float s = cs_vec_quantize_row(w, 299, q);
    CHECK(fabsf(s - 2.54f / 127.0f) < 1e-9f);
    CHECK_EQ_INT(q[17], -127);
    CHECK_EQ_INT(q[40], 0);
    for (int i = 0; i < 299; i++)
        if (i != 40)
            CHECK_MSG(fabsf((float)q[i] * s - w[i]) <= 0.5f * s * 1.0001f, "w[%d] = %g: q %d, s %g",
                      i, w[i], q[i], s);
    CHECK_MSG(!memcmp(q, q299, sizeof q) || q299[0] == -128, "%s: int8 row differs from generic's",
              cs_gemm_kernel_name());
    memcpy(q299, q, sizeof q);
    memset(w, 0, sizeof w);
    CHECK(cs_vec_quantize_row(w, 299, q) == 1.0f);
    for (int i = 0; i < 299; i++) CHECK_EQ_INT(q[i], 0);
}

/* Every half, by IEEE 754's definition, through cs_half_to_float and
 * through cs_to_f32 at every level this CPU runs (F16C or portable). */
static void check_every_half(void) {
    static uint16_t h[65536];
    static float got[65536];
    for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    const char *levels[] = {"generic", "avx2", "avx512"};
    int top = cs_cpu_level_get();
    for (int lv = 0; lv <= top; lv++) {
        setenv("CLIPSEARCH_CPU", levels[lv], 1);
        cs_cpu_level_reload();
        cs_to_f32(h, CS_DT_F16, 65536, got);
        for (int i = 0; i < 65536; i++) {
            int sign = i >> 15, exp = (i >> 10) & 0x1f, man = i & 0x3ff;
            double mag = exp == 0 ? ldexp(man, -24) : ldexp(1024 + man, exp - 25);
            float want = (float)(sign ? -mag : mag), one = cs_half_to_float(h[i]);
            if (exp == 0x1f) {
                CHECK_MSG(man ? isnan(one) && isnan(got[i]) : isinf(one) && isinf(got[i]),
                          "half 0x%04x: not inf/nan", i);
                CHECK(!!signbit(one) == sign && !!signbit(got[i]) == sign);
                continue;
            }
            CHECK_MSG(one == want && got[i] == want && !!signbit(one) == sign,
                      "half 0x%04x at %s: %g and %g, want %g", i, levels[lv], one, got[i], want);
        }
    }
    unsetenv("CLIPSEARCH_CPU");
    cs_cpu_level_reload();
}

/* The activations (cs_vec_quick_gelu, cs_vec_gelu) at every level this CPU
 * runs: within 1e-6 of float64 (relative, or absolute near zero), and the
 * AVX-512 ones the same bits as the AVX2 ones (the same steps, wider), at
 * lengths of every remainder mod 16 (the tails). */
static void check_activations(void) {
    enum { N = 1000 + 31, LENS = 16 };
    static float x[N], got[N], avx2[2][LENS][N];
    for (int i = 0; i < N; i++) x[i] = 24.0f * frand();
    x[0] = 0.0f, x[1] = -0.0f, x[2] = 90.0f, x[3] = -90.0f, x[4] = 1e-30f, x[5] = -7.5f;
    const char *levels[] = {"generic", "avx2", "avx512"};
    int top = cs_cpu_level_get();
    for (int lv = 0; lv <= top; lv++) {
        setenv("CLIPSEARCH_CPU", levels[lv], 1);
        cs_cpu_level_reload();
        for (int f = 0; f < 2; f++)
            for (int l = 0; l < LENS; l++) {
                int len = N - l;
                memcpy(got, x, sizeof x);
                (f ? cs_vec_gelu : cs_vec_quick_gelu)(got, (size_t)len);
                CHECK(!memcmp(got + len, x + len, (size_t)l * sizeof(float))); /* untouched */
                if (lv == CS_CPU_AVX2) memcpy(avx2[f][l], got, sizeof got);
                if (lv == CS_CPU_AVX512)
                    CHECK_MSG(!memcmp(avx2[f][l], got, sizeof got), "%s at length %d: not AVX2's",
                              f ? "gelu" : "quick_gelu", len);
                for (int i = 0; i < len; i++) {
                    double v = x[i], want = f ? 0.5 * v * (1.0 + erf(v / sqrt(2.0)))
                                              : v / (1.0 + exp(-1.702 * v));
                    CHECK_MSG(fabs(got[i] - want) <= 1e-6 * fmax(1.0, fabs(want)),
                              "%s %s(%g) = %.9g, want %.9g", levels[lv], f ? "gelu" : "quick_gelu",
                              v, got[i], want);
                }
            }
    }
    unsetenv("CLIPSEARCH_CPU");
    cs_cpu_level_reload();
}

int main(void) {
    check_every_half();
    check_activations();
    int8_t q299[299];
    q299[0] = -128; /* (no level yet) */
    /* Known half-float bit patterns, subnormals and specials included. */
    CHECK(cs_half_to_float(0x3c00) == 1.0f);
    CHECK(cs_half_to_float(0xc000) == -2.0f);
    CHECK(cs_half_to_float(0x7bff) == 65504.0f);
    CHECK(cs_half_to_float(0x0001) == ldexpf(1.0f, -24));
    CHECK(cs_half_to_float(0x03ff) == 1023.0f * ldexpf(1.0f, -24));
    CHECK(cs_half_to_float(0x8000) == 0.0f && signbit(cs_half_to_float(0x8000)));
    CHECK(isinf(cs_half_to_float(0x7c00)) && isnan(cs_half_to_float(0x7e00)));
    CHECK(cs_bf16_to_float(0x3f80) == 1.0f && cs_bf16_to_float(0xc040) == -3.0f);

    static const cs_dtype types[] = {CS_DT_F32, CS_DT_F16, CS_DT_BF16, CS_DT_I8};
    static const int ms[] = {1, 3, 8, 9, 50, 61};
    static const int ns[] = {1, 17, 64, 100, 130};
    static const int ks[] = {1, 7, 129, 300};
    const char *levels[] = {"generic", "avx2", "avx512"};
    cs_pool *pool = cs_pool_create(2);
    CHECK(pool != NULL);
    int top = cs_cpu_level_get();
    for (int lv = 0; lv <= top; lv++) {
        setenv("CLIPSEARCH_CPU", levels[lv], 1);
        cs_cpu_level_reload();
        CHECK(!strcmp(cs_gemm_kernel_name(), levels[lv]));
        check_quantize_row(q299);
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t c = 0; c < sizeof ns / sizeof *ns; c++)
                for (size_t d = 0; d < sizeof ks / sizeof *ks; d++)
                    for (int t = 0; t < 4; t++)
                        for (int flags = 0; flags < 4; flags++)
                            if (types[t] != CS_DT_I8 || !(flags & CS_GEMM_W_KN)) /* [n, k] only */
                                check_case((a + c + d) % 2 ? pool : NULL, ms[a], ns[c], ks[d],
                                           types[t], flags, (int)(a + d + flags) % 2);
        /* The ViT-B/32 shapes at two images (k beyond the panel depth). */
        check_case(pool, 100, 768, 768, CS_DT_F16, 0, 1);
        check_case(pool, 98, 256, 3072, CS_DT_F32, CS_GEMM_ACCUMULATE, 1);
        /* A few rows alone give the same bits as the same rows inside a
         * larger m (what makes a single embedding equal its batch's). */
        for (int t = 0; t < 3; t++) check_invariant(pool, types[t]);
        /* An activation fused into the product (each tile as it is finished),
         * with the other flags, partial tiles, and an empty sum (k = 0). */
        check_case(pool, 61, 130, 300, CS_DT_F32, CS_GEMM_QUICK_GELU, 1);
        check_case(NULL, 9, 100, 129, CS_DT_F16, CS_GEMM_GELU | CS_GEMM_ACCUMULATE, 1);
        check_case(pool, 50, 64, 7, CS_DT_BF16, CS_GEMM_QUICK_GELU | CS_GEMM_W_KN, 0);
        check_case(pool, 3, 17, 0, CS_DT_F32, CS_GEMM_GELU, 1);
        /* Tall: several row blocks per column block (and a partial last). */
        check_case(pool, 1100, 70, 40, CS_DT_BF16, 0, 1);
        check_case(pool, 100, 3072, 768, CS_DT_I8, CS_GEMM_QUICK_GELU, 1);
    }
    /* Panels packed for one kernel, used after the level changed: read from
     * W instead (the same bits as the new kernel's cs_gemm). */
    {
        int m = 9, n = 100, k = 300;
        float *x = malloc((size_t)m * k * sizeof(float)),
              *w = malloc((size_t)n * k * sizeof(float));
        float *y = calloc((size_t)m * n, sizeof(float)), *y1 = calloc((size_t)m * n, sizeof(float));
        for (size_t i = 0; i < (size_t)m * k; i++) x[i] = frand();
        for (size_t i = 0; i < (size_t)n * k; i++) w[i] = frand();
        float *panels = alloc_panels(n, k);
        cs_gemm_panels pk;
        cs_gemm_pack(n, k, w, k, CS_DT_F32, NULL, panels, &pk);
        for (size_t i = 0; i < cs_gemm_panels_floats(n, k); i++) panels[i] = NAN; /* unread */
        setenv("CLIPSEARCH_CPU", "generic", 1);
        cs_cpu_level_reload();
        cs_error e = {0};
        CHECK_OK(cs_gemm_packed(pool, m, n, k, x, k, &pk, w, k, CS_DT_F32, NULL, NULL, y, n, 0, &e),
                 &e);
        CHECK_OK(cs_gemm(pool, m, n, k, x, k, w, k, CS_DT_F32, NULL, y1, n, 0, &e), &e);
        CHECK(top == CS_CPU_GENERIC || !memcmp(y, y1, (size_t)m * n * sizeof(float)));
        free(x), free(w), free(y), free(y1), free(panels);
    }
    /* cs_gemm refuses int8 (it has no scales); cs_gemm_i8 wants them */
    cs_error err = {0};
    float one = 1;
    int8_t q = 1;
    CHECK_EQ_INT(cs_gemm(NULL, 1, 1, 1, &one, 1, &q, 1, CS_DT_I8, NULL, &one, 1, 0, &err),
                 CS_EINVAL);
    CHECK_EQ_INT(cs_gemm_i8(NULL, 1, 1, 1, &one, 1, &q, 1, NULL, NULL, &one, 1, 0, &err),
                 CS_EINVAL);
    cs_pool_free(pool);
    return cs_test_done("gemm");
}
