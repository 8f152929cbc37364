#!/usr/bin/env bash
# The commands that open or replace files by a path they did not choose never
# take the catalogue's own files for them: `export --faiss` onto the
# database (replaced by rename, the catalogue would go with it), `search
# --image` of the database, and `duplicates --move-to` of an indexed path
# since hard-linked to the database (moved aside, or opened and closed on
# the copy path, which drops the process's SQLite locks). Each is refused
# with a message naming the file and the database is left whole.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
PY=/usr/bin/python3
MODEL=$ORACLE/models/tiny
DB=$TMP/c.db P=$TMP/photos A=$TMP/aside
export CLIPSEARCH_DB=$DB
mkdir -p "$P"
cp "$ORACLE/images/chelsea.png" "$P/cat.png"
cp "$ORACLE/images/chelsea.png" "$P/cat copy.png"
cp "$ORACLE/images/rocket.jpg" "$P/rocket.jpg"
touch -d '2020-01-01' "$P/cat.png" # the oldest of the equal files: the keeper
"$CLIPSEARCH" index -q --model "$MODEL" "$P" 2>"$TMP/err" || fail "index: $(cat "$TMP/err")"
whole() {
    $PY -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute("PRAGMA integrity_check").fetchone()[0]; n=c.execute("SELECT count(*) FROM images").fetchone()[0]; assert r=="ok" and n==int(sys.argv[2]), (r, n)' \
        "$DB" "$1" 2>/dev/null || fail "$2: the database is damaged or holds other rows"
}

# export onto the database or its vector file
for out in "$DB" "$DB.vectors"; do
    "$CLIPSEARCH" export --faiss "$out" >/dev/null 2>"$TMP/err" && fail "export --faiss $out succeeded"
    contains "$(cat "$TMP/err")" "$out is the catalogue's own file" "export --faiss $out"
done
whole 3 "after export"

# the database as a query image
"$CLIPSEARCH" search --image "$DB" >/dev/null 2>"$TMP/err" && fail "search --image of the database succeeded"
contains "$(cat "$TMP/err")" "the catalogue's own file" "search --image of the database"

# a duplicate since hard-linked to the database: not moved, in either mode
ln -f "$DB" "$P/cat copy.png"
for copy in 0 1; do
    out=$(CLIPSEARCH_MOVE_COPY=$copy "$CLIPSEARCH" duplicates --threshold 0.9999 --move-to "$A" 2>"$TMP/err")
    rc=$?
    [ "$rc" != 0 ] || fail "move (copy=$copy) of the database's link exits 0: $out"
    contains "$(cat "$TMP/err")" "$P/cat copy.png: not moved: the catalogue's own file" "move (copy=$copy)"
    [ "$P/cat copy.png" -ef "$DB" ] || fail "move (copy=$copy): the link was moved"
    [ -z "$(find "$A" -type f ! -name '.clipsearch-*' 2>/dev/null)" ] || fail "move (copy=$copy): something set aside: $(ls -R "$A")"
done
whole 3 "after the moves"
done_test
