/* kernels/dtype_avx2.c - cs_to_f32 with F16C (compiled with -mavx2 -mfma
 * -mf16c; dtype.c calls it only after the CPU check). */
#include <immintrin.h>
#include <string.h>

#include "kernels/dtype.h"

void cs_to_f32_avx2(const void *src, cs_dtype dt, size_t n, float *dst);
void cs_to_f32_avx2(const void *src, cs_dtype dt, size_t n, float *dst) {
    size_t i = 0;
    const uint16_t *s = src;
    if (dt == CS_DT_F32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    if (dt == CS_DT_F16) {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
        for (; i < n; i++) dst[i] = _cvtsh_ss(s[i]);
        return;
    }
    for (; i + 8 <= n; i += 8) { /* BF16: widen and shift into the top half */
        __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
    }
    for (; i < n; i++) dst[i] = cs_bf16_to_float(s[i]);
}
