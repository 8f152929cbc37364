/* image/sniff.c - the format of a file from its first bytes, never its name. */
#include <string.h>

#include "image/image_internal.h"

/* ISO BMFF brands (the "ftyp" box): AVIF if the major brand or any
 * compatible brand says so, else HEIF for the HEIF/HEVC brands. */
static cs_image_format sniff_ftyp(const uint8_t *p, size_t size) {
    uint32_t box = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    size_t end = box < size ? box : size;
    static const char *const heif_brands[] = {"heic", "heix", "hevc", "hevx", "heim", "heis",
                                              "hevm", "hevs", "mif1", "msf1", "avif", "avis"};
    int known = 0;
    for (size_t i = 0; i < sizeof heif_brands / sizeof *heif_brands; i++)
        if (!memcmp(p + 8, heif_brands[i], 4)) known = 1;
    if (!known) return CS_FMT_UNKNOWN;
    if (!memcmp(p + 8, "avif", 4) || !memcmp(p + 8, "avis", 4)) return CS_FMT_AVIF;
    /* compatible brands start after major brand (4) and minor version (4) */
    for (size_t off = 16; off + 4 <= end; off += 4)
        if (!memcmp(p + off, "avif", 4) || !memcmp(p + off, "avis", 4)) {
            /* a HEVC brand anywhere means HEIF even if AVIF is also listed */
            int hevc = 0;
            for (size_t o2 = 16; o2 + 4 <= end; o2 += 4)
                if (!memcmp(p + o2, "heic", 4) || !memcmp(p + o2, "heix", 4)) hevc = 1;
            return hevc ? CS_FMT_HEIF : CS_FMT_AVIF;
        }
    return CS_FMT_HEIF;
}

cs_image_format cs_image_sniff(const void *data, size_t size) {
    const uint8_t *p = data;
    if (!p) return CS_FMT_UNKNOWN;
    if (size >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return CS_FMT_JPEG;
    if (size >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) return CS_FMT_PNG;
    if (size >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6))) return CS_FMT_GIF;
    if (size >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4)) return CS_FMT_WEBP;
    if (size >= 4 && (!memcmp(p, "II*\0", 4) || !memcmp(p, "MM\0*", 4) || !memcmp(p, "II+\0", 4) ||
                      !memcmp(p, "MM\0+", 4)))
        return CS_FMT_TIFF;
    if (size >= 2 && p[0] == 'B' && p[1] == 'M') return CS_FMT_BMP;
    if (size >= 12 && !memcmp(p + 4, "ftyp", 4)) return sniff_ftyp(p, size);
    return CS_FMT_UNKNOWN;
}

const char *cs_image_format_name(cs_image_format fmt) {
    switch (fmt) {
    case CS_FMT_JPEG:
        return "JPEG";
    case CS_FMT_PNG:
        return "PNG";
    case CS_FMT_WEBP:
        return "WebP";
    case CS_FMT_GIF:
        return "GIF";
    case CS_FMT_BMP:
        return "BMP";
    case CS_FMT_TIFF:
        return "TIFF";
    case CS_FMT_HEIF:
        return "HEIF";
    case CS_FMT_AVIF:
        return "AVIF";
    case CS_FMT_UNKNOWN:
        break;
    }
    return "unknown";
}
