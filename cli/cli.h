/* cli/cli.h - what every `clipsearch COMMAND` shares.
 *
 * A command is a file cli/cmd_NAME.c that defines
 *     const cs_cli_command cs_cmd_NAME = {"NAME", "summary", "usage", run};
 * The build collects them into the command table (see CMakeLists.txt). */
#ifndef CS_CLI_H
#define CS_CLI_H

#include <stdio.h>

#include "clipsearch.h"

/* Exit statuses of the program. */
enum {
    CLI_OK = 0,
    CLI_FAIL = 1,   /* the command failed */
    CLI_USAGE = 2,  /* bad command line */
    CLI_PARTIAL = 3 /* done, but some inputs were skipped (e.g. broken images) */
};

typedef struct cs_cli_command {
    const char *name;
    const char *summary;               /* one line, for `clipsearch help` */
    const char *usage;                 /* the full help text, printed by --help */
    int (*run)(int argc, char **argv); /* argv[0] is the command's name */
} cs_cli_command;

/* "clipsearch: " + message + newline on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a library error as "clipsearch: <message>". Returns CLI_FAIL. */
int cli_fail(const cs_error *err);

/* Prints "usage" of a command and returns CLI_USAGE. */
int cli_usage(const cs_cli_command *cmd);

/* A cs_log_fn writing "clipsearch: warning: ..." lines to stderr;
 * user points to an int verbosity (NULL: warnings and errors only). */
void cli_log_stderr(void *user, cs_log_level level, const char *message);

/* The model folder: the --model value if given, else $CLIPSEARCH_MODEL,
 * else NULL (the caller then resolves the default model by name). */
const char *cli_model_arg(const char *opt);

/* The local model folder for the --model value (opt, may be NULL), else
 * $CLIPSEARCH_MODEL, else the default model: a folder as is, a hub repo id
 * looked up in our cache and the Hugging Face cache (cs_hub_resolve). On
 * failure prints why and what to do (`clipsearch models download`, or
 * --model DIR) and returns NULL: the caller returns CLI_FAIL. The string
 * stays valid until the next call. */
const char *cli_resolve_model(const char *opt);

/* The model options the environment and --precision set: the precision
 * (--precision, else CLIPSEARCH_PRECISION, else CLIPSEARCH_INT8=1, the
 * older spelling of int8: cs_model_opts.precision) and
 * CLIPSEARCH_NO_PREPACK (cs_model_opts.no_prepack; a flag counts when set
 * and not "0"). */
void cli_model_env(cs_model_opts *mo);

/* An option's value as a whole number in [lo, hi] (hi at most INT_MAX), or
 * a finite number, parsed strictly (core/parse.h: "5x", "3.9" for a count,
 * "nan" are refused). Print the reason and return CLI_USAGE when it is not. */
int cli_int_arg(const char *opt, const char *arg, long long lo, long long hi, int *out);
int cli_double_arg(const char *opt, const char *arg, double lo, double hi, double *out);

/* File names in text output (cli_text.c). A name is printed as is unless it
 * holds a control character (C0, DEL, C1 in UTF-8) or starts with '"': then
 * it is printed in double quotes with \\, \", \n, \t, \r and \xHH escapes,
 * so that one name stays one line and cannot drive the terminal.
 * cli_unquote_path turns such a field back into the name, in place (0), or
 * returns -1 when it is malformed. */
int cli_needs_quotes(const char *s);
/* s with its control characters escaped (\n, \t, \xHH) and nothing else:
 * for messages, which name files but are not read back. */
void cli_put_escaped(const char *s, FILE *f);
void cli_put_path(const char *s, FILE *f);
int cli_unquote_path(char *s);

/* --precision fp32|bf16|int8 of a command that embeds (for cli_model_env).
 * Returns CLI_OK, or prints why not and returns CLI_USAGE. */
int cli_precision_opt(const char *arg);

#define CLI_PRECISION_HELP                                                                         \
    "  --precision P        fp32 (default, exact), bf16 or int8: faster where the CPU\n"           \
    "                       has AVX512_BF16 / AVX-512 VNNI (else the nearest it runs);\n"          \
    "                       also CLIPSEARCH_PRECISION\n"

#endif
