/* core/lazy_curl.h - <curl/curl.h> with the functions we call renamed to ours.
 *
 * Their stubs (core/lazy_stubs.c, opened on first use: core/lazylib.h) must
 * not carry the library's own names: a program that links the static
 * libclipsearch.a beside the real library would get our stub in place of
 * the real function. So each is renamed to cs_lazy_NAME before the header
 * is read: it then declares cs_lazy_NAME with the real prototype, our calls
 * go to the stub, and the stub looks up "NAME". Include this instead of
 * <curl/curl.h>; a function that is not listed here fails to link. */
#ifndef CS_CORE_LAZY_CURL_H
#define CS_CORE_LAZY_CURL_H

#define CS_LAZY_NAME(name) cs_lazy_##name

/* curl_easy_setopt as a function, not the type-checking macro */
#define CURL_DISABLE_TYPECHECK
#define curl_global_init    CS_LAZY_NAME(curl_global_init)
#define curl_easy_init      CS_LAZY_NAME(curl_easy_init)
#define curl_easy_cleanup   CS_LAZY_NAME(curl_easy_cleanup)
#define curl_easy_reset     CS_LAZY_NAME(curl_easy_reset)
#define curl_easy_perform   CS_LAZY_NAME(curl_easy_perform)
#define curl_easy_strerror  CS_LAZY_NAME(curl_easy_strerror)
#define curl_easy_escape    CS_LAZY_NAME(curl_easy_escape)
#define curl_free           CS_LAZY_NAME(curl_free)
#define curl_slist_append   CS_LAZY_NAME(curl_slist_append)
#define curl_slist_free_all CS_LAZY_NAME(curl_slist_free_all)

#include <curl/curl.h>

/* curl.h defines curl_easy_setopt(h, o, p) as itself (to count the
 * arguments), so it is renamed after the header */
#undef curl_easy_setopt
#define curl_easy_setopt CS_LAZY_NAME(curl_easy_setopt)
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...);

#endif
