#!/usr/bin/env bash
# `clipsearch duplicates --move-to DIR`: --dry-run changes nothing; a move
# keeps paths relative to the indexed folder, loses no byte, drops the rows;
# an existing destination is never overwritten; the copy path (as across
# filesystems); journals left in every state a crash can leave are
# completed; and kill -9 at random moments, in both modes, never loses a
# file nor, once the next run has finished, leaves one in two places.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
need_oracle
PY=/usr/bin/python3
MODEL=$ORACLE/models/tiny
export CLIPSEARCH_DB=$TMP/c.db
P=$TMP/photos A=$TMP/aside

rows() { $PY -c 'import sqlite3,sys; print("\n".join(sorted(r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT path FROM images"))))' "$CLIPSEARCH_DB"; }
sums() { (cd "$1" && find . -type f ! -name '.clipsearch-*' -exec md5sum {} + | awk '{print $1}' | sort); }
index() { "$CLIPSEARCH" index --model "$MODEL" "$P" >/dev/null 2>"$TMP/err" || fail "index: $(cat "$TMP/err")"; }

mkdir -p "$P/a" "$P/b/deep" "$P/other"
cp "$ORACLE/images/chelsea.png" "$P/a/cat.png"
cp "$ORACLE/images/chelsea.png" "$P/b/deep/cat copy.png"
cp "$ORACLE/images/chelsea.png" "$P/b/cat (2).png"
cp "$ORACLE/images/rocket.jpg" "$P/other/rocket.jpg"
cp "$ORACLE/images/coffee.png" "$P/other/coffee.png"
touch -d '2020-01-01' "$P/a/cat.png" # the oldest of three equal files: the keeper
index
all_before=$(sums "$P")
rows_before=$(rows)

# --dry-run: the plan, nothing done
out=$("$CLIPSEARCH" duplicates --threshold 0.9999 --move-to "$A" --dry-run 2>"$TMP/err") ||
    fail "dry run exits $?: $(cat "$TMP/err")"
contains "$out" "would move $P/b/deep/cat copy.png -> $A/b/deep/cat copy.png" "dry run shows a move"
contains "$out" "would move $P/b/cat (2).png -> $A/b/cat (2).png" "dry run shows the other move"
[ "$(echo "$out" | grep -c 'would move')" = 2 ] || fail "dry run: want 2 moves: $out"
[ ! -e "$A" ] || fail "dry run created $A"
[ "$(sums "$P")" = "$all_before" ] && [ "$(rows)" = "$rows_before" ] || fail "dry run changed something"

# the move: relative paths kept, nothing lost, rows dropped
out=$("$CLIPSEARCH" duplicates --threshold 0.9999 --move-to "$A" 2>"$TMP/err") ||
    fail "move exits $?: $(cat "$TMP/err")"
contains "$out" "moved $P/b/deep/cat copy.png -> $A/b/deep/cat copy.png" "prints what it moved"
[ -f "$P/a/cat.png" ] && [ ! -e "$P/b/deep/cat copy.png" ] && [ ! -e "$P/b/cat (2).png" ] || fail "files in place"
[ -f "$A/b/deep/cat copy.png" ] && [ -f "$A/b/cat (2).png" ] || fail "files aside"
[ "$(sort <(sums "$P") <(sums "$A"))" = "$all_before" ] || fail "bytes lost or added"
[ ! -e "$A/.clipsearch-moves" ] || fail "the journal outlived a clean run"
contains "$(rows)" "$P/a/cat.png" "the keeper's row stays"
case "$(rows)" in *"cat copy"* | *"cat (2)"*) fail "moved files still catalogued: $(rows)" ;; esac
n=$("$CLIPSEARCH" duplicates --threshold 0.9999 --json | wc -l)
[ "$n" = 0 ] || fail "groups left after the move: $n"

# an existing destination is never overwritten
mkdir -p "$P/c" "$A/c"
cp "$ORACLE/images/chelsea.png" "$P/c/cat.png"
echo "someone else's file" >"$A/c/cat.png"
index
"$CLIPSEARCH" duplicates --threshold 0.9999 --move-to "$A" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" = 3 ] || fail "an existing destination exits $rc, want 3"
contains "$(cat "$TMP/err")" "destination exists" "says why"
[ "$(cat "$A/c/cat.png")" = "someone else's file" ] && [ -f "$P/c/cat.png" ] || fail "a file was overwritten"
rm "$A/c/cat.png"

# the copy path (as across filesystems): copy, sync, compare, rename, unlink
CLIPSEARCH_MOVE_COPY=1 "$CLIPSEARCH" duplicates --threshold 0.9999 --move-to "$A" >"$TMP/out" 2>"$TMP/err" ||
    fail "copy move exits $?: $(cat "$TMP/err")"
[ ! -e "$P/c/cat.png" ] && cmp -s "$A/c/cat.png" "$ORACLE/images/chelsea.png" || fail "copy move result"
[ -z "$(find "$A" -name '*.clipsearch-part')" ] || fail "a part file was left"

# journals as a crash leaves them: each pending move is finished on the next run
mkdir -p "$P/j" "$A/j"
for f in same done both part; do cp "$ORACLE/images/coins.png" "$P/j/$f.png"; done
cp "$ORACLE/images/astronaut.png" "$P/j/never.png" # not a duplicate: stays where it is
index
mv "$P/j/done.png" "$A/j/done.png"                 # renamed, row not yet dropped
cp "$P/j/both.png" "$A/j/both.png"                 # copied, source not yet unlinked
head -c 1000 "$P/j/part.png" >"$A/j/part.png.clipsearch-part" # copy cut short
{
    for f in never done both part; do printf 'M\0%s\0%s\0' "$P/j/$f.png" "$A/j/$f.png"; done
    printf 'M\0%s' "$P/j/same.png" # a record cut short: that move never began
} >"$A/.clipsearch-moves"
"$CLIPSEARCH" duplicates --threshold 0.99999 --move-to "$A" --json >"$TMP/out" 2>"$TMP/err" ||
    fail "recovery run exits $?: $(cat "$TMP/err")"
contains "$(cat "$TMP/err")" "finished an interrupted move: $P/j/done.png" "reports the finished move"
[ -f "$P/j/never.png" ] && [ ! -e "$A/j/never.png" ] || fail "a move that never happened stays undone"
[ ! -e "$P/j/done.png" ] && [ -f "$A/j/done.png" ] || fail "done.png"
[ ! -e "$P/j/both.png" ] && cmp -s "$A/j/both.png" "$ORACLE/images/coins.png" || fail "both.png in one place"
[ ! -e "$A/j/part.png.clipsearch-part" ] || fail "the partial copy was removed"
[ ! -e "$A/.clipsearch-moves" ] || fail "journal kept after recovery"
r=$(rows)
case "$r" in *"$P/j/done.png"* | *"$P/j/both.png"*) fail "rows of moved files remain: $r" ;; esac
contains "$r" "$P/j/never.png" "the unmoved file keeps its row"
# (part.png and same.png are still duplicates of each other: that run moved one)
[ "$(ls "$P/j" "$A/j" | grep -c 'part.png\|same.png')" = 2 ] || fail "part/same: $(ls -R "$P/j" "$A/j")"

# kill -9 in the middle of moving (after the Nth file), renaming and
# copying: no file lost, and after the next run none in two places and the
# catalogue agrees with the disk
for mode in rename copy; do
    rm -rf "$P" "$A" "$CLIPSEARCH_DB"*
    mkdir -p "$P/burst" "$P/other"
    for i in $(seq 1 60); do cp "$ORACLE/images/coffee.png" "$P/burst/shot $i.png"; done
    cp "$ORACLE/images/rocket.jpg" "$P/other/rocket.jpg"
    touch -d '2020-01-01' "$P/burst/shot 1.png"
    index
    export CLIPSEARCH_MOVE_COPY=$([ $mode = copy ] && echo 1 || echo 0)
    for after in 1 12 30; do
        "$CLIPSEARCH" duplicates --threshold 0.9999 --move-to "$A" >"$TMP/moves" 2>&1 &
        pid=$!
        while kill -0 $pid 2>/dev/null && [ "$(grep -c '^moved' "$TMP/moves")" -lt $after ]; do sleep 0.01; done
        kill -9 $pid 2>/dev/null
        wait $pid 2>/dev/null
        for i in $(seq 1 60); do
            [ -e "$P/burst/shot $i.png" ] || [ -e "$A/burst/shot $i.png" ] ||
                fail "$mode, killed after $after moves: shot $i.png is lost"
        done
    done
    [ "$(ls "$A/burst" | wc -l)" -ge 40 ] || fail "$mode: the runs moved too little to test: $(ls "$A/burst" | wc -l)"
    "$CLIPSEARCH" duplicates --threshold 0.9999 --move-to "$A" >/dev/null 2>"$TMP/err" ||
        fail "$mode: the run after the kills exits $?: $(cat "$TMP/err")"
    for i in $(seq 1 60); do
        s=0
        [ -e "$P/burst/shot $i.png" ] && s=$((s + 1))
        [ -e "$A/burst/shot $i.png" ] && s=$((s + 1))
        [ $s = 1 ] || fail "$mode: shot $i.png is in $s places"
        cmp -s "$P/burst/shot $i.png" "$ORACLE/images/coffee.png" 2>/dev/null ||
            cmp -s "$A/burst/shot $i.png" "$ORACLE/images/coffee.png" || fail "$mode: shot $i.png changed"
    done
    [ -f "$P/burst/shot 1.png" ] || fail "$mode: the keeper moved"
    [ -z "$(find "$A" -name '*.clipsearch-part')" ] && [ ! -e "$A/.clipsearch-moves" ] ||
        fail "$mode: leftovers: $(ls -a "$A")"
    [ "$(rows)" = "$P/burst/shot 1.png
$P/other/rocket.jpg" ] || fail "$mode: catalogue rows: $(rows)"
done
unset CLIPSEARCH_MOVE_COPY
done_test
