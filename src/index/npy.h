/* index/npy.h - reading NumPy .npy files of embeddings (N x D float32 or
 * float16, C order, little-endian), as clip-retrieval and numpy.save write
 * them: `clipsearch import --npy` and `search --npy`. The file is mapped,
 * not read: 1M x 512 rows are 2 GB. */
#ifndef CS_INDEX_NPY_H
#define CS_INDEX_NPY_H

#include <stdint.h>

#include "core/file.h"

typedef struct cs_npy {
    cs_map map;
    int64_t rows; /* N (1 for a 1-D array of D values) */
    int cols;     /* D */
    int f16;      /* 1: float16, else float32 */
    const uint8_t *data;
} cs_npy;

/* Parses the header of the .npy bytes [data, data + size) and checks that
 * the data that follows is exactly rows x cols values: version 1-3, dtype
 * '<f4' or '<f2', fortran_order False, a shape of 1 or 2 dimensions.
 * Only fills rows, cols, f16, data. `name` is for messages. */
cs_status cs_npy_parse(const uint8_t *bytes, size_t size, const char *name, cs_npy *out,
                       cs_error *err);

cs_status cs_npy_open(const char *path, cs_npy *out, cs_error *err);
void cs_npy_close(cs_npy *n);

/* Row r as float32 (cols floats). */
void cs_npy_row(const cs_npy *n, int64_t r, float *out);

/* The IEEE half-precision value h as a float. */
float cs_half_to_float(uint16_t h);

#endif
