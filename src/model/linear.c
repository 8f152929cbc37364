/* model/linear.c - y = x . W^T + b for the towers, over the GEMM
 * (kernels/gemm.c), and the conversion of F16/BF16 weights to float for the
 * few places that read a weight row by row (embeddings, small vectors). */
#include "model/linear.h"

#include <string.h>

#include "core/cpu.h"
#include "kernels/gemm.h"

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

#if defined(__x86_64__) || defined(_M_X64)
void cs_to_f32_avx2(const void *src, cs_dtype dt, size_t n, float *dst);
#endif

void cs_to_f32(const void *src, cs_dtype dt, size_t n, float *dst) {
#if defined(__x86_64__) || defined(_M_X64)
    if (cs_cpu_level_get() >= CS_CPU_AVX2) {
        cs_to_f32_avx2(src, dt, n, dst);
        return;
    }
#endif
    convert_portable(src, dt, n, dst);
}

void cs_weight_row(const cs_weight *w, int r, float *out) {
    if (w->dtype == CS_DT_I8) {
        const int8_t *q = (const int8_t *)w->data + (size_t)r * (size_t)w->k;
        for (int i = 0; i < w->k; i++) out[i] = (float)q[i] * w->scale[r];
        return;
    }
    size_t el = cs_dtype_size(w->dtype);
    cs_to_f32((const char *)w->data + (size_t)r * (size_t)w->k * el, w->dtype, (size_t)w->k, out);
}

static cs_status linear(cs_pool *pool, const float *x, int m, const cs_weight *w, const float *bias,
                        float *y, int flags, cs_error *err) {
    if (w->lp.type != CS_LP_NONE)
        return cs_gemm_lp(pool, m, x, (size_t)w->k, &w->lp, bias, y, (size_t)w->n, flags, err);
    cs_gemm_type wt = w->dtype == CS_DT_I8     ? CS_GEMM_I8
                      : w->dtype == CS_DT_F16  ? CS_GEMM_F16
                      : w->dtype == CS_DT_BF16 ? CS_GEMM_BF16
                                               : CS_GEMM_F32;
    return cs_gemm_packed(pool, m, w->n, w->k, x, (size_t)w->k, &w->panels, w->data, (size_t)w->k,
                          wt, wt == CS_GEMM_I8 ? w->scale : NULL, bias, y, (size_t)w->n, flags,
                          err);
}

cs_status cs_linear(cs_pool *pool, const float *x, int m, const cs_weight *w, const float *bias,
                    float *y, cs_error *err) {
    return linear(pool, x, m, w, bias, y, 0, err);
}

cs_status cs_linear_act(cs_pool *pool, const float *x, int m, const cs_weight *w, const float *bias,
                        cs_act act, float *y, cs_error *err) {
    return linear(pool, x, m, w, bias, y, act == CS_ACT_GELU ? CS_GEMM_GELU : CS_GEMM_QUICK_GELU,
                  err);
}

cs_status cs_linear_add(cs_pool *pool, const float *x, int m, const cs_weight *w, const float *bias,
                        float *y, cs_error *err) {
    return linear(pool, x, m, w, bias, y, CS_GEMM_ACCUMULATE, err);
}
