/* model/prepack.h - the image tower's matrices packed once for the GEMM. */
#ifndef CS_MODEL_PREPACK_H
#define CS_MODEL_PREPACK_H

#include "core/error.h"
#include "core/pool.h"
#include "model/packcache.h"
#include "model/weights.h"

/* Packs the encoder layers' F32 matrices of a tower (q, k, v, o, fc1, fc2)
 * into the panels the kernel reads (cs_weight.panels), in T->parena (freed
 * by cs_tower_free), and releases the mapped originals from the resident
 * set. Matrices of other types are left as they are. With pc->dir, panels
 * kept there for the same checkpoint and kernel are mapped instead
 * (T->kept), and fresh ones are kept there. kept_only: map kept panels if
 * there are any, else leave the tower as it is. */
cs_status cs_tower_prepack(cs_tower *T, cs_pool *pool, const cs_pack_cache *pc, int kept_only,
                           cs_error *err);

#endif
