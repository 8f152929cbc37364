/* model/lowp.h - a tower's matrices packed once for the BF16 or int8
 * kernels (cs_model_opts.precision; kernels/gemm_lp.h). */
#ifndef CS_MODEL_LOWP_H
#define CS_MODEL_LOWP_H

#include "core/error.h"
#include "core/pool.h"
#include "kernels/gemm_lp.h"
#include "model/packcache.h"
#include "model/weights.h"

/* Packs the encoder layers' matrices (q, k, v, o, fc1, fc2) and, for the
 * image tower, the patch embedding, whatever their stored dtype, into
 * type's panels (cs_weight.lp) in T->larena (freed by cs_tower_free), and
 * releases the mapped originals from the resident set. With pc->dir, a
 * packing kept there for the same checkpoint is mapped instead (T->kept),
 * and a fresh one is kept there for the next process. kept_only: map a
 * kept packing if there is one, else leave the tower as it is (F32 from
 * its map; T->larena stays NULL). */
cs_status cs_tower_pack_lp(cs_tower *T, cs_lp_type type, cs_pool *pool, const cs_pack_cache *pc,
                           int kept_only, cs_error *err);

#endif
