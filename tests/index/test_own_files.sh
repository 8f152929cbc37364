#!/usr/bin/env bash
# The indexer never takes the catalogue's own files for images, however they
# are reached: the database, its -wal and -shm and its vector file inside the
# folder indexed, hard links to them named like photos, symbolic links to
# them (--follow-symlinks) and a root that names one. Opening and closing one
# would drop SQLite's POSIX locks (closing any descriptor of a file drops all
# of a process's locks on it), after which a process that took itself for
# the last connection deleted the -wal and -shm under a server.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
MODEL=$ORACLE/models/tiny
P=$TMP/photos
mkdir -p "$P/sub"
for f in china.jpg rocket.jpg coffee.png; do cp "$ORACLE/images/$f" "$P/"; done
DB=$P/catalog.db # the catalogue inside the folder it indexes
"$CLIPSEARCH" index -q --model "$MODEL" --db "$DB" "$P" 2>"$TMP/err" ||
    fail "first index: $(cat "$TMP/err")"

# a server holds the database open: its -wal and -shm exist
start_serve --db "$DB" --model "$MODEL"
curl -s "${SERVE_URL}api/search?q=ball" >/dev/null || fail "serve"
[ -e "$DB-wal" ] && [ -e "$DB-shm" ] || fail "no -wal/-shm while the server runs"
ln "$DB" "$P/db-hardlink.jpg"
ln -s "$DB" "$P/sub/db.jpg"
ln -s "$DB-wal" "$P/sub/wal.png"
ln -s "$DB-shm" "$P/sub/shm.gif"
ln -s "$DB.vectors" "$P/sub/vectors.bmp"
for i in 1 2; do
    out=$("$CLIPSEARCH" index --follow-symlinks --model "$MODEL" --db "$DB" "$P" 2>"$TMP/err")
    rc=$?
    [ $rc = 0 ] || fail "index run $i exits $rc: $(cat "$TMP/err")"
    contains "$out" "3 images:" "run $i: only the 3 photos are images"
    contains "$out" "0 skipped" "run $i: the catalogue's files are not broken images"
done
"$CLIPSEARCH" index -q --model "$MODEL" --db "$DB" "$P/sub/db.jpg" 2>"$TMP/err" &&
    fail "a root naming the database was indexed"
contains "$(cat "$TMP/err")" "the catalogue's own file" "a root naming the database"
[ -e "$DB-wal" ] && [ -e "$DB-shm" ] || fail "the -wal/-shm went while the server runs"
body=$(curl -s "${SERVE_URL}api/search?q=ball&k=5") || fail "serve after index"
contains "$body" '"results":[' "the server still answers"
kill "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
/usr/bin/python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute("PRAGMA integrity_check").fetchone()[0]; n=c.execute("SELECT count(*) FROM images").fetchone()[0]; assert r=="ok" and n==3, (r, n)' \
    "$DB" || fail "the database is damaged or holds other rows"
done_test
