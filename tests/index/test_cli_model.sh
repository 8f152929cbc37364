#!/usr/bin/env bash
# One database, one model: the database remembers its model's folder (search
# and index need no --model), another model is refused with a clear message,
# --reset re-indexes for the new model in one command; no model is an error
# that says what to do; the default database follows CLIPSEARCH_DB and
# XDG_DATA_HOME.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
mkdir -p "$TMP/p"
cp "$ORACLE/images/china.jpg" "$ORACLE/images/coins.png" "$TMP/p/"
unset CLIPSEARCH_DB CLIPSEARCH_MODEL
export XDG_DATA_HOME=$TMP/xdg

"$CLIPSEARCH" index -q --model "$ORACLE/models/tiny" "$TMP/p" || fail "index exits $?"
[ -f "$TMP/xdg/clipsearch/catalog.db" ] || fail "default database under XDG_DATA_HOME"
out=$("$CLIPSEARCH" info) || fail "info"
contains "$out" "$TMP/xdg/clipsearch/catalog.db" "info names the default database"
tiny=$(realpath "$ORACLE/models/tiny")
contains "$out" "model from: $tiny" "info names the model's folder"

# the catalogue remembers its model: search, index and serve need no --model
out=$("$CLIPSEARCH" search -k 1 --paths ball 2>&1) || fail "search without --model: $out"
contains "$out" "$TMP/p/" "search without --model finds an image"
"$CLIPSEARCH" index -q "$TMP/p" || fail "re-index without --model exits $?"

"$CLIPSEARCH" search --model "$ORACLE/models/tiny-p16" ball >/dev/null 2>"$TMP/err"; rc=$?
[ "$rc" -eq 1 ] || fail "search with another model exits $rc, want 1"
contains "$(cat "$TMP/err")" "tiny-p16" "the refusal names the new model"
contains "$(cat "$TMP/err")" "--reset" "the refusal says how to re-index"
contains "$(cat "$TMP/err")" "from $tiny" "the refusal names the catalogue's model folder"
"$CLIPSEARCH" index -q --model "$ORACLE/models/tiny-p16" "$TMP/p" 2>"$TMP/err"; rc=$?
[ "$rc" -eq 1 ] || fail "index with another model exits $rc, want 1"
"$CLIPSEARCH" index -q --reset --model "$ORACLE/models/tiny-p16" "$TMP/p" ||
    fail "index --reset exits $?"
out=$("$CLIPSEARCH" info) || fail "info after reset"
contains "$out" "dimensions: 40" "the database now holds the new model's embeddings"
contains "$out" "images:     2" "and all the images"

export CLIPSEARCH_DB=$TMP/env.db
"$CLIPSEARCH" index -q --model "$ORACLE/models/tiny" "$TMP/p" || fail "index with CLIPSEARCH_DB"
[ -f "$TMP/env.db" ] || fail "CLIPSEARCH_DB names the database"
"$CLIPSEARCH" info --db "$TMP/nope.db" 2>"$TMP/err"; rc=$?
[ "$rc" -eq 1 ] || fail "info on a missing database exits $rc"
contains "$(cat "$TMP/err")" "no such database" "a missing database is explained"

# a catalogue that does not exist yet has no model to remember
"$CLIPSEARCH" search --db "$TMP/fresh.db" ball 2>"$TMP/err"; rc=$?
[ "$rc" -ne 0 ] || fail "search without a model succeeds"
contains "$(cat "$TMP/err")" "model" "no model: the error says so"
done_test
