/* dist/dist_index_worker.h - a rank other than 0 in cs_dist_index. */
#ifndef CS_DIST_INDEX_WORKER_H
#define CS_DIST_INDEX_WORKER_H

#include "dist/dist.h"

/* Works for rank 0 with its own model until told to stop; model NULL (it
 * could not be opened): tells rank 0 why (setup_error) and waits for the
 * stop. Returns CS_OK unless this rank failed. */
cs_status cs_dist_index_worker(cs_comm *comm, cs_model *model, const cs_index_opts *opts,
                               const cs_error *setup_error, cs_error *err);

#endif
