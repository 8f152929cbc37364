/* kernels/gemm_kernel.h - what a GEMM kernel family provides to the driver in
 * gemm.c (internal to gemm*.c).
 *
 * Blocking (BLIS style, without packing x): the driver cuts y into tiles of
 * mr x nr. W is packed per call (or once: cs_gemm_pack), nr columns at a
 * time, into panels b[p * nr + j] (p < kc) of float32; x is read in place,
 * row stride lda. */
#ifndef CS_KERNELS_GEMM_KERNEL_H
#define CS_KERNELS_GEMM_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/gemm.h"

/* Where a packer reads one panel of W: element (j, p) of the panel (j: a
 * column of y, p: a step of k) is at w + (kn ? p * ldw + j : j * ldw + p),
 * of type wt, times scale[j] when wt is CS_DT_I8. */
typedef struct cs_mm_src {
    const void *w;
    size_t ldw;
    cs_dtype wt;
    int kn;
    const float *scale; /* CS_DT_I8: the panel's row scales; else NULL */
} cs_mm_src;

typedef struct cs_mm_kernel {
    const char *name;
    int mr, nr;
    int kc; /* steps of k per packed panel: kc x nr floats fit L1 with room */
    /* c[mr, nr] (row stride ldc) = (add ? c : 0) + a[mr, kc] . b + bias[nr]
     * (bias may be NULL); a row i is a + i * lda; b is one packed panel. */
    void (*micro)(int kc, const float *a, size_t lda, const float *b, float *c, size_t ldc,
                  const float *bias, int add);
    /* The same for 0 < rows < mr rows of a and c, with the same bits per
     * row; NULL: the driver runs micro on a zero-padded copy instead. */
    void (*micro_rows)(int rows, int kc, const float *a, size_t lda, const float *b, float *c,
                       size_t ldc, const float *bias, int add);
    /* Packs one panel: columns j < nv of W (nv <= nr; the others are zero)
     * over kc steps of k into b[p * nr + j], as float. next, if not NULL,
     * is where the panel packed after this one starts (same ldw, nv rows):
     * its first kc steps are prefetched into L2 as this one is packed. */
    void (*pack_b)(const cs_mm_src *src, int nv, int kc, int nr, const void *next, float *b);
} cs_mm_kernel;

/* The kernel family cs_gemm uses on this CPU (core/cpu.h decides). */
const cs_mm_kernel *cs_mm_kernel_pick(void);

extern const cs_mm_kernel cs_mm_generic;
#if defined(__x86_64__) || defined(_M_X64)
extern const cs_mm_kernel cs_mm_avx2;
extern const cs_mm_kernel cs_mm_avx512;
#endif

/* Element j of W in any type, as float (for CS_DT_I8, before its scale). */
static inline float cs_gemm_load(const void *w, cs_dtype wt, size_t j) {
    if (wt == CS_DT_F32) return ((const float *)w)[j];
    if (wt == CS_DT_I8) return (float)((const int8_t *)w)[j];
    uint16_t h = ((const uint16_t *)w)[j];
    return wt == CS_DT_F16 ? cs_half_to_float(h) : cs_bf16_to_float(h);
}

/* Element (j, p) of a panel, as float, its scale applied. */
static inline float cs_mm_src_at(const cs_mm_src *s, int j, int p) {
    size_t i = s->kn ? (size_t)p * s->ldw + (size_t)j : (size_t)j * s->ldw + (size_t)p;
    float v = cs_gemm_load(s->w, s->wt, i);
    return s->scale ? v * s->scale[j] : v;
}

#if defined(__x86_64__) || defined(_M_X64)
/* The AVX2 packer, any nr a multiple of 8 (needs AVX2 + F16C). */
void cs_mm_pack_b_avx2(const cs_mm_src *src, int nv, int kc, int nr, const void *next, float *b);
#endif

/* The portable packer (also the edge case of the vector ones). */
void cs_mm_pack_b_scalar(const cs_mm_src *src, int nv, int kc, int nr, const void *next, float *b);

#endif
