/* cli/cli_results.h - printing search results (search, similar). */
#ifndef CS_CLI_RESULTS_H
#define CS_CLI_RESULTS_H

#include "cli.h"

typedef enum cli_format {
    CLI_FORMAT_TEXT = 0, /* "0.3012  path", aligned */
    CLI_FORMAT_TSV,      /* "0.301234<TAB>path" */
    CLI_FORMAT_PATHS,    /* "path" */
    CLI_FORMAT_JSON      /* {"query": "...", "results": [{"path", "score", "id"}]} */
} cli_format;

/* The options of every command that prints results (search, similar):
 * -k/--top, --threshold, --json, --tsv, --paths, -0/--null, --db, --montage,
 * --exact, --nprobe. A command puts CLI_RESULT_LONG_OPTIONS first in its
 * getopt_long table (CLI_RESULT_SHORT_OPTIONS in the short ones), numbers
 * its own long options from CLI_OPT_COMMAND, and hands
 * every option it does not know to cli_result_opt. */
typedef struct cli_result_opts {
    cs_search_opts search; /* k and the threshold */
    cli_format fmt;
    const char *db, *montage; /* NULL when not given */
    int null_sep;             /* -0: NUL after each record, names unquoted */
} cli_result_opts;

enum {
    CLI_OPT_THRESHOLD = 0x100,
    CLI_OPT_JSON,
    CLI_OPT_TSV,
    CLI_OPT_PATHS,
    CLI_OPT_DB,
    CLI_OPT_MONTAGE,
    CLI_OPT_EXACT,
    CLI_OPT_NPROBE,
    CLI_OPT_COMMAND = 0x200 /* a command's own options start here */
};

// clang-format off
#define CLI_RESULT_LONG_OPTIONS                                       \
    {"top", required_argument, NULL, 'k'},                            \
    {"threshold", required_argument, NULL, CLI_OPT_THRESHOLD},        \
    {"json", no_argument, NULL, CLI_OPT_JSON},                        \
    {"tsv", no_argument, NULL, CLI_OPT_TSV},                          \
    {"paths", no_argument, NULL, CLI_OPT_PATHS},                      \
    {"db", required_argument, NULL, CLI_OPT_DB},                      \
    {"montage", required_argument, NULL, CLI_OPT_MONTAGE},            \
    {"null", no_argument, NULL, '0'},                                 \
    {"exact", no_argument, NULL, CLI_OPT_EXACT},                      \
    {"nprobe", required_argument, NULL, CLI_OPT_NPROBE}
// clang-format on

#define CLI_RESULT_SHORT_OPTIONS "k:0"

/* A JSON string for a path that may not be UTF-8 (invalid bytes become
 * U+FFFD); NULL when out of memory. */
struct json_t *cli_json_path(const char *path);

/* The defaults: 10 results, text output. */
cli_result_opts cli_result_opts_default(void);

/* Applies option c (with its argument) to o; returns 1 when done, 0 when c
 * is not one of the options above, -1 when its value is bad (said why). */
int cli_result_opt(int c, const char *arg, cli_result_opts *o);

/* After the options: -0 alone means --paths -0; with --json it is refused
 * (said why, CLI_USAGE). */
int cli_result_opts_check(cli_result_opts *o);

/* Prints results to stdout in o's format; the query is the words joined
 * with spaces. Returns CLI_OK, or CLI_FAIL if stdout could not be written. */
int cli_print_results(const cli_result_opts *o, const char *const *words, int n_words,
                      const cs_result *res, int n);

/* Writes the query and its results as a contact sheet (cs_montage_write):
 * the query's picture when query_image is given, else its words. Prints the
 * error and returns CLI_FAIL on failure. */
int cli_write_montage(const char *out_path, const char *const *words, int n_words,
                      const char *query_image, const cs_result *res, int n);

#endif
