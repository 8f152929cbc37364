/* model/pickle.h - a strict reader of the pickle PyTorch writes for a state
 * dict (torch.save(model.state_dict()), protocol 2; the few protocol 4
 * opcodes are accepted too).
 *
 * It is not a Python unpickler: it knows a fixed set of opcodes and exactly
 * these globals: collections.OrderedDict, torch._utils._rebuild_tensor_v2,
 * torch._utils._rebuild_parameter and the typed storage classes
 * (torch.FloatStorage, ...). Nothing is ever executed or imported; anything
 * else is refused with a message naming it. */
#ifndef CS_MODEL_PICKLE_H
#define CS_MODEL_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "model/tensors.h"

typedef struct cs_pkl_tensor {
    char *name;
    cs_dtype dtype;
    char *storage;         /* the storage key: the zip entry data/<key> */
    int64_t storage_numel; /* elements the storage declares */
    int64_t offset;        /* in elements */
    int ndim;
    int64_t shape[CS_MAX_DIMS], stride[CS_MAX_DIMS];
} cs_pkl_tensor;

/* Reads a state dict: a (possibly ordered) dict of name -> tensor. */
cs_status cs_pickle_state_dict(const uint8_t *buf, size_t size, const char *name,
                               cs_pkl_tensor **out, int *n_out, cs_error *err);
void cs_pickle_free(cs_pkl_tensor *t, int n);

#endif
