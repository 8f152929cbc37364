/* server/item_file.h - opening the file of an indexed image, and only that
 * file.
 *
 * The catalogue holds a path, and whoever can write in the indexed folders
 * can change what that path leads to after indexing: replace the photo by a
 * symbolic link to /etc/shadow, swap a parent folder for a link, hard-link
 * another file in its place, or rewrite it. So the server never trusts the
 * path: it opens it without following a symbolic link at any component and
 * then checks the OPENED file against the catalogue's row - a regular file,
 * the same size, the same modification time, an image by its first bytes,
 * and the same content hash, and none of the catalogue's own files. Anything
 * else is refused (CS_ENOTFOUND) with a reason that never quotes the file's
 * bytes. */
#ifndef CS_SERVER_ITEM_FILE_H
#define CS_SERVER_ITEM_FILE_H

#include <stddef.h>

#include "clipsearch/image.h"
#include "core/guard.h"
#include "server/backend.h"

/* What a checked file is. */
typedef struct cs_srv_item_file {
    int fd;                 /* open for reading, at offset 0; the caller closes it */
    cs_image_format format; /* from its first bytes: never CS_FMT_UNKNOWN */
    char *data;             /* its bytes (malloc'd) when asked for, else NULL */
} cs_srv_item_file;

/* Opens the file of `it` and checks what is cheap to check: no link on its
 * path, not a file of `guard` (may be NULL; one found opened stays open in
 * the guard: closing it would drop the catalogue's locks), a regular file,
 * its size and modification time, an image by its first bytes. Enough to
 * answer "not modified"; not enough to send bytes. */
cs_status cs_srv_item_open(const cs_srv_item *it, cs_file_guard *guard, cs_srv_item_file *out,
                           cs_error *err);
/* Checks the content against the item's hash, reading the whole file: into
 * f->data with `want_data` (CS_ELIMIT above max_bytes), else in pieces, so a
 * large original costs no memory. On failure the caller still closes f. */
cs_status cs_srv_item_verify(const cs_srv_item *it, cs_srv_item_file *f, int want_data,
                             size_t max_bytes, cs_error *err);
void cs_srv_item_file_close(cs_srv_item_file *f);

/* Opens an absolute path for reading with no symbolic link at any of its
 * components (ELOOP or ENOTDIR if there is one): with openat2 where the
 * kernel has it, else (or with use_openat2 = 0, for tests) one component at
 * a time. -1 and errno on failure. */
int cs_srv_open_no_links(const char *path, int use_openat2);

/* The MIME type of an image format. */
const char *cs_srv_image_mime(cs_image_format fmt);

#endif
