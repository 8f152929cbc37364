/* tests/support/synth_rows.c - see synth_rows.h. */
#include <stdio.h>
#include <stdlib.h>

#include "synth_rows.h"

void cs_test_rows_make(cs_test_rows *r, int n, int dim) {
    r->n = n;
    r->dim = dim;
    r->emb = malloc((size_t)n * (size_t)dim * sizeof *r->emb);
    r->e = calloc((size_t)n, sizeof *r->e);
    r->names = malloc((size_t)n * sizeof *r->names);
    if (!r->emb || !r->e || !r->names) {
        fprintf(stderr, "test rows: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        snprintf(r->names[i], sizeof r->names[i], "/img/%05d.jpg", i);
        for (int j = 0; j < dim; j++)
            r->emb[(size_t)i * dim + j] = (float)((i * 31 + j * 7) % 97) - 48;
        r->e[i] = (cs_db_entry){.path = r->names[i],
                                .size = 1000 + i,
                                .mtime_ns = i,
                                .width = 64,
                                .height = 64,
                                .embedding = r->emb + (size_t)i * dim};
        r->e[i].hash[0] = (uint8_t)i, r->e[i].hash[1] = (uint8_t)(i >> 8);
    }
}

void cs_test_rows_free(cs_test_rows *r) {
    free(r->emb);
    free(r->e);
    free(r->names);
}
