/* cli/cli_text.c - what commands print and read back: option values parsed
 * strictly, file names quoted when they hold control characters. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/parse.h"

int cli_int_arg(const char *opt, const char *arg, long long lo, long long hi, int *out) {
    long long v;
    cs_error err;
    if (hi > 0x7fffffff) hi = 0x7fffffff;
    if (cs_parse_int(arg, lo, hi, opt, &v, &err) != CS_OK) {
        cli_fail(&err);
        return CLI_USAGE;
    }
    *out = (int)v;
    return CLI_OK;
}

int cli_double_arg(const char *opt, const char *arg, double lo, double hi, double *out) {
    cs_error err;
    if (cs_parse_double(arg, lo, hi, opt, out, &err) != CS_OK) {
        cli_fail(&err);
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* The length of the control character at s (C0, DEL, or C1 as UTF-8: a
 * terminal acts on all of them), 0 when s starts with anything else. */
static int control_at(const unsigned char *s) {
    if (*s < 0x20 || *s == 0x7f) return 1;
    if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) return 2;
    return 0;
}

/* s with its control characters as C escapes; quoted: '"', '\\' and '\r'
 * too, the form cli_unquote_path reads back. */
static void put_escapes(const char *s, int quoted, FILE *f) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int c = control_at(p);
        if (quoted && (*p == '"' || *p == '\\'))
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (quoted && *p == '\r')
            fputs("\\r", f);
        else if (c == 2)
            fprintf(f, "\\x%02x\\x%02x", p[0], p[1]), p++;
        else if (c)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
}

void cli_put_escaped(const char *s, FILE *f) {
    put_escapes(s, 0, f);
}

int cli_needs_quotes(const char *s) {
    if (*s == '"') return 1; /* else it would read back as a quoted name */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (control_at(p)) return 1;
    return 0;
}

void cli_put_path(const char *s, FILE *f) {
    if (!cli_needs_quotes(s)) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    put_escapes(s, 1, f);
    fputc('"', f);
}

static int hex(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int cli_unquote_path(char *s) {
    size_t n = strlen(s);
    if (n == 0 || s[0] != '"') return 0; /* printed as is */
    if (n < 2 || s[n - 1] != '"') return -1;
    char *o = s;
    for (size_t i = 1; i < n - 1; i++) {
        if (s[i] != '\\') {
            *o++ = s[i];
            continue;
        }
        if (++i >= n - 1) return -1;
        switch (s[i]) {
        case '\\':
        case '"':
            *o++ = s[i];
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 'x': {
            int h = i + 2 < n - 1 ? hex(s[i + 1]) : -1, l = h >= 0 ? hex(s[i + 2]) : -1;
            if (l < 0 || (h == 0 && l == 0)) return -1; /* no NUL inside a name */
            *o++ = (char)(h * 16 + l);
            i += 2;
            break;
        }
        default:
            return -1;
        }
    }
    *o = '\0';
    return 0;
}
