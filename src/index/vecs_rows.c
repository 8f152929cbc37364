/* index/vecs_rows.c - rows of a snapshot copied out for re-scoring
 * (cs_vecs_read_rows, index/db_internal.h). On its own, with no SQLite, so
 * that the DB.ann fuzz target links it with the search. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "index/db_internal.h"

void cs_vecs_read_rows(const cs_vecs *v, const int64_t *rows, int n, float *out) {
    const cs_vecs *f = v->base ? v->base : v; /* the base rows' owner */
    size_t row = (size_t)v->dim * sizeof(float);
    for (int i = 0; i < n; i++) {
        const float *src = v->vectors + rows[i] * (int64_t)v->dim;
        float *dst = out + (size_t)i * (size_t)v->dim;
        uintptr_t b = (uintptr_t)src, m = (uintptr_t)f->map.data;
        /* in f's map (a snapshot built by hand, as the fuzz target does,
         * has none): the same bytes of the file behind f->fd */
        if (f->source == VECS_FILE && m && b >= m && row <= f->map.size &&
            b - m <= f->map.size - row) {
            off_t at = (off_t)(b - m);
            ssize_t got;
            while ((got = pread(f->fd, dst, row, at)) < 0 && errno == EINTR) {
            }
            if (got == (ssize_t)row) continue;
        }
        memcpy(dst, src, row);
    }
}
