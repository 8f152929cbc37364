/* tests/index/test_ann_scan.c - the code-scan kernels of the approximate
 * index (ann_scan_avx2.c, ann_scan_vnni.c) give exactly the portable
 * kernel's integers, on every code stride from 16 to 1040 (the VNNI
 * kernel's 64-byte blocks and 16/32/48-byte tails), row counts that are
 * and are not multiples of four, extreme codes and queries (all 255
 * against the largest query the scale allows, either sign); and the query's
 * byte split recombines to the 16-bit query. The kernels the CPU lacks are
 * skipped with a note. The row encoder rounds and clamps as
 * clamp(rintf((x - min) / step), 0, 255) with NaN -> 0, checked on values
 * in and out of range, halves (ties to even), NaN and infinities.
 * The same for codes of 4 bits: the encoder's nibbles where the layout
 * says (ann_internal.h) with clamp(rintf(..), 0, 15); the portable scan
 * against sums formed here from those values; the vector kernels against
 * the portable one on every stride from 64 to 512 bytes. */
#include <math.h>
#include <stdint.h>

#include "index/ann_internal.h"
#include "index/search_internal.h"
#include "core/cpu.h"
#include "test.h"

static uint64_t rng = 7;
static uint32_t next(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33);
}

enum { MAX_STRIDE = 1040, MAX_ROWS = 37 };

/* A query of stride values as cs_ann_quantize_query makes them: dim
 * floats with steps, quantized; mode 0 random, 1 all +max, 2 all -max. */
static void make_query(int dim, int stride, int mode, int16_t *qi) {
    float q[MAX_STRIDE], step[MAX_STRIDE];
    for (int d = 0; d < dim; d++) {
        q[d] = mode == 1 ? 1.0f : mode == 2 ? -1.0f : (float)((int)(next() % 2001) - 1000) / 1000;
        step[d] = 1.0f / 255;
    }
    cs_ann_quantize_query(q, step, dim, stride, qi);
}

/* fn against the portable kernel ref on the first 1, 6, 10, 15, ... rows
 * of codes (every row count mod 4 the kernels' four-row loops meet). */
static void same_sums(cs_ann_scan_fn ref, cs_ann_scan_fn fn, const uint8_t *codes, int stride,
                      const cs_ann_qcode *q, const char *name, int bits, int mode) {
    for (int n = 1; n <= MAX_ROWS; n += 4 + (n & 1)) {
        int32_t want[MAX_ROWS], got[MAX_ROWS];
        ref(codes, n, stride, q, want);
        fn(codes, n, stride, q, got);
        int same = 1;
        for (int r = 0; r < n; r++) same &= want[r] == got[r];
        CHECK_MSG(same, "%s (%d bits): stride %d, %d rows, mode %d: not the portable kernel's sums",
                  name, bits, stride, n, mode);
    }
}

static void check_stride(int stride, const char *name, cs_ann_scan_fn fn, int mode) {
    static uint8_t codes[MAX_ROWS * MAX_STRIDE];
    int16_t qi[MAX_STRIDE];
    int8_t q8[2 * MAX_STRIDE];
    int dim = stride - (int)(next() % 16); /* zero past dim, as stored */
    if (dim < 1) dim = 1;
    make_query(dim, stride, mode, qi);
    cs_ann_split_query(qi, stride, q8);
    for (int d = 0; d < stride; d++) {
        CHECK(qi[d] >= -16384 && qi[d] <= 16383);
        CHECK_EQ_INT(q8[d] * 128 + q8[stride + d], qi[d]);
        CHECK(q8[stride + d] >= 0);
    }
    for (int i = 0; i < MAX_ROWS * stride; i++)
        codes[i] = mode ? 255 : (uint8_t)(i % stride < dim ? next() : 0);
    cs_ann_qcode q = {qi, q8};
    same_sums(cs_ann_scan_generic, fn, codes, stride, &q, name, 8, mode);
}

static void check_encode(void) {
    enum { DIM = 200, STRIDE = 208 };
    float x[DIM], min[DIM], step[DIM];
    uint8_t code[STRIDE];
    for (int round = 0; round < 200; round++) {
        for (int d = 0; d < DIM; d++) {
            min[d] = (float)((int)(next() % 2001) - 1000) / 1000;
            step[d] = round % 2 ? 1.0f : (float)(next() % 1000 + 1) / 100000;
            int kind = (int)(next() % 8);
            /* a whole or half number of steps (ties), far out, NaN, inf */
            float k = kind == 0   ? (float)((int)(next() % 600) - 170) / 2
                      : kind == 1 ? (float)((int)(next() % 10) - 5) * 1e30f
                      : kind == 2 ? NAN
                      : kind == 3 ? (next() & 1 ? INFINITY : -INFINITY)
                                  : (float)((int)(next() % 300000) - 20000) / 1000;
            x[d] = round % 2 ? min[d] + k : min[d] + k * step[d];
        }
        cs_ann_encode(x, min, step, DIM, STRIDE, code);
        for (int d = 0; d < DIM; d++) {
            float c = rintf((x[d] - min[d]) / step[d]);
            int want = isnan(c) || c <= 0 ? 0 : c >= 255 ? 255 : (int)c;
            CHECK_MSG(code[d] == want, "encode %g (min %g, step %g): %d, not %d", (double)x[d],
                      (double)min[d], (double)step[d], code[d], want);
        }
        for (int d = DIM; d < STRIDE; d++) CHECK_EQ_INT(code[d], 0);
    }
}

/* dimension d's 4-bit code in a row, as ann_internal.h lays them out */
static int nibble(const uint8_t *code, int d) {
    int byte = 64 * (d / 128) + d % 64;
    return d % 128 < 64 ? code[byte] & 15 : code[byte] >> 4;
}

static void check_encode4(void) {
    enum { DIM = 300, STRIDE = 192 }; /* 300 rounded up to 384 dimensions, halved */
    CHECK_EQ_INT(cs_ann_stride(DIM, 4), STRIDE);
    float x[DIM], min[DIM], step[DIM], q[DIM];
    uint8_t code[STRIDE];
    int8_t q8[2 * STRIDE];
    for (int round = 0; round < 200; round++) {
        for (int d = 0; d < DIM; d++) {
            min[d] = (float)((int)(next() % 2001) - 1000) / 1000;
            step[d] = (float)(next() % 1000 + 1) / 10000;
            int kind = (int)(next() % 8);
            float k = kind == 0   ? (float)((int)(next() % 44) - 6) / 2 /* ties, out of range */
                      : kind == 1 ? NAN
                      : kind == 2 ? (next() & 1 ? INFINITY : -INFINITY)
                                  : (float)((int)(next() % 20000) - 2000) / 1000;
            x[d] = min[d] + k * step[d];
            q[d] = (float)((int)(next() % 2001) - 1000) / 1000;
        }
        cs_ann_encode4(x, min, step, DIM, STRIDE, code);
        int32_t want = 0, got;
        cs_ann_quantize_query4(q, step, DIM, STRIDE, q8);
        for (int d = 0; d < DIM; d++) {
            float c = rintf((x[d] - min[d]) / step[d]);
            int w = isnan(c) || c <= 0 ? 0 : c >= 15 ? 15 : (int)c;
            CHECK_MSG(nibble(code, d) == w, "encode4 %g (min %g, step %g) at %d: %d, not %d",
                      (double)x[d], (double)min[d], (double)step[d], d, nibble(code, d), w);
            CHECK(q8[d] >= -127 && q8[d] <= 127);
            want += w * q8[d];
        }
        for (int d = DIM; d < 2 * STRIDE; d++) CHECK(nibble(code, d) == 0 && q8[d] == 0);
        cs_ann_qcode qc = {NULL, q8};
        cs_ann_scan4_generic(code, 1, STRIDE, &qc, &got);
        CHECK_EQ_INT(got, want);
    }
}

static void check_stride4(int stride, const char *name, cs_ann_scan_fn fn, int mode) {
    static uint8_t codes[MAX_ROWS * MAX_STRIDE];
    int8_t q8[2 * MAX_STRIDE];
    for (int d = 0; d < 2 * stride; d++)
        q8[d] = (int8_t)(mode == 1 ? 127 : mode == 2 ? -127 : (int)(next() % 255) - 127);
    for (int i = 0; i < MAX_ROWS * stride; i++) codes[i] = mode ? 255 : (uint8_t)next();
    cs_ann_qcode q = {NULL, q8};
    same_sums(cs_ann_scan4_generic, fn, codes, stride, &q, name, 4, mode);
}

int main(void) {
    check_encode();
    check_encode4();
    struct {
        const char *name;
        cs_ann_scan_fn fn8, fn4; /* the generic 4-bit scan is the reference */
        int ok;
    } kernels[] = {
#if defined(__x86_64__) || defined(_M_X64)
        {"avx2", cs_ann_scan_avx2, cs_ann_scan4_avx2, cs_cpu_level_get() >= CS_CPU_AVX2},
        {"avx512-vnni", cs_ann_scan_vnni, cs_ann_scan4_vnni, cs_cpu_has(CS_CPU_VNNI)},
#endif
        {"generic", cs_ann_scan_generic, NULL, 1},
    };
    for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++) {
        if (!kernels[k].ok) {
            printf("%s: not on this CPU, skipped\n", kernels[k].name);
            continue;
        }
        for (int stride = 16; stride <= MAX_STRIDE; stride += 16)
            for (int mode = 0; mode < 3; mode++) {
                check_stride(stride, kernels[k].name, kernels[k].fn8, mode);
                if (kernels[k].fn4 && stride % 64 == 0 && stride <= 512)
                    check_stride4(stride, kernels[k].name, kernels[k].fn4, mode);
            }
        printf("%s: checked\n", kernels[k].name);
    }
    printf("kernel in use: %s\n", cs_ann_scan_kernel_name());
    return cs_test_done("index.ann_scan");
}
