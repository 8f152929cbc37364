/* model/packcache.h - a tower's packed matrices kept in a file, so that a
 * later process maps them instead of packing again (see packcache.c). */
#ifndef CS_MODEL_PACKCACHE_H
#define CS_MODEL_PACKCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Where and for what a tower's packing is kept; dir NULL: nowhere. */
typedef struct cs_pack_cache {
    const char *dir;
    const char *model_id; /* cs_model_info.id */
    const char *tower;    /* "vision" or "text" */
    uint64_t source;      /* the checkpoint file's identity (cs_pack_source) */
    const cs_logger *log;
} cs_pack_cache;

/* What a packing's bytes depend on besides the weights: its kind (for the
 * file's name, e.g. "int8") and a hash (core/fnv.h) of the layout (kernel geometry, the
 * shape of every matrix in order). */
typedef struct cs_pack_layout {
    const char *kind;
    uint64_t hash;
} cs_pack_layout;

/* The identity of a checkpoint file as the cache keys it: size,
 * modification time, inode and device (0 when it cannot be read). For a
 * sharded checkpoint it is the index file's: a shard replaced alone is
 * caught only by the model id's few tensors and the one matrix re-packed
 * on every hit. */
uint64_t cs_pack_source(const char *path);

/* A mapped packing file; cs_pack_unmap releases it. */
typedef struct cs_pack_file {
    void *map;
    size_t size;
} cs_pack_file;

/* Whether kept bytes equal a fresh packing of the part the caller re-packs
 * (ctx: the caller's). */
typedef int (*cs_pack_check_fn)(const uint8_t *kept, void *ctx);

/* Maps the file of (pc, layout) when it exists, holds exactly `bytes` of
 * packing made for this checkpoint and layout, and passes check: returns
 * its bytes (at least 64-byte aligned) and sets *f, else returns NULL
 * (*f empty), saying why (a failed check as a warning). */
const uint8_t *cs_pack_map(const cs_pack_cache *pc, const cs_pack_layout *layout, size_t bytes,
                           cs_pack_check_fn check, void *ctx, cs_pack_file *f);
void cs_pack_unmap(cs_pack_file *f);

/* Keeps `bytes` of packing as the file of (pc, layout): written whole to a
 * temporary name, synced, renamed. A failure (no folder, a full disk) is
 * logged and costs nothing else: the next process packs again. */
void cs_pack_store(const cs_pack_cache *pc, const cs_pack_layout *layout, const void *data,
                   size_t bytes);

#endif
