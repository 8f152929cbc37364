/* core/error.h - filling a cs_error, and the internal log helper. */
#ifndef CS_CORE_ERROR_H
#define CS_CORE_ERROR_H

#include "clipsearch/common.h"

#if defined(__GNUC__)
#define CS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CS_PRINTF(a, b)
#endif

/* Sets err (if not NULL) to `status` and the formatted message; returns
 * `status`, so a failure path reads `return cs_fail(err, CS_EIO, ...);`. */
cs_status cs_fail(cs_error *err, cs_status status, const char *fmt, ...) CS_PRINTF(3, 4);

/* Prefixes an error already filled with `status` with "prefix: " and
 * returns status (err may be NULL, as for cs_fail), so a failure path reads
 * `return cs_fail_prefix(err, st, path);`. */
cs_status cs_fail_prefix(cs_error *err, cs_status status, const char *prefix);

/* Clears err to CS_OK with an empty message. */
void cs_error_clear(cs_error *err);

/* A log destination: the caller's hook and its user pointer (fn may be NULL). */
typedef struct cs_logger {
    cs_log_fn fn;
    void *user;
} cs_logger;

void cs_log(const cs_logger *log, cs_log_level level, const char *fmt, ...) CS_PRINTF(3, 4);

#endif
