/* tests/kernels/test_gemm_lp.c - the BF16 and int8 GEMM (kernels/gemm_lp.h)
 * against a float64 product of the unrounded x and W: each element within
 * the bound that the rounding allows (BF16: 2^-7 of the sum of |products|;
 * int8: half a step of W's row and of x's block, per product), on shapes
 * whose edges are not multiples of the tiles, with bias, accumulate and a
 * fused activation. Rows alone give the same bits as in a batch, 1 and 2
 * threads agree, and the int8 AVX-512 VNNI kernel gives the portable one's
 * bits. The AVX-512 kernels run where the CPU has the extension (else the
 * portable ones only, and the test says so). */
#include <math.h>
#include <stdint.h>

#include "core/pool.h"
#include "core/cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_lp.h"
#include "kernels/vecops.h"
#include "test.h"

static uint32_t rng = 777;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) / 16777216.0 - 0.5);
}

typedef struct wsrc {
    const float *w;
    int k;
} wsrc;

static void get_row(const void *ctx, int r, float *out) {
    const wsrc *s = ctx;
    memcpy(out, s->w + (size_t)r * s->k, (size_t)s->k * sizeof(float));
}

static uint8_t *pack(cs_lp_type type, int n, int k, const float *w, cs_lp_panels *pk) {
    uint8_t *out = aligned_alloc(64, cs_lp_bytes(type, n, k));
    float *row = malloc(2 * (size_t)k * sizeof(float) + 64);
    wsrc s = {w, k};
    cs_lp_pack(type, n, k, get_row, &s, row, out, pk);
    free(row);
    return out;
}

/* The largest error the rounding allows in y[i, j] (before the activation). */
static double bound(cs_lp_type type, const float *x, const float *w, int i, int j, int k) {
    double e = 0, sw = 0;
    const float *xr = x + (size_t)i * k, *wr = w + (size_t)j * k;
    for (int p = 0; p < k; p++) sw = fmax(sw, fabs(wr[p]) / 127);
    for (int p0 = 0; p0 < k; p0 += CS_LP_KB) {
        int p1 = p0 + CS_LP_KB < k ? p0 + CS_LP_KB : k;
        double lo = xr[p0], hi = xr[p0];
        for (int p = p0; p < p1; p++) lo = fmin(lo, xr[p]), hi = fmax(hi, xr[p]);
        double sx = (hi - lo) / 255;
        for (int p = p0; p < p1; p++) {
            double a = fabs(xr[p]), b = fabs(wr[p]);
            e += type == CS_LP_BF16 ? a * b * ldexp(1, -7) : a * sw / 2 + (b + sw / 2) * sx / 2;
        }
    }
    return e * 1.01 + 1e-6;
}

static void check_case(cs_pool *pool, cs_lp_type type, int m, int n, int k, int flags) {
    float *x = malloc((size_t)m * k * sizeof(float)), *w = malloc((size_t)n * k * sizeof(float));
    float *b = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)m * n * sizeof(float));
    float *y0 = malloc((size_t)m * n * sizeof(float)), *y1 = malloc((size_t)m * n * sizeof(float));
    for (size_t i = 0; i < (size_t)m * k; i++) x[i] = frand() * (i % 13 == 0 ? 8 : 1);
    for (size_t i = 0; i < (size_t)n * k; i++) w[i] = frand();
    for (int j = 0; j < n; j++) b[j] = frand();
    for (size_t i = 0; i < (size_t)m * n; i++) y[i] = y0[i] = frand();
    cs_lp_panels pk;
    uint8_t *panels = pack(type, n, k, w, &pk);
    cs_error err = {0};
    CHECK_OK(cs_gemm_lp(pool, m, x, k, &pk, b, y, n, flags, &err), &err);
    int bad = 0;
    for (int i = 0; i < m && !bad; i++)
        for (int j = 0; j < n && !bad; j++) {
            double s = b[j];
            for (int p = 0; p < k; p++) s += (double)x[(size_t)i * k + p] * w[(size_t)j * k + p];
            double tol = bound(type, x, w, i, j, k);
            if (flags & CS_GEMM_ACCUMULATE) s += y0[(size_t)i * n + j];
            if (flags & CS_GEMM_QUICK_GELU) { /* |d/dx x sigmoid(1.702 x)| < 1.13 */
                s = s / (1 + exp(-1.702 * s));
                tol = tol * 1.13 + 1e-5;
            }
            double got = y[(size_t)i * n + j];
            if (!(fabs(got - s) <= tol)) {
                bad = 1;
                CHECK_MSG(
                    0,
                    "type %d native %d m=%d n=%d k=%d flags=%d: y[%d,%d] = %.7g, want %.7g +- %.3g",
                    type, cs_lp_native(type), m, n, k, flags, i, j, got, s, tol);
            }
        }
    /* each row alone, on no pool: the same bits */
    memcpy(y1, y0, (size_t)m * n * sizeof(float));
    for (int i = 0; i < m; i += 1 + m / 4)
        CHECK_OK(
            cs_gemm_lp(NULL, 1, x + (size_t)i * k, k, &pk, b, y1 + (size_t)i * n, n, flags, &err),
            &err);
    for (int i = 0; i < m; i += 1 + m / 4)
        CHECK_MSG(!memcmp(y1 + (size_t)i * n, y + (size_t)i * n, (size_t)n * sizeof(float)),
                  "type %d m=%d n=%d k=%d: row %d alone differs from the batch", type, m, n, k, i);
    free(x), free(w), free(b), free(y), free(y0), free(y1), free(panels);
}

/* int8: the portable kernel (CLIPSEARCH_CPU=avx512 hides both VNNI kernels)
 * gives the bits of the one CLIPSEARCH_CPU=cpu runs (NULL: the default). */
static void check_same_bits(cs_pool *pool, const char *cpu) {
    int m = 13, n = 130, k = 600;
    float *x = malloc((size_t)m * k * sizeof(float)), *w = malloc((size_t)n * k * sizeof(float));
    float *y = calloc((size_t)m * n, sizeof(float)), *y1 = calloc((size_t)m * n, sizeof(float));
    for (size_t i = 0; i < (size_t)m * k; i++) x[i] = frand();
    for (size_t i = 0; i < (size_t)n * k; i++) w[i] = frand();
    cs_lp_panels pk;
    uint8_t *panels = pack(CS_LP_I8, n, k, w, &pk);
    cs_error err = {0};
    if (cpu) setenv("CLIPSEARCH_CPU", cpu, 1);
    cs_cpu_level_reload();
    const char *kernel = cs_lp_kernel_name(CS_LP_I8);
    CHECK_OK(cs_gemm_lp(pool, m, x, k, &pk, NULL, y, n, 0, &err), &err);
    setenv("CLIPSEARCH_CPU", "avx512", 1);
    cs_cpu_level_reload();
    CHECK(!cs_lp_native(CS_LP_I8));
    CHECK_OK(cs_gemm_lp(pool, m, x, k, &pk, NULL, y1, n, 0, &err), &err);
    CHECK_MSG(!memcmp(y, y1, (size_t)m * n * sizeof(float)), "int8: %s and portable differ",
              kernel);
    unsetenv("CLIPSEARCH_CPU");
    cs_cpu_level_reload();
    free(x), free(w), free(y), free(y1), free(panels);
}

/* full: every shape; else (the portable kernels, slow under sanitizers)
 * the edges of each dimension once. */
static void run_all(cs_pool *pool, int full, cs_lp_type first) {
    static const int ms[] = {1, 5, 6, 7, 50};
    static const int ns[] = {1, 17, 64, 130};
    static const int ks[] = {1, 7, 129, 300, 600};
    if (!full) {
        for (int type = first; type <= CS_LP_I8; type++) {
            check_case(NULL, (cs_lp_type)type, 7, 130, 7, 0);
            check_case(pool, (cs_lp_type)type, 5, 17, 300, CS_GEMM_ACCUMULATE);
            check_case(pool, (cs_lp_type)type, 13, 64, 600, CS_GEMM_QUICK_GELU);
        }
        return;
    }
    for (int type = first; type <= CS_LP_I8; type++) {
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t c = 0; c < sizeof ns / sizeof *ns; c++)
                for (size_t d = 0; d < sizeof ks / sizeof *ks; d++)
                    check_case((a + c + d) % 2 ? pool : NULL, (cs_lp_type)type, ms[a], ns[c], ks[d],
                               (int)(a + c + d) % 3 == 0 ? CS_GEMM_ACCUMULATE : 0);
        check_case(pool, (cs_lp_type)type, 61, 130, 300, CS_GEMM_QUICK_GELU);
        check_case(pool, (cs_lp_type)type, 100, 300, 768, CS_GEMM_ACCUMULATE); /* 2 x 50 tokens */
        check_case(pool, (cs_lp_type)type, 600, 70, 40, 0);                    /* two row blocks */
    }
}

int main(void) {
    cs_pool *pool = cs_pool_create(2);
    CHECK(pool != NULL);
    int bf16 = cs_lp_native(CS_LP_BF16), vnni = cs_lp_native(CS_LP_I8);
    printf("AVX512_BF16: %s, AVX-512 VNNI: %s\n", bf16 ? "yes" : "no (portable kernel only)",
           vnni ? "yes" : "no (portable kernel only)");
    run_all(pool, 1, CS_LP_BF16);
    if (bf16 || vnni) { /* and the portable kernels too */
        setenv("CLIPSEARCH_CPU", "avx512", 1);
        cs_cpu_level_reload();
        run_all(pool, 0, CS_LP_BF16);
        unsetenv("CLIPSEARCH_CPU");
        cs_cpu_level_reload();
    }
    if (vnni) check_same_bits(pool, NULL);
    if (cs_cpu_has(CS_CPU_AVXVNNI)) { /* the AVX-VNNI kernel, as on a CPU without AVX-512 */
        setenv("CLIPSEARCH_CPU", "avx2-vnni", 1);
        cs_cpu_level_reload();
        printf("AVX-VNNI: yes (int8 kernel %s)\n", cs_lp_kernel_name(CS_LP_I8));
        CHECK(!strcmp(cs_lp_kernel_name(CS_LP_I8), "avx2-vnni"));
        run_all(pool, 1, CS_LP_I8);
        check_same_bits(pool, "avx2-vnni");
        unsetenv("CLIPSEARCH_CPU");
        cs_cpu_level_reload();
    }
    cs_pool_free(pool);
    return cs_test_done("gemm_lp");
}
