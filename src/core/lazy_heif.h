/* core/lazy_heif.h - <libheif/heif.h> with the functions we call renamed to ours.
 *
 * Their stubs (core/lazy_stubs.c, opened on first use: core/lazylib.h) must
 * not carry the library's own names: a program that links the static
 * libclipsearch.a beside the real library would get our stub in place of
 * the real function. So each is renamed to cs_lazy_NAME before the header
 * is read: it then declares cs_lazy_NAME with the real prototype, our calls
 * go to the stub, and the stub looks up "NAME". Include this instead of
 * <libheif/heif.h>; a function that is not listed here fails to link. */
#ifndef CS_CORE_LAZY_HEIF_H
#define CS_CORE_LAZY_HEIF_H

#define CS_LAZY_NAME(name) cs_lazy_##name

#define heif_context_alloc CS_LAZY_NAME(heif_context_alloc)
#define heif_context_free  CS_LAZY_NAME(heif_context_free)
#define heif_context_read_from_memory_without_copy                                                 \
    CS_LAZY_NAME(heif_context_read_from_memory_without_copy)
#define heif_context_get_primary_image_handle CS_LAZY_NAME(heif_context_get_primary_image_handle)
#define heif_decode_image                     CS_LAZY_NAME(heif_decode_image)
#define heif_image_handle_get_width           CS_LAZY_NAME(heif_image_handle_get_width)
#define heif_image_handle_get_height          CS_LAZY_NAME(heif_image_handle_get_height)
#define heif_image_get_width                  CS_LAZY_NAME(heif_image_get_width)
#define heif_image_get_height                 CS_LAZY_NAME(heif_image_get_height)
#define heif_image_get_plane_readonly         CS_LAZY_NAME(heif_image_get_plane_readonly)
#define heif_image_handle_release             CS_LAZY_NAME(heif_image_handle_release)
#define heif_image_release                    CS_LAZY_NAME(heif_image_release)

#include <libheif/heif.h>

#endif
