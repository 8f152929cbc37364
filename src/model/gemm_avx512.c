/* model/gemm_avx512.c - the AVX-512 micro-kernel. The file is built for
 * plain x86-64 like the rest of the library; only the functions carrying
 * the target attribute use AVX-512, and the driver calls them only when
 * cs_cpu_level_get() reports it. Packing is the AVX2 code (bound by memory,
 * wider vectors do not help it). */
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "model/gemm_kernel.h"

#define AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

/* 6 x 64 tile: 24 accumulators; the FMAs take x straight from memory as an
 * embedded broadcast, so a step of k is 4 panel loads + 6 broadcasts for 24
 * FMAs (8 x 32 and 12 x 32 issue more loads per FMA; 14 x 32 spills). */
#ifndef CS_AVX512_MR /* (overridable, for bench/bench_gemm experiments) */
#define CS_AVX512_MR 6
#define CS_AVX512_NV 4
#define CS_AVX512_KC 128
#endif
enum { MR = CS_AVX512_MR, NV = CS_AVX512_NV, NR = 16 * NV };

AVX512 static void micro_6x64(int kc, const float *a, size_t lda, const float *b, float *c,
                              size_t ldc, const float *bias, int add) {
    __m512 acc[MR][NV];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++, b += NR) {
        __m512 bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) bv[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512 av = _mm512_set1_ps(a[(size_t)i * lda + p]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        __m512 bias_v = bias ? _mm512_loadu_ps(bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            float *cr = c + (size_t)i * ldc + 16 * v;
            __m512 r = _mm512_add_ps(acc[i][v], bias_v);
            _mm512_storeu_ps(cr, add ? _mm512_add_ps(r, _mm512_loadu_ps(cr)) : r);
        }
    }
}

void cs_mm_pack_b_avx2(const void *w, size_t ldw, cs_gemm_type wt, int kn, int nv, int kc, int nr,
                       float *b);
const cs_mm_kernel cs_mm_avx512 = {"avx512", MR, NR, CS_AVX512_KC, micro_6x64, cs_mm_pack_b_avx2};
#else
typedef int cs_gemm_avx512_unused; /* ISO C wants something in a file */
#endif
