/* image/decode_jpeg.c - JPEG through libjpeg-turbo, with Pillow's settings:
 * islow IDCT and fancy upsampling (libjpeg's defaults, which Pillow keeps),
 * 1 component -> L (replicated), 3 -> RGB (libjpeg's YCbCr conversion),
 * 4 -> CMYK with Adobe polarity (Pillow's "CMYK;I", whatever the markers
 * say) then Pillow's CMYK -> RGB rule. The orientation comes from the first
 * APP1 "Exif\0" segment, as Pillow takes it.
 *
 * Errors longjmp out of libjpeg; everything allocated is reachable from the
 * context struct, so the landing site frees it. A file that ends early or
 * whose coded data is corrupt is refused (see on_message), although libjpeg
 * itself would pad it with grey and only warn. */
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which needs FILE and size_t */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "image/image_internal.h"
#include "image/jpeg_fast.h"

/* A progressive JPEG may legally have any number of scans, and each one
 * walks the whole image: a few kilobytes of tiny scans can keep libjpeg busy
 * for minutes. Real encoders write about 10; we refuse more than this. */
#define MAX_SCANS 500

typedef struct jpeg_ctx {
    struct jpeg_error_mgr pub;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    uint8_t *row; /* scratch row for grey/CMYK, freed on every path */
} jpeg_ctx;

static void on_error(j_common_ptr cinfo) {
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    cinfo->err->format_message(cinfo, c->message);
    longjmp(c->jump, 1);
}

/* libjpeg only warns when the entropy-coded data is bad or missing, and
 * fills what it could not decode with grey or garbage; Pillow keeps such an
 * image (except when the file ends early: "image file is truncated"). We
 * refuse all of them: the pixels are not the picture. Junk bytes between
 * segments (JWRN_EXTRANEOUS_DATA) and odd headers lose nothing and pass. */
static void on_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
        snprintf(c->message, sizeof c->message, "truncated JPEG data");
        longjmp(c->jump, 1);
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
        cinfo->err->format_message(cinfo, c->message);
        longjmp(c->jump, 1);
    default:
        return;
    }
}

static void on_progress(j_common_ptr cinfo) {
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > MAX_SCANS) {
        jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
        snprintf(c->message, sizeof c->message, "more than %d progressive scans", MAX_SCANS);
        longjmp(c->jump, 1);
    }
}

static int exif_orientation(j_decompress_ptr cinfo) {
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 5 && !memcmp(m->data, "Exif\0", 5))
            return cs_exif_orientation(m->data, m->data_length); /* the first one only */
    return 0;
}

/* The smallest libjpeg scale n/8 whose shorter output side is >= min_side
 * and whose output covers the frame exactly. Where width * n / 8 is not a
 * whole number libjpeg rounds the size up and the last column stands for
 * part of a pixel: a resize of the whole output then samples the picture
 * shifted and stretched, which moved embeddings far more than the scaling
 * itself (docs/images.md, "the fast JPEG path"). Such files are decoded at
 * full size. */
static void choose_scale(j_decompress_ptr cinfo, int min_side) {
    unsigned w = cinfo->image_width, h = cinfo->image_height;
    unsigned short_side = w < h ? w : h;
    for (unsigned n = 1; n < 8; n++) {
        if ((w * n) % 8 || (h * n) % 8) continue;
        if (short_side * n / 8 >= (unsigned)min_side) {
            cinfo->scale_num = n;
            cinfo->scale_denom = 8;
            return;
        }
    }
}

/* CLIPSEARCH_FAST_JPEG=0 leaves every file to libjpeg (the same pixels,
 * slower): for benchmarks, and for ruling the fast path out. */
static int fast_allowed(void) {
    const char *e = getenv("CLIPSEARCH_FAST_JPEG");
    return !e || strcmp(e, "0") != 0;
}

cs_status cs_decode_jpeg(const cs_decode_ctx *ctx, cs_image *out, int *orientation, cs_error *err) {
    struct jpeg_decompress_struct cinfo;
    jpeg_ctx jc;
    memset(&jc, 0, sizeof jc);
    cinfo.err = jpeg_std_error(&jc.pub);
    jc.pub.error_exit = on_error;
    jc.pub.emit_message = on_message;
    jc.pub.output_message = NULL;
    /* out and jc.row are only touched through pointers after setjmp, so
     * their values are well defined when longjmp lands here */
    if (setjmp(jc.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(jc.row);
        cs_image_free(out);
        return cs_fail(err, CS_EFORMAT, "%s: bad JPEG: %s", ctx->name, jc.message);
    }
    jpeg_create_decompress(&cinfo);
    jc.progress.progress_monitor = on_progress;
    cinfo.progress = &jc.progress;
    jpeg_mem_src(&cinfo, ctx->data, (unsigned long)ctx->size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);

    cs_status st = cs_image_check_size(ctx, cinfo.image_width, cinfo.image_height, err);
    if (st) {
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    int comps = cinfo.num_components, cmyk = 0;
    if (comps == 1)
        cinfo.out_color_space = JCS_GRAYSCALE;
    else if (comps == 3)
        cinfo.out_color_space = JCS_RGB;
    else if (comps == 4)
        cinfo.out_color_space = JCS_CMYK, cmyk = 1;
    else {
        jpeg_destroy_decompress(&cinfo);
        return cs_fail(err, CS_EUNSUPPORTED, "%s: JPEG with %d components", ctx->name, comps);
    }
    *orientation = exif_orientation(&cinfo);
    if (ctx->jpeg_min_side > 0) choose_scale(&cinfo, ctx->jpeg_min_side);
    jpeg_calc_output_dimensions(&cinfo);

    st = cs_image_alloc(ctx, cinfo.output_width, cinfo.output_height, out, err);
    if (!st && comps != 3 && !(jc.row = malloc((size_t)cinfo.output_width * (size_t)comps)))
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", ctx->name);
    if (st) {
        jpeg_destroy_decompress(&cinfo);
        cs_image_free(out);
        return st;
    }
    /* a scaled decode of a common file: the same pixels, faster */
    if (cinfo.scale_num < cinfo.scale_denom && fast_allowed() &&
        cs_jpeg_fast_decode(&cinfo, out->rgb)) {
        jpeg_destroy_decompress(&cinfo);
        free(jc.row);
        return CS_OK;
    }
    jpeg_start_decompress(&cinfo);
    const int w = out->width;
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = out->rgb + (size_t)cinfo.output_scanline * w * 3;
        JSAMPROW row = comps == 3 ? dst : jc.row;
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (comps == 1)
            cs_row_l_to_rgb(jc.row, dst, w);
        else if (cmyk)
            cs_row_cmyk_to_rgb(jc.row, 1, dst, w);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(jc.row);
    return CS_OK;
}
