/* model/quant.h - int8 weights, an opt-in (cs_model_opts.int8). */
#ifndef CS_MODEL_QUANT_H
#define CS_MODEL_QUANT_H

#include "core/error.h"
#include "core/pool.h"
#include "model/weights.h"

/* Replaces the encoder layers' matrices of a tower (q, k, v, o, fc1, fc2)
 * by int8 copies, one scale per row (model/quant.c). The copies live in
 * T->qarena (freed by cs_tower_free); the mapped originals stay untouched. */
cs_status cs_tower_quantize(cs_tower *T, cs_pool *pool, cs_error *err);

#endif
