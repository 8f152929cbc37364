/* core/error.c - status names, error messages and logging. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CS_STR_(x) #x
#define CS_STR(x)  CS_STR_(x)

const char *cs_version(void) {
    return CS_STR(CS_VERSION_MAJOR) "." CS_STR(CS_VERSION_MINOR) "." CS_STR(CS_VERSION_PATCH);
}

int cs_version_number(void) {
    return CS_VERSION_NUMBER;
}

const char *cs_status_name(cs_status status) {
    switch (status) {
    case CS_OK:
        return "ok";
    case CS_EINVAL:
        return "invalid argument";
    case CS_EIO:
        return "I/O error";
    case CS_EFORMAT:
        return "malformed input";
    case CS_EUNSUPPORTED:
        return "unsupported";
    case CS_ELIMIT:
        return "limit exceeded";
    case CS_ENOMEM:
        return "out of memory";
    case CS_EMISMATCH:
        return "mismatch";
    case CS_ENOTFOUND:
        return "not found";
    case CS_ENETWORK:
        return "network error";
    case CS_EINTERNAL:
        return "internal error";
    }
    return "unknown status";
}

cs_status cs_fail(cs_error *err, cs_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = status;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

cs_status cs_fail_prefix(cs_error *err, cs_status status, const char *prefix) {
    if (!err) return status;
    err->status = status;
    char tmp[sizeof err->message];
    size_t n = strlen(prefix);
    if (n > sizeof tmp - 3) n = sizeof tmp - 3;
    memcpy(tmp, prefix, n);
    tmp[n] = ':';
    tmp[n + 1] = ' ';
    size_t rest = strnlen(err->message, sizeof err->message - 1);
    if (rest > sizeof tmp - n - 3) rest = sizeof tmp - n - 3;
    memcpy(tmp + n + 2, err->message, rest);
    tmp[n + 2 + rest] = '\0';
    memcpy(err->message, tmp, sizeof tmp);
    return status;
}

void cs_error_clear(cs_error *err) {
    if (err) {
        err->status = CS_OK;
        err->message[0] = '\0';
    }
}

void cs_log(const cs_logger *log, cs_log_level level, const char *fmt, ...) {
    if (!log || !log->fn) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log->fn(log->user, level, msg);
}
