/* core/checked.h - arithmetic on sizes and offsets read from files.
 *
 * A header field is whatever the file says, so every size or offset derived
 * from one is computed here, where an overflow is an answer ("does not fit")
 * instead of a wrapped value that passes a later bounds check. Each returns 1
 * and writes *out when the result fits, else returns 0 (*out undefined). */
#ifndef CS_CORE_CHECKED_H
#define CS_CORE_CHECKED_H

#include <stddef.h>
#include <stdint.h>

static inline int cs_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

static inline int cs_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* a * b * c */
static inline int cs_mul3_u64(uint64_t a, uint64_t b, uint64_t c, uint64_t *out) {
    uint64_t ab;
    return cs_mul_u64(a, b, &ab) && cs_mul_u64(ab, c, out);
}

/* 1 when [off, off + len) lies inside a buffer of `size` bytes. */
static inline int cs_range_ok(uint64_t off, uint64_t len, uint64_t size) {
    uint64_t end;
    return cs_add_u64(off, len, &end) && end <= size;
}

/* off rounded up to a multiple of align (a power of two). */
static inline int cs_align_u64(uint64_t off, uint64_t align, uint64_t *out) {
    uint64_t r;
    if (!cs_add_u64(off, align - 1, &r)) return 0;
    *out = r & ~(align - 1);
    return 1;
}

/* A u64 that fits in size_t (32-bit hosts). */
static inline int cs_u64_size(uint64_t v, size_t *out) {
    if (v > (uint64_t)SIZE_MAX) return 0;
    *out = (size_t)v;
    return 1;
}

#endif
