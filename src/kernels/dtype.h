/* kernels/dtype.h - the element types of stored numbers (a checkpoint's
 * tensors, a GEMM's weights), their sizes, and their conversion to float:
 * the one place the engine turns F16 or BF16 into float32. */
#ifndef CS_KERNELS_DTYPE_H
#define CS_KERNELS_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum cs_dtype {
    CS_DT_UNKNOWN = 0,
    CS_DT_F32,
    CS_DT_F16,
    CS_DT_BF16,
    CS_DT_F64,
    CS_DT_I64,
    CS_DT_I32,
    CS_DT_I16,
    CS_DT_I8,
    CS_DT_U8,
    CS_DT_BOOL
} cs_dtype;

/* Element size in bytes (0 for CS_DT_UNKNOWN). */
static inline size_t cs_dtype_size(cs_dtype dt) {
    switch (dt) {
    case CS_DT_F64:
    case CS_DT_I64:
        return 8;
    case CS_DT_F32:
    case CS_DT_I32:
        return 4;
    case CS_DT_F16:
    case CS_DT_BF16:
    case CS_DT_I16:
        return 2;
    case CS_DT_I8:
    case CS_DT_U8:
    case CS_DT_BOOL:
        return 1;
    default:
        return 0;
    }
}

/* IEEE half to float, exact for every value. The exponent and mantissa are
 * shifted into place and rescaled by 2^112 (one multiply instead of a
 * normalising loop, and exact for subnormal halves too); inf and NaN, whose
 * exponent the multiply would not keep, are patched after. */
static inline float cs_half_to_float(uint16_t h) {
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

/* bfloat16 is the top half of a float32. */
static inline float cs_bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* dst[0..n) = float(src[0..n)) for CS_DT_F32, CS_DT_F16 and CS_DT_BF16
 * (F16C where core/cpu.h allows: the same values). */
void cs_to_f32(const void *src, cs_dtype dt, size_t n, float *dst);

#endif
