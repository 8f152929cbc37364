/* hub/sha256.h - SHA-256 (FIPS 180-4), to check downloads against the sums
 * the hub gives for LFS files.
 *
 * Our own ~100 lines rather than a crypto library: libcurl's TLS backend is
 * not ours to rely on (Debian builds it against OpenSSL, GnuTLS or NSS), and
 * linking libcrypto directly would add libssl-dev to the dependencies for
 * one function. A portable SHA-256 runs at a few hundred MB/s, far above a
 * download's speed, and it hashes while the bytes arrive. */
#ifndef CS_HUB_SHA256_H
#define CS_HUB_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "clipsearch/common.h"

typedef struct cs_sha256 {
    uint32_t h[8];
    uint64_t length; /* bytes hashed so far */
    uint8_t block[64];
    size_t fill; /* bytes waiting in block */
} cs_sha256;

void cs_sha256_init(cs_sha256 *s);
void cs_sha256_update(cs_sha256 *s, const void *data, size_t size);
void cs_sha256_final(cs_sha256 *s, uint8_t digest[32]);
/* The digest as 64 lowercase hex digits and a NUL. */
void cs_sha256_hex(const uint8_t digest[32], char hex[65]);
/* Hashes the first `size` bytes of an open file descriptor from offset 0. */
cs_status cs_sha256_fd(cs_sha256 *s, int fd, uint64_t size, const char *path, cs_error *err);

#endif
