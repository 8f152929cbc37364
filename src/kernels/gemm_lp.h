/* kernels/gemm_lp.h - the matrix multiply at lower precision: BF16 products
 * (AVX512_BF16, vdpbf16ps) and int8 products (AVX-512 VNNI, vpdpbusd),
 * both summed in 32 bits, for cs_model_opts.precision (model/lowp.c packs
 * the towers' matrices once).
 *
 *   y[m, n] = x[m, k] . W[n, k]^T + b[n]
 *
 * W is packed beforehand (cs_lp_pack) into panels of CS_LP_NR columns:
 *  - BF16: pairs of k steps, panel row q holding (W[j, 2q], W[j, 2q + 1])
 *    for each column j, 4 bytes a column: what one lane of vdpbf16ps reads;
 *  - int8: quads of k steps (4 bytes a column, vpdpbusd's lane), each row of
 *    W quantised symmetrically (scale = max |row| / 127), with the sum of
 *    each column's quantised weights over every block of CS_LP_KB steps.
 * x is converted per call: to BF16 (round to nearest even), or to uint8 per
 * row and block of CS_LP_KB steps, asymmetrically (x ~ lo + s u, u in
 * 0..255: the block's own range, which after GELU is mostly positive), so
 *   block sum = sw[j] (s[i] sum_p u[i, p] q[j, p] + lo[i] colsum[j]),
 * the integer part exact. Every element is summed in the same order
 * whatever m, the tile and the thread: an image alone gets the same bits
 * as in a batch, as on the F32 path.
 *
 * The kernels exist for AVX-512 with those extensions, and for int8 also
 * for AVX-VNNI (gemm_avxvnni.c: the same bits as the AVX-512 one);
 * elsewhere (a test lowering CLIPSEARCH_CPU after the panels were made) a
 * portable version of each computes the same quantities, slowly, and with
 * BF16 not necessarily the same bits. */
#ifndef CS_KERNELS_GEMM_LP_H
#define CS_KERNELS_GEMM_LP_H

#include <stddef.h>
#include <stdint.h>

#include "clipsearch/common.h"

enum {
    CS_LP_NR = 64,  /* columns per panel (4 AVX-512 vectors) */
    CS_LP_KB = 256, /* steps of k per block: the panel slice kept in L1, and
                       the int8 activations' quantisation block */
    CS_LP_MR = 6    /* rows per tile */
};

typedef enum cs_lp_type { CS_LP_NONE = 0, CS_LP_BF16, CS_LP_I8 } cs_lp_type;

typedef struct cs_lp_panels {
    cs_lp_type type;     /* CS_LP_NONE: not packed */
    int n, k, kp;        /* kp: k rounded up to the pair (BF16) or quad (int8) */
    const uint8_t *p;    /* panel t at p + t * kp * CS_LP_NR * (2 or 1) bytes */
    const float *wscale; /* int8: per column (zero past n) */
    const float *colsum; /* int8: [k blocks][columns rounded up to CS_LP_NR] */
} cs_lp_panels;

/* Bytes cs_lp_pack writes for an [n, k] matrix. */
size_t cs_lp_bytes(cs_lp_type type, int n, int k);

/* Row r of W as k floats (the packer reads W through it, whatever its
 * dtype). */
typedef void (*cs_lp_row_fn)(const void *ctx, int r, float *out);

/* Packs W [n, k] into out (cs_lp_bytes, 64-byte aligned); row is a scratch
 * of 2 k floats. Sets *pk. */
void cs_lp_pack(cs_lp_type type, int n, int k, cs_lp_row_fn get_row, const void *ctx, float *row,
                uint8_t *out, cs_lp_panels *pk);

/* *pk for a matrix cs_lp_pack packed into `packed` earlier (the same type,
 * n and k), e.g. in another process: the pointers it would have set. */
void cs_lp_view(cs_lp_type type, int n, int k, const uint8_t *packed, cs_lp_panels *pk);

/* y = x . W^T + b with W packed (flags: CS_GEMM_ACCUMULATE and the fused
 * activations of kernels/gemm.h; not CS_GEMM_W_KN). Fails only when scratch
 * memory cannot be had. */
cs_status cs_gemm_lp(cs_pool *pool, int m, const float *x, size_t ldx, const cs_lp_panels *pk,
                     const float *b, float *y, size_t ldy, int flags, cs_error *err);

/* Whether this CPU runs the type's kernel (else cs_gemm_lp uses the slow
 * portable one): for int8 the AVX-512 VNNI kernel, else the AVX-VNNI one. */
int cs_lp_native(cs_lp_type type);
/* The kernel cs_gemm_lp runs for the type here: "avx512-bf16",
 * "avx512-vnni", "avx2-vnni" or "generic". */
const char *cs_lp_kernel_name(cs_lp_type type);

/* ---- what the kernel files provide (internal to gemm_lp*.c) ---------------- */

/* Activations of a row tile, as the kernel reads them: row i at a + i * lda
 * (bytes: BF16 pairs or uint8 quads); int8: the row's scale and low end for
 * this block. */
typedef struct cs_lp_tile {
    const uint8_t *a;
    size_t lda;
    const float *xs, *xlo; /* int8: of the tile's first row, for this block */
    size_t lds;            /* int8: from one row's xs, xlo to the next's */
} cs_lp_tile;

/* c[rows, 64] (row stride ldc, the first nv columns stored) =
 * (add ? c : 0) + the block's products + bias (bias may be NULL). steps:
 * pairs (BF16) or quads (int8) of k in this block. b: the panel at the
 * block's first step. int8: ws (64 column scales), cs (64 column sums). */
typedef void (*cs_lp_micro_fn)(int rows, int steps, const cs_lp_tile *t, const uint8_t *b,
                               const float *ws, const float *cs, float *c, size_t ldc, int nv,
                               const float *bias, int add);
/* BF16: converts rows [r0, r1) of x (k columns) into the tile layout at
 * out + r * ldo (xs, xlo unused). */
typedef void (*cs_lp_convert_fn)(const float *x, size_t ldx, int r0, int r1, int k, int kp,
                                 uint8_t *out, size_t ldo, float *xs, float *xlo);
/* int8: the two vector steps over one block of one row of x (n <= CS_LP_KB
 * floats): its range, and u = round((x - lo) inv) to nearest even, clamped
 * to 0..255. gemm_lp.c does the rows, the blocks, the scales and the
 * padding, so every kernel's activations are the same bytes. */
typedef void (*cs_lp_range_fn)(const float *x, int n, float *lo, float *hi);
typedef void (*cs_lp_quant_fn)(const float *x, int n, float lo, float inv, uint8_t *u);

#if defined(__x86_64__) || defined(_M_X64)
void cs_lp_micro_bf16_avx512(int rows, int steps, const cs_lp_tile *t, const uint8_t *b,
                             const float *ws, const float *cs, float *c, size_t ldc, int nv,
                             const float *bias, int add);
void cs_lp_convert_bf16_avx512(const float *x, size_t ldx, int r0, int r1, int k, int kp,
                               uint8_t *out, size_t ldo, float *xs, float *xlo);
void cs_lp_micro_i8_avx512(int rows, int steps, const cs_lp_tile *t, const uint8_t *b,
                           const float *ws, const float *cs, float *c, size_t ldc, int nv,
                           const float *bias, int add);
void cs_lp_range_avx512(const float *x, int n, float *lo, float *hi);
void cs_lp_quant_avx512(const float *x, int n, float lo, float inv, uint8_t *u);
void cs_lp_micro_i8_avxvnni(int rows, int steps, const cs_lp_tile *t, const uint8_t *b,
                            const float *ws, const float *cs, float *c, size_t ldc, int nv,
                            const float *bias, int add);
void cs_lp_range_avx2(const float *x, int n, float *lo, float *hi);
void cs_lp_quant_avx2(const float *x, int n, float lo, float inv, uint8_t *u);
#endif

#endif
