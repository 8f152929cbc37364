/* kernels/dtype.c - stored numbers to float (see dtype.h). */
#include "kernels/dtype.h"

#include "core/cpu.h"

static void convert_portable(const void *src, cs_dtype dt, size_t n, float *dst) {
    const uint16_t *s = src;
    if (dt == CS_DT_F32)
        memcpy(dst, src, n * sizeof(float));
    else if (dt == CS_DT_F16)
        for (size_t i = 0; i < n; i++) dst[i] = cs_half_to_float(s[i]);
    else
        for (size_t i = 0; i < n; i++) dst[i] = cs_bf16_to_float(s[i]);
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
