/* cli/dups_move.h - `clipsearch duplicates --move-to DIR`: setting the
 * non-keepers aside, crash-safe (see dups_move.c). */
#ifndef CS_CLI_DUPS_MOVE_H
#define CS_CLI_DUPS_MOVE_H

#include "cli.h"

/* Moves every member but the keeper of each group of d into dir, at its
 * path relative to root (NULL: the folder holding every image of the
 * catalogue), and removes its row from db. Prints "moved SRC -> DST" per
 * file (dry_run: "would move ...", nothing changed). Returns CLI_OK,
 * CLI_PARTIAL when some files could not be moved (each reported), or
 * CLI_FAIL. */
int cli_dups_move(cs_db *db, const cs_dups *d, const char *dir, const char *root, int dry_run);

/* Completes the moves a killed run left in dir's journal, so that no file
 * is in two places and the catalogue no longer lists a file moved. */
int cli_dups_recover(cs_db *db, const char *dir);

#endif
