/* core/parse.h - numbers typed by people: command-line options, API query
 * parameters, settings.
 *
 * Strict: the whole string is the number. "5x", "3.9" for an integer, " 5",
 * "", "0x10", "nan" and "inf" are refused (strtol and strtod would take the
 * first of them as 5, 3, 5, 0 and 16 and let NaN through every comparison).
 * `what` names the setting in the message, e.g. "-k" or "k". */
#ifndef CS_CORE_PARSE_H
#define CS_CORE_PARSE_H

#include "clipsearch/common.h"

/* A decimal integer (optional sign) within [lo, hi]. */
cs_status cs_parse_int(const char *s, long long lo, long long hi, const char *what, long long *out,
                       cs_error *err);

/* A finite decimal number ("0.25", "-1", "2.5e-1") within [lo, hi]. */
cs_status cs_parse_double(const char *s, double lo, double hi, const char *what, double *out,
                          cs_error *err);

#endif
