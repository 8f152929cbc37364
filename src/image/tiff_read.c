/* image/tiff_read.c - the samples of a TIFF, strip by strip or tile by tile,
 * as chunky rows.
 *
 * The image is read in bands: the rows of one strip, or of one row of
 * tiles. Each block is decoded by libtiff (TIFFReadEncodedStrip/Tile) and
 * copied into a band of chunky rows (planar data is interleaved on the way),
 * which is converted row by row into the RGB output. Any libtiff error, or a
 * block shorter than the rows it must hold, fails the whole image: nothing
 * is returned half decoded. */
#include <stdlib.h>
#include <string.h>

#include "image/tiff_internal.h"

typedef struct band_reader {
    TIFF *tif;
    const tiff_layout *l;
    int tiled, planes;
    uint32_t bw, bh;   /* block size: a tile, or the full width x rows per strip */
    size_t row_bytes;  /* a chunky row of the band (spp samples a pixel) */
    size_t block_row;  /* a row of one block (one plane's samples when planar) */
    size_t block_size; /* what libtiff decodes a block into */
    uint8_t *block;    /* NULL for chunky strips, which go straight into the band */
    uint8_t *band;     /* bh chunky rows */
} band_reader;

/* Copies nbits from src (from its first bit) to dst starting at bit dbit:
 * sub-byte pixels of a tile whose width is not a multiple of 8 pixels. */
static void copy_bits(uint8_t *dst, size_t dbit, const uint8_t *src, size_t nbits) {
    for (size_t i = 0; i < nbits; i++, dbit++) {
        int bit = (src[i / 8] >> (7 - i % 8)) & 1;
        uint8_t mask = (uint8_t)(0x80 >> (dbit % 8));
        dst[dbit / 8] = (uint8_t)(bit ? dst[dbit / 8] | mask : dst[dbit / 8] & ~mask);
    }
}

/* Puts the rows x [x0, x0 + n) of a decoded block (plane p) into the band. */
static void place_block(band_reader *r, uint32_t x0, uint32_t n, uint32_t rows, int p) {
    const tiff_layout *l = r->l;
    const size_t bits = (size_t)l->bps * (r->planes > 1 ? 1 : l->spp);
    for (uint32_t y = 0; y < rows; y++) {
        const uint8_t *src = r->block + y * r->block_row;
        uint8_t *dst = r->band + y * r->row_bytes;
        if (r->planes > 1) { /* one sample of 8 or 16 bits a pixel */
            const size_t s = l->bps / 8;
            for (uint32_t i = 0; i < n; i++)
                memcpy(dst + ((size_t)(x0 + i) * l->spp + p) * s, src + i * s, s);
        } else if (x0 * bits % 8 == 0) {
            memcpy(dst + x0 * bits / 8, src, (n * bits + 7) / 8);
        } else {
            copy_bits(dst, x0 * bits, src, n * bits);
        }
    }
}

/* Decodes strip or tile `index` into buf; fails unless it holds `need` bytes. */
static int read_block(band_reader *r, uint32_t index, uint8_t *buf, size_t need) {
    tmsize_t n = r->tiled ? TIFFReadEncodedTile(r->tif, index, buf, (tmsize_t)r->block_size)
                          : TIFFReadEncodedStrip(r->tif, index, buf, (tmsize_t)r->block_size);
    return n >= 0 && (size_t)n >= need ? 0 : -1;
}

/* The band of rows [y0, y0 + rows), every plane and every block across. */
static int read_band(band_reader *r, uint32_t y0, uint32_t rows) {
    for (int p = 0; p < r->planes; p++) {
        if (!r->tiled) {
            uint32_t strip = TIFFComputeStrip(r->tif, y0, (uint16_t)p);
            if (!r->block) { /* chunky: the strip is the band */
                if (read_block(r, strip, r->band, rows * r->row_bytes)) return -1;
                continue;
            }
            if (read_block(r, strip, r->block, rows * r->block_row)) return -1;
            place_block(r, 0, r->l->width, rows, p);
            continue;
        }
        for (uint32_t x0 = 0; x0 < r->l->width; x0 += r->bw) {
            uint32_t tile = TIFFComputeTile(r->tif, x0, y0, 0, (uint16_t)p);
            /* libtiff decodes whole tiles, the ones at the edges included */
            if (read_block(r, tile, r->block, r->block_row * rows)) return -1;
            uint32_t n = r->l->width - x0 < r->bw ? r->l->width - x0 : r->bw;
            place_block(r, x0, n, rows, p);
        }
    }
    return 0;
}

/* Block geometry from libtiff; 0 if it is unusable or over max_alloc. */
static int setup(band_reader *r, uint64_t max_alloc) {
    const tiff_layout *l = r->l;
    r->planes = l->planar == PLANARCONFIG_SEPARATE && l->spp > 1 ? l->spp : 1;
    uint64_t row_bits = (uint64_t)l->width * l->spp * l->bps;
    r->row_bytes = (size_t)((row_bits + 7) / 8);
    if (r->tiled) {
        if (!TIFFGetField(r->tif, TIFFTAG_TILEWIDTH, &r->bw) ||
            !TIFFGetField(r->tif, TIFFTAG_TILELENGTH, &r->bh) || !r->bw || !r->bh)
            return 0;
        r->block_size = (size_t)TIFFTileSize64(r->tif);
        r->block_row = (size_t)TIFFTileRowSize64(r->tif);
        uint64_t tile_bits = (uint64_t)r->bw * l->bps * (r->planes > 1 ? 1 : l->spp);
        if (r->block_row < (tile_bits + 7) / 8 || r->block_size / r->bh < r->block_row) return 0;
    } else {
        uint32_t rps = l->height;
        TIFFGetFieldDefaulted(r->tif, TIFFTAG_ROWSPERSTRIP, &rps);
        r->bw = l->width;
        r->bh = rps == 0 || rps > l->height ? l->height : rps;
        r->block_size = (size_t)TIFFStripSize64(r->tif);
        r->block_row = (size_t)TIFFScanlineSize64(r->tif);
        if (r->block_row * (r->planes > 1 ? l->spp : 1) < r->row_bytes) return 0;
        /* chunky rows are exactly a scanline: the strip is decoded in place */
        if (r->planes == 1 && r->block_row != r->row_bytes) return 0;
    }
    if (!r->block_size || !r->block_row) return 0;
    /* a band never holds more rows than the image, however tall its tiles */
    uint64_t band = (uint64_t)r->row_bytes * (r->bh < l->height ? r->bh : l->height);
    if (band > max_alloc || r->block_size > max_alloc) return 0;
    if (r->planes == 1 && !r->tiled) {
        /* strips may claim more rows than the image has: the band is one strip */
        if (r->block_size > band) return 0;
        r->band = malloc((size_t)band);
        return r->band ? 1 : -1;
    }
    /* zeroed: sub-byte tiles are merged bit by bit into it */
    r->band = calloc(1, (size_t)band);
    r->block = malloc(r->block_size);
    return r->band && r->block ? 1 : -1;
}

cs_status cs_tiff_read(TIFF *tif, const tiff_layout *l, tiff_convert *conv, tiff_src *src,
                       const char *name, uint64_t max_alloc, cs_image *out, cs_error *err) {
    band_reader r = {.tif = tif, .l = l, .tiled = TIFFIsTiled(tif)};
    int ok = setup(&r, max_alloc);
    cs_status st = CS_OK;
    if (ok < 0)
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory", name);
    else if (ok == 0)
        st = cs_fail(err, CS_EFORMAT, "%s: bad TIFF: unusable %s layout", name,
                     r.tiled ? "tile" : "strip");
    for (uint32_t y0 = 0; !st && y0 < l->height; y0 += r.bh) {
        uint32_t rows = l->height - y0 < r.bh ? l->height - y0 : r.bh;
        if (read_band(&r, y0, rows) || src->failed) {
            st = cs_fail(err, CS_EFORMAT, "%s: bad TIFF data: %s", name,
                         src->message[0] ? src->message : "a strip or tile is short");
            break;
        }
        for (uint32_t y = 0; y < rows; y++)
            cs_tiff_convert_row(conv, r.band + y * r.row_bytes,
                                out->rgb + (size_t)(y0 + y) * l->width * 3);
    }
    free(r.band);
    free(r.block);
    return st;
}
