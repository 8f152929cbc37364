/* model/linear.h - the one matrix multiply of the engine.
 *
 * Every FLOP-heavy step of CLIP (patch embedding, q/k/v/out projections, the
 * MLP, the final projections) is y = x . W^T + b with W stored as PyTorch's
 * nn.Linear stores it: [n, k] row-major, in F32, F16 or BF16, memory-mapped.
 * Faster kernels plug in behind cs_linear without touching the towers.
 * FLOPs of one call: 2 * m * n * k. */
#ifndef CS_MODEL_LINEAR_H
#define CS_MODEL_LINEAR_H

#include <stddef.h>

#include "core/pool.h"
#include "model/tensors.h"

/* A weight matrix [n, k] (n outputs, k inputs), row-major, in a checkpoint. */
typedef struct cs_weight {
    const void *data;
    cs_dtype dtype; /* CS_DT_F32, CS_DT_F16 or CS_DT_BF16 */
    int n, k;
} cs_weight;

/* y[m, n] = x[m, k] . W[n, k]^T + b[n]; bias may be NULL. x and y must not
 * overlap. Work is spread over the pool's threads (pool may be NULL). */
void cs_linear(cs_pool *pool, const float *x, int m, const cs_weight *w, const float *bias,
               float *y);
/* y[m, n] += x[m, k] . W[n, k]^T + b[n]: a residual connection fused into the
 * product (one pass over y instead of a product then an add). */
void cs_linear_add(cs_pool *pool, const float *x, int m, const cs_weight *w, const float *bias,
                   float *y);

/* dst[0..n) = float(src[0..n)) for the F32/F16/BF16 dtypes. */
void cs_to_f32(const void *src, cs_dtype dt, size_t n, float *dst);
/* Row r of w (k floats), e.g. an embedding lookup. */
void cs_weight_row(const cs_weight *w, int r, float *out);

/* The micro-kernel interface, one per instruction set (linear.c: portable
 * vector extensions; linear_avx2.c: AVX2 + FMA). A kernel computes
 * acc[mr][nr] = sum_p x_r[p] * panel[p][j] over kc steps, where the panel is
 * a packed, transposed slice of W: panel[p * nr + j] = W[n0 + j][k0 + p]. */
typedef struct cs_gemm_kernel {
    int mr, nr;
    void (*micro)(int kc, const float *const *xr, const float *panel, float *acc);
    void (*convert)(const void *src, cs_dtype dt, size_t n, float *dst);
} cs_gemm_kernel;

#if defined(__x86_64__) || defined(_M_X64)
extern const cs_gemm_kernel cs_gemm_avx2;
#define CS_HAVE_AVX2_KERNEL 1
#endif

#endif
