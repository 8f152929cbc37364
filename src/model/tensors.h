/* model/tensors.h - a table of named tensors that live in memory-mapped
 * checkpoint files (safetensors, sharded safetensors, PyTorch zip).
 *
 * The table owns the maps; each tensor points into one of them. Readers
 * validate every offset and size before a tensor enters the table, so the
 * rest of the engine may trust `data` and `nbytes`. */
#ifndef CS_MODEL_TENSORS_H
#define CS_MODEL_TENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "clipsearch/common.h"
#include "core/file.h"
#include "kernels/dtype.h"

#define CS_MAX_DIMS 8

typedef struct cs_tensor {
    char *name;
    cs_dtype dtype;
    int ndim;
    int64_t shape[CS_MAX_DIMS];
    const void *data; /* into a map (or an aligned copy, see owned) */
    size_t nbytes;
    void *owned; /* non-NULL when data had to be copied for alignment */
} cs_tensor;

#define CS_MAX_TENSORS (1 << 20) /* far above any real checkpoint */

typedef struct cs_tensor_table {
    cs_tensor *t;
    int n, cap;
    int *slots;   /* open-addressing index by name: 2 * cap entries, -1 = empty */
    cs_map *maps; /* the files the tensors point into */
    int n_maps;
    char format[32]; /* "safetensors", "safetensors (sharded)", "pytorch zip" */
} cs_tensor_table;

/* "F32", "F16", ...; safetensors spelling. */
const char *cs_dtype_name(cs_dtype dt);
/* From the safetensors spelling; CS_DT_UNKNOWN if not one we know. */
cs_dtype cs_dtype_parse(const char *s);

/* prod(shape) * elsize with overflow checks; -1 if it overflows size_t. */
int cs_tensor_nbytes(const int64_t *shape, int ndim, cs_dtype dt, size_t *out);

const cs_tensor *cs_tensors_find(const cs_tensor_table *tab, const char *name);
/* Adds a tensor (name copied). Refuses duplicates with CS_EFORMAT. */
cs_status cs_tensors_add(cs_tensor_table *tab, const char *name, cs_dtype dt, int ndim,
                         const int64_t *shape, const void *data, size_t nbytes, const char *file,
                         cs_error *err);
/* Keeps a map alive for the table's lifetime (takes ownership). */
cs_status cs_tensors_keep_map(cs_tensor_table *tab, cs_map *map, cs_error *err);
/* Maps a whole file, parses it with `parse` (a reader's _parse below) and
 * keeps the map alive for the table, whatever the parse's outcome. */
typedef cs_status (*cs_tensors_parse_fn)(const uint8_t *buf, size_t size, const char *name,
                                         cs_tensor_table *tab, cs_error *err);
cs_status cs_tensors_load_mapped(const char *path, cs_tensors_parse_fn parse, cs_tensor_table *tab,
                                 cs_error *err);
void cs_tensors_free(cs_tensor_table *tab);

/* Readers. Each appends to tab; on failure tab may hold a partial result and
 * must still be freed by the caller. */
cs_status cs_safetensors_load(const char *path, cs_tensor_table *tab, cs_error *err);
/* Parses an already mapped safetensors buffer (the fuzzers' entry point);
 * `name` is used in messages. The caller keeps buf alive. */
cs_status cs_safetensors_parse(const uint8_t *buf, size_t size, const char *name,
                               cs_tensor_table *tab, cs_error *err);
cs_status cs_safetensors_load_sharded(const char *dir, const char *index_path, cs_tensor_table *tab,
                                      cs_error *err);
cs_status cs_torchzip_load(const char *path, cs_tensor_table *tab, cs_error *err);
cs_status cs_torchzip_parse(const uint8_t *buf, size_t size, const char *name, cs_tensor_table *tab,
                            cs_error *err);

/* Writes every tensor of tab to a safetensors file, atomically (temporary
 * file in the same folder, fsync, rename). */
cs_status cs_safetensors_write(const char *path, const cs_tensor_table *tab, cs_error *err);

#endif
