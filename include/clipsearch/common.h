/*
 * clipsearch/common.h - status codes, errors and the log hook shared by every
 * part of the public API.
 *
 * Conventions, for every function of the library:
 *  - a function that can fail returns a cs_status and takes a `cs_error *err`
 *    last; on failure it fills *err (when err is not NULL) with the status and
 *    a message a person can read, naming the file and the reason;
 *  - handles are opaque (`cs_model *`, `cs_tokenizer *`, ...) and are freed by
 *    their own `_free`/`_close` function, which accepts NULL;
 *  - the library never prints and never exits: it talks only through the
 *    caller's log hook, and only where the caller gave one.
 */
#ifndef CLIPSEARCH_COMMON_H
#define CLIPSEARCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CS_API __attribute__((visibility("default")))
#else
#define CS_API
#endif

typedef enum cs_status {
    CS_OK = 0,
    CS_EINVAL,       /* a bad argument from the caller */
    CS_EIO,          /* a file could not be opened, read or written */
    CS_EFORMAT,      /* malformed input: image, model file, JSON, database */
    CS_EUNSUPPORTED, /* well-formed, but a feature we do not implement */
    CS_ELIMIT,       /* the input exceeds a configured limit (pixels, size) */
    CS_ENOMEM,       /* an allocation failed */
    CS_EMISMATCH,    /* e.g. a database opened with another model */
    CS_ENOTFOUND,    /* a file, tensor, record or model that does not exist */
    CS_ENETWORK,     /* a download failed */
    CS_EINTERNAL     /* a bug: please report it */
} cs_status;

/* Filled by a failing call. `message` is complete on its own, e.g.
 * "photos/a.jpg: not an image (unknown signature 3c 68 74 6d)". */
typedef struct cs_error {
    cs_status status;
    char message[512];
} cs_error;

/* A short, stable name for a status: "invalid argument", "I/O error", ... */
CS_API const char *cs_status_name(cs_status status);

typedef enum cs_log_level {
    CS_LOG_ERROR = 0,
    CS_LOG_WARN = 1,
    CS_LOG_INFO = 2,
    CS_LOG_DEBUG = 3
} cs_log_level;

/* The caller's log hook. May be called from any thread of the library's pool;
 * the message is valid only for the duration of the call. */
typedef void (*cs_log_fn)(void *user, cs_log_level level, const char *message);

/* The thread pool. One pool serves a whole program: create it once and hand
 * it to the model and the searches (cs_model_opts.pool, cs_search_flat), or
 * pass NULL and each creates what it needs. n_threads <= 0: one per core. */
typedef struct cs_pool cs_pool;
CS_API cs_pool *cs_pool_create(int n_threads);
CS_API void cs_pool_free(cs_pool *pool);
CS_API int cs_pool_threads(const cs_pool *pool);

/* Room to grow. The options and info structs end with reserved words: a
 * field added in a later version takes some of them, so the struct keeps
 * its size and every older field its offset, and a program built against
 * an older header keeps working with a newer library. Zero the whole
 * struct before setting fields (= {0} or a designated initializer): a
 * field the caller's header did not have then reads as 0, its default. */
#define CS_RESERVED_WORDS 8

/* The version of this header. While MAJOR is 0, MINOR moves with every
 * change to the API or ABI (and the shared library's soname with it);
 * from 1.0 on, MAJOR moves when a change breaks callers. Compare numbers:
 * #if CS_VERSION_NUMBER >= 200 (0.2.0). CMakeLists.txt reads them here. */
#define CS_VERSION_MAJOR  0
#define CS_VERSION_MINOR  3
#define CS_VERSION_PATCH  0
#define CS_VERSION_NUMBER (CS_VERSION_MAJOR * 10000 + CS_VERSION_MINOR * 100 + CS_VERSION_PATCH)

/* The library's version, "MAJOR.MINOR.PATCH", which may be newer than the
 * header a program was built with. */
CS_API const char *cs_version(void);
/* The same as CS_VERSION_NUMBER of the library's own header. */
CS_API int cs_version_number(void);

#ifdef __cplusplus
}
#endif

#endif /* CLIPSEARCH_COMMON_H */
