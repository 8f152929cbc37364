/* model/smooth.h - outlier channels of a layer norm's output moved into the
 * next matrix's weights, for the int8 kernels (see smooth.c). */
#ifndef CS_MODEL_SMOOTH_H
#define CS_MODEL_SMOOTH_H

/* The column scales s[d] for the matrices reading the output of a layer
 * norm with weight g[d] and bias b[d]: 1 for ordinary channels, above 1 for
 * outliers. Returns how many channels are scaled. */
int cs_smooth_scales(const float *g, const float *b, int d, float *s);

#endif
