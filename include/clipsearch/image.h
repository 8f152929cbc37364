/*
 * clipsearch/image.h - image files to the pixels CLIP sees, bit-exact with
 * Pillow + transformers' CLIPImageProcessor (plus the EXIF orientation).
 *
 *   bytes --cs_image_decode--> RGB8 (any size, upright)
 *         --cs_image_preprocess--> RGB8 crop (e.g. 224x224)
 *         --cs_image_normalize--> float CHW, (x/255 - mean) / std
 */
#ifndef CLIPSEARCH_IMAGE_H
#define CLIPSEARCH_IMAGE_H

#include "clipsearch/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An 8-bit RGB image, rows packed: pixel (x, y) is rgb[3 * (y * width + x)].
 * Owned by whoever filled it; release with cs_image_free. */
typedef struct cs_image {
    int width, height;
    uint8_t *rgb;
} cs_image;

/* Pillow's default Image.MAX_IMAGE_PIXELS * 2, above which Pillow refuses. */
#define CS_DEFAULT_MAX_PIXELS 178956970ull

typedef struct cs_decode_opts {
    uint64_t max_pixels; /* refuse larger images before allocating; 0 = default */
    int ignore_exif;     /* 1: do not apply the EXIF orientation (transformers' way) */
    /* Fast path: when > 0, a JPEG may be decoded with libjpeg-turbo's DCT
     * scaling to the smallest size n/8 whose shorter side is still >= this
     * and that covers the frame exactly (width and height * n divisible by
     * 8); other JPEGs are decoded at full size. 0 = exact, Pillow-identical.
     * For embedding, cs_fast_jpeg_min_side gives the value that keeps the
     * embeddings at cosine >= 0.99999 to the exact path. */
    int jpeg_min_side;
    uint64_t reserved[CS_RESERVED_WORDS]; /* zero: room for later fields */
} cs_decode_opts;

/* The formats we read, detected from the bytes, never from the file name. */
typedef enum cs_image_format {
    CS_FMT_UNKNOWN = 0,
    CS_FMT_JPEG,
    CS_FMT_PNG,
    CS_FMT_WEBP,
    CS_FMT_GIF,
    CS_FMT_BMP,
    CS_FMT_TIFF,
    CS_FMT_HEIF,
    CS_FMT_AVIF
} cs_image_format;

/* Sniffs the format from the first bytes of a file (16 are enough). */
CS_API cs_image_format cs_image_sniff(const void *data, size_t size);
CS_API const char *cs_image_format_name(cs_image_format fmt);

/* Decodes a whole file / buffer to upright RGB8. `name` (may be NULL) is used
 * in error messages, e.g. "photos/a.jpg: truncated JPEG data". opts may be
 * NULL (defaults). Never returns a partial image. */
CS_API cs_status cs_image_decode_file(const char *path, const cs_decode_opts *opts, cs_image *out,
                                      cs_error *err);
CS_API cs_status cs_image_decode_mem(const void *data, size_t size, const char *name,
                                     const cs_decode_opts *opts, cs_image *out, cs_error *err);
CS_API void cs_image_free(cs_image *img);

/* The CLIPImageProcessor settings of a model (preprocessor_config.json). */
typedef struct cs_preprocess {
    int shortest_edge;           /* size.shortest_edge, e.g. 224 */
    int crop_width, crop_height; /* crop_size, e.g. 224x224 */
    int do_resize, do_center_crop, do_normalize, do_rescale;
    float rescale_factor; /* 1/255 */
    float mean[3], std[3];
} cs_preprocess;

/* Reads preprocessor_config.json from a model folder. */
CS_API cs_status cs_preprocess_load(const char *model_dir, cs_preprocess *out, cs_error *err);

/* Resize (shortest edge, Pillow BICUBIC) and centre crop: out is a new image of
 * crop_width x crop_height. */
CS_API cs_status cs_image_preprocess(const cs_image *in, const cs_preprocess *pp, cs_image *out,
                                     cs_error *err);

/* The jpeg_min_side of the fast path for a model's preprocessing: twice its
 * shortest edge, so that the BICUBIC resize after the DCT scaling still
 * reduces by 2x or more and the embedding stays at cosine >= 0.99999 to the
 * exact path (docs/images.md, "the fast JPEG path"). */
CS_API int cs_fast_jpeg_min_side(const cs_preprocess *pp);

/* Rescale and normalise a crop into planar float: chw[c * h * w + y * w + x]. */
CS_API void cs_image_normalize(const cs_image *crop, const cs_preprocess *pp, float *chw);

/* Writes an image as an 8-bit RGB PNG (atomically: a temporary file, then a
 * rename). For `clipsearch pixels` and for looking at what the model sees. */
CS_API cs_status cs_image_write_png(const cs_image *img, const char *path, cs_error *err);

/* Encodes an image as a baseline JPEG (optimised Huffman tables) of the
 * given quality (1..100) into *out, malloc'd (free()), of *size bytes.
 * Thumbnails and contact sheets. */
CS_API cs_status cs_image_encode_jpeg(const cs_image *img, int quality, unsigned char **out,
                                      size_t *size, cs_error *err);

#ifdef __cplusplus
}
#endif

#endif
