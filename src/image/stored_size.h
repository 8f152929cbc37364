/* image/stored_size.h - the size of an image as its file stores it, for
 * callers that record it beside a decode that may be smaller (the fast JPEG
 * path): the catalogue keeps what the file holds, not what was decoded. */
#ifndef CS_IMAGE_STORED_SIZE_H
#define CS_IMAGE_STORED_SIZE_H

#include <stddef.h>

#include "clipsearch/image.h"

/* *w x *h: the upright size of the image in data[0..size) that `decoded`
 * was decoded from. Equal to decoded's unless a JPEG was reduced by DCT
 * scaling; then its frame size, turned as decoded is (EXIF 5-8). */
void cs_image_stored_size(const cs_image *decoded, const void *data, size_t size, int *w, int *h);

#endif
