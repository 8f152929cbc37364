/* dist/wire.h - the messages between ranks as byte strings: a growing
 * writer and a bounds-checked reader. Integers go in the host's byte order
 * (the ranks of one job run one build on one architecture). A reader that
 * runs past the end stays failed and returns zeros, so a decoder checks
 * once, at the end. */
#ifndef CS_DIST_WIRE_H
#define CS_DIST_WIRE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cs_wbuf {
    uint8_t *data;
    size_t len, cap;
    int oom;
} cs_wbuf;

void cs_w_bytes(cs_wbuf *w, const void *p, size_t n);
void cs_w_u32(cs_wbuf *w, uint32_t v);
void cs_w_i64(cs_wbuf *w, int64_t v);
void cs_w_str(cs_wbuf *w, const char *s); /* length, bytes, no NUL */
void cs_wbuf_free(cs_wbuf *w);

typedef struct cs_rbuf {
    const uint8_t *p;
    size_t left;
    int bad;
} cs_rbuf;

void cs_r_bytes(cs_rbuf *r, void *out, size_t n);
const void *cs_r_view(cs_rbuf *r, size_t n); /* n bytes in place, or NULL */
uint32_t cs_r_u32(cs_rbuf *r);
int64_t cs_r_i64(cs_rbuf *r);
char *cs_r_str(cs_rbuf *r); /* malloc'd, NUL-terminated; NULL when bad */

#endif
