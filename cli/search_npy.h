/* cli/search_npy.h - `clipsearch search --npy QUERIES.npy`: queries by
 * vector, no model needed, one JSON line per query. */
#ifndef CS_CLI_SEARCH_NPY_H
#define CS_CLI_SEARCH_NPY_H

#include "cli_results.h"

/* Runs every row of the .npy file as a query against the database of
 * ro->db with ro->search's settings, `threads` queries at a time (0: one
 * per core), and prints {"results": [{"id", "path", "score"}]} per query,
 * in order. */
int cli_search_npy(const char *npy_file, const cli_result_opts *ro, int threads);

#endif
