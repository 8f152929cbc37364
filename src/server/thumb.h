/* server/thumb.h - thumbnails: shrink an image (then cs_image_encode_jpeg;
 * they are kept in a cs_srv_cache, cache.h). */
#ifndef CS_SERVER_THUMB_H
#define CS_SERVER_THUMB_H

#include <stddef.h>
#include <stdint.h>

#include "clipsearch/image.h"

/* Resizes `in` so that it fits in a max_side x max_side box, keeping its
 * aspect ratio (never enlarging); a triangle filter widened by the
 * reduction factor, so shrinking does not alias. out->rgb is malloc'd. */
cs_status cs_srv_image_fit(const cs_image *in, int max_side, cs_image *out, cs_error *err);

#endif
