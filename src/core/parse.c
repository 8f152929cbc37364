/* core/parse.c - see parse.h. */
#include "core/parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define SHOWN 40 /* bytes of a bad value quoted back */

/* Only what a plain decimal number is made of: strtod alone would also take
 * hex, "nan", "infinity" and leading spaces. */
static int decimal_chars(const char *s, int allow_fraction) {
    if (!*s) return 0;
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!*p) return 0;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') continue;
        if (allow_fraction && strchr(".eE+-", *p)) continue;
        return 0;
    }
    return 1;
}

cs_status cs_parse_int(const char *s, long long lo, long long hi, const char *what, long long *out,
                       cs_error *err) {
    if (!s || !decimal_chars(s, 0))
        return cs_fail(err, CS_EINVAL, "%s: '%.*s' is not a whole number", what, SHOWN, s ? s : "");
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (*end || errno == ERANGE || v < lo || v > hi)
        return cs_fail(err, CS_EINVAL, "%s: %.*s is out of range (%lld to %lld)", what, SHOWN, s,
                       lo, hi);
    *out = v;
    return CS_OK;
}

cs_status cs_parse_double(const char *s, double lo, double hi, const char *what, double *out,
                          cs_error *err) {
    char *end = NULL;
    double v = 0;
    if (s && decimal_chars(s, 1)) v = strtod(s, &end);
    if (!end || end == s || *end || !isfinite(v))
        return cs_fail(err, CS_EINVAL, "%s: '%.*s' is not a number", what, SHOWN, s ? s : "");
    if (v < lo || v > hi)
        return cs_fail(err, CS_EINVAL, "%s: %.*s is out of range (%g to %g)", what, SHOWN, s, lo,
                       hi);
    *out = v;
    return CS_OK;
}
