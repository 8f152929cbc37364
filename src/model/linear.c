/* model/linear.c - y = x . W^T + b for the towers, over the GEMM
 * (kernels/gemm.c), and a weight's rows as float for the few places that
 * read a weight row by row (embeddings, small vectors). */
#include "model/linear.h"

#include "kernels/gemm.h"

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
    return cs_gemm_packed(pool, m, w->n, w->k, x, (size_t)w->k, &w->panels, w->data, (size_t)w->k,
                          w->dtype, w->dtype == CS_DT_I8 ? w->scale : NULL, bias, y, (size_t)w->n,
                          flags, err);
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
