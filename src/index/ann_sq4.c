/* index/ann_sq4.c - codes of 4 bits a dimension: encoding a row, the
 * query in their terms, and the portable scan the vector kernels must
 * equal (layout in ann_internal.h). */
#include <math.h>
#include <string.h>

#include "index/ann_internal.h"

/* the byte and the shift of dimension d's nibble */
static inline int nibble_byte(int d) {
    return (d >> 7) * 64 + (d & 63);
}

static inline int nibble_shift(int d) {
    return d & 64 ? 4 : 0;
}

void cs_ann_encode4(const float *restrict x, const float *restrict min, const float *restrict step,
                    int dim, int stride, uint8_t *restrict code) {
    memset(code, 0, (size_t)stride);
    for (int d = 0; d < dim; d++) {
        float c = (x[d] - min[d]) / step[d];
        c = c > 0 ? c : 0; /* NaN -> 0 */
        c = c < 15 ? c : 15;
        code[nibble_byte(d)] |= (uint8_t)((int)cs_ann_round_small(c) << nibble_shift(d));
    }
}

void cs_ann_quantize_query4(const float *q, const float *step, int dim, int stride, int8_t *q8) {
    float m = 0;
    for (int d = 0; d < dim; d++) m = fmaxf(m, fabsf(q[d] * step[d]));
    double scale = m > 0 ? 127.0 / m : 0;
    for (int d = 0; d < 2 * stride; d++) {
        long v = d < dim ? lrint(q[d] * step[d] * scale) : 0;
        q8[d] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
}

void cs_ann_scan4_generic(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                          int32_t *out) {
    const int8_t *q8 = q->q8;
    for (int64_t r = 0; r < n; r++) {
        const uint8_t *c = codes + r * stride;
        int32_t s = 0;
        for (int d = 0; d < 2 * stride; d++)
            s += (int32_t)((c[nibble_byte(d)] >> nibble_shift(d)) & 15) * q8[d];
        out[r] = s;
    }
}
