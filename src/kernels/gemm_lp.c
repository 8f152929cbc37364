/* kernels/gemm_lp.c - the lower-precision GEMM's driver, packer and portable
 * kernels (see gemm_lp.h; the AVX-512 kernels are gemm_bf16.c and
 * gemm_vnni.c).
 *
 * The same blocking as the F32 driver (gemm.c) with W always packed: each
 * task owns a slice of columns and sweeps all its rows, one block of
 * CS_LP_KB steps of k at a time, so the panel's slice (64 columns x 256
 * steps: 32 KB in BF16, 16 KB in int8) stays in L1 while the row tiles
 * run over it, and the next panel is fetched into L2 meanwhile. x is
 * converted once per call, its rows split between the threads. */
#include "kernels/gemm_lp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/pool.h"
#include "core/cpu.h"
#include "kernels/gemm.h"
#include "core/scratch.h"
#include "kernels/vecops.h"

enum { NR = CS_LP_NR, KB = CS_LP_KB, MR = CS_LP_MR, STEP_BYTES = 4 * NR, CONVERT_ROWS = 16 };
/* steps of k per block for BF16 (int8: KB, also its quantisation block) */
#define KB_BF16 256

/* k steps one panel row holds: a pair of BF16 or a quad of int8. */
static int step_k(cs_lp_type t) {
    return t == CS_LP_BF16 ? 2 : 4;
}

static int round_up(int v, int to) {
    return (v + to - 1) / to * to;
}

static size_t line(size_t bytes) {
    return (bytes + 63) & ~(size_t)63;
}

size_t cs_lp_bytes(cs_lp_type type, int n, int k) {
    size_t np = (size_t)round_up(n, NR), kp = (size_t)round_up(k, step_k(type));
    size_t panels = np * kp * (type == CS_LP_BF16 ? 2 : 1);
    if (type == CS_LP_BF16) return line(panels);
    size_t blocks = (size_t)(k + KB - 1) / KB;
    return line(panels) + line(np * sizeof(float)) + line(blocks * np * sizeof(float));
}

int cs_lp_native(cs_lp_type type) {
    if (type == CS_LP_BF16) return cs_cpu_has(CS_CPU_BF16);
    return cs_cpu_has(CS_CPU_VNNI) || cs_cpu_has(CS_CPU_AVXVNNI);
}

const char *cs_lp_kernel_name(cs_lp_type type) {
    if (type == CS_LP_BF16) return cs_cpu_has(CS_CPU_BF16) ? "avx512-bf16" : "generic";
    if (cs_cpu_has(CS_CPU_VNNI)) return "avx512-vnni";
    return cs_cpu_has(CS_CPU_AVXVNNI) ? "avx2-vnni" : "generic";
}

/* ---- packing ------------------------------------------------------------ */

/* float to bfloat16, round to nearest even (what vcvtneps2bf16 does for the
 * finite values that weights are). */
static uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* NaN stays NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

void cs_lp_pack(cs_lp_type type, int n, int k, cs_lp_row_fn get_row, const void *ctx, float *row,
                uint8_t *out, cs_lp_panels *pk) {
    int sk = step_k(type), kp = round_up(k, sk), np = round_up(n, NR);
    size_t steps = (size_t)kp / (size_t)sk, panel_bytes = steps * STEP_BYTES;
    size_t all = (size_t)np / NR * panel_bytes;
    memset(out, 0, cs_lp_bytes(type, n, k)); /* padding columns and steps are zero */
    float *wscale = (float *)(void *)(out + line(all));
    float *colsum = (float *)(void *)(out + line(all) + line((size_t)np * sizeof(float)));
    for (int j = 0; j < n; j++) {
        get_row(ctx, j, row);
        uint8_t *panel = out + (size_t)(j / NR) * panel_bytes + (size_t)(j % NR) * 4;
        if (type == CS_LP_BF16) {
            for (int p = 0; p < k; p++) {
                uint16_t h = to_bf16(row[p]);
                memcpy(panel + (size_t)(p / 2) * STEP_BYTES + (size_t)(p % 2) * 2, &h, 2);
            }
            continue;
        }
        int8_t *q = (int8_t *)(void *)(row + k);
        wscale[j] = cs_vec_quantize_row(row, k, q);
        for (int p = 0; p < k; p++) {
            panel[(size_t)(p / 4) * STEP_BYTES + (size_t)(p % 4)] = (uint8_t)q[p];
            colsum[(size_t)(p / KB) * np + j] += (float)q[p];
        }
    }
    cs_lp_view(type, n, k, out, pk);
}

void cs_lp_view(cs_lp_type type, int n, int k, const uint8_t *packed, cs_lp_panels *pk) {
    int sk = step_k(type), kp = round_up(k, sk), np = round_up(n, NR);
    size_t all = (size_t)np / NR * ((size_t)kp / (size_t)sk * STEP_BYTES);
    const float *wscale = (const float *)(const void *)(packed + line(all));
    const float *colsum =
        (const float *)(const void *)(packed + line(all) + line((size_t)np * sizeof(float)));
    *pk = (cs_lp_panels){
        type, n, k, kp, packed, type == CS_LP_I8 ? wscale : NULL, type == CS_LP_I8 ? colsum : NULL};
}

/* ---- portable kernels (a CPU without the extension) --------------------- */

static float bf16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void micro_scalar(cs_lp_type type, int rows, int steps, const cs_lp_tile *t,
                         const uint8_t *b, const float *ws, const float *cs, float *c, size_t ldc,
                         int nv, const float *bias, int add) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < nv; j++) {
            const uint8_t *a = t->a + (size_t)i * t->lda;
            float r;
            if (type == CS_LP_BF16) {
                float acc = 0;
                for (int q = 0; q < steps; q++) {
                    const uint8_t *w = b + (size_t)q * STEP_BYTES + (size_t)j * 4;
                    acc = fmaf(bf16_at(a + 4 * q), bf16_at(w), acc);
                    acc = fmaf(bf16_at(a + 4 * q + 2), bf16_at(w + 2), acc);
                }
                r = bias ? acc + bias[j] : acc;
            } else {
                int32_t acc = 0;
                for (int q = 0; q < 4 * steps; q++)
                    acc += (int32_t)a[q] * (int8_t)b[(size_t)(q / 4) * STEP_BYTES + j * 4 + q % 4];
                float s = fmaf((float)acc, t->xs[i * t->lds], t->xlo[i * t->lds] * cs[j]);
                r = bias ? fmaf(s, ws[j], bias[j]) : s * ws[j];
            }
            c[(size_t)i * ldc + j] = add ? c[(size_t)i * ldc + j] + r : r;
        }
}

static void micro_bf16_scalar(int rows, int steps, const cs_lp_tile *t, const uint8_t *b,
                              const float *ws, const float *cs, float *c, size_t ldc, int nv,
                              const float *bias, int add) {
    micro_scalar(CS_LP_BF16, rows, steps, t, b, ws, cs, c, ldc, nv, bias, add);
}

static void micro_i8_scalar(int rows, int steps, const cs_lp_tile *t, const uint8_t *b,
                            const float *ws, const float *cs, float *c, size_t ldc, int nv,
                            const float *bias, int add) {
    micro_scalar(CS_LP_I8, rows, steps, t, b, ws, cs, c, ldc, nv, bias, add);
}

static void convert_bf16_scalar(const float *x, size_t ldx, int r0, int r1, int k, int kp,
                                uint8_t *out, size_t ldo, float *xs, float *xlo) {
    (void)xs, (void)xlo;
    for (int r = r0; r < r1; r++) {
        uint16_t *o = (uint16_t *)(void *)(out + (size_t)r * ldo);
        for (int p = 0; p < kp; p++) o[p] = p < k ? to_bf16(x[(size_t)r * ldx + p]) : 0;
    }
}

static void range_scalar(const float *x, int n, float *lo, float *hi) {
    float l = x[0], h = x[0];
    for (int p = 0; p < n; p++) l = x[p] < l ? x[p] : l, h = x[p] > h ? x[p] : h;
    *lo = l, *hi = h;
}

static void quant_scalar(const float *x, int n, float lo, float inv, uint8_t *u) {
    for (int p = 0; p < n; p++) {
        float v = nearbyintf((x[p] - lo) * inv);
        u[p] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

/* ---- the driver --------------------------------------------------------- */

typedef struct lp_job {
    const cs_lp_panels *pk;
    cs_lp_micro_fn micro;
    cs_lp_convert_fn convert; /* BF16 */
    cs_lp_range_fn range;     /* int8 */
    cs_lp_quant_fn quant;
    int m, nc, mt, m_tasks, tasks, flags, blocks, sk, kb;
    const float *x;
    size_t ldx;
    uint8_t *xa; /* converted activations */
    size_t lda;
    float *xs, *xlo; /* int8: [m][blocks] */
    const float *b;
    float *y;
    size_t ldy;
} lp_job;

/* int8 rows [r0, r1) of x: each block of KB steps as lo + s u, s = (hi -
 * lo) / 255, u = round((x - lo) / s); the padding steps zero. */
static void convert_i8(const lp_job *J, int r0, int r1) {
    int k = J->pk->k, blocks = (k + KB - 1) / KB;
    for (int r = r0; r < r1; r++) {
        const float *xr = J->x + (size_t)r * J->ldx;
        uint8_t *o = J->xa + (size_t)r * J->lda;
        for (int bl = 0; bl < blocks; bl++) {
            int p0 = bl * KB, n = p0 + KB < k ? KB : k - p0;
            float lo, hi;
            J->range(xr + p0, n, &lo, &hi);
            float inv = hi > lo ? 255.0f / (hi - lo) : 0.0f;
            J->xs[(size_t)r * blocks + bl] = (hi - lo) / 255.0f;
            J->xlo[(size_t)r * blocks + bl] = lo;
            J->quant(xr + p0, n, lo, inv, o + p0);
        }
        memset(o + k, 0, (size_t)(J->pk->kp - k));
    }
}

static void convert_task(void *ctx, int task, int worker) {
    (void)worker;
    lp_job *J = ctx;
    int r0 = task * CONVERT_ROWS, r1 = r0 + CONVERT_ROWS < J->m ? r0 + CONVERT_ROWS : J->m;
    if (J->range)
        convert_i8(J, r0, r1);
    else
        J->convert(J->x, J->ldx, r0, r1, J->pk->k, J->pk->kp, J->xa, J->lda, J->xs, J->xlo);
}

static void activate(const lp_job *J, int i, int rows, int j, int cols) {
    for (int r = i; r < i + rows; r++) {
        float *yr = J->y + (size_t)r * J->ldy + j;
        if (J->flags & CS_GEMM_QUICK_GELU)
            cs_vec_quick_gelu(yr, (size_t)cols);
        else if (J->flags & CS_GEMM_GELU)
            cs_vec_gelu(yr, (size_t)cols);
    }
}

/* Task: columns [j0, j0 + nc) and rows [r0, r0 + mt) of y. */
static void run_task(void *ctx, int task, int worker) {
    (void)worker;
    const lp_job *J = ctx;
    const cs_lp_panels *pk = J->pk;
    int tm = task % J->m_tasks, tn = task / J->m_tasks;
    int j0 = tn * J->nc, j1 = j0 + J->nc < pk->n ? j0 + J->nc : pk->n;
    int r0 = tm * J->mt, r1 = r0 + J->mt < J->m ? r0 + J->mt : J->m;
    size_t steps_all = (size_t)pk->kp / (size_t)J->sk, panel_bytes = steps_all * STEP_BYTES;
    int np = round_up(pk->n, NR);
    for (int bl = 0; bl < J->blocks; bl++) {
        int p0 = bl * J->kb, kc = pk->kp - p0 < J->kb ? pk->kp - p0 : J->kb, steps = kc / J->sk;
        int add = bl > 0 || (J->flags & CS_GEMM_ACCUMULATE);
        int last = bl == J->blocks - 1 && (J->flags & (CS_GEMM_QUICK_GELU | CS_GEMM_GELU));
        size_t a_off = (size_t)p0 * (pk->type == CS_LP_BF16 ? 2 : 1);
        for (int j = j0; j < j1; j += NR) {
            const uint8_t *panel =
                pk->p + (size_t)(j / NR) * panel_bytes + (size_t)(p0 / J->sk) * STEP_BYTES;
            /* the panel this task reads next, into L2 a slice per row tile */
            const uint8_t *next = j + NR < j1 ? panel + panel_bytes
                                  : bl + 1 < J->blocks
                                      ? pk->p + (size_t)(j0 / NR) * panel_bytes +
                                            (size_t)((p0 + J->kb) / J->sk) * STEP_BYTES
                                      : NULL;
            size_t lines = next ? (size_t)steps * STEP_BYTES / 64 : 0;
            int tiles = (r1 - r0 + MR - 1) / MR, nv = j1 - j < NR ? j1 - j : NR;
            const float *ws = pk->wscale ? pk->wscale + j : NULL;
            const float *cs = pk->colsum ? pk->colsum + (size_t)bl * np + j : NULL;
            const float *bias = bl == 0 && J->b ? J->b + j : NULL;
            for (int i = r0; i < r1; i += MR) {
                size_t per = (lines + (size_t)tiles - 1) / (size_t)tiles,
                       l = (size_t)(i - r0) / MR * per;
                for (size_t e = l + per < lines ? l + per : lines; l < e; l++)
                    __builtin_prefetch(next + l * 64, 0, 2);
                int rows = r1 - i < MR ? r1 - i : MR;
                cs_lp_tile t = {J->xa + (size_t)i * J->lda + a_off, J->lda,
                                J->xs ? J->xs + (size_t)i * J->blocks + bl : NULL,
                                J->xlo ? J->xlo + (size_t)i * J->blocks + bl : NULL,
                                (size_t)J->blocks};
                J->micro(rows, steps, &t, panel, ws, cs, J->y + (size_t)i * J->ldy + j, J->ldy, nv,
                         bias, add);
                if (last) activate(J, i, rows, j, nv);
            }
        }
    }
}

cs_status cs_gemm_lp(cs_pool *pool, int m, const float *x, size_t ldx, const cs_lp_panels *pk,
                     const float *b, float *y, size_t ldy, int flags, cs_error *err) {
    if (flags & CS_GEMM_W_KN) return cs_fail(err, CS_EINVAL, "cs_gemm_lp: W must be [n, k]");
    if (m <= 0 || pk->n <= 0) return CS_OK;
    int native = cs_lp_native(pk->type), bf16 = pk->type == CS_LP_BF16;
    lp_job J = {.pk = pk, .m = m, .flags = flags, .x = x, .ldx = ldx, .b = b, .y = y, .ldy = ldy};
    J.sk = step_k(pk->type);
    J.kb = bf16 ? KB_BF16 : KB;
    J.blocks = (pk->kp + J.kb - 1) / J.kb;
#if defined(__x86_64__) || defined(_M_X64)
    if (native && bf16) {
        J.micro = cs_lp_micro_bf16_avx512;
        J.convert = cs_lp_convert_bf16_avx512;
    } else if (native && cs_cpu_has(CS_CPU_VNNI)) {
        J.micro = cs_lp_micro_i8_avx512;
        J.range = cs_lp_range_avx512, J.quant = cs_lp_quant_avx512;
    } else if (native) {
        J.micro = cs_lp_micro_i8_avxvnni;
        J.range = cs_lp_range_avx2, J.quant = cs_lp_quant_avx2;
    }
#endif
    if (!J.micro) {
        (void)native;
        J.micro = bf16 ? micro_bf16_scalar : micro_i8_scalar;
        J.convert = bf16 ? convert_bf16_scalar : NULL;
        J.range = bf16 ? NULL : range_scalar, J.quant = bf16 ? NULL : quant_scalar;
    }
    J.lda = (size_t)pk->kp * (bf16 ? 2 : 1);
    size_t a_bytes = line((size_t)m * J.lda), s_floats = bf16 ? 0 : (size_t)m * J.blocks;
    size_t got = 0;
    J.xa = cs_scratch_get(a_bytes + 2 * line(s_floats * sizeof(float)) + 64, &got);
    if (!J.xa)
        return cs_fail(err, CS_ENOMEM, "matrix multiply %dx%dx%d: out of memory", m, pk->n, pk->k);
    if (!bf16) {
        J.xs = (float *)(void *)(J.xa + a_bytes);
        J.xlo = J.xs + line(s_floats * sizeof(float)) / sizeof(float);
    }
    cs_pool_for(pool, (m + CONVERT_ROWS - 1) / CONVERT_ROWS, convert_task, &J);
    /* two tasks per thread, each a multiple of NR columns; row blocks of at
     * most 512 rows (the task's block of y stays in L2 across the k blocks) */
    int threads = pool ? cs_pool_threads(pool) : 1;
    int nc = (pk->n + 2 * threads - 1) / (2 * threads);
    J.nc = round_up(nc, NR) > 256 ? 256 : round_up(nc, NR);
    J.m_tasks = (m + 511) / 512;
    J.mt = round_up((m + J.m_tasks - 1) / J.m_tasks, MR);
    J.m_tasks = (m + J.mt - 1) / J.mt;
    J.tasks = J.m_tasks * ((pk->n + J.nc - 1) / J.nc);
    cs_pool_for(pool, J.tasks, run_task, &J);
    cs_scratch_put(J.xa, got);
    return CS_OK;
}
