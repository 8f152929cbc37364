/* server/thumb.h - thumbnails: shrink an image, encode it as JPEG, and keep
 * recent ones in a bounded in-memory cache (least recently used goes first). */
#ifndef CS_SERVER_THUMB_H
#define CS_SERVER_THUMB_H

#include <stddef.h>
#include <stdint.h>

#include "clipsearch/image.h"

/* Resizes `in` so that it fits in a max_side x max_side box, keeping its
 * aspect ratio (never enlarging); a triangle filter widened by the
 * reduction factor, so shrinking does not alias. out->rgb is malloc'd. */
cs_status srv_image_fit(const cs_image *in, int max_side, cs_image *out, cs_error *err);

/* Baseline JPEG of an RGB image; *out is malloc'd (free()). */
cs_status srv_jpeg_encode(const cs_image *img, int quality, unsigned char **out, size_t *size,
                          cs_error *err);

typedef struct srv_thumbs srv_thumbs;

/* A cache holding at most `budget` bytes of JPEG data. NULL when out of memory. */
srv_thumbs *srv_thumbs_new(size_t budget);
void srv_thumbs_free(srv_thumbs *cache);

/* A malloc'd copy of the cached thumbnail of `id`: 1 if found, else 0. */
int srv_thumbs_get(srv_thumbs *cache, int64_t id, unsigned char **out, size_t *size);
/* Stores a copy (a thumbnail larger than the budget is not kept). */
void srv_thumbs_put(srv_thumbs *cache, int64_t id, const unsigned char *data, size_t size);

/* Counters for /api/stats. */
void srv_thumbs_stats(srv_thumbs *cache, size_t *entries, size_t *bytes, uint64_t *hits,
                      uint64_t *misses);

#endif
