/* tests/image/test_jpeg_fast.c - the fast scaled JPEG decoder gives
 * libjpeg-turbo's pixels, takes the files it is for, and never passes a
 * file libjpeg refuses.
 *
 * Reference: libjpeg-turbo itself, decoding the same file at the same n/8
 * scale with the same settings (what decode_jpeg.c did before the fast path
 * existed). Files: JPEGs written here by libjpeg in every layout the fast
 * path takes or declines (4:2:0, 4:4:4, 4:2:2, 4:4:0, grey, restart intervals,
 * optimised tables, progressive, sizes that are not whole MCUs, qualities
 * 30-100), every JPEG of the oracle and of Pillow's test corpus, and
 * damaged copies (truncated, bytes flipped), where the public decoder's
 * verdict and pixels must not change with the fast path on or off; and
 * files written from coefficients at the limit of what the 8x8 IDCT takes. */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include <jpeglib.h>
#include <jerror.h>

#include "core/cpu.h"
#include "image/jpeg_fast.h"
#include "image/jpeg_idct.h"
#include "test.h"

/* ---- writing test files ---------------------------------------------------- */

typedef struct layout {
    const char *name;
    int comps, h0, v0; /* components; the first one's sampling (others 1x1) */
    int restart, optimize, progressive, quality;
    int w, h;
} layout;

/* A picture with edges, gradients and noise, so every coefficient gets used. */
static uint8_t sample(int x, int y, int c, uint32_t *seed) {
    *seed = *seed * 1664525u + 1013904223u;
    int v = (x * (3 + c) + y * (5 - c)) & 255;
    if (((x / 37) + (y / 23)) & 1) v = 255 - v;
    v += (int)(*seed >> 28) - 8;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* A compressor writing w x h pixels of comps components into *buf (libjpeg's
 * defaults: YCbCr 4:2:0 for three components). */
static void begin_jpeg(struct jpeg_compress_struct *ci, struct jpeg_error_mgr *je,
                       unsigned char **buf, unsigned long *size, int w, int h, int comps) {
    ci->err = jpeg_std_error(je);
    jpeg_create_compress(ci);
    *buf = NULL;
    jpeg_mem_dest(ci, buf, size);
    ci->image_width = (JDIMENSION)w;
    ci->image_height = (JDIMENSION)h;
    ci->input_components = comps;
    ci->in_color_space = comps == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(ci);
}

static uint8_t *write_jpeg(const layout *l, unsigned long *size) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    unsigned char *buf;
    begin_jpeg(&ci, &je, &buf, size, l->w, l->h, l->comps);
    jpeg_set_quality(&ci, l->quality, TRUE);
    ci.comp_info[0].h_samp_factor = l->h0;
    ci.comp_info[0].v_samp_factor = l->v0;
    ci.restart_interval = (unsigned)l->restart;
    ci.optimize_coding = l->optimize ? TRUE : FALSE;
    if (l->progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    uint8_t *row = malloc((size_t)l->w * (size_t)l->comps);
    uint32_t seed = 12345;
    while (ci.next_scanline < ci.image_height) {
        for (int x = 0; x < l->w; x++)
            for (int c = 0; c < l->comps; c++)
                row[x * l->comps + c] = sample(x, (int)ci.next_scanline, c, &seed);
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    return buf;
}

/* A 64x64 4:2:0 JPEG written from DCT coefficients (jpeg_write_coefficients):
 * every block zero but the first of Cb, whose quantised coefficients are
 * blk (natural order); every quantiser of the chroma table is q, so the
 * decoder's values are q times blk's. */
static uint8_t *write_coefficients(const int16_t blk[64], int q, unsigned long *size) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    unsigned char *buf;
    begin_jpeg(&ci, &je, &buf, size, 64, 64, 3);
    unsigned table[64];
    for (int k = 0; k < 64; k++) table[k] = (unsigned)q;
    jpeg_add_quant_table(&ci, 1, table, 100, TRUE);
    jvirt_barray_ptr arrays[3];
    for (int c = 0; c < 3; c++) { /* blocks: luma 8 x 8, chroma 4 x 4 */
        int blocks = c ? 4 : 8;
        arrays[c] = (*ci.mem->request_virt_barray)((j_common_ptr)&ci, JPOOL_IMAGE, TRUE,
                                                   (JDIMENSION)blocks, (JDIMENSION)blocks,
                                                   (JDIMENSION)ci.comp_info[c].v_samp_factor);
    }
    jpeg_write_coefficients(&ci, arrays); /* realises the arrays */
    for (int c = 0; c < 3; c++) {
        int blocks = c ? 4 : 8;
        for (int y = 0; y < blocks; y++) {
            JBLOCKARRAY row =
                (*ci.mem->access_virt_barray)((j_common_ptr)&ci, arrays[c], (JDIMENSION)y, 1, TRUE);
            for (int x = 0; x < blocks; x++)
                for (int k = 0; k < 64; k++)
                    row[0][x][k] = (JCOEF)(c == 1 && x == 0 && y == 0 ? blk[k] : 0);
        }
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return buf;
}

/* ---- libjpeg against the fast path, on one file at one scale -------------- */

typedef struct ref_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int warned;
    uint8_t *volatile line; /* freed where longjmp lands (volatile: set after setjmp) */
} ref_err;

static void ref_exit(j_common_ptr ci) {
    longjmp(((ref_err *)ci->err)->jump, 1);
}
/* the warnings decode_jpeg.c refuses a file for (the others lose nothing) */
static void ref_message(j_common_ptr ci, int level) {
    int code = ci->err->msg_code;
    if (level < 0 &&
        (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
         code == JWRN_ARITH_BAD_CODE || code == JWRN_MUST_RESYNC))
        ((ref_err *)ci->err)->warned = 1;
}

/* Decodes at scale n/8 into *rgb: with libjpeg (fast = 0; returns 1 when it
 * decoded without errors or warnings) or with the fast path (returns 1 when
 * it took the file). */
static int decode(const uint8_t *data, size_t size, int n, int fast, uint8_t **rgb, int *w,
                  int *h) {
    struct jpeg_decompress_struct ci;
    ref_err e;
    memset(&e, 0, sizeof e);
    ci.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = ref_exit;
    e.pub.emit_message = ref_message;
    *rgb = NULL;
    if (setjmp(e.jump)) {
        jpeg_destroy_decompress(&ci);
        free(e.line);
        free(*rgb);
        *rgb = NULL;
        return 0;
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, data, (unsigned long)size);
    jpeg_read_header(&ci, TRUE);
    if (ci.num_components == 3) ci.out_color_space = JCS_RGB;
    ci.scale_num = (unsigned)n;
    ci.scale_denom = 8;
    jpeg_calc_output_dimensions(&ci);
    *w = (int)ci.output_width, *h = (int)ci.output_height;
    int oc = ci.out_color_space == JCS_GRAYSCALE ? 1 : ci.out_color_space == JCS_RGB ? 3 : 0;
    if (!oc) {
        jpeg_destroy_decompress(&ci);
        return 0;
    }
    *rgb = malloc((size_t)*w * (size_t)*h * 3);
    int ok;
    if (fast) {
        ok = cs_jpeg_fast_decode(&ci, *rgb);
    } else {
        uint8_t *line = e.line = malloc((size_t)*w * 3);
        jpeg_start_decompress(&ci);
        while (ci.output_scanline < ci.output_height) {
            uint8_t *dst = *rgb + (size_t)ci.output_scanline * (size_t)*w * 3;
            JSAMPROW r = oc == 3 ? dst : line;
            jpeg_read_scanlines(&ci, &r, 1);
            if (oc == 1)
                for (int x = *w - 1; x >= 0; x--)
                    dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = line[x];
        }
        jpeg_finish_decompress(&ci);
        free(line);
        e.line = NULL;
        ok = !e.warned;
    }
    jpeg_destroy_decompress(&ci);
    if (!ok) {
        free(*rgb);
        *rgb = NULL;
    }
    return ok;
}

/* Returns 1 when the fast path took the file; checks its pixels against
 * libjpeg's, and that it took nothing libjpeg warns about. */
static int compare(const char *what, const uint8_t *data, size_t size, int n) {
    uint8_t *a, *b;
    int wa = 0, ha = 0, wb = 0, hb = 0;
    int ref = decode(data, size, n, 0, &a, &wa, &ha);
    int took = decode(data, size, n, 1, &b, &wb, &hb);
    if (took) {
        CHECK_MSG(ref, "%s at %d/8: the fast path took a file libjpeg refuses or warns about", what,
                  n);
        if (ref) {
            size_t bytes = (size_t)wa * (size_t)ha * 3, diff = 0, first = bytes;
            for (size_t i = 0; i < bytes; i++)
                if (a[i] != b[i]) {
                    if (first == bytes) first = i;
                    diff++;
                }
            CHECK_MSG(diff == 0,
                      "%s at %d/8 (%dx%d): %zu of %zu bytes differ, first at pixel (%zu, %zu): %d "
                      "vs libjpeg %d",
                      what, n, wa, ha, diff, bytes, first / 3 % (size_t)wa, first / 3 / (size_t)wa,
                      diff ? b[first] : 0, diff ? a[first] : 0);
        }
    }
    free(a);
    free(b);
    return took;
}

/* ---- files --------------------------------------------------------------- */

/* the scales n/8 the fast path may take (7/8 it never does) */
static const int scales[] = {1, 2, 3, 4, 5, 6};

static void written_files(void) {
    static const layout ls[] = {
        /* taken: chroma enlarged by the IDCT, or one component */
        {"4:2:0", 3, 2, 2, 0, 0, 0, 90, 333, 250},
        {"4:2:0 restarts", 3, 2, 2, 3, 0, 0, 75, 320, 240},
        {"4:2:0 optimised q100", 3, 2, 2, 0, 1, 0, 100, 200, 161},
        {"4:2:0 q30 restart 1", 3, 2, 2, 1, 1, 0, 30, 129, 77},
        {"4:4:4", 3, 1, 1, 0, 0, 0, 95, 257, 190},
        {"4:4:4 restarts", 3, 1, 1, 7, 1, 0, 85, 160, 120},
        {"grey", 1, 1, 1, 0, 0, 0, 90, 301, 203},
        {"grey restarts", 1, 1, 1, 5, 1, 0, 60, 96, 64},
        /* 4:2:2: chroma upsampled across, libjpeg's fancy way */
        {"4:2:2", 3, 2, 1, 0, 0, 0, 90, 322, 241},
        {"4:2:2 restarts", 3, 2, 1, 2, 1, 0, 70, 161, 120},
        /* declined: 4:4:0 (upsampled down), progressive */
        {"4:4:0", 3, 1, 2, 0, 0, 0, 90, 320, 240},
        {"progressive", 3, 2, 2, 0, 0, 1, 90, 320, 240},
    };
    for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++) {
        unsigned long size = 0;
        uint8_t *f = write_jpeg(&ls[i], &size);
        int declined = i >= 10;
        for (size_t s = 0; s < sizeof scales / sizeof *scales; s++) {
            int n = scales[s], took = compare(ls[i].name, f, size, n);
            int expect = !declined;
            CHECK_MSG(took == expect, "%s at %d/8: fast path %s", ls[i].name, n,
                      took ? "took it" : "declined");
        }
        /* damage: cut short, and single bytes changed through the coded data */
        for (size_t cut = size / 3; cut < size; cut += size / 3) compare("truncated", f, cut, 2);
        uint8_t *g = malloc(size);
        for (int t = 0; t < 60; t++) {
            memcpy(g, f, size);
            size_t at = size / 2 + (size_t)t * 97 % (size / 2);
            g[at] ^= (uint8_t)(1u << (t & 7));
            compare("flipped", g, size, t % 3 + 1);
        }
        free(g);
        free(f);
    }
}

/* Every .jpg/.jpeg in a folder, at every scale; returns how many the fast
 * path took at 2/8. */
static int folder(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int taken = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *dot = strrchr(e->d_name, '.');
        if (!dot || (strcmp(dot, ".jpg") && strcmp(dot, ".jpeg") && strcmp(dot, ".JPG"))) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size;
        char *data = cs_test_read(path, &size);
        for (size_t s = 0; s < sizeof scales / sizeof *scales; s++)
            taken += compare(path, (uint8_t *)data, size, scales[s]) && scales[s] == 2;
        free(data);
    }
    closedir(d);
    return taken;
}

/* ---- the vector IDCTs against the portable ones ------------------------- */

/* Random blocks, from a photograph's magnitudes to the extremes a damaged
 * file can hold (any 16-bit coefficient times an 8-bit quantiser), where
 * the vector 6x6 must hand the block to the portable code's 64 bits. */
static void vector_idcts(void) {
#if defined(__x86_64__) || defined(_M_X64)
    if (cs_cpu_level_get() < CS_CPU_AVX2) return; /* CLIPSEARCH_CPU=generic */
    static const struct {
        const char *name;
        cs_jpeg_idct_fn ref, vec;
    } fs[] = {{"3x3", cs_jpeg_idct_3x3, cs_jpeg_idct_3x3_avx2},
              {"6x6", cs_jpeg_idct_6x6, cs_jpeg_idct_6x6_avx2},
              {"8x8", cs_jpeg_idct_8x8, cs_jpeg_idct_8x8_avx2},
              {"5x5", cs_jpeg_idct_5x5, cs_jpeg_idct_5x5_avx2},
              {"10x10", cs_jpeg_idct_10x10, cs_jpeg_idct_10x10_avx2},
              {"12x12", cs_jpeg_idct_12x12, cs_jpeg_idct_12x12_avx2}};
    uint32_t seed = 7;
    int16_t c[64] __attribute__((aligned(16)));
    int32_t q[64];
    for (size_t f = 0; f < sizeof fs / sizeof *fs; f++) {
        int bad = 0, declined = 0;
        for (int t = 0; t < 20000; t++) {
            int extreme = t % 4 == 0;
            for (int k = 0; k < 64; k++) {
                seed = seed * 1664525u + 1013904223u;
                /* a photograph's: smaller the higher the frequency */
                int reach = k ? 16 / (k / 8 + k % 8) : 64;
                c[k] = extreme ? (int16_t)(seed >> 16)
                               : (int16_t)((int)(seed >> 16) % (2 * reach + 1) - reach);
                q[k] = 1 + (int)((seed >> 8) % (extreme ? 255 : 16));
            }
            uint8_t a[12 * 16], b[12 * 16]; /* up to 12 rows of 12, 16 apart */
            memset(a, 0, sizeof a), memset(b, 0, sizeof b);
            int ra = fs[f].ref(c, q, a, 16), rb = fs[f].vec(c, q, b, 16);
            bad += ra != rb || (ra && memcmp(a, b, sizeof a) != 0);
            declined += !ra && !extreme;
        }
        CHECK_MSG(bad == 0, "IDCT %s: AVX2 and portable differ on %d of 20000 blocks", fs[f].name,
                  bad);
        /* the 8x8 declines where libjpeg-turbo's SIMD and C may differ:
         * never a photograph's blocks */
        CHECK_MSG(declined == 0, "IDCT %s: %d ordinary blocks declined", fs[f].name, declined);
    }
#endif
}

/* The AVX-512 2x2 of two neighbouring blocks gives the bytes of two AVX2
 * 2x2s, side by side: random pairs from a photograph's magnitudes to any
 * 16-bit coefficient times any 8-bit quantiser (both 32-bit, wrapping
 * alike). */
static void idct_2x2_pairs(void) {
#if defined(__x86_64__) || defined(_M_X64)
    if (cs_cpu_level_get() < CS_CPU_AVX512) return; /* not this CPU, or CLIPSEARCH_CPU */
    uint32_t seed = 11;
    int16_t c[2][72] __attribute__((aligned(16)));
    int32_t q[64];
    int bad = 0;
    for (int t = 0; t < 20000; t++) {
        int extreme = t % 4 == 0;
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 64; k++) {
                seed = seed * 1664525u + 1013904223u;
                int reach = k ? 16 / (k / 8 + k % 8) : 64;
                c[b][k] = extreme ? (int16_t)(seed >> 16)
                                  : (int16_t)((int)(seed >> 16) % (2 * reach + 1) - reach);
                if (b == 0) q[k] = 1 + (int)((seed >> 8) % (extreme ? 255 : 16));
            }
        uint8_t a[2 * 16], p[2 * 16]; /* two rows of four, 16 apart */
        memset(a, 0, sizeof a), memset(p, 0, sizeof p);
        cs_jpeg_idct_2x2_avx2(c[0], q, a, 16);
        cs_jpeg_idct_2x2_avx2(c[1], q, a + 2, 16);
        int took = cs_jpeg_idct_2x2_pair_avx512(c[0], c[1], q, p, 16);
        bad += !took || memcmp(a, p, sizeof a) != 0;
    }
    CHECK_MSG(bad == 0, "IDCT 2x2 pair: AVX-512 and two AVX2 differ on %d of 20000 pairs", bad);
#endif
}

/* The 8x8 (4:2:0's chroma at 4/8) takes only blocks where libjpeg-turbo's
 * SIMD (16-bit lanes, saturating) and its C code (32 bits, wrapping through
 * its range table) give the same pixels: outputs within 511 of mid-grey.
 * A file with another block goes to libjpeg whole, even where this machine's
 * libjpeg-turbo would agree (its SIMD saturates as we clamp); its C code
 * would not. The limit from both sides and of both signs, in files written
 * from coefficients: a chroma DC of 4 x 1022 gives outputs of 511, 4 x 1023
 * 512; -4 x 1023 gives -511, -4 x 1024 -512. */
static void idct_8x8_limits(void) {
    static const struct { int dc, taken; } cases[] = {{1022, 1}, {1023, 0}, {-1023, 1}, {-1024, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int16_t blk[64] = {(int16_t)cases[i].dc};
        unsigned long size = 0;
        uint8_t *f = write_coefficients(blk, 4, &size);
        char what[64];
        snprintf(what, sizeof what, "a chroma DC of 4 x %d", cases[i].dc);
        int took = compare(what, f, size, 4);
        CHECK_MSG(took == cases[i].taken, "%s: the fast path %s the file at 4/8", what,
                  took ? "took" : "declined");
        for (int n = 1; n <= 3; n++) compare(what, f, size, n); /* other IDCTs: libjpeg's pixels */
        free(f);
    }
}

int main(void) {
    idct_8x8_limits();
    vector_idcts();
    idct_2x2_pairs();
    written_files();
    const char *oracle = cs_test_oracle();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/images", oracle);
    int taken = folder(dir);
    CHECK_MSG(taken > 0, "the fast path took %d oracle JPEGs at 2/8", taken);
    snprintf(dir, sizeof dir, "%s/../corpus/pillow", oracle);
    int corpus = folder(dir);
    if (corpus >= 0) CHECK_MSG(corpus > 0, "the fast path took %d corpus JPEGs at 2/8", corpus);
    fprintf(stderr, "fast path took %d oracle and %d corpus JPEGs at 2/8\n", taken, corpus);
    const char *big = getenv("CS_BIG_JPEGS"); /* e.g. bench/make_big_jpegs.py's folder */
    if (big) folder(big);
    return cs_test_done("image.jpeg_fast");
}
