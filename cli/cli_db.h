/* cli/cli_db.h - what the catalogue commands (index, search, similar, info)
 * share: finding and opening the database, opening the model, the progress
 * display. */
#ifndef CS_CLI_DB_H
#define CS_CLI_DB_H

#include "cli.h"

/* The database path: the --db value if given, else $CLIPSEARCH_DB, else the
 * per-user default. Prints the error and returns CLI_FAIL if none. */
int cli_db_path(const char *opt, char *buf, size_t cap);

/* Opens the database with opts (path from --db as above). Prints the error,
 * with a hint for the usual mistakes, and returns CLI_FAIL on failure. */
int cli_db_open(const char *opt_db, const cs_db_opts *opts, cs_db **out);

/* The --model to use with the database opt_db: opt_model, else
 * $CLIPSEARCH_MODEL, else the folder of the model the database was made
 * with (when it still exists), else NULL (the default model). */
const char *cli_db_model(const char *opt_model, const char *opt_db);

/* Opens the model named by --model / $CLIPSEARCH_MODEL / the default model
 * (cli_resolve_model) with the given pool and log verbosity (a pointer that
 * must outlive the model). Prints the error and returns CLI_FAIL when it
 * cannot be found or opened. */
int cli_model_open(const char *opt_model, cs_pool *pool, int *verbosity, cs_model **out);

/* Opens the database (read-only) for searching with this model; prints the
 * error with a hint and returns CLI_FAIL on failure. */
int cli_db_open_for_model(const char *opt_db, const cs_model *model, cs_db **out);

/* "1.5 MB" */
void cli_format_bytes(int64_t n, char *buf, size_t cap);

#endif
