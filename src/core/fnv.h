/* core/fnv.h - FNV-1a, 64 bits: for identities that need stability, not
 * strength (a model's id, what a kept packing was made from). */
#ifndef CS_CORE_FNV_H
#define CS_CORE_FNV_H

#include <stddef.h>
#include <stdint.h>

#define CS_FNV_SEED 0xcbf29ce484222325ull

static inline uint64_t cs_fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

#endif
