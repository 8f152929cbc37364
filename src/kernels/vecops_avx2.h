/* kernels/vecops_avx2.h - the AVX2 + FMA versions of kernels/vecops.h
 * (vecops_avx2.c) and AVX-512 ones of its activations (vecops_avx512.c),
 * for vecops.c's dispatch alone: call them only after its CPU check. */
#ifndef CS_KERNELS_VECOPS_AVX2_H
#define CS_KERNELS_VECOPS_AVX2_H

#include <stddef.h>
#include <stdint.h>

void cs_vec_avx2_quick_gelu(float *x, size_t n);
void cs_vec_avx2_gelu(float *x, size_t n);
void cs_vec_avx2_softmax(float *s, int nj, int n, float scale);
void cs_vec_avx2_layernorm_row(const float *x, int d, const float *w, const float *b, float eps,
                               float *y);
float cs_vec_avx2_quantize_row(const float *w, int k, int8_t *q);

/* AVX-512 F (vecops_avx512.c): the same bits as the AVX2 ones, 16 lanes. */
void cs_vec_avx512_quick_gelu(float *x, size_t n);
void cs_vec_avx512_gelu(float *x, size_t n);

#endif
