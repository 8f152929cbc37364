/* image/jpeg_huff.h - baseline JPEG entropy decoding for jpeg_fast.c: the
 * tables, the bit reader over the coded data, one block's coefficients.
 *
 * Everything here declines rather than guesses: a table libjpeg would refuse,
 * a code no table holds, a run past the block's end, data that ends early or
 * meets an unexpected marker all end in a 0 return, and the caller leaves
 * the file to libjpeg. */
#ifndef CS_JPEG_HUFF_H
#define CS_JPEG_HUFF_H

#include <stddef.h>
#include <stdint.h>

#define HUFF_LOOKUP_BITS 11    /* one lookup decodes codes (and values) this long */
#define HUFF_FULL        0x20u /* the entry decoded its symbols' values too */

/* Codes longer than the lookup, found as libjpeg finds them: the code of
 * each length is compared with that length's largest code. */
typedef struct huff_codes {
    int32_t maxcode[18]; /* -1 where a length has no code; [17] ends the search */
    int32_t offset[17];  /* a code's symbol is val[code + offset[length]] */
    uint8_t val[256];
} huff_codes;

/* DC: HUFF_FULL | bits (code and value) | diff << 16, or (only the code
 * fits) code length | size << 8, or 0 (the code is longer). */
typedef struct huff_dc {
    uint32_t fast[1 << HUFF_LOOKUP_BITS];
    huff_codes codes;
} huff_dc;

/* AC: up to two coefficients per entry. Bits 0-4: the bits both take;
 * HUFF_FULL; 6-12 and 13-19: how far each moves the zigzag position (run
 * + 1; 16 for ZRL; 80 for EOB, which ends the block; 0: no second); 20-23:
 * the first one's bits; 32-47 and 48-63 their values (the second repeats
 * the first when there is none, so storing it changes nothing). Without
 * HUFF_FULL: code length | symbol << 24, or 0 (the code is longer). */
typedef struct huff_ac {
    uint64_t fast[1 << HUFF_LOOKUP_BITS];
    huff_codes codes;
} huff_ac;

/* The tables of a DHT as libjpeg checks them (at most 256 symbols, no
 * length's codes overflowing it, and here also: DC sizes <= 11, AC sizes
 * <= 10, as baseline streams have them). Returns 0 when refused. */
int cs_huff_build_dc(const uint8_t bits[17], const uint8_t *val, huff_dc *t);
int cs_huff_build_ac(const uint8_t bits[17], const uint8_t *val, huff_ac *t);

/* ---- the coded data, one restart interval at a time --------------------
 * Bytes are unstuffed (FF 00 -> FF) into a window as they are needed; the
 * window ends at the interval's marker. A block takes at most
 * 27 + 63 * 26 bits, so an MCU of at most 10 blocks at most 2.1 KB: the
 * window keeps HUFF_SLACK bytes ahead of the reader between MCUs, and zeroes
 * behind the interval's last byte so that a reader that runs past it reads
 * zeros, which cs_huff_keep_ahead and cs_huff_within then report. */
#define HUFF_WINDOW (64 * 1024)
#define HUFF_SLACK  4096

typedef struct huff_reader {
    uint64_t bits;      /* the next bits, most significant first */
    int cnt;            /* how many of them are valid (the rest are the same bits again or 0) */
    const uint8_t *q;   /* next byte of win not yet in bits */
    uint8_t *lim;       /* end of the unstuffed bytes in win */
    const uint8_t *src; /* stuffed data not yet unstuffed */
    const uint8_t *end; /* end of the file */
    int marker;         /* the marker that ended the interval (0: not yet; -1: end of file) */
    uint8_t win[HUFF_WINDOW + HUFF_SLACK + 64];
} huff_reader;

/* Starts an interval whose coded data begins at src. */
void cs_huff_start(huff_reader *r, const uint8_t *src, const uint8_t *end);
/* Between MCUs: keeps HUFF_SLACK bytes ahead of the reader. Returns 0 when
 * the reader has run past the interval's data. */
int cs_huff_keep_ahead(huff_reader *r);
/* After an interval's last MCU: 1 when it took no more bits than the
 * interval holds. */
int cs_huff_within(const huff_reader *r);
/* Then: the marker that ends the interval (its second byte; -1 when the
 * file ends first). Skips the rest of the interval's data, as libjpeg
 * does; the reader needs cs_huff_start before decoding again. */
int cs_huff_marker(huff_reader *r);

/* An MCU's blocks in coded order: which tables decode each, and which
 * component's DC prediction it continues. */
#define HUFF_MAX_BLOCKS 10 /* libjpeg's limit */
#define HUFF_BLOCK      72 /* coefficients kept a block: 64, then slots 64-71 */
typedef struct huff_mcu {
    int blocks;
    int comp[HUFF_MAX_BLOCKS];
    const huff_dc *dc[HUFF_MAX_BLOCKS];
    const huff_ac *ac[HUFF_MAX_BLOCKS];
} huff_mcu;

/* One MCU: each block's DC difference added to its component's pred, its
 * coefficients into blk[i][0..63] in natural order (the rest of blk[i] is
 * scratch). Returns 0 for a code no table holds or a run past a block's
 * end. */
int cs_huff_mcu(huff_reader *r, const huff_mcu *m, uint32_t *pred, int16_t (*blk)[HUFF_BLOCK]);

#endif
