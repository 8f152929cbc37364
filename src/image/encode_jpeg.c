/* image/encode_jpeg.c - an RGB8 image to JPEG bytes in memory (thumbnails,
 * contact sheets).
 *
 * libjpeg reports errors through error_exit, which by default prints and
 * calls exit(): ours jumps back, and warnings are not printed. The output
 * goes to our own destination manager rather than jpeg_mem_dest: after an
 * error, jpeg_mem_dest's buffer is reachable only inside libjpeg (and may
 * already have been replaced by a larger one), so it leaked; ours lives in
 * the context struct and the landing site frees it. */
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which needs FILE and size_t */
#include <stdlib.h>

#include <jerror.h>
#include <jpeglib.h>

#include "image/image_internal.h"

typedef struct jpeg_out {
    struct jpeg_error_mgr err;
    struct jpeg_destination_mgr dest;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    unsigned char *buf; /* everything written so far, freed on every error path */
    size_t cap;
} jpeg_out;

static void on_error(j_common_ptr cinfo) {
    jpeg_out *o = (jpeg_out *)cinfo->err;
    cinfo->err->format_message(cinfo, o->message);
    longjmp(o->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
    (void)cinfo, (void)level;
}

static jpeg_out *out_of(j_compress_ptr cinfo) {
    return (jpeg_out *)cinfo->err;
}

static void dest_init(j_compress_ptr cinfo) {
    jpeg_out *o = out_of(cinfo);
    o->cap = 16384;
    o->buf = malloc(o->cap);
    if (!o->buf) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
    o->dest.next_output_byte = o->buf;
    o->dest.free_in_buffer = o->cap;
}

/* The buffer is full (libjpeg's contract: all of it): double it. */
static boolean dest_grow(j_compress_ptr cinfo) {
    jpeg_out *o = out_of(cinfo);
    unsigned char *b = realloc(o->buf, o->cap * 2);
    if (!b) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 1);
    o->buf = b;
    o->dest.next_output_byte = b + o->cap;
    o->dest.free_in_buffer = o->cap;
    o->cap *= 2;
    return TRUE;
}

static void dest_term(j_compress_ptr cinfo) {
    (void)cinfo;
}

cs_status cs_image_encode_jpeg(const cs_image *img, int quality, unsigned char **out, size_t *size,
                               cs_error *err) {
    *out = NULL;
    *size = 0;
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return cs_fail(err, CS_EINVAL, "JPEG encoder: no image to encode");
    struct jpeg_compress_struct cinfo;
    jpeg_out o = {0};
    cinfo.err = jpeg_std_error(&o.err);
    o.err.error_exit = on_error;
    o.err.emit_message = on_message;
    /* o is only changed through pointers after setjmp, so its fields are
     * well defined when longjmp lands here */
    if (setjmp(o.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(o.buf);
        return cs_fail(err, o.err.msg_code == JERR_OUT_OF_MEMORY ? CS_ENOMEM : CS_EINVAL,
                       "JPEG encoder: %s (%d x %d image)", o.message, img->width, img->height);
    }
    jpeg_create_compress(&cinfo);
    o.dest.init_destination = dest_init;
    o.dest.empty_output_buffer = dest_grow;
    o.dest.term_destination = dest_term;
    cinfo.dest = &o.dest;
    cinfo.image_width = (JDIMENSION)img->width;
    cinfo.image_height = (JDIMENSION)img->height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : quality > 100 ? 100 : quality, TRUE);
    cinfo.optimize_coding = TRUE; /* smaller files for a little CPU */
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = img->rgb + (size_t)cinfo.next_scanline * (size_t)img->width * 3;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    *size = o.cap - o.dest.free_in_buffer;
    *out = o.buf;
    jpeg_destroy_compress(&cinfo);
    return CS_OK;
}
