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

/* Writes the query and its results as a contact sheet (cs_montage_write):
 * the query's picture when query_image is given, else its words. Prints the
 * error and returns CLI_FAIL on failure. */
int cli_write_montage(const char *out_path, const char *const *words, int n_words,
                      const char *query_image, const cs_result *res, int n);

#endif
