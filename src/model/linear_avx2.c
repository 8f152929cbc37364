/* model/linear_avx2.c - the AVX2 + FMA micro-kernel of cs_linear (compiled
 * with -mavx2 -mfma -mf16c; linear.c calls it only after a CPU check).
 * 6 x 16: twelve ymm accumulators, two for the panel row, one broadcast. */
#include <immintrin.h>
#include <string.h>

#include "model/linear.h"

static void micro_6x16(int kc, const float *const *xr, const float *panel, float *acc) {
    __m256 c[6][2];
    for (int r = 0; r < 6; r++) c[r][0] = c[r][1] = _mm256_setzero_ps();
    const float *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3], *x4 = xr[4], *x5 = xr[5];
    for (int p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(panel + 16 * p), b1 = _mm256_load_ps(panel + 16 * p + 8);
        __m256 a;
#define ROW(r, xp)                                                                                 \
    a = _mm256_broadcast_ss(xp + p);                                                               \
    c[r][0] = _mm256_fmadd_ps(a, b0, c[r][0]);                                                     \
    c[r][1] = _mm256_fmadd_ps(a, b1, c[r][1]);
        ROW(0, x0) ROW(1, x1) ROW(2, x2) ROW(3, x3) ROW(4, x4) ROW(5, x5)
#undef ROW
    }
    for (int r = 0; r < 6; r++) {
        _mm256_storeu_ps(acc + 16 * r, c[r][0]);
        _mm256_storeu_ps(acc + 16 * r + 8, c[r][1]);
    }
}

static void convert_avx2(const void *src, cs_dtype dt, size_t n, float *dst) {
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
    for (; i < n; i++) {
        uint32_t b = (uint32_t)s[i] << 16;
        memcpy(&dst[i], &b, 4);
    }
}

const cs_gemm_kernel cs_gemm_avx2 = {6, 16, micro_6x16, convert_avx2};
