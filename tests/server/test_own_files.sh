#!/usr/bin/env bash
# The server never opens the catalogue's own files as images. After
# indexing, indexed paths are replaced by hard links to the database, its
# -shm and -wal and its vector file: /api/image and /api/thumb must refuse
# each with a JSON 404 naming the reason, and the server must keep SQLite's
# POSIX locks (closing any descriptor of a file drops all of a process's
# locks on it). Without them an `index` run in another process takes itself
# for the last connection and deletes the -wal and -shm under the server.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
need_curl
PY=/usr/bin/python3
MODEL=$ORACLE/models/tiny
P=$TMP/photos Q=$TMP/more DB=$TMP/c.db
mkdir -p "$P" "$Q"
for n in rocket.jpg china.jpg coffee.png flower.jpg retina.jpg; do cp "$ORACLE/images/$n" "$P/"; done
cp "$ORACLE/images/chelsea.png" "$Q/"
chmod u+w "$P"/*

start_serve --db "$DB" --model "$MODEL" "$P"
base=${SERVE_URL%/}
code() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }
[ "$(code "$base/api/search?q=x&k=5")" = 200 ] || fail "search: $(cat "$TMP/body")"
cp "$TMP/body" "$TMP/all.json"
[ -e "$DB-wal" ] && [ -e "$DB-shm" ] && [ -e "$DB.vectors" ] || fail "no -wal/-shm/.vectors while the server runs"
id_of() {
    $PY -c 'import json,sys; print([x["id"] for x in json.load(open(sys.argv[1]))["results"] if x["name"]==sys.argv[2]][0])' \
        "$TMP/all.json" "$1"
}

# refused NAME FILE: NAME hard-linked to FILE; both endpoints answer a JSON 404
refused() {
    local id
    id=$(id_of "$1")
    ln -f "$2" "$P/$1" || fail "cannot link $1 to $2"
    for ep in image thumb; do
        c=$(code "$base/api/$ep/$id")
        [ "$c" = 404 ] || fail "$1 -> $2: /api/$ep answers $c"
        $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]==404 and "error" in d' \
            "$TMP/body" || fail "$1 -> $2: /api/$ep is not a JSON error: $(head -c 200 "$TMP/body")"
        contains "$(cat "$TMP/body")" "the catalogue's own file" "$1 -> $2: /api/$ep's reason"
    done
}
refused rocket.jpg "$DB"
refused china.jpg "$DB-shm"
refused coffee.png "$DB-wal"
refused flower.jpg "$DB.vectors"

# another process indexes into the same catalogue and closes it: the server's
# locks make it see that it is not the last connection
"$CLIPSEARCH" index -q --model "$MODEL" --db "$DB" "$Q" 2>"$TMP/err" || fail "index: $(cat "$TMP/err")"
[ -e "$DB-wal" ] && [ -e "$DB-shm" ] || fail "the -wal/-shm went while the server runs"
[ "$(code "$base/api/search?q=x&k=10")" = 200 ] || fail "search after index: $(cat "$TMP/body")"
id=$(id_of retina.jpg)
[ "$(code "$base/api/image/$id")" = 200 ] || fail "the untouched image: $(cat "$TMP/body")"
cmp -s "$TMP/body" "$P/retina.jpg" || fail "the untouched image differs"
kill "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null
$PY -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute("PRAGMA integrity_check").fetchone()[0]; n=c.execute("SELECT count(*) FROM images").fetchone()[0]; assert r=="ok" and n==6, (r, n)' \
    "$DB" || fail "the database is damaged or holds other rows"
done_test
