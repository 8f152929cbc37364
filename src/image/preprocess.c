/* image/preprocess.c - transformers' CLIPImageProcessor after convert("RGB"):
 * resize the shortest edge (Pillow BICUBIC), centre crop, rescale, normalise.
 * The settings come from the model folder's preprocessor_config.json. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

/* transformers' defaults for CLIPImageProcessor (OPENAI_CLIP_MEAN / _STD) */
static void preprocess_defaults(cs_preprocess *pp) {
    static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    memset(pp, 0, sizeof *pp);
    pp->shortest_edge = 224;
    pp->crop_width = pp->crop_height = 224;
    pp->do_resize = pp->do_center_crop = pp->do_normalize = pp->do_rescale = 1;
    pp->rescale_factor = (float)(1.0 / 255.0);
    memcpy(pp->mean, mean, sizeof mean);
    memcpy(pp->std, std, sizeof std);
}

static int get_bool(const json_t *root, const char *key, int def) {
    const json_t *v = json_object_get(root, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

static cs_status get_triple(const json_t *root, const char *key, float out[3], const char *path,
                            cs_error *err) {
    const json_t *v = json_object_get(root, key);
    if (!v) return CS_OK;
    if (!json_is_array(v) || json_array_size(v) != 3)
        return cs_fail(err, CS_EFORMAT, "%s: %s must be a list of 3 numbers", path, key);
    for (size_t i = 0; i < 3; i++) {
        const json_t *x = json_array_get(v, i);
        if (!json_is_number(x))
            return cs_fail(err, CS_EFORMAT, "%s: %s must be a list of 3 numbers", path, key);
        out[i] = (float)json_number_value(x);
    }
    return CS_OK;
}

static cs_status parse_config(const json_t *root, cs_preprocess *pp, const char *path,
                              cs_error *err) {
    pp->do_resize = get_bool(root, "do_resize", pp->do_resize);
    pp->do_center_crop = get_bool(root, "do_center_crop", pp->do_center_crop);
    pp->do_rescale = get_bool(root, "do_rescale", pp->do_rescale);
    pp->do_normalize = get_bool(root, "do_normalize", pp->do_normalize);
    const json_t *size = json_object_get(root, "size");
    if (json_is_integer(size))
        pp->shortest_edge = (int)json_integer_value(size);
    else if (json_is_object(size)) {
        const json_t *se = json_object_get(size, "shortest_edge");
        if (!json_is_integer(se))
            return cs_fail(err, CS_EUNSUPPORTED,
                           "%s: only size.shortest_edge resizing is supported", path);
        pp->shortest_edge = (int)json_integer_value(se);
    } else if (size && !json_is_null(size))
        return cs_fail(err, CS_EFORMAT, "%s: size must be a number or an object", path);
    const json_t *crop = json_object_get(root, "crop_size");
    if (json_is_integer(crop))
        pp->crop_width = pp->crop_height = (int)json_integer_value(crop);
    else if (json_is_object(crop)) {
        const json_t *h = json_object_get(crop, "height"), *w = json_object_get(crop, "width");
        if (!json_is_integer(h) || !json_is_integer(w))
            return cs_fail(err, CS_EFORMAT, "%s: crop_size needs height and width", path);
        pp->crop_height = (int)json_integer_value(h);
        pp->crop_width = (int)json_integer_value(w);
    } else if (crop && !json_is_null(crop))
        return cs_fail(err, CS_EFORMAT, "%s: crop_size must be a number or an object", path);
    const json_t *rs = json_object_get(root, "resample");
    if (pp->do_resize && rs && (!json_is_integer(rs) || json_integer_value(rs) != 3))
        return cs_fail(err, CS_EUNSUPPORTED, "%s: only resample 3 (bicubic) is supported", path);
    const json_t *rf = json_object_get(root, "rescale_factor");
    if (json_is_number(rf)) pp->rescale_factor = (float)json_number_value(rf);
    cs_status st = get_triple(root, "image_mean", pp->mean, path, err);
    if (!st) st = get_triple(root, "image_std", pp->std, path, err);
    if (st) return st;
    if (pp->shortest_edge <= 0 || pp->shortest_edge > 65536 || pp->crop_width <= 0 ||
        pp->crop_height <= 0 || pp->crop_width > 65536 || pp->crop_height > 65536)
        return cs_fail(err, CS_EFORMAT, "%s: size or crop_size out of range", path);
    for (int c = 0; c < 3; c++)
        if (!(pp->std[c] != 0.0f)) return cs_fail(err, CS_EFORMAT, "%s: image_std is zero", path);
    return CS_OK;
}

cs_status cs_preprocess_load(const char *model_dir, cs_preprocess *out, cs_error *err) {
    if (!model_dir || !out) return cs_fail(err, CS_EINVAL, "cs_preprocess_load: NULL argument");
    char path[4096];
    if (snprintf(path, sizeof path, "%s/preprocessor_config.json", model_dir) >= (int)sizeof path)
        return cs_fail(err, CS_ELIMIT, "%s: path too long", model_dir);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        FILE *f = fopen(path, "rb");
        if (!f) return cs_fail(err, CS_ENOTFOUND, "%s: cannot open", path);
        fclose(f);
        return cs_fail(err, CS_EFORMAT, "%s:%d: %s", path, jerr.line, jerr.text);
    }
    cs_preprocess pp;
    preprocess_defaults(&pp);
    cs_status st = json_is_object(root) ? parse_config(root, &pp, path, err)
                                        : cs_fail(err, CS_EFORMAT, "%s: not a JSON object", path);
    json_decref(root);
    if (!st) *out = pp;
    return st;
}

/* transformers' get_resize_output_image_size(default_to_square=False):
 * short side -> shortest_edge, long side int(shortest_edge * long / short). */
static cs_status resized_size(int w, int h, int edge, int *ow, int *oh, cs_error *err) {
    int s = w <= h ? w : h, l = w <= h ? h : w;
    double nl = (double)edge * l / s;
    /* Only the crop is ever computed, but the offsets must fit an int: a
     * 1 x 10^7 strip (a 40 KB PNG) would resize to 224 x 2.24e9. */
    if (nl > INT_MAX / 2)
        return cs_fail(err, CS_ELIMIT, "a %d x %d image is too elongated to resize to %d", w, h,
                       edge);
    *ow = w <= h ? edge : (int)nl;
    *oh = w <= h ? (int)nl : edge;
    return CS_OK;
}

/* Python's floor division, for negative offsets when the image is smaller
 * than the crop (transformers then pads with zeros). */
static int floordiv2(int v) {
    return v >= 0 ? v / 2 : -((-v + 1) / 2);
}

/* Copies rows/columns of src, starting at (sx, sy), into dst at (dx, dy). */
static void blit(const cs_image *src, int sx, int sy, int w, int h, cs_image *dst, int dx, int dy) {
    for (int y = 0; y < h; y++)
        memcpy(dst->rgb + ((size_t)(dy + y) * dst->width + dx) * 3,
               src->rgb + ((size_t)(sy + y) * src->width + sx) * 3, (size_t)w * 3);
}

/* The DCT-scaled image is a slightly different picture from the full one
 * (its IDCT filters before our BICUBIC does), and the difference reaches
 * the embedding unless BICUBIC still reduces by a good factor afterwards;
 * 2x keeps every test file at cosine >= 0.99999 to the exact path, where
 * 1.5x did not (docs/images.md, "the fast JPEG path"). */
int cs_fast_jpeg_min_side(const cs_preprocess *pp) {
    return pp->shortest_edge * 2;
}

cs_status cs_image_preprocess(const cs_image *in, const cs_preprocess *pp, cs_image *out,
                              cs_error *err) {
    if (!in || !pp || !out || !in->rgb || in->width <= 0 || in->height <= 0)
        return cs_fail(err, CS_EINVAL, "cs_image_preprocess: no image");
    out->rgb = NULL;
    int rw = in->width, rh = in->height; /* the size after resizing */
    if (pp->do_resize) {
        cs_status st = resized_size(in->width, in->height, pp->shortest_edge, &rw, &rh, err);
        if (st) return st;
    }
    const int cw = pp->do_center_crop ? pp->crop_width : rw;
    const int ch = pp->do_center_crop ? pp->crop_height : rh;
    /* transformers' offsets; negative when the crop is larger (zero padding) */
    const int top = floordiv2(rh - ch), left = floordiv2(rw - cw);
    const int x0 = left > 0 ? left : 0, y0 = top > 0 ? top : 0;
    const int x1 = left + cw < rw ? left + cw : rw, y1 = top + ch < rh ? top + ch : rh;
    cs_image part = *in; /* the resized pixels inside the crop, at (x0, y0) */
    int px = x0, py = y0;
    if (pp->do_resize) {
        cs_status st = cs_resize_bicubic_box(in, rw, rh, x0, y0, x1 - x0, y1 - y0, &part, err);
        if (st) return st;
        if (x0 == left && y0 == top && x1 - x0 == cw && y1 - y0 == ch) {
            *out = part; /* the usual case: the box is the crop */
            return CS_OK;
        }
        px = py = 0;
    }
    cs_image crop = {cw, ch, calloc((size_t)cw * ch, 3)};
    if (!crop.rgb) {
        if (pp->do_resize) cs_image_free(&part);
        return cs_fail(err, CS_ENOMEM, "out of memory for the crop");
    }
    blit(&part, px, py, x1 - x0, y1 - y0, &crop, x0 - left, y0 - top);
    if (pp->do_resize) cs_image_free(&part);
    *out = crop;
    return CS_OK;
}

void cs_image_normalize(const cs_image *crop, const cs_preprocess *pp, float *chw) {
    /* transformers: x.astype(float64) * rescale_factor -> float32, then
     * (x - mean) / std in float32. The config's 1/255 is a double there; our
     * struct keeps a float, so the exact double is recovered for that value. */
    double rf = pp->do_rescale ? pp->rescale_factor : 1.0;
    if (pp->do_rescale && pp->rescale_factor == (float)(1.0 / 255.0)) rf = 1.0 / 255.0;
    const size_t plane = (size_t)crop->width * crop->height;
    for (int c = 0; c < 3; c++) {
        float m = pp->do_normalize ? pp->mean[c] : 0.0f;
        float s = pp->do_normalize ? pp->std[c] : 1.0f;
        float lut[256];
        for (int v = 0; v < 256; v++) lut[v] = ((float)(v * rf) - m) / s;
        float *o = chw + c * plane;
        const uint8_t *p = crop->rgb + c;
        for (size_t i = 0; i < plane; i++, p += 3) o[i] = lut[*p];
    }
}
