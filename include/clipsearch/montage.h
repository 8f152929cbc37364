/* clipsearch/montage.h - a contact sheet of search results: the query
 * first, then each result with its score and file name under it. */
#ifndef CLIPSEARCH_MONTAGE_H
#define CLIPSEARCH_MONTAGE_H

#include "clipsearch/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cs_montage_opts {
    int tile;      /* each picture's box in pixels; <= 0: 224 */
    cs_log_fn log; /* optional: told (CS_LOG_WARN) of each file it cannot draw */
    void *log_user;
    uint64_t reserved[CS_RESERVED_WORDS]; /* zero: room for later fields */
} cs_montage_opts;

/* Draws the query (framed: query_image's picture, or query_label's words in
 * a box when query_image is NULL), then paths[i] with "Score: scores[i]"
 * and its file name under it, up to 6 pictures a row, as a JPEG at out_path
 * (written atomically). n must be >= 1: a sheet with no result is refused
 * (CS_EINVAL). A file that cannot be decoded shows as a grey "unreadable"
 * box, the reason goes to the log hook, and the sheet is still written.
 * opts may be NULL. Decodes with cs_image_decode_file. */
CS_API cs_status cs_montage_write(const char *out_path, const char *query_label,
                                  const char *query_image, const char *const *paths,
                                  const float *scores, int n, const cs_montage_opts *opts,
                                  cs_error *err);

#ifdef __cplusplus
}
#endif

#endif
