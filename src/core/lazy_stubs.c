/* core/lazy_stubs.c - the functions of libheif, libcurl and libmicrohttpd
 * that clipsearch calls, under our names (core/lazy_curl.h, lazy_heif.h, lazy_mhd.h), each
 * forwarding to the real one, which dlopen finds on the first call (why:
 * core/lazylib.h). When a library cannot be opened, each stub fails the way
 * its library reports failure (NULL, an error code, a heif_error), so
 * callers report it as usual. BLAS and LAPACK: core/lazy_blas.c. */
#include "core/lazy_curl.h" /* the libraries' headers, with our names */
#include "core/lazy_heif.h"
#include "core/lazy_mhd.h"
#include <stdarg.h>
#include <string.h>

#include "core/lazylib.h"

static cs_lazy_lib heif = CS_LAZY_LIB("libheif.so.1");
static cs_lazy_lib curl = CS_LAZY_LIB("libcurl.so.4");
static cs_lazy_lib mhd = CS_LAZY_LIB("libmicrohttpd.so.12");

/* ---- libheif ----------------------------------------------------------------- */

static struct heif_error heif_missing(void) {
    struct heif_error e = {heif_error_Unsupported_feature, heif_suberror_Unspecified,
                           "libheif.so.1 could not be loaded"};
    return e;
}

STUB(heif, struct heif_context *, heif_context_alloc, (void), (), NULL)
VSTUB(heif, heif_context_free, (struct heif_context * c), (c))
STUB(heif, struct heif_error, heif_context_read_from_memory_without_copy,
     (struct heif_context * c, const void *mem, size_t size, const struct heif_reading_options *o),
     (c, mem, size, o), heif_missing())
STUB(heif, struct heif_error, heif_context_get_primary_image_handle,
     (struct heif_context * c, struct heif_image_handle **h), (c, h), heif_missing())
STUB(heif, struct heif_error, heif_decode_image,
     (const struct heif_image_handle *h, struct heif_image **img, enum heif_colorspace cs,
      enum heif_chroma ch, const struct heif_decoding_options *o),
     (h, img, cs, ch, o), heif_missing())
STUB(heif, int, heif_image_handle_get_width, (const struct heif_image_handle *h), (h), 0)
STUB(heif, int, heif_image_handle_get_height, (const struct heif_image_handle *h), (h), 0)
STUB(heif, int, heif_image_get_width, (const struct heif_image *i, enum heif_channel c), (i, c), -1)
STUB(heif, int, heif_image_get_height, (const struct heif_image *i, enum heif_channel c), (i, c),
     -1)
STUB(heif, const uint8_t *, heif_image_get_plane_readonly,
     (const struct heif_image *i, enum heif_channel c, int *stride), (i, c, stride), NULL)
VSTUB(heif, heif_image_handle_release, (const struct heif_image_handle *h), (h))
VSTUB(heif, heif_image_release, (const struct heif_image *i), (i))

/* ---- libcurl ----------------------------------------------------------------- */

STUB(curl, CURLcode, curl_global_init, (long flags), (flags), CURLE_FAILED_INIT)
STUB(curl, CURL *, curl_easy_init, (void), (), NULL)
VSTUB(curl, curl_easy_cleanup, (CURL * c), (c))
VSTUB(curl, curl_easy_reset, (CURL * c), (c))
STUB(curl, CURLcode, curl_easy_perform, (CURL * c), (c), CURLE_FAILED_INIT)
STUB(curl, const char *, curl_easy_strerror, (CURLcode code), (code),
     "libcurl.so.4 could not be loaded")
STUB(curl, char *, curl_easy_escape, (CURL * c, const char *s, int n), (c, s, n), NULL)
VSTUB(curl, curl_free, (void *p), (p))
STUB(curl, struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *s), (l, s),
     NULL)
VSTUB(curl, curl_slist_free_all, (struct curl_slist * l), (l))

/* One value follows the option; its type is told by the option's range
 * (curl.h: CURLOPTTYPE_*), as libcurl itself reads it. */
CURLcode curl_easy_setopt(CURL *c, CURLoption opt, ...) {
    static void *_Atomic cache;
    void *p = cs_lazy_cached(&curl, "curl_easy_setopt", &cache);
    if (!p) return CURLE_FAILED_INIT;
    CURLcode (*real)(CURL *, CURLoption, ...);
    memcpy(&real, &p, sizeof real);
    va_list ap;
    va_start(ap, opt);
    CURLcode r;
    if (opt < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);
        r = real(c, opt, v);
    } else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB) {
        curl_off_t v = va_arg(ap, curl_off_t);
        r = real(c, opt, v);
    } else { /* object and function pointers, blobs */
        void *v = va_arg(ap, void *);
        r = real(c, opt, v);
    }
    va_end(ap);
    return r;
}

/* ---- libmicrohttpd ------------------------------------------------------------ */

/* The options after dh_cls go on as a va_list (MHD_start_daemon_va). */
struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                                    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls,
                                    ...) {
    static void *_Atomic cache;
    void *p = cs_lazy_cached(&mhd, "MHD_start_daemon_va", &cache);
    if (!p) return NULL;
    struct MHD_Daemon *(*real)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *,
                               MHD_AccessHandlerCallback, void *, va_list);
    memcpy(&real, &p, sizeof real);
    va_list ap;
    va_start(ap, dh_cls);
    struct MHD_Daemon *d = real(flags, port, apc, apc_cls, dh, dh_cls, ap);
    va_end(ap);
    return d;
}

/* No info type reads the variable arguments (they are kept for the ABI). */
STUB(mhd, const union MHD_DaemonInfo *, MHD_get_daemon_info,
     (struct MHD_Daemon * d, enum MHD_DaemonInfoType t, ...), (d, t), NULL)
VSTUB(mhd, MHD_stop_daemon, (struct MHD_Daemon * d), (d))
STUB(mhd, const union MHD_ConnectionInfo *, MHD_get_connection_info,
     (struct MHD_Connection * c, enum MHD_ConnectionInfoType t, ...), (c, t), NULL)
STUB(mhd, const char *, MHD_lookup_connection_value,
     (struct MHD_Connection * c, enum MHD_ValueKind k, const char *key), (c, k, key), NULL)
STUB(mhd, struct MHD_Response *, MHD_create_response_from_buffer,
     (size_t size, void *buf, enum MHD_ResponseMemoryMode mode), (size, buf, mode), NULL)
STUB(mhd, struct MHD_Response *, MHD_create_response_from_fd, (size_t size, int fd), (size, fd),
     NULL)
STUB(mhd, enum MHD_Result, MHD_add_response_header,
     (struct MHD_Response * r, const char *h, const char *v), (r, h, v), MHD_NO)
STUB(mhd, enum MHD_Result, MHD_queue_response,
     (struct MHD_Connection * c, unsigned int status, struct MHD_Response *r), (c, status, r),
     MHD_NO)
VSTUB(mhd, MHD_destroy_response, (struct MHD_Response * r), (r))
STUB(mhd, struct MHD_PostProcessor *, MHD_create_post_processor,
     (struct MHD_Connection * c, size_t size, MHD_PostDataIterator it, void *cls),
     (c, size, it, cls), NULL)
STUB(mhd, enum MHD_Result, MHD_post_process,
     (struct MHD_PostProcessor * pp, const char *data, size_t len), (pp, data, len), MHD_NO)
STUB(mhd, enum MHD_Result, MHD_destroy_post_processor, (struct MHD_PostProcessor * pp), (pp),
     MHD_NO)
