/* model/linear.h - the one matrix multiply of the engine.
 *
 * Every FLOP-heavy step of CLIP (patch embedding, q/k/v/out projections, the
 * MLP, the final projections) is y = x . W^T + b with W stored as PyTorch's
 * nn.Linear stores it: [n, k] row-major, in F32, F16 or BF16, memory-mapped
 * (or, opted in, int8 copies with a scale per row: model/quant.c). The
 * kernels live behind it in kernels/gemm*.c.
 * FLOPs of one call: 2 * m * n * k. */
#ifndef CS_MODEL_LINEAR_H
#define CS_MODEL_LINEAR_H

#include <stddef.h>

#include "core/pool.h"
#include "kernels/gemm.h"
#include "kernels/gemm_lp.h"
#include "model/config.h"
#include "model/tensors.h"

/* A weight matrix [n, k] (n outputs, k inputs), row-major, in a checkpoint. */
typedef struct cs_weight {
    const void *data;
    cs_dtype dtype; /* CS_DT_F32, CS_DT_F16 or CS_DT_BF16; CS_DT_I8 when made by
                       model/quant.c, with: */
    int n, k;
    const float *scale;    /* CS_DT_I8: row j is data[j, :] * scale[j] */
    cs_gemm_panels panels; /* packed once for the GEMM (model/prepack.c), if .p */
    cs_lp_panels lp;       /* packed once for BF16 / int8 compute (model/lowp.c), if .type */
} cs_weight;

/* y[m, n] = x[m, k] . W[n, k]^T + b[n]; bias may be NULL. x and y must not
 * overlap. Work is spread over the pool's threads (pool may be NULL). Fails
 * only when the GEMM's scratch (a few hundred KB a thread) cannot be had. */
cs_status cs_linear(cs_pool *pool, const float *x, int m, const cs_weight *w, const float *bias,
                    float *y, cs_error *err);
/* y[m, n] = act(x[m, k] . W[n, k]^T + b[n]), the activation fused into the
 * product (applied to each tile of y while it is in cache). */
cs_status cs_linear_act(cs_pool *pool, const float *x, int m, const cs_weight *w, const float *bias,
                        cs_act act, float *y, cs_error *err);
/* y[m, n] += x[m, k] . W[n, k]^T + b[n]: a residual connection fused into the
 * product (one pass over y instead of a product then an add). */
cs_status cs_linear_add(cs_pool *pool, const float *x, int m, const cs_weight *w, const float *bias,
                        float *y, cs_error *err);

/* Row r of w (k floats), e.g. an embedding lookup. */
void cs_weight_row(const cs_weight *w, int r, float *out);

#endif
