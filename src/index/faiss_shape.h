/* index/faiss_shape.h - the structure of a FAISS file, walked before FAISS
 * reads it.
 *
 * faiss::read_index (1.7.3) takes every count from the file and allocates
 * what it says before reading the bytes that should follow: a vector of up
 * to 2^40 elements, nlist inverted lists of any size, 2^nbits product
 * quantizer centroids. A small hostile file can so ask for terabytes, or
 * divide by a zero M while reading. This walks the same layout for the
 * types clipsearch reads (flat, IDMap/IDMap2, IVF-Flat/PQ/SQ, PQ, SQ, HNSW
 * over flat or SQ storage) and checks, with overflow-safe sizes, that every
 * array the file announces is there in full, that the counts FAISS derives
 * sizes from agree with one another, and that the file ends where the index
 * does: whatever read_index then allocates is bounded by the file's length.
 * Every other type (legacy layouts, on-disk inverted lists that name
 * another file, refinement, graph variants) is refused. */
#ifndef CS_INDEX_FAISS_SHAPE_H
#define CS_INDEX_FAISS_SHAPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* NULL when data[0..size) has the shape of an index clipsearch reads, else
 * the reason in a few words (static text). */
const char *cs_faiss_shape_check(const uint8_t *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
