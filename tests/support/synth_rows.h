/* tests/support/synth_rows.h - synthetic catalogue rows for the tests that
 * need a filled database but no model: row i is /img/NNNNN.jpg, size
 * 1000 + i, mtime i, 64 x 64, a hash from i, and an embedding of small
 * whole numbers ((31 i + 7 j) % 97 - 48), exact in float. */
#ifndef CS_SYNTH_ROWS_H
#define CS_SYNTH_ROWS_H

#include "clipsearch.h"

typedef struct cs_test_rows {
    int n, dim;
    cs_db_entry *e; /* n entries for cs_db_put, pointing into the two below */
    float *emb;     /* n x dim */
    char (*names)[32];
} cs_test_rows;

/* Fills r with n rows of dim; exits the test with failure when out of
 * memory. */
void cs_test_rows_make(cs_test_rows *r, int n, int dim);
void cs_test_rows_free(cs_test_rows *r);

#endif
