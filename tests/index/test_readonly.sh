#!/usr/bin/env bash
# A catalogue on a read-only file system (a tmpfs remounted read-only)
# is searched, listed and used by similar: opened immutable, since SQLite
# cannot make the -shm file a WAL database needs. Indexing it says why it
# cannot, naming the database.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
MODEL=$ORACLE/models/tiny
MNT=$TMP/mnt
mkdir -p "$MNT" "$TMP/p"
for f in china.jpg rocket.jpg coffee.png; do cp "$ORACLE/images/$f" "$TMP/p/"; done
if ! mount -t tmpfs -o size=4m tmpfs "$MNT" 2>/dev/null; then
    echo "SKIP: cannot mount a tmpfs here (not root, or not allowed)"
    exit 77
fi
trap 'umount "$MNT" 2>/dev/null; rm -rf "$TMP"' EXIT
DB=$MNT/c.db
"$CLIPSEARCH" index -q --model "$MODEL" --db "$DB" "$TMP/p" || fail "index"
# what an index run leaves: the database and its vector file, no -wal/-shm
[ -e "$DB-wal" ] || [ -e "$DB-shm" ] && fail "index left -wal/-shm files"
cp "$DB" "$TMP/ref.db"
want=$("$CLIPSEARCH" search --tsv --model "$MODEL" --db "$TMP/ref.db" ball) || fail "reference"
mount -o remount,ro "$MNT" || fail "cannot remount the tmpfs read-only"

got=$("$CLIPSEARCH" search --tsv --model "$MODEL" --db "$DB" ball 2>"$TMP/err") ||
    fail "search on a read-only file system exits $?: $(cat "$TMP/err")"
[ "$got" = "$want" ] || fail "read-only results differ: $got // $want"
"$CLIPSEARCH" similar --db "$DB" "$TMP/p/china.jpg" >/dev/null 2>"$TMP/err" ||
    fail "similar on a read-only file system: $(cat "$TMP/err")"
out=$("$CLIPSEARCH" info --db "$DB" 2>"$TMP/err") || fail "info: $(cat "$TMP/err")"
contains "$out" "images:     3" "info on a read-only file system"
"$CLIPSEARCH" export --faiss "$TMP/out.faiss" --db "$DB" >/dev/null 2>"$TMP/err" ||
    fail "export from a read-only file system: $(cat "$TMP/err")"
"$CLIPSEARCH" index -q --model "$MODEL" --db "$DB" "$TMP/p" 2>"$TMP/err" &&
    fail "index on a read-only file system succeeded"
contains "$(cat "$TMP/err")" "$DB: cannot write the database: Read-only file system" \
    "index names the database and the reason"
umount "$MNT"
done_test
