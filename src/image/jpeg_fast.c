/* image/jpeg_fast.c - the JPEGs indexing meets most, decoded at any scale
 * from 1/8 to 6/8 faster than libjpeg-turbo (docs/performance.md, "Decode
 * of a 12 MP JPEG"), into libjpeg-turbo's own pixels.
 *
 * Indexing asks for a 12 MP photograph at 1/4 or 1/8 of its size
 * (decode_jpeg.c, choose_scale), and there libjpeg-turbo spends nearly all
 * its time in Huffman decoding (jpeg_huff.c says why ours is faster). The
 * rest is what libjpeg does at these scales: its reduced IDCTs (jidctred.c's
 * 2x2 and 4x4, jidctint.c's 3x3, 5x5, 6x6, 8x8, 10x10 and 12x12: the same
 * constants, roundings and limits), chroma enlarged by the IDCT where the
 * subsampling allows it (4:2:0, 4:4:4) and otherwise upsampled across
 * (4:2:2), and its YCbCr -> RGB rule.
 * tests/image/test_jpeg_fast.c compares every pixel with libjpeg's.
 *
 * It takes only files where that holds: 8-bit baseline or extended Huffman,
 * one scan holding every component, grey or YCbCr, IDCT sizes 1-6, 8, 10
 * or 12, each component at the output's size after its IDCT or at half of
 * it across. Anything else, and any stream libjpeg would warn about (a bad
 * code, a run past a block, restart markers out of order, data that ends
 * early, anything but EOI after the scan), it declines before finishing,
 * and libjpeg decodes the file as before: this path never passes a file
 * libjpeg would refuse. The headers are libjpeg's: this reads the tables
 * and the position jpeg_read_header left. */
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"
#include "image/jpeg_fast.h"
#include "image/jpeg_huff.h"
#include "image/jpeg_idct.h"
#include "core/cpu.h"

/* The IDCTs by output size (the sizes left NULL are declined), the
 * upsampling and the colour conversion, one set per instruction set. */
typedef struct jpeg_kernels {
    cs_jpeg_idct_fn idct[13];
    cs_jpeg_h2v1_fn h2v1;
    cs_jpeg_ycc_fn ycc;
} jpeg_kernels;

static const jpeg_kernels portable = {{[1] = cs_jpeg_idct_1x1,
                                       [2] = cs_jpeg_idct_2x2,
                                       [3] = cs_jpeg_idct_3x3,
                                       [4] = cs_jpeg_idct_4x4,
                                       [5] = cs_jpeg_idct_5x5,
                                       [6] = cs_jpeg_idct_6x6,
                                       [8] = cs_jpeg_idct_8x8,
                                       [10] = cs_jpeg_idct_10x10,
                                       [12] = cs_jpeg_idct_12x12},
                                      cs_jpeg_h2v1,
                                      cs_jpeg_ycc_row};

#if defined(__x86_64__) || defined(_M_X64)
static const jpeg_kernels avx2 = {{[1] = cs_jpeg_idct_1x1,
                                   [2] = cs_jpeg_idct_2x2_avx2,
                                   [3] = cs_jpeg_idct_3x3_avx2,
                                   [4] = cs_jpeg_idct_4x4_avx2,
                                   [5] = cs_jpeg_idct_5x5_avx2,
                                   [6] = cs_jpeg_idct_6x6_avx2,
                                   [8] = cs_jpeg_idct_8x8_avx2,
                                   [10] = cs_jpeg_idct_10x10_avx2,
                                   [12] = cs_jpeg_idct_12x12_avx2},
                                  cs_jpeg_h2v1_avx2,
                                  cs_jpeg_ycc_row_avx2};
#endif

typedef struct fast_comp {
    int h, v;         /* blocks of the MCU across and down */
    int size;         /* pixels across a block after its IDCT: 1-6, 8, 10 or 12 */
    int plane;        /* component index: where its samples go */
    int wide;         /* 2: libjpeg doubles the samples across (h2v1 fancy upsampling) */
    unsigned samples; /* samples across the component (what the upsampling reads) */
    int32_t q[64];    /* dequantisation, natural order */
} fast_comp;

typedef struct fast_dec {
    fast_comp comp[3]; /* in the scan's order */
    const fast_comp *by_plane[3];
    int ncomp;
    unsigned mcus_across, mcus_down;
    int mcu_w, mcu_h; /* output pixels of one MCU */
    int fancy;        /* libjpeg's fancy upsampling: not at 1/8 (jdsample.c) */
    huff_dc dc[4];
    huff_ac ac[4];
    huff_reader rd;
    const jpeg_kernels *k;           /* portable or AVX2 */
    cs_jpeg_idct_pair_fn idct2_pair; /* two 2x2s side by side at once, or NULL */
    huff_mcu mcu;
    int16_t blk[HUFF_MAX_BLOCKS][HUFF_BLOCK] __attribute__((aligned(64)));
} fast_dec;

/* ---- what this decoder takes --------------------------------------------- */

/* The scan's i-th component: its place, its upsampling, its tables, its
 * blocks in the MCU. *built: the Huffman tables built so far (DC bits 0-3,
 * AC bits 4-7). */
static int setup_comp(j_decompress_ptr ci, fast_dec *d, int i, int min, int *built) {
    int n = ci->num_components;
    const jpeg_component_info *c = ci->cur_comp_info[i];
    fast_comp *f = &d->comp[i];
    int s = c->DCT_scaled_size;
    if (s < 1 || s > 12 || !d->k->idct[s]) return 0;
    /* libjpeg's upsampler: samples per output pixel across and down */
    int h_in = c->h_samp_factor * s / min, v_in = c->v_samp_factor * s / min;
    int hmax = n == 1 ? h_in : ci->max_h_samp_factor, vmax = n == 1 ? v_in : ci->max_v_samp_factor;
    if (v_in != vmax) return 0;
    if (h_in == hmax)
        f->wide = 1; /* fullsize */
    else if (h_in * 2 == hmax && c->downsampled_width > 2)
        f->wide = 2; /* h2v1: fancy, except at 1/8 */
    else
        return 0;
    f->samples = c->downsampled_width;
    f->h = n == 1 ? 1 : c->h_samp_factor; /* one component: an MCU is a block */
    f->v = n == 1 ? 1 : c->v_samp_factor;
    f->size = s;
    f->plane = c->component_index;
    if (f->plane < 0 || f->plane >= n || d->by_plane[f->plane]) return 0;
    d->by_plane[f->plane] = f;
    const JQUANT_TBL *qt = c->quant_tbl_no >= 0 && c->quant_tbl_no < NUM_QUANT_TBLS
                               ? ci->quant_tbl_ptrs[c->quant_tbl_no]
                               : NULL;
    if (!qt) return 0;
    /* libjpeg multiplies by them as 16-bit signed (ISLOW_MULT_TYPE) */
    for (int k = 0; k < 64; k++)
        if ((f->q[k] = qt->quantval[k]) > 32767) return 0;
    int td = c->dc_tbl_no, ta = c->ac_tbl_no;
    if (td < 0 || td >= NUM_HUFF_TBLS || ta < 0 || ta >= NUM_HUFF_TBLS) return 0;
    const JHUFF_TBL *dc = ci->dc_huff_tbl_ptrs[td], *ac = ci->ac_huff_tbl_ptrs[ta];
    if (!dc || !ac) return 0;
    if (!(*built & (1 << td)) && !cs_huff_build_dc(dc->bits, dc->huffval, &d->dc[td])) return 0;
    if (!(*built & (16 << ta)) && !cs_huff_build_ac(ac->bits, ac->huffval, &d->ac[ta])) return 0;
    *built |= (1 << td) | (16 << ta);
    for (int b = 0; b < f->h * f->v; b++) {
        if (d->mcu.blocks == HUFF_MAX_BLOCKS) return 0;
        d->mcu.comp[d->mcu.blocks] = i;
        d->mcu.dc[d->mcu.blocks] = &d->dc[td];
        d->mcu.ac[d->mcu.blocks++] = &d->ac[ta];
    }
    return 1;
}

static int setup(j_decompress_ptr ci, fast_dec *d) {
    int n = ci->num_components;
    if (ci->progressive_mode || ci->arith_code || ci->data_precision != 8) return 0;
    if (ci->quantize_colors || ci->raw_data_out) return 0;
    if (n == 1) {
        if (ci->jpeg_color_space != JCS_GRAYSCALE || ci->out_color_space != JCS_GRAYSCALE) return 0;
    } else if (n == 3) {
        if (ci->jpeg_color_space != JCS_YCbCr || ci->out_color_space != JCS_RGB) return 0;
    } else {
        return 0;
    }
    if (ci->comps_in_scan != n || ci->Ss != 0 || ci->Se != 63 || ci->Ah != 0 || ci->Al != 0)
        return 0;
    int min = ci->min_DCT_scaled_size, built = 0;
    if (min < 1 || min > 6) return 0;
    d->ncomp = n;
    d->fancy = min > 1;
    d->mcu.blocks = 0;
    d->by_plane[0] = d->by_plane[1] = d->by_plane[2] = NULL;
    for (int i = 0; i < n; i++)
        if (!setup_comp(ci, d, i, min, &built)) return 0;
    int hmax = n == 1 ? 1 : ci->max_h_samp_factor, vmax = n == 1 ? 1 : ci->max_v_samp_factor;
    d->mcus_across = (ci->image_width + 8u * hmax - 1) / (8u * hmax);
    d->mcus_down = (ci->image_height + 8u * vmax - 1) / (8u * vmax);
    d->mcu_w = hmax * min;
    d->mcu_h = vmax * min;
    /* the output libjpeg would give, and no more than the blocks cover */
    return ci->output_width == (ci->image_width * (unsigned)min + 7) / 8 &&
           ci->output_height == (ci->image_height * (unsigned)min + 7) / 8 &&
           ci->output_width <= d->mcus_across * (unsigned)d->mcu_w &&
           ci->output_height <= d->mcus_down * (unsigned)d->mcu_h;
}

/* ---- decoding ------------------------------------------------------------ */

/* One MCU's blocks into the planes of its MCU row, at column x. */
static int decode_mcu(fast_dec *d, uint32_t *pred, uint8_t **planes, size_t stride, unsigned x) {
    if (!cs_huff_mcu(&d->rd, &d->mcu, pred, d->blk)) return 0;
    int b = 0;
    for (int i = 0; i < d->ncomp; i++) {
        const fast_comp *f = &d->comp[i];
        for (int v = 0; v < f->v; v++)
            for (int h = 0; h < f->h; h++) {
                uint8_t *out = planes[f->plane] + (size_t)(v * f->size) * stride +
                               ((size_t)x * f->h + (size_t)h) * (size_t)f->size;
                if (f->size == 2 && h + 1 < f->h && d->idct2_pair) { /* and its neighbour */
                    if (!d->idct2_pair(d->blk[b], d->blk[b + 1], f->q, out, (int)stride)) return 0;
                    b += 2, h++;
                    continue;
                }
                if (!d->k->idct[f->size](d->blk[b++], f->q, out, (int)stride)) return 0;
            }
    }
    return 1;
}

/* planes_mem: an MCU row of each component, then a row of each upsampled */
static int decode_scan(j_decompress_ptr ci, fast_dec *d, uint8_t *rgb, uint8_t *planes_mem,
                       size_t stride) {
    const uint8_t *src = ci->src->next_input_byte, *end = src + ci->src->bytes_in_buffer;
    uint8_t *planes[3], *wide_rows[3];
    for (int p = 0; p < d->ncomp; p++) {
        planes[p] = planes_mem + (size_t)p * stride * (size_t)d->mcu_h;
        wide_rows[p] =
            planes_mem + (size_t)d->ncomp * stride * (size_t)d->mcu_h + (size_t)p * stride;
    }
    uint32_t pred[3] = {0, 0, 0};
    unsigned interval = ci->restart_interval, left = interval, next_rst = 0;
    const unsigned w = ci->output_width, h = ci->output_height;
    cs_huff_start(&d->rd, src, end);
    for (unsigned my = 0; my < d->mcus_down; my++) {
        for (unsigned mx = 0; mx < d->mcus_across; mx++) {
            if (interval && left == 0) { /* libjpeg's process_restart */
                if (!cs_huff_within(&d->rd) || cs_huff_marker(&d->rd) != 0xD0 + (int)next_rst)
                    return 0;
                next_rst = (next_rst + 1) & 7;
                cs_huff_start(&d->rd, d->rd.src, end);
                memset(pred, 0, sizeof pred);
                left = interval;
            }
            if (!cs_huff_keep_ahead(&d->rd) || !decode_mcu(d, pred, planes, stride, mx)) return 0;
            left--;
        }
        for (int r = 0; r < d->mcu_h; r++) {
            size_t y = (size_t)my * (size_t)d->mcu_h + (size_t)r;
            if (y >= h) break;
            const uint8_t *row[3];
            for (int p = 0; p < d->ncomp; p++) {
                const fast_comp *f = d->by_plane[p];
                row[p] = planes[p] + (size_t)r * stride;
                if (f->wide == 2) {
                    d->k->h2v1(row[p], f->samples, d->fancy, wide_rows[p]);
                    row[p] = wide_rows[p];
                }
            }
            uint8_t *out = rgb + y * w * 3;
            if (d->ncomp == 3)
                d->k->ycc(row[0], row[1], row[2], out, (int)w);
            else
                cs_row_l_to_rgb(row[0], out, (int)w);
        }
    }
    return cs_huff_within(&d->rd) && cs_huff_marker(&d->rd) == 0xD9;
}

int cs_jpeg_fast_decode(j_decompress_ptr cinfo, uint8_t *rgb) {
    fast_dec *d = aligned_alloc(64, (sizeof(fast_dec) + 63) & ~(size_t)63);
    if (!d) return 0;
    d->k = &portable;
    d->idct2_pair = NULL;
#if defined(__x86_64__) || defined(_M_X64)
    cs_cpu_level level = cs_cpu_level_get(); /* CLIPSEARCH_CPU=generic: portable */
    if (level >= CS_CPU_AVX2) d->k = &avx2;
    if (level >= CS_CPU_AVX512) d->idct2_pair = cs_jpeg_idct_2x2_pair_avx512;
#endif
    int ok = setup(cinfo, d);
    uint8_t *planes = NULL;
    size_t stride = ok ? (size_t)d->mcus_across * (size_t)d->mcu_w : 0;
    if (ok) ok = (planes = malloc(stride * ((size_t)d->mcu_h + 1) * (size_t)d->ncomp)) != NULL;
    if (ok) ok = decode_scan(cinfo, d, rgb, planes, stride);
    free(planes);
    free(d);
    return ok;
}
