/* image/stored_size.c - the stored size of a decoded image: for a JPEG, the
 * frame size from its SOF header, which a reduced decode does not show. */
#include <stdint.h>
#include <stdlib.h>

#include "image/stored_size.h"

static int be16(const uint8_t *p) {
    return p[0] << 8 | p[1];
}

/* The frame size in a JPEG's SOF header, before any DCT scaling. */
static int jpeg_frame_size(const uint8_t *d, size_t n, int *w, int *h) {
    size_t pos = 2;
    while (pos + 9 < n) {
        if (d[pos] != 0xFF) return 0;
        uint8_t m = d[pos + 1];
        if (m == 0xFF) {
            pos++; /* fill byte */
            continue;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
            pos += 2; /* markers without a length */
            continue;
        }
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            *h = be16(d + pos + 5);
            *w = be16(d + pos + 7);
            return *w > 0 && *h > 0;
        }
        if (m == 0xDA || m == 0xD9) return 0;
        pos += 2 + (size_t)be16(d + pos + 2);
    }
    return 0;
}

void cs_image_stored_size(const cs_image *decoded, const void *data, size_t size, int *w, int *h) {
    *w = decoded->width;
    *h = decoded->height;
    int fw, fh;
    if (cs_image_sniff(data, size) != CS_FMT_JPEG || !jpeg_frame_size(data, size, &fw, &fh)) return;
    if (fw == decoded->width && fh == decoded->height) return;
    if (fw == decoded->height && fh == decoded->width) {
        *w = fh;
        *h = fw;
        return;
    }
    /* reduced: turned (EXIF 5-8) when the aspect matches the swapped frame better */
    long long same = llabs((long long)decoded->width * fh - (long long)decoded->height * fw);
    long long turned = llabs((long long)decoded->width * fw - (long long)decoded->height * fh);
    *w = same <= turned ? fw : fh;
    *h = same <= turned ? fh : fw;
}
