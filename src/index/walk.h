/* index/walk.h - finding the images under a folder.
 *
 * Depth-first, entries of each folder in byte order of their names (so runs
 * and ids are reproducible). Skipped: names starting with '.' (unless
 * include_hidden), names or relative paths matching an exclude glob, and
 * symlinks (unless follow_symlinks; then loops are detected). A regular file
 * is reported when it looks like an image: its first bytes sniff as one, or
 * its extension is an image extension (such a file is reported even when
 * broken, so the indexer can say why it was skipped). */
#ifndef CS_INDEX_WALK_H
#define CS_INDEX_WALK_H

#include <stdint.h>

#include "clipsearch/common.h"

typedef struct cs_walk_entry {
    const char *path; /* root + "/" + relative path (valid during the call) */
    int64_t size;
    int64_t mtime_ns;
} cs_walk_entry;

typedef struct cs_walk_opts {
    const char *const *excludes;
    int n_excludes;
    int follow_symlinks;
    int include_hidden;
    /* 1 when the first bytes (n <= 16) of a file are an image's; NULL: by
     * extension only */
    int (*is_image)(const uint8_t *head, size_t n);
    /* files never reported nor opened (the catalogue's own; may be NULL),
     * by device and inode, however they are reached */
    struct cs_file_guard *guard;
} cs_walk_opts;

/* fn returns non-zero to stop the walk (then cs_walk returns CS_OK). */
typedef int (*cs_walk_file_fn)(void *user, const cs_walk_entry *entry);
/* A folder or file that could not be read; the walk goes on. */
typedef void (*cs_walk_error_fn)(void *user, const char *path, const cs_error *error);

/* Walks `root`: a folder, or a single file (reported if it is a regular file,
 * whatever its name or bytes: the caller named it). root is used as given;
 * callers pass it resolved. */
cs_status cs_walk(const char *root, const cs_walk_opts *opts, cs_walk_file_fn fn,
                  cs_walk_error_fn on_error, void *user, cs_error *err);

/* 1 when the name ends with a known image extension (case-insensitive). */
int cs_walk_image_extension(const char *name);

#endif
