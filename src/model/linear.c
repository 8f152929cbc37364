/* model/linear.c - y = x . W^T + b, cache-blocked, threaded over tiles.
 *
 * Blocking (for one task = an m-block x an n-block of y):
 *   for each k-block of KC:                 W slice [NC x KC] -> packed panels
 *     for each mr rows of x in the m-block:  (x rows stay in L1)
 *       for each nr-wide panel:              micro-kernel: acc[mr][nr] over KC
 *         y tile += acc                      (bias added on the first k-block)
 * The packed slice (NC * KC floats = 128 KB) stays in L2 while every row
 * block of the task streams over it; packing also converts F16/BF16 to F32,
 * so the micro-kernels only ever see floats. */
#include "model/linear.h"

#include <string.h>

#include "model/cpu.h"
#include "model/gemm.h"

#define KC     256 /* k-block: the depth of one packed slice */
#define NC     128 /* n-block: columns of y per task */
#define MB     240 /* m-block: rows of y per task (a multiple of every mr) */
#define MAX_MR 8
#define MAX_NR 16

/* ---- dtype conversion (portable) -------------------------------------------- */

static inline float f16_to_f32(uint16_t h) {
    /* Shift the exponent and mantissa into place and rescale by 2^112: this
     * is exact for normal and subnormal halves; inf/NaN are patched after. */
    uint32_t em = (uint32_t)(h & 0x7fff) << 13, bits;
    float f;
    memcpy(&f, &em, 4);
    f *= 0x1p112f;
    memcpy(&bits, &f, 4);
    if ((h & 0x7c00) == 0x7c00) bits = em | 0x7f800000u;
    bits |= (uint32_t)(h & 0x8000) << 16;
    memcpy(&f, &bits, 4);
    return f;
}

static void convert_portable(const void *src, cs_dtype dt, size_t n, float *dst) {
    if (dt == CS_DT_F32) {
        memcpy(dst, src, n * sizeof(float));
    } else if (dt == CS_DT_F16) {
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(s[i]);
    } else { /* BF16: the top half of an F32 */
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++) {
            uint32_t b = (uint32_t)s[i] << 16;
            memcpy(&dst[i], &b, 4);
        }
    }
}

/* ---- the portable micro-kernel: 4 x 8, GCC/Clang vector extensions ---------- */

typedef float v4 __attribute__((vector_size(16)));

static void micro_4x8(int kc, const float *const *xr, const float *panel, float *acc) {
    v4 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
    const float *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3];
    for (int p = 0; p < kc; p++) {
        v4 b0, b1;
        memcpy(&b0, panel + 8 * p, 16);
        memcpy(&b1, panel + 8 * p + 4, 16);
        c00 += x0[p] * b0, c01 += x0[p] * b1;
        c10 += x1[p] * b0, c11 += x1[p] * b1;
        c20 += x2[p] * b0, c21 += x2[p] * b1;
        c30 += x3[p] * b0, c31 += x3[p] * b1;
    }
    v4 out[8] = {c00, c01, c10, c11, c20, c21, c30, c31};
    memcpy(acc, out, sizeof out);
}

static const cs_gemm_kernel gemm_portable = {4, 8, micro_4x8, convert_portable};

static const cs_gemm_kernel *pick_kernel(void) {
#ifdef CS_HAVE_AVX2_KERNEL
    if (cs_cpu_level_get() >= CS_CPU_AVX2) return &cs_gemm_avx2;
#endif
    return &gemm_portable;
}

void cs_to_f32(const void *src, cs_dtype dt, size_t n, float *dst) {
    pick_kernel()->convert(src, dt, n, dst);
}

void cs_weight_row(const cs_weight *w, int r, float *out) {
    size_t el = cs_dtype_size(w->dtype);
    cs_to_f32((const char *)w->data + (size_t)r * (size_t)w->k * el, w->dtype, (size_t)w->k, out);
}

/* ---- the driver ------------------------------------------------------------- */

typedef struct linear_job {
    const cs_gemm_kernel *kern;
    const float *x;
    int m;
    const cs_weight *w;
    const float *bias;
    float *y;
    int m_blocks, n_blocks;
    int add; /* y += ... */
} linear_job;

/* panel[p][kk][j] = W[n0 + p*nr + j][k0 + kk], zero beyond n. */
static void pack(const linear_job *J, int n0, int nc, int k0, int kc, float *panel) {
    const cs_weight *w = J->w;
    int nr = J->kern->nr;
    size_t el = cs_dtype_size(w->dtype);
    float row[KC];
    int panels = (nc + nr - 1) / nr;
    for (int j = 0; j < panels * nr; j++) {
        float *dst = panel + (size_t)(j / nr) * kc * nr + (j % nr);
        if (j < nc) {
            const char *src = (const char *)w->data + ((size_t)(n0 + j) * w->k + k0) * el;
            J->kern->convert(src, w->dtype, (size_t)kc, row);
            for (int kk = 0; kk < kc; kk++) dst[(size_t)kk * nr] = row[kk];
        } else {
            for (int kk = 0; kk < kc; kk++) dst[(size_t)kk * nr] = 0.0f;
        }
    }
}

static void linear_task(void *ctx, int task, int worker) {
    (void)worker;
    const linear_job *J = ctx;
    const cs_weight *w = J->w;
    const cs_gemm_kernel *K = J->kern;
    int mr = K->mr, nr = K->nr, n = w->n, k = w->k;
    int mb = task % J->m_blocks, nb = task / J->m_blocks;
    int m0 = mb * MB, m1 = m0 + MB < J->m ? m0 + MB : J->m;
    int n0 = nb * NC, nc = n0 + NC < n ? NC : n - n0;
    int panels = (nc + nr - 1) / nr;
    float panel[NC * KC] __attribute__((aligned(64)));
    float acc[MAX_MR * MAX_NR] __attribute__((aligned(64)));

    for (int k0 = 0; k0 < k; k0 += KC) {
        int kc = k0 + KC < k ? KC : k - k0;
        pack(J, n0, nc, k0, kc, panel);
        for (int i0 = m0; i0 < m1; i0 += mr) {
            int mv = i0 + mr < m1 ? mr : m1 - i0;
            const float *xr[MAX_MR];
            /* rows past the end repeat the last one; their results are dropped */
            for (int r = 0; r < mr; r++)
                xr[r] = J->x + (size_t)(r < mv ? i0 + r : i0 + mv - 1) * k + k0;
            for (int p = 0; p < panels; p++) {
                K->micro(kc, xr, panel + (size_t)p * kc * nr, acc);
                int c0 = n0 + p * nr, nv = c0 + nr <= n0 + nc ? nr : n0 + nc - c0;
                for (int r = 0; r < mv; r++) {
                    float *yr = J->y + (size_t)(i0 + r) * n + c0;
                    const float *ar = acc + r * nr;
                    if (k0 > 0) {
                        for (int j = 0; j < nv; j++) yr[j] += ar[j];
                    } else if (J->add) {
                        for (int j = 0; j < nv; j++)
                            yr[j] += (J->bias ? J->bias[c0 + j] : 0.0f) + ar[j];
                    } else if (J->bias) {
                        for (int j = 0; j < nv; j++) yr[j] = J->bias[c0 + j] + ar[j];
                    } else {
                        for (int j = 0; j < nv; j++) yr[j] = ar[j];
                    }
                }
            }
        }
    }
}

static void linear(cs_pool *pool, const float *x, int m, const cs_weight *w, const float *bias,
                   float *y, int add) {
    if (m <= 0 || w->n <= 0) return;
    /* The tuned kernels (model/gemm.c); this file's driver below remains the
     * fallback when their scratch cannot be allocated. */
    cs_gemm_type wt = w->dtype == CS_DT_F16    ? CS_GEMM_F16
                      : w->dtype == CS_DT_BF16 ? CS_GEMM_BF16
                                               : CS_GEMM_F32;
    if (cs_gemm(pool, m, w->n, w->k, x, (size_t)w->k, w->data, (size_t)w->k, wt, bias, y,
                (size_t)w->n, add ? CS_GEMM_ACCUMULATE : 0, NULL) == CS_OK)
        return;
    if (w->k <= 0) { /* an empty sum: y = b */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < w->n; j++) {
                float v = bias ? bias[j] : 0.0f;
                y[(size_t)i * w->n + j] = add ? y[(size_t)i * w->n + j] + v : v;
            }
        return;
    }
    linear_job J = {pick_kernel(), x, m, w, bias, y, (m + MB - 1) / MB, (w->n + NC - 1) / NC, add};
    cs_pool_for(pool, J.m_blocks * J.n_blocks, linear_task, &J);
}

void cs_linear(cs_pool *pool, const float *x, int m, const cs_weight *w, const float *bias,
               float *y) {
    linear(pool, x, m, w, bias, y, 0);
}

void cs_linear_add(cs_pool *pool, const float *x, int m, const cs_weight *w, const float *bias,
                   float *y) {
    linear(pool, x, m, w, bias, y, 1);
}
