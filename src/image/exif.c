/* image/exif.c - the orientation tag, read the way Pillow's getexif() reads
 * it: IFD0 of the TIFF structure, later duplicates winning, entries up to a
 * truncation still counting, the first value of an integer-typed tag. */
#include <string.h>

#include "image/image_internal.h"

typedef struct tiff_reader {
    const uint8_t *p;
    size_t size;
    int big_endian;
} tiff_reader;

static uint32_t rd16(const tiff_reader *r, size_t off) {
    const uint8_t *q = r->p + off;
    return r->big_endian ? (uint32_t)q[0] << 8 | q[1] : (uint32_t)q[1] << 8 | q[0];
}

static uint32_t rd32(const tiff_reader *r, size_t off) {
    const uint8_t *q = r->p + off;
    return r->big_endian ? (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3]
                         : (uint32_t)q[3] << 24 | (uint32_t)q[2] << 16 | (uint32_t)q[1] << 8 | q[0];
}

/* The first value of an integer-typed entry, or -1 (other types, count 0,
 * data out of bounds: Pillow skips those). */
static long entry_int(const tiff_reader *r, size_t entry) {
    uint32_t type = rd16(r, entry + 2), count = rd32(r, entry + 4);
    size_t unit;
    switch (type) {
    case 1:
    case 6:
        unit = 1;
        break; /* BYTE, SBYTE */
    case 3:
    case 8:
        unit = 2;
        break; /* SHORT, SSHORT */
    case 4:
    case 9:
        unit = 4;
        break; /* LONG, SLONG */
    default:
        return -1;
    }
    if (count == 0) return -1;
    size_t off = entry + 8;
    if ((uint64_t)count * unit > 4) {
        off = rd32(r, entry + 8);
        if (off > r->size || (uint64_t)count * unit > r->size - off) return -1;
    }
    switch (type) {
    case 1:
        return r->p[off];
    case 6:
        return (int8_t)r->p[off];
    case 3:
        return (long)rd16(r, off);
    case 8:
        return (int16_t)rd16(r, off);
    case 4:
        return (long)rd32(r, off);
    default:
        return (int32_t)rd32(r, off);
    }
}

int cs_exif_orientation(const uint8_t *data, size_t size) {
    if (!data) return 0;
    if (size >= 6 && !memcmp(data, "Exif\0\0", 6)) {
        data += 6;
        size -= 6;
    }
    if (size < 8) return 0;
    tiff_reader r = {data, size, 0};
    if (!memcmp(data, "MM\0*", 4))
        r.big_endian = 1;
    else if (memcmp(data, "II*\0", 4) != 0)
        return 0;
    size_t ifd = rd32(&r, 4);
    if (ifd > size || size - ifd < 2) return 0;
    uint32_t n = rd16(&r, ifd);
    long orientation = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t entry = ifd + 2 + (size_t)i * 12;
        if (entry + 12 > size) break;
        if (rd16(&r, entry) != 0x0112) continue;
        long v = entry_int(&r, entry);
        if (v != -1) orientation = v;
    }
    return orientation >= 1 && orientation <= 8 ? (int)orientation : 0;
}

int cs_xmp_orientation(const char *xmp, size_t size) {
    static const char key[] = "tiff:Orientation";
    const size_t klen = sizeof key - 1;
    for (size_t i = 0; xmp && i + klen < size; i++) {
        if (memcmp(xmp + i, key, klen) != 0) continue;
        size_t j = i + klen;
        if (xmp[j] == '=' && j + 2 < size && xmp[j + 1] == '"')
            j += 2;
        else if (xmp[j] == '>' && j + 1 < size)
            j += 1;
        else
            continue;
        if (xmp[j] >= '0' && xmp[j] <= '9') return xmp[j] - '0';
    }
    return 0;
}
