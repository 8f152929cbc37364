/* tests/fuzz/fuzz_vecfile.c - libFuzzer harness for the vector file check
 * (cs_vecfile_check, index/vecfile.c): the input is a DB.vectors file.
 * The database's dim, generation and uuid are taken from the input's own
 * header, so every check past the identity is reached. A file accepted is
 * then scanned as a search would (every id and vector read), in an exactly
 * sized copy: a size check that lets a byte past the end through is an
 * AddressSanitizer report. Build with -DCS_FUZZ=ON (clang); run:
 *   build-fuzz/tests/fuzz_vecfile -runs=1000000 CORPUS */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/db_internal.h"
#include "index/search_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 64) return 0;
    uint8_t *buf = malloc(size);
    if (!buf) return 0;
    memcpy(buf, data, size);
    uint32_t dim;
    uint64_t count, gen, voff;
    memcpy(&dim, buf + 12, 4);
    memcpy(&count, buf + 16, 8);
    memcpy(&gen, buf + 24, 8);
    memcpy(&voff, buf + 56, 8);
    char uuid[33];
    for (int i = 0; i < 16; i++) {
        static const char hex[] = "0123456789abcdef";
        uuid[2 * i] = hex[buf[32 + i] >> 4];
        uuid[2 * i + 1] = hex[buf[32 + i] & 15];
    }
    uuid[32] = '\0';
    int d = dim >= 1 && dim <= 65536 ? (int)dim : 1;
    if (cs_vecfile_check(buf, size, d, gen, uuid)) {
        const int64_t *ids = (const int64_t *)(buf + 64);
        uint64_t sum = 0; /* touches every id */
        for (uint64_t i = 0; i < count; i++) sum += (uint64_t)ids[i];
        float *q = calloc((size_t)d, sizeof *q);
        cs_hit hits[4];
        int64_t bad = 0;
        if (q) {
            q[0] = 1;
            if (voff % 4 == 0) /* the writer aligns to 64; a check that lets less through... */
                cs_search_flat_checked(NULL, (const float *)(buf + voff), (int64_t)count, d, q, 4,
                                       hits, CS_ISA_AUTO, 1.01f, &bad);
            else
                abort(); /* ...would be a bug in the check */
        }
        free(q);
        (void)sum;
    }
    free(buf);
    return 0;
}
