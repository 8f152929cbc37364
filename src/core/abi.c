/* core/abi.c - the sizes of the public structs, checked when the library is
 * built. A struct that grows past its reserved words (CS_RESERVED_WORDS,
 * clipsearch/common.h) breaks every program built against the header
 * before it: a new field must take the place of reserved words, and this
 * file fails to compile until it has. The sizes are those of x86-64 and
 * aarch64 (LP64); other ABIs are not checked. */
#include "clipsearch.h"

#if UINTPTR_MAX == UINT64_MAX && (defined(__x86_64__) || defined(__aarch64__))
#define CS_ABI_SIZE(type, bytes)                                                                   \
    _Static_assert(sizeof(type) == (bytes), #type " changed size: take reserved words instead")
CS_ABI_SIZE(cs_hub_opts, 144);
CS_ABI_SIZE(cs_decode_opts, 80);
CS_ABI_SIZE(cs_db_opts, 120);
CS_ABI_SIZE(cs_db_info, 160);
CS_ABI_SIZE(cs_index_opts, 136);
CS_ABI_SIZE(cs_index_stats, 160);
CS_ABI_SIZE(cs_search_opts, 128);
CS_ABI_SIZE(cs_dups_opts, 88);
CS_ABI_SIZE(cs_model_opts, 192);
CS_ABI_SIZE(cs_model_info, 160);
CS_ABI_SIZE(cs_montage_opts, 88);
CS_ABI_SIZE(cs_server_opts, 232);
#endif

/* ISO C wants a translation unit to declare something. */
typedef int cs_abi_checked;
