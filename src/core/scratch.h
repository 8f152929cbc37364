/* core/scratch.h - large buffers kept between calls: the scratch memory of
 * the matrix multiplies and a forward pass's activations, and the files an
 * indexer reads.
 *
 * A multiply needs a few hundred kB to a few MB of scratch (per-thread
 * panels, converted activations), a batch's forward pass tens of MB, a
 * photograph's bytes a few MB. Allocated per call, a block that size is a
 * fresh mapping whose pages fault in on every call (8% of the BF16
 * encoder's time and a visible share of a short fp32 pass, perf); and even
 * kept in the heap, it first faults in as 4 KiB pages, which cost several
 * times what 2 MiB pages do on the machines we measured
 * (docs/performance.md). So the buffers come in 2 MiB pages from 1 MiB on
 * and go back to a small cache instead: at most a few, the largest sizes
 * the process used, reachable from here and never freed. */
#ifndef CS_CORE_SCRATCH_H
#define CS_CORE_SCRATCH_H

#include <stddef.h>

/* A 64-byte aligned buffer of at least size bytes (*got: its real size,
 * to hand back); NULL when out of memory. */
void *cs_scratch_get(size_t size, size_t *got);
/* Hands a buffer from cs_scratch_get back (NULL: nothing). */
void cs_scratch_put(void *p, size_t got);

#endif
