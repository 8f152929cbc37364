/* kernels/vecops.h - the element-wise steps of a transformer layer,
 * vectorised: activations and the softmax (with a polynomial exp instead
 * of a libm call per element). Dispatched at run time like the
 * GEMM (core/cpu.h): vecops_avx2.c holds the AVX2 versions, vecops.c the
 * portable ones and the dispatch. */
#ifndef CS_KERNELS_VECOPS_H
#define CS_KERNELS_VECOPS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* In place over n values: x * sigmoid(1.702 x) (CLIP's quick_gelu). */
void cs_vec_quick_gelu(float *x, size_t n);
/* In place: 0.5 x (1 + erf(x / sqrt 2)) (exact GELU, OpenCLIP models). */
void cs_vec_gelu(float *x, size_t n);

/* y[d] = (x - mean) / sqrt(var + eps) * w + b over one row of d (y may be
 * x); mean and variance summed in double, which keeps the result within
 * float rounding of the float64 reference. */
void cs_vec_layernorm_row(const float *x, int d, const float *w, const float *b, float eps,
                          float *y);

/* softmax(scale * s[0..nj)) in place, scale > 0 (the sum in double, like
 * the reference); s[nj..n) = 0 (the keys a causal row does not see). */
void cs_vec_softmax(float *s, int nj, int n, float scale);

/* A row to int8 (model/quant.c): q[i] = round(w[i] / s), half away from
 * zero, with s = max |w| / 127; returns s. An all-zero (or not finite)
 * row gives zeros and s = 1; NaN weights give 0. */
float cs_vec_quantize_row(const float *w, int k, int8_t *q);

/* One value already divided by the row's step: clamped to +-127 (NaN: 0),
 * rounded half away from zero (both versions' scalar part). */
static inline int8_t cs_vec_quantize_one(float v) {
    v = v == v ? v : 0.0f;
    v = v < 127.0f ? v : 127.0f;
    v = v > -127.0f ? v : -127.0f;
    return (int8_t)(int)(v + copysignf(0.5f, v));
}

#endif
