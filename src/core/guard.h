/* core/guard.h - files a process must never open by accident: a database's
 * own files.
 *
 * Closing ANY descriptor of a file drops every POSIX lock the process holds
 * on it (fcntl semantics), so a folder walk or an image read that opens the
 * catalogue's database, its -wal or -shm (named like a photo, hard-linked,
 * or reached through a symbolic link) and closes it silently drops SQLite's
 * locks: another process then takes itself for the last connection and
 * deletes the -wal and -shm under this one. A guard knows those files by
 * device and inode (whatever path reaches them), refuses to open them, and
 * when one is found already opened (swapped in after a check), keeps the
 * descriptor open until the guard is released, after the database is
 * closed. */
#ifndef CS_CORE_GUARD_H
#define CS_CORE_GUARD_H

#include <pthread.h>
#include <stddef.h>
#include <sys/stat.h>

#include "clipsearch/common.h"

#define CS_GUARD_MAX 32

typedef struct cs_file_guard {
    pthread_mutex_t lock;
    struct {
        dev_t dev;
        ino_t ino;
    } ids[CS_GUARD_MAX];
    int n;
    int *parked; /* descriptors of guarded files, closed by cs_guard_release */
    int n_parked, cap_parked;
} cs_file_guard;

void cs_guard_init(cs_file_guard *g);
/* Forgets the files; closes the parked descriptors. */
void cs_guard_release(cs_file_guard *g);

/* Guards the file at path (followed), if it exists. */
void cs_guard_add(cs_file_guard *g, const char *path);
/* Guards `path` and every file beside it whose name is path's last
 * component followed by '.' or '-' (DB-wal, DB-shm, DB.vectors, an index
 * file DB.ann, temporary files DB.vectors.XXXXXX), in place of the files
 * guarded before: a file replaced since (the vector file is, after each
 * run) frees its inode number for the next new file, which must not be
 * taken for it. Parked descriptors stay. */
void cs_guard_set_family(cs_file_guard *g, const char *path);

/* 1 when st is a guarded file. g may be NULL (nothing is guarded). */
int cs_guard_has(cs_file_guard *g, const struct stat *st);

/* Closes fd, unless it is a guarded file: then it is kept open (parked)
 * until cs_guard_release. Returns 1 when it was parked. */
int cs_guard_close(cs_file_guard *g, int fd);

/* Opens a regular file for reading (O_NONBLOCK: a FIFO swapped in does not
 * hang), refusing guarded files with CS_EINVAL "the catalogue's own file". */
cs_status cs_guard_open(cs_file_guard *g, const char *path, int *fd, struct stat *st,
                        cs_error *err);

/* cs_read_file through cs_guard_open. */
cs_status cs_guard_read_file(cs_file_guard *g, const char *path, size_t max_bytes, char **out,
                             size_t *size, cs_error *err);

#endif
