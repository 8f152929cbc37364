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

/* Prints results to stdout; the query is the words joined with spaces.
 * Returns CLI_OK, or CLI_FAIL if stdout could not be written. */
int cli_print_results(cli_format fmt, const char *const *words, int n_words, const cs_result *res,
                      int n);

#endif
