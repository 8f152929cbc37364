/* tests/fuzz/fuzz_npy.c - libFuzzer harness for the .npy reader
 * (src/index/npy.c: `import --npy`, `search --npy`).
 *
 *   tests/fuzz/build_fuzz_index.sh            (or -DCS_FUZZ=ON, see fuzz_query.c)
 *   build-fuzz/fuzz_npy build-fuzz/npy_seeds
 *
 * A file may be refused, never crash; every row of an accepted one is read
 * (the reader promised that the data holds exactly rows x cols values). */
#include <stdint.h>
#include <stdlib.h>

#include "index/npy.h"

volatile float fuzz_npy_sink; /* the rows are read, not optimised away */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cs_npy n;
    cs_error err;
    if (cs_npy_parse(data, size, "fuzz.npy", &n, &err) != CS_OK) return 0;
    float *row = malloc((size_t)n.cols * sizeof *row);
    if (!row) return 0;
    for (int64_t r = 0; r < n.rows; r++) {
        cs_npy_row(&n, r, row);
        fuzz_npy_sink = row[n.cols - 1];
    }
    free(row);
    return 0;
}
