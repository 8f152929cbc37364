/* index/ann_internal.h - what the files of the approximate index share: the
 * header as stored, the layout, the code kernels. */
#ifndef CS_INDEX_ANN_INTERNAL_H
#define CS_INDEX_ANN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define CS_ANN_MAGIC "CSANN1\0"

typedef struct cs_ann_header {
    char magic[8];
    uint32_t version, dim, nlist, code_stride;
    uint64_t count, generation;
    uint8_t uuid[16];
    uint64_t trained_count;
    uint64_t centroids, sq, lists, ids, codes, file_size;
    uint64_t check;
    uint32_t code_bits, reserved; /* version 1: both 0, the codes of 8 bits */
} cs_ann_header;

/* Where each part of a file of this shape lies. */
typedef struct cs_ann_offsets {
    uint64_t centroids, sq, lists, ids, codes, size;
} cs_ann_offsets;

/* Bytes of one row's code of `bits` (8 or 4) a dimension: 8 bits, dim
 * rounded up to 16 (the kernels' step); 4 bits, dim rounded up to 128
 * (one 64-byte block of nibbles), halved. */
int cs_ann_stride(int dim, int bits);

/* The layout for dim, nlist, count, code stride and bits; 0 when a value is
 * out of range or a size overflows 64 bits. */
int cs_ann_layout(uint64_t dim, uint64_t nlist, uint64_t count, uint64_t stride, uint64_t bits,
                  cs_ann_offsets *l);

/* The header's check value over h (check ignored) and the tables from the
 * centroids to the ids (n bytes). */
uint64_t cs_ann_checksum(const cs_ann_header *h, const uint8_t *tables, size_t n);

/* The query in the codes' terms: qi[d] = round(q[d] * step[d] * scale),
 * zero past dim up to stride, with scale chosen so no 32-bit sum of
 * products with 8-bit codes can overflow and |qi| < 2^14 (two signed bytes,
 * below). The score of a code c is then sum_d q[d] * min[d] + (sum_d qi[d]
 * c[d]) / scale; the first term is the same for every row, so candidates
 * are ranked by the integer dot alone. */
void cs_ann_quantize_query(const float *q, const float *step, int dim, int stride, int16_t *qi);

/* A quantized query as the kernels take it: qi (stride values) and the
 * same split into signed bytes for vpdpbusd, q8 = hi[stride] then
 * lo[stride] with qi = 128 hi + lo (lo in 0..127). */
typedef struct cs_ann_qcode {
    const int16_t *qi;
    const int8_t *q8;
} cs_ann_qcode;
void cs_ann_split_query(const int16_t *qi, int stride, int8_t *q8);

/* out[r] = sum_d qi[d] * codes[r * stride + d] for r < n, exactly (every
 * kernel gives the same integers). */
typedef void (*cs_ann_scan_fn)(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                               int32_t *out);
void cs_ann_scan_generic(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                         int32_t *out);
#if defined(__x86_64__) || defined(_M_X64)
void cs_ann_scan_avx2(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                      int32_t *out);
void cs_ann_scan_vnni(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                      int32_t *out);
#endif
/* The kernel for codes of `bits` (8 or 4) on this CPU: AVX-512 VNNI, AVX2,
 * or portable C (lowered by CLIPSEARCH_CPU, core/cpu.h), and the 8-bit
 * one's name (the 4-bit kernels follow the same choice). */
cs_ann_scan_fn cs_ann_scan_kernel(int bits);
const char *cs_ann_scan_kernel_name(void);

/* rintf for 0 <= v <= 255 without a library call (the build targets plain
 * x86-64, where rintf is not inlined, and the encoders' loops would not
 * vectorize): adding and taking away 1.5 x 2^23 leaves v rounded to
 * nearest, ties to even, as rintf does. */
static inline float cs_ann_round_small(float v) {
    return (v + 12582912.0f) - 12582912.0f;
}

/* One row's code: c[d] = clamp(round((x[d] - min[d]) / step[d]), 0, 255). */
void cs_ann_encode(const float *x, const float *min, const float *step, int dim, int stride,
                   uint8_t *code);

/* ---- codes of 4 bits (ann_sq4.c) ----------------------------------------
 * Half the bytes of the 8-bit codes, for catalogues whose 8-bit codes would
 * not fit in memory. Dimension d lies in block b = d / 128 of 64 bytes, in
 * byte 64 b + d % 64: the low nibble for d % 128 < 64, else the high one.
 * So a block's low nibbles are dimensions 128 b .. 128 b + 63 in order and
 * its high nibbles the next 64: a kernel splits a block with one mask and
 * one shift and meets the query in its natural order. */

/* c[d] = clamp(round((x[d] - min[d]) / step[d]), 0, 15), NaN -> 0, in the
 * layout above; stride = cs_ann_stride(dim, 4) bytes, zero past dim. */
void cs_ann_encode4(const float *x, const float *min, const float *step, int dim, int stride,
                    uint8_t *code);

/* The query for 4-bit codes: q8[d] = round(q[d] * step[d] * scale) with
 * the largest |q8| 127, 2 x stride values (zero past dim). Sums of 15 x 127
 * a dimension fit 32 bits for any dimension allowed. */
void cs_ann_quantize_query4(const float *q, const float *step, int dim, int stride, int8_t *q8);

/* out[r] = sum_d q8[d] * c_r[d] over the 4-bit codes (q->q8 as made
 * above; q->qi unused), exactly alike in every kernel. */
void cs_ann_scan4_generic(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                          int32_t *out);
#if defined(__x86_64__) || defined(_M_X64)
void cs_ann_scan4_avx2(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                       int32_t *out);
void cs_ann_scan4_vnni(const uint8_t *codes, int64_t n, int stride, const cs_ann_qcode *q,
                       int32_t *out);
#endif

#endif
