/* image/lab.c - Lab to RGB exactly as Pillow's convert("RGB") does it for
 * mode LAB: Pillow has no formula of its own but builds a LittleCMS
 * transform (Image.convert -> ImageCms.buildTransform) from
 * createProfile("LAB") (cmsCreateLab2Profile(NULL): D50) to
 * createProfile("sRGB") (cmsCreate_sRGBProfile), perceptual intent, no
 * flags, 8-bit Lab with one padding byte in, RGBA 8 out. Doing the same
 * calls on the same LittleCMS gives the same bytes; any formula of our own
 * would not (LittleCMS interpolates in an optimised table). */
#include <lcms2.h>
#include <stdlib.h>

#include "image/tiff_internal.h"

struct cs_lab {
    cmsHTRANSFORM transform;
};

/* Pillow's format for mode LAB (_imagingcms.c findLCMStype) */
#define PILLOW_TYPE_LAB (COLORSPACE_SH(PT_LabV2) | CHANNELS_SH(3) | BYTES_SH(1) | EXTRA_SH(1))

cs_lab *cs_lab_new(void) {
    cs_lab *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    cmsHPROFILE lab = cmsCreateLab2Profile(NULL), srgb = cmsCreate_sRGBProfile();
    if (lab && srgb)
        t->transform =
            cmsCreateTransform(lab, PILLOW_TYPE_LAB, srgb, TYPE_RGBA_8, INTENT_PERCEPTUAL, 0);
    if (lab) cmsCloseProfile(lab);
    if (srgb) cmsCloseProfile(srgb);
    if (!t->transform) {
        free(t);
        return NULL;
    }
    return t;
}

void cs_lab_to_rgb(cs_lab *t, const uint8_t *lab, uint8_t *rgba, int w) {
    cmsDoTransform(t->transform, lab, rgba, (cmsUInt32Number)w);
}

void cs_lab_free(cs_lab *t) {
    if (!t) return;
    cmsDeleteTransform(t->transform);
    free(t);
}
