/* kernels/gemm.c - the GEMM driver: blocking, threads, kernel choice.
 *
 * Why our own kernels and not OpenBLAS (which FAISS uses): on the ViT-B/32
 * shapes they are on a par with OpenBLAS at its best kernels, and several
 * times faster than Debian's build where it misdetects the CPU and runs its
 * generic ones (bench/bench_gemm; figures in docs/performance.md), so the
 * points below cost nothing in speed:
 *  - they read F16 and BF16 weights directly (OpenBLAS sgemm needs a float32
 *    copy of every weight: twice the memory of an F16 file);
 *  - they run on our one thread pool (OpenBLAS brings its own threads, which
 *    fight the pool for the cores unless pinned to one thread, and the
 *    Debian build picks its threading at install time, not ours);
 *  - they fuse the bias, the residual add (CS_GEMM_ACCUMULATE) and the MLP
 *    activation (CS_GEMM_QUICK_GELU / CS_GEMM_GELU);
 *  - every element of y is summed in the same order whatever m, the
 *    threads and the tile it falls in, so an image or a text embedded alone
 *    is bit-identical to the same one in a batch (the engine tests this;
 *    OpenBLAS gives no such promise across m and thread counts).
 *    That is why there is no separate dot-product path for small m: at one
 *    query the packing is the cost either way.
 *
 * Layout: per call, each task owns a slice of n (a multiple of nr columns),
 * packs its slice of W for kc steps of k at a time into float32 panels
 * (converting F16/BF16), then sweeps all m rows of x with the micro-kernel,
 * one mr x nr tile of y at a time. x is not packed: its rows are read in
 * place, the task's rows (<= MT_MAX) staying in L2 while a kc x nr panel of
 * W stays in L1. Large m is cut into row blocks too, so that the block of
 * y that every k step reads and writes back stays in L2.
 *
 * Packing reads each weight from memory once per call, several times
 * slower from DRAM than from L2, and at a few images a thread that is a
 * visible share of the encoder's time (perf). So as a panel is packed, the
 * packer prefetches into L2 the rows of the panel packed after it
 * (next_panel); prefetching two blocks ahead gained nothing more. */
#include "kernels/gemm.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/pool.h"
#include "core/cpu.h"
#include "kernels/gemm_kernel.h"
#include "core/scratch.h"
#include "kernels/vecops.h"

enum {
    KC = 256,     /* the largest kernel kc */
    MT_MAX = 512, /* rows per task: with NC_MAX columns, the task's block of y */
    NC_MAX = 256, /* stays in L2 across the k steps (fc1 at 16 images: 800 x 3072) */
    MR_MAX = 16,
    NR_MAX = 64
};

const cs_mm_kernel *cs_mm_kernel_pick(void) {
    switch (cs_cpu_level_get()) {
#if defined(__x86_64__) || defined(_M_X64)
    case CS_CPU_AVX512:
        return &cs_mm_avx512;
    case CS_CPU_AVX2:
        return &cs_mm_avx2;
#endif
    default:
        return &cs_mm_generic;
    }
}

const char *cs_gemm_kernel_name(void) {
    return cs_mm_kernel_pick()->name;
}

typedef struct job {
    const cs_mm_kernel *kern;
    int m, n, k, nc, mt, m_tasks, tasks, flags;
    const float *x;
    size_t ldx, ldw, ldy;
    const uint8_t *w;
    cs_dtype wt;
    const float *scale;  /* CS_DT_I8: per row of W */
    const float *panels; /* W packed beforehand (cs_gemm_pack), or NULL */
    const float *b;
    float *y;
    float *scratch; /* per worker: scratch_floats each */
    size_t scratch_floats;
} job;

/* W element (row j of y's columns, step p of k) as a byte pointer. */
static const uint8_t *w_at(const job *jb, int j, int p) {
    size_t es = cs_dtype_size(jb->wt);
    if (jb->flags & CS_GEMM_W_KN) return jb->w + ((size_t)p * jb->ldw + (size_t)j) * es;
    return jb->w + ((size_t)j * jb->ldw + (size_t)p) * es;
}

/* One tile of y whose rows or columns run past m or n: through a padded
 * copy (zero rows of x, bias padded), then the valid part back. */
static void edge_tile(const job *jb, int kc, const float *a, size_t lda, int mv, const float *bp,
                      float *c, int nv, const float *bias, int add, float *ctmp, float *btmp) {
    const cs_mm_kernel *kn = jb->kern;
    if (add)
        for (int i = 0; i < mv; i++) memcpy(ctmp + i * kn->nr, c + i * jb->ldy, nv * sizeof(float));
    if (bias) {
        memset(btmp, 0, kn->nr * sizeof(float));
        memcpy(btmp, bias, nv * sizeof(float));
    }
    kn->micro(kc, a, lda, bp, ctmp, kn->nr, bias ? btmp : NULL, add);
    for (int i = 0; i < mv; i++) memcpy(c + i * jb->ldy, ctmp + i * kn->nr, nv * sizeof(float));
}

/* The activation of CS_GEMM_QUICK_GELU / CS_GEMM_GELU, if any, over rows
 * [i, i + rows) and columns [j, j + cols) of y. */
static void activate(const job *jb, int i, int rows, int j, int cols) {
    for (int r = i; r < i + rows; r++) {
        float *yr = jb->y + (size_t)r * jb->ldy + j;
        if (jb->flags & CS_GEMM_QUICK_GELU)
            cs_vec_quick_gelu(yr, (size_t)cols);
        else if (jb->flags & CS_GEMM_GELU)
            cs_vec_gelu(yr, (size_t)cols);
    }
}

/* Where the panel of columns [j, j + nr) packed after the one at step p0
 * starts: the next block of k, or after the last one, the same panel of the
 * task this thread most likely runs next (task + 1). NULL if none. */
static const uint8_t *next_panel(const job *jb, int task, int j, int j0, int p0, int kc) {
    if (jb->flags & CS_GEMM_W_KN) return NULL; /* [k, n]: rows are contiguous */
    if (p0 + kc < jb->k) return w_at(jb, j, p0 + kc);
    if (task + 1 >= jb->tasks) return NULL;
    int j2 = (task + 1) / jb->m_tasks * jb->nc + (j - j0);
    return j2 + jb->kern->nr <= jb->n ? w_at(jb, j2, 0) : NULL;
}

/* Packed beforehand: the panel of columns [j, j + nr) at step p0. */
static const float *packed_panel(const job *jb, int j, int p0) {
    return jb->panels + ((size_t)(j / jb->kern->nr) * (size_t)jb->k + (size_t)p0) * jb->kern->nr;
}

/* Packed beforehand, the panels stream from memory: while the row tiles of
 * one panel run, the panel the task reads after it (the next columns, or
 * the first of the next block of k) is fetched into L2, a slice per tile,
 * so that no tile waits for DRAM. The panel after [j, p0), and its size in
 * cache lines (0: none). */
static const float *panel_after(const job *jb, int j, int j0, int j1, int p0, int kc,
                                size_t *lines) {
    const int nr = jb->kern->nr;
    *lines = 0;
    if (j + nr < j1) {
        *lines = (size_t)kc * nr / 16;
        return packed_panel(jb, j + nr, p0);
    }
    if (p0 + kc >= jb->k) return NULL;
    int kc2 = jb->k - p0 - kc < kc ? jb->k - p0 - kc : kc;
    *lines = (size_t)kc2 * nr / 16;
    return packed_panel(jb, j0, p0 + kc);
}

/* Slice t of tiles of that panel's lines into L2. */
static void fetch_slice(const float *next, size_t lines, int t, int tiles) {
    size_t per = (lines + (size_t)tiles - 1) / (size_t)tiles;
    size_t l = (size_t)t * per, end = l + per < lines ? l + per : lines;
    for (; l < end; l++) __builtin_prefetch(next + l * 16, 0, 2);
}

/* Task: columns [j0, j0 + nc) and rows [r0, r0 + mt) of y. */
static void run_task(void *ctx, int task, int worker) {
    const job *jb = ctx;
    const cs_mm_kernel *kn = jb->kern;
    const int mr = kn->mr, nr = kn->nr;
    int tm = task % jb->m_tasks, tn = task / jb->m_tasks;
    int j0 = tn * jb->nc, j1 = j0 + jb->nc < jb->n ? j0 + jb->nc : jb->n;
    int r0 = tm * jb->mt, r1 = r0 + jb->mt < jb->m ? r0 + jb->mt : jb->m;
    float *bp = jb->scratch + (size_t)worker * jb->scratch_floats; /* KC x NC_MAX */
    float *atmp = bp + (size_t)KC * NC_MAX;                        /* mr x KC */
    float *ctmp = atmp + (size_t)MR_MAX * KC;                      /* mr x nr */
    float *btmp = ctmp + MR_MAX * NR_MAX;                          /* nr */
    int m_full = r0 + (r1 - r0) / mr * mr;                         /* mt is a multiple of mr */

    for (int p0 = 0; p0 < jb->k; p0 += kn->kc) {
        int kc = jb->k - p0 < kn->kc ? jb->k - p0 : kn->kc;
        for (int j = j0; j < j1 && !jb->panels; j += nr) {
            cs_mm_src src = {w_at(jb, j, p0), jb->ldw, jb->wt, (jb->flags & CS_GEMM_W_KN) != 0,
                             jb->scale ? jb->scale + j : NULL};
            kn->pack_b(&src, j1 - j < nr ? j1 - j : nr, kc, nr, next_panel(jb, task, j, j0, p0, kc),
                       bp + (size_t)(j - j0) * kc);
        }
        int add = p0 > 0 || (jb->flags & CS_GEMM_ACCUMULATE);
        int last = p0 + kc >= jb->k && (jb->flags & (CS_GEMM_QUICK_GELU | CS_GEMM_GELU));
        const float *bias = p0 == 0 ? jb->b : NULL;
        /* the last, partial rows of x, zero padded (unless the kernel has
         * micro_rows and every panel of the task is whole) */
        if (m_full < r1 && (!kn->micro_rows || (j1 - j0) % nr)) {
            memset(atmp, 0, (size_t)mr * kc * sizeof(float));
            for (int i = m_full; i < r1; i++)
                memcpy(atmp + (size_t)(i - m_full) * kc, jb->x + (size_t)i * jb->ldx + p0,
                       kc * sizeof(float));
        }
        for (int j = j0; j < j1; j += nr) {
            const float *panel = jb->panels ? packed_panel(jb, j, p0) : bp + (size_t)(j - j0) * kc;
            int nv = j1 - j < nr ? j1 - j : nr;
            const float *bj = bias ? bias + j : NULL;
            int tiles = (r1 - r0 + mr - 1) / mr;
            size_t lines = 0;
            const float *next = jb->panels ? panel_after(jb, j, j0, j1, p0, kc, &lines) : NULL;
            for (int i = r0; i < r1; i += mr) {
                if (lines) fetch_slice(next, lines, (i - r0) / mr, tiles);
                float *c = jb->y + (size_t)i * jb->ldy + j;
                if (i + mr <= r1 && nv == nr)
                    kn->micro(kc, jb->x + (size_t)i * jb->ldx + p0, jb->ldx, panel, c, jb->ldy, bj,
                              add);
                else if (i + mr <= r1)
                    edge_tile(jb, kc, jb->x + (size_t)i * jb->ldx + p0, jb->ldx, mr, panel, c, nv,
                              bj, add, ctmp, btmp);
                else if (nv == nr && kn->micro_rows)
                    kn->micro_rows(r1 - i, kc, jb->x + (size_t)i * jb->ldx + p0, jb->ldx, panel, c,
                                   jb->ldy, bj, add);
                else
                    edge_tile(jb, kc, atmp, kc, r1 - i, panel, c, nv, bj, add, ctmp, btmp);
                if (last) activate(jb, i, r1 - i < mr ? r1 - i : mr, j, nv);
            }
        }
    }
}

static cs_status gemm(cs_pool *pool, int m, int n, int k, const float *x, size_t ldx,
                      const cs_gemm_panels *pk, const void *w, size_t ldw, cs_dtype wt,
                      const float *scale, const float *b, float *y, size_t ldy, int flags,
                      cs_error *err) {
    if (wt != CS_DT_F32 && wt != CS_DT_F16 && wt != CS_DT_BF16 && wt != CS_DT_I8)
        return cs_fail(err, CS_EINVAL, "cs_gemm: W of type %d is not F32, F16, BF16 or I8", wt);
    if (m <= 0 || n <= 0) return CS_OK;
    const cs_mm_kernel *kern = cs_mm_kernel_pick();
    job jb = {.kern = kern,
              .scale = scale,
              .panels = pk && pk->p && pk->nr == kern->nr && pk->kc == kern->kc ? pk->p : NULL,
              .m = m,
              .n = n,
              .k = k,
              .flags = flags,
              .x = x,
              .ldx = ldx,
              .ldw = ldw,
              .ldy = ldy,
              .w = w,
              .wt = wt,
              .b = b,
              .y = y};
    int threads = pool ? cs_pool_threads(pool) : 1;
    if (k <= 0) { /* y = b (or y += b) */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float bj = b ? b[j] : 0.0f;
                y[(size_t)i * ldy + j] =
                    (flags & CS_GEMM_ACCUMULATE) ? y[(size_t)i * ldy + j] + bj : bj;
            }
        activate(&jb, 0, m, 0, n);
        return CS_OK;
    }
    /* Two tasks per thread (balance when a core is busy elsewhere), each a
     * multiple of nr columns; more when n is wide, and row blocks of at most
     * MT_MAX rows (a multiple of mr) when m is tall. */
    int nr = jb.kern->nr, mr = jb.kern->mr;
    int nc = (n + 2 * threads - 1) / (2 * threads);
    nc = (nc + nr - 1) / nr * nr;
    jb.nc = nc > NC_MAX ? NC_MAX : nc;
    jb.m_tasks = (m + MT_MAX - 1) / MT_MAX;
    jb.mt = (m + jb.m_tasks - 1) / jb.m_tasks;
    jb.mt = (jb.mt + mr - 1) / mr * mr;
    jb.m_tasks = (m + jb.mt - 1) / jb.mt;
    jb.scratch_floats = (size_t)KC * NC_MAX + (size_t)MR_MAX * KC + MR_MAX * NR_MAX + NR_MAX;
    size_t got;
    jb.scratch = cs_scratch_get((size_t)threads * jb.scratch_floats * sizeof(float), &got);
    if (!jb.scratch)
        return cs_fail(err, CS_ENOMEM, "matrix multiply %dx%dx%d: out of memory", m, n, k);
    jb.tasks = jb.m_tasks * ((n + jb.nc - 1) / jb.nc);
    cs_pool_for(pool, jb.tasks, run_task, &jb);
    cs_scratch_put(jb.scratch, got);
    return CS_OK;
}

cs_status cs_gemm(cs_pool *pool, int m, int n, int k, const float *x, size_t ldx, const void *w,
                  size_t ldw, cs_dtype wt, const float *b, float *y, size_t ldy, int flags,
                  cs_error *err) {
    if (wt == CS_DT_I8) return cs_fail(err, CS_EINVAL, "cs_gemm: int8 W needs cs_gemm_i8");
    return gemm(pool, m, n, k, x, ldx, NULL, w, ldw, wt, NULL, b, y, ldy, flags, err);
}

cs_status cs_gemm_i8(cs_pool *pool, int m, int n, int k, const float *x, size_t ldx,
                     const int8_t *w, size_t ldw, const float *scale, const float *b, float *y,
                     size_t ldy, int flags, cs_error *err) {
    if (!scale || (flags & CS_GEMM_W_KN))
        return cs_fail(err, CS_EINVAL, "cs_gemm_i8: needs W [n, k] and its scales");
    return gemm(pool, m, n, k, x, ldx, NULL, w, ldw, CS_DT_I8, scale, b, y, ldy, flags, err);
}

cs_status cs_gemm_packed(cs_pool *pool, int m, int n, int k, const float *x, size_t ldx,
                         const cs_gemm_panels *pk, const void *w, size_t ldw, cs_dtype wt,
                         const float *scale, const float *b, float *y, size_t ldy, int flags,
                         cs_error *err) {
    if ((wt == CS_DT_I8) != (scale != NULL) || (flags & CS_GEMM_W_KN))
        return cs_fail(err, CS_EINVAL, "cs_gemm_packed: W [n, k], with scales if int8 only");
    return gemm(pool, m, n, k, x, ldx, pk, w, ldw, wt, scale, b, y, ldy, flags, err);
}

size_t cs_gemm_panels_floats(int n, int k) {
    int nr = cs_mm_kernel_pick()->nr;
    return (size_t)((n + nr - 1) / nr) * (size_t)nr * (size_t)k;
}

void cs_gemm_pack(int n, int k, const void *w, size_t ldw, cs_dtype wt, const float *scale,
                  float *out, cs_gemm_panels *pk) {
    const cs_mm_kernel *kern = cs_mm_kernel_pick();
    job jb = {.kern = kern, .n = n, .k = k, .ldw = ldw, .w = w, .wt = wt};
    for (int j = 0; j < n; j += kern->nr)
        for (int p0 = 0; p0 < k; p0 += kern->kc) {
            cs_mm_src src = {w_at(&jb, j, p0), ldw, wt, 0, scale ? scale + j : NULL};
            int nv = n - j < kern->nr ? n - j : kern->nr,
                kc = k - p0 < kern->kc ? k - p0 : kern->kc;
            kern->pack_b(&src, nv, kc, kern->nr, NULL,
                         out + ((size_t)j * k + (size_t)p0 * kern->nr));
        }
    *pk = cs_gemm_panels_at(out);
}

cs_gemm_panels cs_gemm_panels_at(const float *packed) {
    const cs_mm_kernel *kern = cs_mm_kernel_pick();
    return (cs_gemm_panels){packed, kern->nr, kern->kc};
}

/* ---- portable kernels (any CPU; the compiler vectorises the inner loops) -- */

void cs_mm_pack_b_scalar(const cs_mm_src *src, int nv, int kc, int nr, const void *next, float *b) {
    (void)next;
    for (int p = 0; p < kc; p++) {
        for (int j = 0; j < nv; j++) b[(size_t)p * nr + j] = cs_mm_src_at(src, j, p);
        for (int j = nv; j < nr; j++) b[(size_t)p * nr + j] = 0.0f;
    }
}

enum { G_MR = 4, G_NR = 8 };

static void generic_micro(int kc, const float *a, size_t lda, const float *b, float *c, size_t ldc,
                          const float *bias, int add) {
    float acc[G_MR][G_NR] = {{0}};
    for (int p = 0; p < kc; p++)
        for (int i = 0; i < G_MR; i++) {
            float ai = a[(size_t)i * lda + p];
            for (int j = 0; j < G_NR; j++) acc[i][j] += ai * b[p * G_NR + j];
        }
    for (int i = 0; i < G_MR; i++)
        for (int j = 0; j < G_NR; j++) {
            float v = acc[i][j] + (bias ? bias[j] : 0.0f);
            c[(size_t)i * ldc + j] = add ? c[(size_t)i * ldc + j] + v : v;
        }
}

const cs_mm_kernel cs_mm_generic = {"generic",          G_MR, G_NR, 256, generic_micro, NULL,
                                    cs_mm_pack_b_scalar};
