/* index/content_hash.h - cs_hash128 (clipsearch/index.h) over data that
 * arrives in pieces: a file read in chunks hashes to the same 16 bytes as
 * the whole file in memory, without holding it all (the server checks a
 * file against the catalogue's hash before it sends it). */
#ifndef CS_INDEX_CONTENT_HASH_H
#define CS_INDEX_CONTENT_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct cs_hash128_state {
    uint64_t lanes[4];
    uint64_t size;   /* bytes seen so far */
    uint8_t buf[32]; /* the start of a stripe not yet complete */
    size_t held;     /* bytes in buf */
} cs_hash128_state;

void cs_hash128_init(cs_hash128_state *s);
void cs_hash128_update(cs_hash128_state *s, const void *data, size_t size);
void cs_hash128_final(const cs_hash128_state *s, uint8_t out[16]);

#endif
