/* model/smooth.c - outlier channels of a layer norm's output, moved into
 * the next matrix's weights for the int8 kernels.
 *
 * The int8 GEMM quantises each row of its input per block of 256 channels
 * to 8 bits over the block's own range (kernels/gemm_lp.h). A channel whose
 * values are ten times the others' stretches that range tenfold and leaves
 * the rest of its block three bits. Trained transformers have such
 * channels after their layer norms, made by the norm's own weight and bias
 * (the same channels in every token), and int8 embeddings suffer for it
 * (docs/performance.md, "Outlier channels").
 *
 * The norm's output y = n g + b feeds W; for any s > 0,
 *   W y = (W diag(s)) (y / s)
 * so dividing the channel's g and b by s and multiplying W's column by s
 * changes nothing exactly, and moves the channel's size from the
 * activations into the weights (SmoothQuant's migration, with the scale
 * read off the norm instead of calibrated). s = sqrt(size / median size)
 * shares it between the two: each then sees sqrt of the outlier, where
 * the weights, quantised per output row over all its columns, would lose
 * what the activations gain if it all moved. Only channels above 4 times
 * the median size move; other weights are packed as they are. */
#include "model/smooth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int cs_smooth_scales(const float *g, const float *b, int d, float *s) {
    /* a channel's typical size: n is about N(0, 1), so |n g + b| <~ 2|g| + |b| */
    float *size = malloc((size_t)d * sizeof *size), *sorted = malloc((size_t)d * sizeof *sorted);
    int moved = 0;
    for (int p = 0; p < d; p++) s[p] = 1.0f;
    if (size && sorted) {
        for (int p = 0; p < d; p++) size[p] = 2.0f * fabsf(g[p]) + fabsf(b[p]);
        memcpy(sorted, size, (size_t)d * sizeof *sorted);
        qsort(sorted, (size_t)d, sizeof *sorted, cmp_float);
        float median = sorted[d / 2];
        for (int p = 0; p < d && median > 0; p++)
            if (size[p] > 4.0f * median) s[p] = sqrtf(size[p] / median), moved++;
    }
    free(size), free(sorted);
    return moved;
}
