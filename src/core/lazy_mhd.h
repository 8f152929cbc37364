/* core/lazy_mhd.h - <microhttpd.h> with the functions we call renamed to ours.
 *
 * Their stubs (core/lazy_stubs.c, opened on first use: core/lazylib.h) must
 * not carry the library's own names: a program that links the static
 * libclipsearch.a beside the real library would get our stub in place of
 * the real function. So each is renamed to cs_lazy_NAME before the header
 * is read: it then declares cs_lazy_NAME with the real prototype, our calls
 * go to the stub, and the stub looks up "NAME". Include this instead of
 * <microhttpd.h>; a function that is not listed here fails to link. */
#ifndef CS_CORE_LAZY_MHD_H
#define CS_CORE_LAZY_MHD_H

#define CS_LAZY_NAME(name) cs_lazy_##name

#define MHD_start_daemon                CS_LAZY_NAME(MHD_start_daemon)
#define MHD_get_daemon_info             CS_LAZY_NAME(MHD_get_daemon_info)
#define MHD_stop_daemon                 CS_LAZY_NAME(MHD_stop_daemon)
#define MHD_get_connection_info         CS_LAZY_NAME(MHD_get_connection_info)
#define MHD_lookup_connection_value     CS_LAZY_NAME(MHD_lookup_connection_value)
#define MHD_create_response_from_buffer CS_LAZY_NAME(MHD_create_response_from_buffer)
#define MHD_create_response_from_fd     CS_LAZY_NAME(MHD_create_response_from_fd)
#define MHD_add_response_header         CS_LAZY_NAME(MHD_add_response_header)
#define MHD_queue_response              CS_LAZY_NAME(MHD_queue_response)
#define MHD_destroy_response            CS_LAZY_NAME(MHD_destroy_response)
#define MHD_create_post_processor       CS_LAZY_NAME(MHD_create_post_processor)
#define MHD_post_process                CS_LAZY_NAME(MHD_post_process)
#define MHD_destroy_post_processor      CS_LAZY_NAME(MHD_destroy_post_processor)

#include <microhttpd.h>

#endif
