#!/usr/bin/env bash
# Creating a database is atomic: an `index` killed (kill -9) at any moment of
# its first run, or stopped by a full disk, leaves a database that the next
# run uses (not "not a clipsearch database" or "duplicate column name"), and
# two runs creating the same database at once both end well. Databases
# that older versions left half made (tables, no model) are made again.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
MODEL=$ORACLE/models/tiny
mkdir -p "$TMP/p"
for f in china.jpg chelsea.png rocket.jpg coffee.png coins.bmp camera.png; do
    cp "$ORACLE/images/$f" "$TMP/p/"
done

count() { # DB: the number of images, via info
    "$CLIPSEARCH" info --db "$1" 2>>"$TMP/err" | sed -n 's/^images: *//p'
}
index_ok() { # DB WHAT: a run that must succeed and leave all 6 images
    "$CLIPSEARCH" index -q --model "$MODEL" --db "$1" "$TMP/p" 2>"$TMP/err" ||
        fail "$2: index exits $?: $(cat "$TMP/err")"
    [ "$(count "$1")" = 6 ] || fail "$2: $(count "$1") images, want 6"
}

# kill -9 at many moments of the first run (the start of a run takes longer
# under the sanitizers, so the delays cover the whole creation)
for d in 0 0.005 0.01 0.02 0.03 0.04 0.05 0.06 0.08 0.1 0.15 0.2 0.3 0.5; do
    db=$TMP/kill-$d.db
    "$CLIPSEARCH" index -q --model "$MODEL" --db "$db" "$TMP/p" >/dev/null 2>&1 &
    pid=$!
    sleep "$d"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    index_ok "$db" "after kill -9 at ${d}s"
done

# two runs creating the same database at once, three times
for i in 1 2 3; do
    db=$TMP/race-$i.db
    "$CLIPSEARCH" index -q --model "$MODEL" --db "$db" "$TMP/p" 2>"$TMP/race-a" &
    a=$!
    "$CLIPSEARCH" index -q --model "$MODEL" --db "$db" "$TMP/p" 2>"$TMP/race-b" &
    b=$!
    wait $a || fail "race $i: the first run exits $?: $(cat "$TMP/race-a")"
    wait $b || fail "race $i: the second run exits $?: $(cat "$TMP/race-b")"
    [ "$(count "$db")" = 6 ] || fail "race $i: $(count "$db") images"
done

# the moment two creators meet: the new file, not yet in WAL, held by a
# writer; SQLite answers the switch to WAL at once ("database is locked"),
# and the run must wait for the writer rather than fail
db=$TMP/held.db
/usr/bin/python3 -c 'import sqlite3,sys,time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE"); c.execute("CREATE TABLE x(y)")
open(sys.argv[2], "w").close(); time.sleep(1); c.execute("ROLLBACK")' "$db" "$TMP/held" &
held=$!
for _ in $(seq 500); do [ -e "$TMP/held" ] && break; sleep 0.01; done
[ -e "$TMP/held" ] || fail "the writer did not start"
index_ok "$db" "a new database held by a writer"
wait $held

# what an interrupted creation by an older version left: tables, no model
for partial in "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;" \
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID; CREATE TABLE images(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, hash BLOB NOT NULL, width INTEGER NOT NULL DEFAULT 0, height INTEGER NOT NULL DEFAULT 0, embedding BLOB NOT NULL, gen INTEGER NOT NULL DEFAULT 0);" \
    "PRAGMA journal_mode=WAL;"; do
    db=$TMP/partial.db
    rm -f "$db" "$db-wal" "$db-shm" "$db.vectors"
    /usr/bin/python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.close()' \
        "$db" "$partial" || fail "cannot make a partial database"
    index_ok "$db" "a half-made database ($partial)"
done
# a database of something else is left alone
/usr/bin/python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t(x)"); c.commit()' \
    "$TMP/other.db"
"$CLIPSEARCH" index -q --model "$MODEL" --db "$TMP/other.db" "$TMP/p" 2>"$TMP/err" &&
    fail "another program's database was taken over"
contains "$(cat "$TMP/err")" "not a clipsearch database" "another program's database"

# a full disk at several levels: the failed run leaves a database the next
# run (with room again) uses
mount_small_tmpfs 640k
for left in 4 8 16 24 32 48 64 96 128 192 256; do
    rm -rf "${MNT:?}"/*
    fill_tmpfs_leaving $left
    "$CLIPSEARCH" index -q --model "$MODEL" --db "$MNT/c.db" "$TMP/p" >/dev/null 2>"$TMP/full-err"
    rm -f "$MNT/filler"
    index_ok "$MNT/c.db" "after a full disk with ${left} kB left ($(head -c 300 "$TMP/full-err"))"
done
umount "$MNT"
done_test
