#!/usr/bin/env bash
# kill -9 while indexing, at several moments, then run again: every file is in
# the database exactly once, and search works even right after the kill.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
MODEL=$ORACLE/models/tiny
DB=$TMP/k.db
mkdir -p "$TMP/p"
# 8 distinct copies of each image: bytes appended after the image's end make
# new content (new hash) that decodes the same
for i in 1 2 3 4 5 6 7 8; do
    mkdir -p "$TMP/p/set$i"
    for f in "$ORACLE"/images/*.{jpg,png}; do
        { cat "$f"; printf 'copy %d' "$i"; } >"$TMP/p/set$i/$(basename "$f")"
    done
done
total=$(find "$TMP/p" -type f | wc -l)

killed_midway=0
for delay in 0.3 0.8 1.5; do
    "$CLIPSEARCH" index -q --batch 4 --model "$MODEL" --db "$DB" "$TMP/p" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ -f "$DB" ]; then
        n=$(sqlite3 "$DB" "select count(*) from images" 2>/dev/null || echo 0)
        [ "$n" -lt "$total" ] && killed_midway=$((killed_midway + 1))
        # (a run killed while creating the database leaves it without tables)
        d=$(sqlite3 "$DB" "select count(*) - count(distinct path) from images" 2>/dev/null ||
            echo 0)
        [ "$d" -eq 0 ] || fail "duplicates after kill at $delay s"
        if [ "$n" -gt 0 ]; then
            "$CLIPSEARCH" search -k 3 --model "$MODEL" --db "$DB" ball >/dev/null 2>"$TMP/err" ||
                fail "search right after a kill: $(cat "$TMP/err")"
        fi
    fi
done
echo "killed mid-run $killed_midway time(s) of 3"

"$CLIPSEARCH" index -q --model "$MODEL" --db "$DB" "$TMP/p" >/dev/null 2>"$TMP/err" ||
    fail "the run after the kills exits $?: $(cat "$TMP/err")"
sqlite3 "$DB" "select path from images order by path" >"$TMP/db_paths"
find "$TMP/p" -type f | sort >"$TMP/fs_paths"
diff "$TMP/db_paths" "$TMP/fs_paths" >/dev/null ||
    fail "database and folder differ: $(diff "$TMP/db_paths" "$TMP/fs_paths" | head)"
out=$("$CLIPSEARCH" index --model "$MODEL" --db "$DB" "$TMP/p" 2>&1) || fail "last run"
contains "$out" "0 embedded" "nothing left to embed"
done_test
