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

/* The model options the environment sets (a variable counts when set and
 * not "0"): CLIPSEARCH_INT8 (int8 weights, an opt-in: cs_model_opts.int8)
 * and CLIPSEARCH_NO_PREPACK (cs_model_opts.no_prepack). */
void cli_model_env(cs_model_opts *mo);

#endif
