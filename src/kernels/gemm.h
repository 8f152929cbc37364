/* kernels/gemm.h - the matrix multiply behind cs_linear (attention uses its
 * micro-kernels directly, kernels/gemm_kernel.h).
 *
 *   y[m, n] = x[m, k] . W[n, k]^T + b[n]       (W as PyTorch stores nn.Linear)
 *   y[m, n] = x[m, k] . W[k, n]     + b[n]     (with CS_GEMM_W_KN, e.g. P . V)
 *
 * x and y are float32; W may be F32, F16 or BF16 and is read where it lies
 * (the checkpoint's memory map): every call packs the slices of W it needs
 * into small per-thread panels, converting to float32 on the way, so the
 * weights exist once in memory and F16 files keep half the footprint. The
 * packing is O(n k) against O(m n k) of arithmetic, but it reads each weight
 * from DRAM once per call and thread, a share of the encoder's time that
 * grows as the batch a thread runs shrinks. So a tower used for bulk work
 * has its F32 matrices packed once instead (cs_gemm_pack, model/prepack.c),
 * as ONNX Runtime does: the kernel then streams the panels, fetching the
 * next one into L2 while it works on one (without that fetching, streaming
 * packed panels is no faster than packing per call). The measurements:
 * docs/engine.md ("Packed once") and docs/performance.md.
 *
 * The work is spread over the pool with cs_pool_for (from inside a pool
 * task: on that thread, helped by idle ones). Kernels: AVX-512, AVX2+FMA or
 * portable C, picked at run time (core/cpu.h). */
#ifndef CS_KERNELS_GEMM_H
#define CS_KERNELS_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "clipsearch/common.h"
#include "kernels/dtype.h"

/* W's element type (wt): CS_DT_F32, CS_DT_F16, CS_DT_BF16, or CS_DT_I8
 * (through cs_gemm_i8 only), int8 with one float scale per row of W:
 * W[j, p] = w[j, p] * scale[j]. */

enum {
    CS_GEMM_ACCUMULATE = 1, /* y += x . W^T + b (fuses a residual add) */
    CS_GEMM_W_KN = 2,       /* W is [k, n] (row stride ldw): y = x . W + b */
    /* then y = act(y), applied to each tile of y as it is finished (while it
     * is in L1), which saves a pass over y: */
    CS_GEMM_QUICK_GELU = 4, /* x * sigmoid(1.702 x) */
    CS_GEMM_GELU = 8        /* the exact erf GELU */
};

/* y = x . W^T + b (see above). Row strides ldx, ldw, ldy are in elements;
 * b may be NULL. Fails only when scratch memory cannot be allocated. */
cs_status cs_gemm(cs_pool *pool, int m, int n, int k, const float *x, size_t ldx, const void *w,
                  size_t ldw, cs_dtype wt, const float *b, float *y, size_t ldy, int flags,
                  cs_error *err);

/* The same with W in int8 ([n, k] only, flags without CS_GEMM_W_KN) and
 * one scale per row: y = x . (diag(scale) W)^T + b. */
cs_status cs_gemm_i8(cs_pool *pool, int m, int n, int k, const float *x, size_t ldx,
                     const int8_t *w, size_t ldw, const float *scale, const float *b, float *y,
                     size_t ldy, int flags, cs_error *err);

/* W packed once, in the layout the micro-kernel reads: panel t (columns
 * [t nr, t nr + nr), zero past n) is k x nr floats, row p holding step p of
 * each column; panels follow each other. Valid for the kernel it was made
 * for (nr, kc): cs_gemm_packed falls back to w when the kernel in use
 * differs (a test lowering CLIPSEARCH_CPU while a model is open). */
typedef struct cs_gemm_panels {
    const float *p; /* NULL: not packed */
    int nr, kc;
} cs_gemm_panels;

/* Floats that cs_gemm_pack writes for an [n, k] matrix with this CPU's
 * kernel. */
size_t cs_gemm_panels_floats(int n, int k);
/* Packs W [n, k] (row stride ldw; F32, F16, BF16, or I8 with its row
 * scales) into out (cs_gemm_panels_floats, 64-byte aligned); sets *pk. */
void cs_gemm_pack(int n, int k, const void *w, size_t ldw, cs_dtype wt, const float *scale,
                  float *out, cs_gemm_panels *pk);
/* The panels of a matrix cs_gemm_pack packed into `packed` earlier with
 * this CPU's kernel (e.g. in another process). */
cs_gemm_panels cs_gemm_panels_at(const float *packed);
/* cs_gemm / cs_gemm_i8 reading W from pk when it fits the kernel in use,
 * else from w (same arguments as they take; scale only for CS_DT_I8).
 * Same bits either way. */
cs_status cs_gemm_packed(cs_pool *pool, int m, int n, int k, const float *x, size_t ldx,
                         const cs_gemm_panels *pk, const void *w, size_t ldw, cs_dtype wt,
                         const float *scale, const float *b, float *y, size_t ldy, int flags,
                         cs_error *err);

/* The kernel cs_gemm uses on this machine: "avx512", "avx2" or "generic". */
const char *cs_gemm_kernel_name(void);

#endif
