/* index/ann_scan_vnni.c - the code scan with AVX-512 VNNI: vpdpbusd
 * multiplies 64 unsigned bytes by 64 signed bytes and adds each group of
 * four into a 32-bit lane, in one instruction. The 16-bit query is split
 * into two signed bytes, qi = 128 hi + lo (cs_ann_split_query), so each 64
 * code bytes cost two instructions where the AVX2 kernel needs eight
 * (widen, multiply-add, per 16 bytes), and the sums are exactly the
 * generic kernel's. Built for plain x86-64 like the rest; only these
 * target-attributed functions use the extension, and cs_ann_scan_kernel
 * picks them only when cs_cpu_has(CS_CPU_VNNI). */
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "index/ann_internal.h"

#define VNNI        __attribute__((target("avx512f,avx512vnni,avx512vl,avx512bw")))
#define VNNI_INLINE VNNI __attribute__((always_inline)) static inline

/* acc += u8 a . s8 b. In asm: GCC 12 compiles _mm512_dpbusd_epi32 as if
 * the accumulator were not updated in place and spills it each step
 * (kernels/gemm_vnni.c). */
VNNI_INLINE __m512i dpbusd(__m512i acc, __m512i a, __m512i b) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

/* 128 hi + lo summed over the lanes. The query's scale keeps the total
 * within 32 bits, and each lane's share too (128 hi differs from qi by
 * less than 128 a value). */
VNNI_INLINE int32_t total(__m512i hi, __m512i lo) {
    __m512i s = _mm512_add_epi32(_mm512_slli_epi32(hi, 7), lo);
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
    return _mm_cvtsi128_si32(x);
}

/* One 64-byte step of a row of 8-bit codes c against both halves of the
 * query. */
VNNI_INLINE void step8(__m512i *hi, __m512i *lo, __m512i c, __m512i qh, __m512i ql) {
    *hi = dpbusd(*hi, c, qh), *lo = dpbusd(*lo, c, ql);
}

VNNI void cs_ann_scan_vnni(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                           int32_t *out) {
    const int8_t *qh = q->q8, *ql = q->q8 + stride;
    int full = stride & ~63;
    /* the last partial block of 16, 32 or 48 bytes (stride is a multiple
     * of 16): masked loads read nothing past the row */
    __mmask64 tail = stride > full ? (~0ull >> (64 - (stride - full))) : 0;
    __m512i th = _mm512_maskz_loadu_epi8(tail, qh + full),
            tl = _mm512_maskz_loadu_epi8(tail, ql + full);
    int64_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const uint8_t *c = codes + r * stride;
        __m512i h0 = _mm512_setzero_si512(), h1 = h0, h2 = h0, h3 = h0;
        __m512i l0 = h0, l1 = h0, l2 = h0, l3 = h0;
        for (int d = 0; d < full; d += 64) {
            __m512i h = _mm512_loadu_si512(qh + d), l = _mm512_loadu_si512(ql + d);
            step8(&h0, &l0, _mm512_loadu_si512(c + d), h, l);
            step8(&h1, &l1, _mm512_loadu_si512(c + stride + d), h, l);
            step8(&h2, &l2, _mm512_loadu_si512(c + 2 * stride + d), h, l);
            step8(&h3, &l3, _mm512_loadu_si512(c + 3 * stride + d), h, l);
        }
        if (tail) {
            step8(&h0, &l0, _mm512_maskz_loadu_epi8(tail, c + full), th, tl);
            step8(&h1, &l1, _mm512_maskz_loadu_epi8(tail, c + stride + full), th, tl);
            step8(&h2, &l2, _mm512_maskz_loadu_epi8(tail, c + 2 * stride + full), th, tl);
            step8(&h3, &l3, _mm512_maskz_loadu_epi8(tail, c + 3 * stride + full), th, tl);
        }
        out[r] = total(h0, l0);
        out[r + 1] = total(h1, l1);
        out[r + 2] = total(h2, l2);
        out[r + 3] = total(h3, l3);
    }
    for (; r < n; r++) {
        const uint8_t *c = codes + r * stride;
        __m512i h0 = _mm512_setzero_si512(), l0 = h0;
        for (int d = 0; d < full; d += 64)
            step8(&h0, &l0, _mm512_loadu_si512(c + d), _mm512_loadu_si512(qh + d),
                  _mm512_loadu_si512(ql + d));
        if (tail) step8(&h0, &l0, _mm512_maskz_loadu_epi8(tail, c + full), th, tl);
        out[r] = total(h0, l0);
    }
}

/* The 4-bit codes (ann_sq4.c): a 64-byte block is 128 nibbles, its low
 * nibbles the first 64 dimensions and its high ones the next, so one mask,
 * one shift and two vpdpbusd take a block against the query as it lies.
 * Separate sums for the two halves keep two chains of additions in flight
 * a row. */
VNNI_INLINE int32_t total4(__m512i lo, __m512i hi) {
    return _mm512_reduce_add_epi32(_mm512_add_epi32(lo, hi));
}

/* One block of a row of 4-bit codes c: its low nibbles against ql, its
 * high ones against qh. */
VNNI_INLINE void step4(__m512i *lo, __m512i *hi, __m512i c, __m512i ql, __m512i qh) {
    const __m512i m4 = _mm512_set1_epi8(15);
    *lo = dpbusd(*lo, _mm512_and_si512(c, m4), ql);
    *hi = dpbusd(*hi, _mm512_and_si512(_mm512_srli_epi16(c, 4), m4), qh);
}

VNNI void cs_ann_scan4_vnni(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                            int32_t *out) {
    const int8_t *q8 = q->q8;
    int64_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const uint8_t *c = codes + r * stride;
        __m512i l0 = _mm512_setzero_si512(), l1 = l0, l2 = l0, l3 = l0;
        __m512i h0 = l0, h1 = l0, h2 = l0, h3 = l0;
        for (int b = 0; b < stride; b += 64) {
            __m512i ql = _mm512_loadu_si512(q8 + 2 * b), qh = _mm512_loadu_si512(q8 + 2 * b + 64);
            step4(&l0, &h0, _mm512_loadu_si512(c + b), ql, qh);
            step4(&l1, &h1, _mm512_loadu_si512(c + stride + b), ql, qh);
            step4(&l2, &h2, _mm512_loadu_si512(c + 2 * stride + b), ql, qh);
            step4(&l3, &h3, _mm512_loadu_si512(c + 3 * stride + b), ql, qh);
        }
        out[r] = total4(l0, h0);
        out[r + 1] = total4(l1, h1);
        out[r + 2] = total4(l2, h2);
        out[r + 3] = total4(l3, h3);
    }
    for (; r < n; r++) {
        const uint8_t *c = codes + r * stride;
        __m512i l0 = _mm512_setzero_si512(), h0 = l0;
        for (int b = 0; b < stride; b += 64)
            step4(&l0, &h0, _mm512_loadu_si512(c + b), _mm512_loadu_si512(q8 + 2 * b),
                  _mm512_loadu_si512(q8 + 2 * b + 64));
        out[r] = total4(l0, h0);
    }
}
#endif
