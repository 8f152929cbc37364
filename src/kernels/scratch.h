/* kernels/scratch.h - the scratch memory of the matrix multiplies, kept
 * between calls.
 *
 * A multiply needs a few hundred kB to a few MB of scratch (per-thread
 * panels, converted activations). Allocated per call, a block that size is
 * a fresh mapping whose pages fault in on every call: 8% of the BF16
 * encoder's time and a visible share of a short fp32 pass (perf). So the
 * buffers go back to a small cache instead: at most a few, the largest
 * sizes the process used, reachable from here and never freed. */
#ifndef CS_KERNELS_SCRATCH_H
#define CS_KERNELS_SCRATCH_H

#include <stddef.h>

/* A 64-byte aligned buffer of at least size bytes (*got: its real size,
 * to hand back); NULL when out of memory. */
void *cs_scratch_get(size_t size, size_t *got);
/* Hands a buffer from cs_scratch_get back (NULL: nothing). */
void cs_scratch_put(void *p, size_t got);

#endif
