#!/usr/bin/env bash
# mpirun -np 3 clipsearch index --shards: three catalogues that together hold
# the rows of one (each file in exactly one, vectors to the bit); search and
# similar over them (--shard) print what one catalogue holding every row
# prints: the same paths, scores and order, for k smaller and larger than a
# shard, text and image queries, with a threshold.
set -u
. "$CS_SOURCE_DIR/tests/support/lib.sh"
. "$CS_SOURCE_DIR/tests/dist/mpi_lib.sh"
need_oracle
need_mpi
MODEL=$ORACLE/models/tiny
mkdir -p "$TMP/p"
for f in china.jpg chelsea.png coffee.png rocket.jpg astronaut.gif coins.bmp hubble.tif \
    flower.jpg retina.jpg camera.png motorcycle_left.png wide_strip.jpg; do
    cp "$ORACLE/images/$f" "$TMP/p/"
done

"$CLIPSEARCH" index -q --model "$MODEL" --db "$TMP/one.db" "$TMP/p" 2>"$TMP/err" ||
    fail "one process: $(cat "$TMP/err")"
run_mpi 3 index --threads 1 --model "$MODEL" --shards "$TMP/shard%r.db" "$TMP/p" \
    >"$TMP/out" 2>"$TMP/err" || fail "3 shards: exit $?: $(cat "$TMP/err")"
grep -q "12 images: 12 embedded" "$TMP/out" || fail "3 shards: summary: $(cat "$TMP/out")"
for r in 0 1 2; do
    [ -f "$TMP/shard$r.db" ] || fail "no shard $r"
    rows "$TMP/shard$r.db"
done | sort >"$TMP/shard_rows"
rows "$TMP/one.db" | sort >"$TMP/one_rows"
cmp -s "$TMP/shard_rows" "$TMP/one_rows" || fail "the shards' rows are not the catalogue's"
n0=$(sqlite3 "$TMP/shard0.db" "select count(*) from images")
[ "$n0" -lt 12 ] || fail "shard 0 holds every row"

# an incremental re-run keeps every file in its shard
run_mpi 3 index --threads 1 --model "$MODEL" --shards "$TMP/shard%r.db" "$TMP/p" \
    >"$TMP/out" 2>"$TMP/err" || fail "3 shards again: $(cat "$TMP/err")"
grep -q "12 images: 0 embedded, 0 reused, 12 unchanged, 0 removed" "$TMP/out" ||
    fail "3 shards again: $(cat "$TMP/out")"

one() { "$CLIPSEARCH" "$1" --db "$TMP/one.db" "${@:2}"; }
three() { run_mpi 3 "$1" --shard "$TMP/shard%r.db" "${@:2}"; }
check() { # WHAT COMMAND ARGS...
    local what=$1
    shift
    one "$@" >"$TMP/a" 2>"$TMP/err" || fail "$what, one catalogue: $(cat "$TMP/err")"
    three "$@" >"$TMP/b" 2>"$TMP/err" || fail "$what, 3 shards: $(cat "$TMP/err")"
    # ids are each catalogue's own: left out
    sed -i '/"id":/d' "$TMP/a" "$TMP/b"
    [ -s "$TMP/a" ] || fail "$what: no results"
    cmp -s "$TMP/a" "$TMP/b" || fail "$what: $(diff "$TMP/a" "$TMP/b" | head -6)"
}
check "text, k 20" search --model "$MODEL" --tsv -k 20 "a ball"
check "text, k 3" search --model "$MODEL" --tsv -k 3 "a cat"
check "image query" search --model "$MODEL" --json -k 5 "$TMP/p/chelsea.png"
# a threshold that keeps about half of the rows
t=$(one search --model "$MODEL" --tsv -k 6 "a rocket" | tail -1 | cut -f1)
check "threshold $t" search --model "$MODEL" --tsv -k 20 --threshold "$t" "a rocket"
check "similar" similar --tsv -k 4 "$TMP/p/coffee.png"
check "similar, all" similar --tsv -k 50 "$TMP/p/rocket.jpg"
# one rank: the pattern names rank 0's shard, searched alone. A file's shard
# is a hash of its path, so under some names of $TMP shard 0 holds none of
# the 12 files (about 1 run in 130): rank 0's shard is then a copy of one
# that holds some.
for r in 0 1 2; do
    [ "$(sqlite3 "$TMP/shard$r.db" "select count(*) from images")" -gt 0 ] && break
done
for f in "$TMP/shard$r.db"*; do cp "$f" "$TMP/solo0${f#"$TMP/shard$r"}"; done
"$CLIPSEARCH" search --db "$TMP/solo0.db" --model "$MODEL" --tsv -k 20 "a ball" >"$TMP/a" ||
    fail "shard $r alone"
run_mpi 1 search --shard "$TMP/solo%r.db" --model "$MODEL" --tsv -k 20 "a ball" >"$TMP/b" \
    2>"$TMP/err" || fail "1 rank --shard: $(cat "$TMP/err")"
[ -s "$TMP/a" ] && cmp -s "$TMP/a" "$TMP/b" || fail "1 rank --shard: $(diff "$TMP/a" "$TMP/b" | head -4)"
three similar --tsv "$TMP/nothing.jpg" >/dev/null 2>"$TMP/err" && fail "similar of no file: exit 0"
grep -q "not in any shard" "$TMP/err" || fail "similar of no file: $(cat "$TMP/err")"

# serve: rank 0's server over the three shards answers as one catalogue's
hits() { # URL: "path score" of each result
    curl -sf "$1" | /usr/bin/python3 -c '
import json, sys
for h in json.load(sys.stdin)["results"]: print(h["path"], h["score"])'
}
url_of() { # LOG PID: the URL the server printed
    for _ in $(seq 1 600); do
        u=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$1" 2>/dev/null | head -1)
        [ -n "$u" ] && { echo "$u"; return 0; }
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}
"$CLIPSEARCH" serve --port 0 --db "$TMP/one.db" --model "$MODEL" >"$TMP/s1" 2>&1 &
s1=$!
# (mpirun itself in the background, so that $! is its pid)
mpirun -np 3 -x LSAN_OPTIONS -x ASAN_OPTIONS -x UBSAN_OPTIONS "$CLIPSEARCH" serve --port 0 \
    --shard "$TMP/shard%r.db" --model "$MODEL" >"$TMP/s3" 2>&1 &
s3=$!
trap 'kill $s1 $s3 2>/dev/null; rm -rf "$TMP"' EXIT
u1=$(url_of "$TMP/s1" $s1) || fail "serve: $(cat "$TMP/s1")"
u3=$(url_of "$TMP/s3" $s3) || fail "serve --shard: $(cat "$TMP/s3")"
grep -q "serving 12 images" "$TMP/s3" || fail "serve --shard: $(cat "$TMP/s3")"
hits "${u1}api/search?q=a%20ball&k=20" >"$TMP/h1"
hits "${u3}api/search?q=a%20ball&k=20" >"$TMP/h3"
[ -s "$TMP/h1" ] && cmp -s "$TMP/h1" "$TMP/h3" || fail "serve: search: $(diff "$TMP/h1" "$TMP/h3" | head -4)"
id1=$(sqlite3 "$TMP/one.db" "select id from images where path like '%/coffee.png'")
id3=$(curl -sf "${u3}api/search?q=a%20ball&k=20" | /usr/bin/python3 -c '
import json, sys
print([h["id"] for h in json.load(sys.stdin)["results"] if h["path"].endswith("/coffee.png")][0])')
hits "${u1}api/similar/$id1?k=5" >"$TMP/h1"
hits "${u3}api/similar/$id3?k=5" >"$TMP/h3"
[ -s "$TMP/h1" ] && cmp -s "$TMP/h1" "$TMP/h3" || fail "serve: similar: $(diff "$TMP/h1" "$TMP/h3" | head -4)"
curl -sf -o "$TMP/thumb.jpg" "${u3}api/thumb/$id3" || fail "serve --shard: no thumbnail"
kill $s3
wait $s3
kill $s1
done_test
