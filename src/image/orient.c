/* image/orient.c - the EXIF orientation applied as Pillow's
 * ImageOps.exif_transpose does:
 *   2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE,
 *   6 ROTATE_270 (90 deg clockwise), 7 TRANSVERSE, 8 ROTATE_90 (counter-clockwise). */
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

cs_status cs_image_orient(cs_image *img, int orientation, cs_error *err) {
    if (orientation < 2 || orientation > 8) return CS_OK;
    const int w = img->width, h = img->height;
    const int swap = orientation >= 5; /* the axes trade places */
    const int ow = swap ? h : w, oh = swap ? w : h;
    uint8_t *out = malloc((size_t)w * (size_t)h * 3);
    if (!out) return cs_fail(err, CS_ENOMEM, "out of memory rotating the image");
    /* Output pixel (x, y) reads source pixel (sx, sy) = base + x * step_x +
     * y * step_y, written as offsets into the packed source (in pixels). */
    const ptrdiff_t right = 1, down = w; /* source steps */
    ptrdiff_t base = 0, step_x = 0, step_y = 0;
    switch (orientation) {
    case 2:
        base = w - 1, step_x = -right, step_y = down;
        break;
    case 3:
        base = (ptrdiff_t)(h - 1) * w + w - 1, step_x = -right, step_y = -down;
        break;
    case 4:
        base = (ptrdiff_t)(h - 1) * w, step_x = right, step_y = -down;
        break;
    case 5:
        base = 0, step_x = down, step_y = right;
        break; /* sx=y, sy=x */
    case 6:
        base = (ptrdiff_t)(h - 1) * w, step_x = -down, step_y = right;
        break; /* sy=h-1-x */
    case 7:
        base = (ptrdiff_t)(h - 1) * w + w - 1, step_x = -down, step_y = -right;
        break;
    case 8:
        base = w - 1, step_x = down, step_y = -right;
        break; /* sx=w-1-y, sy=x */
    }
    const uint8_t *src = img->rgb;
    for (int y = 0; y < oh; y++) {
        uint8_t *o = out + (size_t)y * ow * 3;
        ptrdiff_t s = base + (ptrdiff_t)y * step_y;
        for (int x = 0; x < ow; x++, s += step_x, o += 3) memcpy(o, src + s * 3, 3);
    }
    free(img->rgb);
    img->rgb = out;
    img->width = ow;
    img->height = oh;
    return CS_OK;
}
